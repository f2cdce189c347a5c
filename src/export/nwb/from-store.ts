/**
 * Adapter from the SQLite store to the NWB writer's input: one file per
 * session, one intracellular electrode per recorded attempt (its seal, R0 and
 * access resistance as metadata), every stimulus sweep in voltage or current
 * clamp with the waveform that was played, the I=0 resting-potential sweeps as
 * IZeroClampSeries, and on request the stored (decimated) test-pulse sweeps as
 * VoltageClampSeries with the command they played. Sweeps stream from the
 * database one at a time.
 */
import type Database from 'better-sqlite3';
import { getSession, listAttempts, type StoredAttempt } from '../../store/queries.ts';
import { listSweeps, readSweep, type SweepMeta } from '../../store/sweeps.ts';
import type { NwbDevice, NwbElectrode, NwbSessionInput, NwbSubject, NwbSweep } from './model.ts';

export interface FromStoreOptions {
  /** file_create_date (ISO 8601); passed in so the adapter reads no clock */
  fileCreateDate: string;
  /** also export the stored (decimated) test-pulse sweeps */
  includeTestPulses?: boolean;
  /** subject metadata; what is not given falls back to SIMULATED_SUBJECT for simulated sessions */
  subject?: Partial<NwbSubject>;
}

/**
 * The subject of a simulated session, unless the export says otherwise. DANDI
 * requires species, sex and age: the simulated preparation stands in for an
 * adult mouse (the published autopatching numbers the presets use are from
 * mice), of unknown sex.
 */
export const SIMULATED_SUBJECT: Readonly<Omit<NwbSubject, 'subjectId'>> = Object.freeze({
  species: 'Mus musculus',
  sex: 'U',
  age: 'P56D',
  description: 'simulated preparation (autopatch physics model)',
});

function subjectFor(session: { id: string; virtual: boolean; seed: number | null }, given: Partial<NwbSubject> = {}): NwbSubject {
  const defaults: Partial<NwbSubject> = session.virtual ? SIMULATED_SUBJECT : { description: 'not recorded by autopatch' };
  return {
    ...defaults,
    ...Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined)),
    subjectId: given.subjectId ?? (session.virtual ? `sim-seed-${session.seed ?? 0}` : `session-${session.id}`),
  };
}

const iso = (epochMs: number): string => new Date(epochMs).toISOString();

function electrodeName(a: StoredAttempt): string {
  return `${a.pipetteId}-${a.attemptId.split('-').pop()}`;
}

export function nwbInputFromStore(db: Database.Database, sessionId: string, options: FromStoreOptions): NwbSessionInput {
  const session = getSession(db, sessionId);
  if (!session) throw new Error(`no session "${sessionId}" in the store`);
  const attempts = listAttempts(db, [sessionId]);
  const metas = listSweeps(db, { sessionId }).filter(
    (m) => m.attemptId !== null && (m.kind === 'stimulus' || (options.includeTestPulses === true && m.mode === 'VC')),
  );
  const withSweeps = new Set(metas.map((m) => m.attemptId));
  const exported = attempts.filter((a) => withSweeps.has(a.attemptId));
  const byAttempt = new Map(exported.map((a) => [a.attemptId, a]));

  const pipettes = [...new Set(exported.map((a) => a.pipetteId))].sort();
  const devices: NwbDevice[] = pipettes.map((p) => ({
    name: `amplifier-${p}`,
    description: `amplifier channel of pipette ${p} on ${session.rig}`,
    manufacturer: session.virtual ? 'autopatch amp bridge (emulated MultiClamp-class amplifier)' : 'autopatch amp bridge',
  }));
  const electrodes: NwbElectrode[] = exported.map((a) => ({
    name: electrodeName(a),
    device: `amplifier-${a.pipetteId}`,
    description: `pipette ${a.pipetteId}, attempt ${a.attemptId} (${a.outcome ?? 'unfinished'}${a.failureReason ? `: ${a.failureReason}` : ''})`,
    seal: a.peakSeal,
    resistance: a.r0,
    initialAccessResistance: a.ra,
    cellId: a.targetCellId === null ? a.attemptId : String(a.targetCellId),
    location: null,
  }));

  // Sweep numbers follow acquisition order across the session.
  const ordered = [...metas].sort((x, y) => x.startTime - y.startTime || x.id - y.id);
  const numbers = new Map<number, number>(ordered.map((m, i) => [m.id, i]));

  function* sweeps(): Generator<NwbSweep> {
    for (const meta of ordered) yield toNwbSweep(db, meta, numbers.get(meta.id)!, byAttempt.get(meta.attemptId!)!, session!.startT);
  }

  return {
    session: {
      identifier: `autopatch-${session.id}`,
      sessionId: session.id,
      description: `autopatch session ${session.id}: preset ${session.preset}, ${session.pipettes.length} pipettes, ${session.virtual ? `simulated rig (seed ${session.seed})` : 'rig'}`,
      startTime: iso(session.startEpochMs),
      fileCreateDate: options.fileCreateDate,
      experimenter: [session.operator],
      rig: session.rig,
      preset: session.preset,
      seed: session.seed,
      virtual: session.virtual,
    },
    subject: subjectFor(session, options.subject),
    devices,
    electrodes,
    sweeps: sweeps(),
  };
}

function toNwbSweep(db: Database.Database, meta: SweepMeta, sweepNumber: number, attempt: StoredAttempt, sessionStartT: number): NwbSweep {
  const stored = readSweep(db, meta.id);
  if (!stored) throw new Error(`sweep ${meta.id} vanished while exporting`);
  const s = stored.sweep;
  const mode = s.mode;
  let stimulus: Float32Array | null = s.stimulus && mode !== 'I0' ? s.stimulus.samples : null;
  if (!stimulus && s.step) {
    // A test pulse stores its step, not its waveform: rebuild the command it played.
    stimulus = new Float32Array(s.response.length).fill(s.holding);
    stimulus.fill(s.holding + s.step.amplitude, s.step.onsetIndex, s.step.onsetIndex + s.step.lengthSamples);
  }
  return {
    electrode: electrodeName(attempt),
    sweepNumber,
    mode,
    response: s.response,
    responseUnit: mode === 'VC' ? 'amperes' : 'volts',
    stimulus,
    stimulusUnit: mode === 'VC' ? 'volts' : 'amperes',
    sampleRateHz: s.sampleRateHz,
    startingTime: Math.max(0, (s.startTime - sessionStartT) / 1000),
    stimulusDescription: s.stimulus?.name ?? (s.kind === 'testpulse' ? 'testpulse' : 'unnamed'),
    // the bias the amplifier reported holding during the sweep (the recorder holds a set's bias there, not in the samples)
    ...(mode === 'IC' ? { biasCurrent: s.holding } : {}),
  };
}
