import { describe, expect, it } from 'vitest';
import { defaultGrouping, resolveGrouping, stimulusType } from '../../src/export/nwb/grouping.ts';
import type { NwbSweepMeta } from '../../src/export/nwb/model.ts';

function meta(sweepNumber: number, electrode: string, startingTime: number, stimulusDescription: string): NwbSweepMeta {
  return { sweepNumber, electrode, startingTime, stimulusDescription, mode: 'IC', sampleRateHz: 50_000, samples: 100, hasStimulus: true, responsePath: '', stimulusPath: '' };
}

const opt = { simultaneousToleranceS: 0.001, conditionLabel: 'baseline' };

describe('stimulusType', () => {
  it('is the first word of the description', () => {
    expect(stimulusType('long-square +40pA')).toBe('long-square');
    expect(stimulusType('  ramp ')).toBe('ramp');
    expect(stimulusType('')).toBe('unknown');
  });
});

describe('defaultGrouping', () => {
  it('pairs sweeps that start together on different electrodes, in time order whatever the input order', () => {
    const g = defaultGrouping(
      [meta(3, 'b', 10.0004, 'step +1'), meta(1, 'a', 0, 'step +1'), meta(2, 'a', 10, 'step +2'), meta(0, 'b', 0.0009, 'step +1')],
      opt,
    );
    expect(g.simultaneous).toEqual([{ sweeps: [1, 0] }, { sweeps: [2, 3] }]);
  });

  it('never puts two sweeps of one electrode, or sweeps further apart than the tolerance, in one simultaneous recording', () => {
    const g = defaultGrouping([meta(0, 'a', 0, 'x'), meta(1, 'a', 0, 'x'), meta(2, 'b', 0.0011, 'x')], opt);
    expect(g.simultaneous).toEqual([{ sweeps: [0] }, { sweeps: [1] }, { sweeps: [2] }]);
  });

  it('runs of one stimulus type become sequential recordings; a type coming back starts a repetition', () => {
    const types = ['ls +10', 'ls +20', 'ss +1', 'ramp', 'ls +10', 'ss +1', 'ss +2', 'ramp'];
    const g = defaultGrouping(types.map((t, i) => meta(i, 'a', i, t)), opt);
    expect(g.sequential).toEqual([
      { stimulusType: 'ls', simultaneous: [0, 1] },
      { stimulusType: 'ss', simultaneous: [2] },
      { stimulusType: 'ramp', simultaneous: [3] },
      { stimulusType: 'ls', simultaneous: [4] },
      { stimulusType: 'ss', simultaneous: [5, 6] },
      { stimulusType: 'ramp', simultaneous: [7] },
    ]);
    expect(g.repetitions).toEqual([{ sequential: [0, 1, 2] }, { sequential: [3, 4, 5] }]);
    expect(g.experimentalConditions).toEqual([{ label: 'baseline', repetitions: [0, 1] }]);
  });

  it('is empty for no sweeps', () => {
    expect(defaultGrouping([], opt)).toEqual({ simultaneous: [], sequential: [], repetitions: [], experimentalConditions: [] });
  });
});

describe('resolveGrouping', () => {
  const rows = new Map([
    [10, 0],
    [11, 1],
    [12, 2],
  ]);
  const ok = {
    simultaneous: [{ sweeps: [11, 10] }, { sweeps: [12] }],
    sequential: [{ stimulusType: 't', simultaneous: [0, 1] }],
    repetitions: [{ sequential: [0] }],
    experimentalConditions: [{ label: 'c', repetitions: [0] }],
  };

  it('maps sweep numbers to recording rows', () => {
    expect(resolveGrouping(ok, rows)).toEqual([[1, 0], [2]]);
  });

  it.each([
    ['an unknown sweep', { ...ok, simultaneous: [{ sweeps: [99] }] }, /sweep 99, which was not written/],
    ['a sweep twice in one entry', { ...ok, simultaneous: [{ sweeps: [10, 10] }] }, /lists recording row 0 twice/],
    ['an empty entry', { ...ok, repetitions: [{ sequential: [] }] }, /repetitions\[0\] is empty/],
    ['an index past the level below', { ...ok, sequential: [{ stimulusType: 't', simultaneous: [0, 2] }] }, /simultaneous recording 2, which does not exist/],
    ['a bad condition index', { ...ok, experimentalConditions: [{ label: 'c', repetitions: [1] }] }, /repetition 1, which does not exist/],
  ])('refuses %s', (_, g, message) => {
    expect(() => resolveGrouping(g, rows)).toThrow(message);
  });
});
