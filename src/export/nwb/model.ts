/**
 * The input the NWB writer needs, independent of how sessions are stored: the
 * store adapter builds one of these, the writer never touches SQLite.
 * Units are SI throughout (Ω, A, V, F, Hz, s), as NWB stores them.
 */

/** I0: the amplifier in I=0 (no current injected): an IZeroClampSeries, never with a stimulus */
export type NwbClampMode = 'VC' | 'IC' | 'I0';
export type NwbCurrentUnit = 'amperes';
export type NwbVoltageUnit = 'volts';
export type NwbUnit = NwbCurrentUnit | NwbVoltageUnit;

export interface NwbSessionInfo {
  /** globally unique id of this file (NWB `identifier`); also seeds every object_id */
  identifier: string;
  /** the session's own id (general/session_id) */
  sessionId: string;
  description: string;
  /** ISO 8601 with a UTC offset, e.g. 2025-05-20T09:30:00.000+02:00 */
  startTime: string;
  /**
   * ISO 8601 time the file is written (file_create_date). Passed in, not read
   * from a clock here, so the same input gives the same file contents.
   */
  fileCreateDate: string;
  /** operator(s), "Last, First" or a login name */
  experimenter?: string[];
  lab?: string;
  institution?: string;
  rig: string;
  /** protocol preset the session ran */
  preset: string;
  /** PRNG seed when the rig was simulated */
  seed: number | null;
  /** true when the session ran against emulators */
  virtual: boolean;
  notes?: string;
}

export interface NwbSubject {
  subjectId: string;
  species?: string;
  description?: string;
  sex?: string;
  /** ISO 8601 duration, e.g. P90D */
  age?: string;
}

export interface NwbDevice {
  /** unique within the file; used as the HDF5 group name (sanitised) */
  name: string;
  description: string;
  manufacturer: string;
}

export interface NwbElectrode {
  /** unique within the file, e.g. `p1-a3` (pipette p1, attempt 3) */
  name: string;
  /** name of an entry in `devices` (the amplifier channel it was recorded on) */
  device: string;
  description: string;
  /** Ω */
  seal?: number | null;
  /** pipette resistance in the bath (R0), Ω */
  resistance?: number | null;
  /** Ω */
  initialAccessResistance?: number | null;
  cellId?: string | null;
  location?: string | null;
  filtering?: string | null;
}

export interface NwbSweep {
  /** name of an entry in `electrodes` */
  electrode: string;
  /** uint32, unique within the file */
  sweepNumber: number;
  mode: NwbClampMode;
  /** VC: current (amperes); IC and I0: voltage (volts) */
  response: Float32Array;
  responseUnit: NwbUnit;
  /** the command played (VC: volts, IC: amperes), same length as response; null when none was recorded */
  stimulus: Float32Array | null;
  stimulusUnit: NwbUnit;
  sampleRateHz: number;
  /** s from the session start to the first sample */
  startingTime: number;
  /** stimulus name, e.g. `long-square +40pA` */
  stimulusDescription: string;
  /** amplifier gain of the recorded channel, V/A (VC) or V/V (IC); absent: 1 (see series.ts) */
  gain?: number | null;
  /** gain of the command channel; absent: 1 */
  stimulusGain?: number | null;
  /** IC only: the bias current applied, A (I0 writes 0, as NWB fixes it) */
  biasCurrent?: number | null;
  /** IC only: Ω */
  bridgeBalance?: number | null;
  /** IC only: F */
  capacitanceCompensation?: number | null;
  /** VC only: F */
  capacitanceFast?: number | null;
  /** VC only: F */
  capacitanceSlow?: number | null;
  /** VC only: F */
  wholeCellCapacitanceComp?: number | null;
  /** VC only: Ω */
  wholeCellSeriesResistanceComp?: number | null;
}

/**
 * How sweeps group into the icephys hierarchy. Every level refers to the level
 * below: simultaneous recordings by sweep number, the rest by index into the
 * previous list.
 */
export interface NwbGrouping {
  /** sweeps recorded at the same time on different electrodes (one sweep per electrode) */
  simultaneous: { sweeps: number[] }[];
  /** runs of simultaneous recordings with the same stimulus type */
  sequential: { stimulusType: string; simultaneous: number[] }[];
  repetitions: { sequential: number[] }[];
  experimentalConditions: { label: string; repetitions: number[] }[];
}

export interface NwbSessionInput {
  session: NwbSessionInfo;
  subject: NwbSubject;
  devices: NwbDevice[];
  electrodes: NwbElectrode[];
  /**
   * The sweeps, in any order. An (async) iterable so an adapter can stream them
   * from storage one at a time: the writer keeps only metadata between sweeps.
   */
  sweeps: Iterable<NwbSweep> | AsyncIterable<NwbSweep>;
  /** omitted: derived by `defaultGrouping` from the sweeps' times and stimuli */
  grouping?: NwbGrouping;
}

/** What the writer remembers of a sweep once its samples are on disk. */
export interface NwbSweepMeta {
  sweepNumber: number;
  electrode: string;
  mode: NwbClampMode;
  startingTime: number;
  sampleRateHz: number;
  samples: number;
  hasStimulus: boolean;
  stimulusDescription: string;
  /** HDF5 paths of the two series */
  responsePath: string;
  stimulusPath: string | null;
}

export class NwbInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NwbInputError';
  }
}

export const UINT32_MAX = 0xffff_ffff;

/** Checks one sweep against the rules NWB and the writer rely on; throws NwbInputError. */
export function checkSweep(s: NwbSweep, electrodes: ReadonlySet<string>): void {
  const where = `sweep ${s.sweepNumber}`;
  if (!Number.isInteger(s.sweepNumber) || s.sweepNumber < 0 || s.sweepNumber > UINT32_MAX) {
    throw new NwbInputError(`${where}: sweep number must be a uint32`);
  }
  if (!electrodes.has(s.electrode)) throw new NwbInputError(`${where}: unknown electrode "${s.electrode}"`);
  if (s.mode !== 'VC' && s.mode !== 'IC' && s.mode !== 'I0') throw new NwbInputError(`${where}: mode must be VC, IC or I0`);
  if (s.mode === 'I0' && s.stimulus !== null) throw new NwbInputError(`${where}: an I=0 sweep has no stimulus (no current reaches the cell)`);
  const [resp, stim] = s.mode === 'VC' ? ['amperes', 'volts'] : ['volts', 'amperes'];
  if (s.responseUnit !== resp) throw new NwbInputError(`${where}: ${s.mode} response unit must be ${resp}`);
  if (s.stimulusUnit !== stim) throw new NwbInputError(`${where}: ${s.mode} stimulus unit must be ${stim}`);
  if (!(s.response instanceof Float32Array) || s.response.length === 0) {
    throw new NwbInputError(`${where}: response must be a non-empty Float32Array`);
  }
  if (s.stimulus !== null) {
    if (!(s.stimulus instanceof Float32Array)) throw new NwbInputError(`${where}: stimulus must be a Float32Array`);
    if (s.stimulus.length !== s.response.length) {
      throw new NwbInputError(`${where}: stimulus has ${s.stimulus.length} samples, response ${s.response.length}`);
    }
  }
  if (!(s.sampleRateHz > 0) || !Number.isFinite(s.sampleRateHz)) throw new NwbInputError(`${where}: sample rate must be > 0`);
  if (!Number.isFinite(s.startingTime)) throw new NwbInputError(`${where}: starting time must be finite`);
}

/** Checks the non-sweep parts of the input; throws NwbInputError. */
export function checkSessionParts(input: NwbSessionInput): void {
  const { session } = input;
  if (!session.identifier) throw new NwbInputError('session.identifier is required');
  for (const [k, v] of [['startTime', session.startTime], ['fileCreateDate', session.fileCreateDate]] as const) {
    if (!ISO_WITH_OFFSET.test(v)) throw new NwbInputError(`session.${k} must be ISO 8601 with a UTC offset, got "${v}"`);
  }
  if (!input.subject.subjectId) throw new NwbInputError('subject.subjectId is required');
  const devices = new Set<string>();
  for (const d of input.devices) {
    if (devices.has(d.name)) throw new NwbInputError(`duplicate device "${d.name}"`);
    devices.add(d.name);
  }
  const electrodes = new Set<string>();
  for (const e of input.electrodes) {
    if (electrodes.has(e.name)) throw new NwbInputError(`duplicate electrode "${e.name}"`);
    if (!devices.has(e.device)) throw new NwbInputError(`electrode "${e.name}": unknown device "${e.device}"`);
    electrodes.add(e.name);
  }
}

const ISO_WITH_OFFSET = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;
