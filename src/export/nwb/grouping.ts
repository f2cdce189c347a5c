/**
 * The icephys grouping hierarchy (intracellular recordings → simultaneous →
 * sequential → repetitions → experimental conditions): a default derived from
 * the sweeps themselves, and the checks an explicit one must pass.
 */
import { NwbInputError, type NwbGrouping, type NwbSweepMeta } from './model.ts';

export interface DefaultGroupingOptions {
  /** sweeps starting within this many seconds of each other on different electrodes are simultaneous */
  simultaneousToleranceS: number;
  /** label of the single experimental condition */
  conditionLabel: string;
}

/** Stimulus type of a description: its first word (`long-square +40pA` → `long-square`). */
export function stimulusType(description: string): string {
  const word = description.trim().split(/\s+/)[0];
  return word === undefined || word === '' ? 'unknown' : word;
}

function byTime(a: NwbSweepMeta, b: NwbSweepMeta): number {
  return a.startingTime - b.startingTime || a.sweepNumber - b.sweepNumber;
}

/**
 * - simultaneous: sweeps on different electrodes that start together;
 * - sequential: consecutive simultaneous recordings of the same stimulus type;
 * - repetitions: a new repetition starts when a stimulus type comes back
 *   (the protocol is being run again);
 * - one experimental condition holding every repetition.
 */
export function defaultGrouping(metas: readonly NwbSweepMeta[], opt: DefaultGroupingOptions): NwbGrouping {
  const sorted = [...metas].sort(byTime);
  const simultaneous: { sweeps: number[]; start: number; electrodes: Set<string>; type: string }[] = [];
  for (const m of sorted) {
    const last = simultaneous[simultaneous.length - 1];
    if (last && Math.abs(m.startingTime - last.start) <= opt.simultaneousToleranceS && !last.electrodes.has(m.electrode)) {
      last.sweeps.push(m.sweepNumber);
      last.electrodes.add(m.electrode);
    } else {
      simultaneous.push({ sweeps: [m.sweepNumber], start: m.startingTime, electrodes: new Set([m.electrode]), type: stimulusType(m.stimulusDescription) });
    }
  }

  const sequential: NwbGrouping['sequential'] = [];
  simultaneous.forEach((s, i) => {
    const last = sequential[sequential.length - 1];
    if (last && last.stimulusType === s.type) last.simultaneous.push(i);
    else sequential.push({ stimulusType: s.type, simultaneous: [i] });
  });

  const repetitions: NwbGrouping['repetitions'] = [];
  let seen = new Set<string>();
  sequential.forEach((q, i) => {
    const last = repetitions[repetitions.length - 1];
    if (last && !seen.has(q.stimulusType)) last.sequential.push(i);
    else {
      repetitions.push({ sequential: [i] });
      seen = new Set();
    }
    seen.add(q.stimulusType);
  });

  const experimentalConditions = repetitions.length
    ? [{ label: opt.conditionLabel, repetitions: repetitions.map((_, i) => i) }]
    : [];
  return { simultaneous: simultaneous.map((s) => ({ sweeps: s.sweeps })), sequential, repetitions, experimentalConditions };
}

function checkIndices(level: string, lists: number[][], size: number, what: string): void {
  lists.forEach((list, row) => {
    if (list.length === 0) throw new NwbInputError(`grouping.${level}[${row}] is empty`);
    const seen = new Set<number>();
    for (const i of list) {
      if (!Number.isInteger(i) || i < 0 || i >= size) throw new NwbInputError(`grouping.${level}[${row}] refers to ${what} ${i}, which does not exist`);
      if (seen.has(i)) throw new NwbInputError(`grouping.${level}[${row}] lists ${what} ${i} twice`);
      seen.add(i);
    }
  });
}

/**
 * Checks a grouping against the sweeps written and turns simultaneous
 * recordings into row indices of the intracellular_recordings table.
 */
export function resolveGrouping(g: NwbGrouping, rowOfSweep: ReadonlyMap<number, number>): number[][] {
  const simRows = g.simultaneous.map((s, row) => {
    if (s.sweeps.length === 0) throw new NwbInputError(`grouping.simultaneous[${row}] is empty`);
    return s.sweeps.map((n) => {
      const r = rowOfSweep.get(n);
      if (r === undefined) throw new NwbInputError(`grouping.simultaneous[${row}] refers to sweep ${n}, which was not written`);
      return r;
    });
  });
  checkIndices('simultaneous', simRows, rowOfSweep.size, 'recording row');
  checkIndices('sequential', g.sequential.map((s) => s.simultaneous), g.simultaneous.length, 'simultaneous recording');
  checkIndices('repetitions', g.repetitions.map((r) => r.sequential), g.sequential.length, 'sequential recording');
  checkIndices('experimentalConditions', g.experimentalConditions.map((c) => c.repetitions), g.repetitions.length, 'repetition');
  return simRows;
}
