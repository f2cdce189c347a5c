/**
 * What the dashboard needs from storage for the sessions page and the sweep
 * viewer. The SQLite store implements it (in a worker thread of its own, so
 * the server's thread, which is the control loop's, never runs SQLite); the
 * server only reads through it. Every method answers with a promise.
 * `null` means "no such session/attempt/sweep" and becomes a 404.
 *
 * Units are SI as everywhere at boundaries: Ω, F, A, V, s (durations in
 * reports), ms (clock times), epoch ms (wall times).
 */
import type { ClampMode } from '../control/api.ts';
import type { AttemptRecord, PipetteHardwareInfo, PipetteStateName } from '../control/events.ts';

export type SessionStatus = 'running' | 'completed' | 'interrupted' | 'aborted';

export interface SessionSummary {
  sessionId: string;
  preset: string;
  operator: string;
  rig: string;
  virtual: boolean;
  startEpochMs: number;
  endEpochMs: number | null;
  status: SessionStatus;
  /** 'completed' | 'aborted' | 'estop' | 'duration' | 'error' | … as the session ended, null while running */
  endReason: string | null;
  pipettes: string[];
  /** ended attempts (as the report's funnel counts them); attempts still open or cut short are `unfinished` */
  attempts: number;
  unfinished: number;
  wholeCell: number;
  recorded: number;
}

/** Ended attempts, those that never ended, and how many ended ones reached at least each funnel stage. */
export interface FunnelCounts {
  attempts: number;
  unfinished: number;
  approached: number;
  detected: number;
  sealed: number;
  wholeCell: number;
  recorded: number;
}

/** min / quartiles / max of one quality figure over the attempts that have it. */
export interface Distribution {
  n: number;
  min: number;
  q1: number;
  median: number;
  q3: number;
  max: number;
}

/**
 * One session's report: the figures `autopatch report` gives for it (the
 * same functions compute them; definitions in src/store/report-figures.ts),
 * in shapes for the sessions page.
 */
export interface SessionReport {
  session: SessionSummary;
  /** seed of the simulated preparation, null when not recorded */
  seed: number | null;
  /** each pipette's devices, when the session recorded them */
  hardware: PipetteHardwareInfo[] | null;
  /** the same as `autopatch report` prints it: one row per pipette */
  hardwareTable: { headers: string[]; rows: string[][] } | null;
  /** the writer's counters (back-pressure thinning: backpressure_dropped_*) */
  stats: Record<string, number>;
  /** session time the figures cover, s */
  durationS: number;
  funnel: FunnelCounts;
  /** every pipette of the session, in its order (those without attempts too) */
  byPipette: Array<{ pipetteId: string; funnel: FunnelCounts; cellsPerHour: number }>;
  byPreset: Array<{ preset: string; funnel: FunnelCounts; cellsPerHour: number }>;
  /** time in each state, summed over pipettes, in state order ('done' is not working time) */
  timePerState: Array<{ state: PipetteStateName; seconds: number; fraction: number; visits: number }>;
  /** most frequent first; `fraction` of all failed attempts; the states they failed in, most frequent first */
  failureReasons: Array<{ reason: string; count: number; fraction: number; failedIn: Array<{ state: string; count: number }> }>;
  /** recorded cells, hours of session time, and recorded cells per hour */
  recorded: number;
  hours: number;
  cellsPerHour: number;
  /**
   * ≥ 2 simultaneous whole-cell recordings. By round: trials and successes;
   * `roundMode` and `definition` say how rounds were formed ('independent':
   * by attempt index only). By time (right in any mode): episodes with ≥ 2
   * pipettes in whole-cell or record, their total seconds, and the share of
   * whole-cell attempts that overlapped another pipette's.
   */
  simultaneous: {
    trials: number;
    atLeastTwo: number;
    rate: number | null;
    roundMode: 'synchronized' | 'independent';
    definition: string;
    episodes: number;
    episodeSeconds: number;
    wholeCellAttempts: number;
    overlappingAttempts: number;
    overlapShare: number | null;
  };
  /** peakSeal Ω, r0 Ω, ra Ω, rm Ω, cm F, ihold A, vrest V, timeToSeal s */
  quality: Record<'peakSeal' | 'r0' | 'ra' | 'rm' | 'cm' | 'ihold' | 'vrest' | 'timeToSeal', Distribution | null>;
  /** of the attempts that reached whole-cell, those that broke in spontaneously */
  spontaneousBreakIn: { attempts: number; spontaneous: number; rate: number | null };
  /** the recorded-cells table's columns, as `autopatch report` prints them */
  cellColumns: CellColumn[];
  /** recorded cells with their passive figures and IPFX e-features (SI units) */
  cells: RecordedCellView[];
}

/**
 * A column of the recorded-cells table: a figure of the cell itself or one of
 * its e-features, shown as value × scale with `digits` decimals ('—' unknown).
 */
export type CellColumn = ({ of: 'cell'; key: 'ra' | 'rm' | 'cm' | 'vrest' } | { of: 'feature'; key: string }) & {
  /** header, with the unit shown */
  label: string;
  scale: number;
  digits: number;
};

export interface RecordedCellView {
  attemptId: string;
  pipetteId: string;
  /** Ω, Ω, F, V */
  ra: number | null;
  rm: number | null;
  cm: number | null;
  vrest: number | null;
  features: Record<string, number | null>;
}

export interface StateTransition {
  /** clock ms */
  t: number;
  epochMs: number;
  from: PipetteStateName;
  to: PipetteStateName;
  reason: string;
}

export interface AttemptTimeline {
  record: AttemptRecord;
  /** in time order */
  transitions: StateTransition[];
}

export interface SweepInfo {
  sweepId: number;
  pipetteId: string;
  attemptId: string | null;
  kind: 'testpulse' | 'stimulus';
  mode: ClampMode;
  seq: number;
  /** clock ms of the first sample */
  startTime: number;
  sampleRateHz: number;
  responseUnit: 'A' | 'V';
  /** SI: V in VC, A in IC */
  holding: number;
  samples: number;
  stimulusName: string | null;
  qc: Record<string, number | boolean> | null;
}

export interface SweepData {
  info: SweepInfo;
  /** SI: A in VC, V in IC/I0 */
  response: Float32Array;
  /** command waveform played, SI (A in IC, V in VC), same length as response; null for test pulses */
  stimulus: Float32Array | null;
}

export interface SessionArchive {
  /** newest first, at most `limit` (the store caps it at 1000) */
  listSessions(options: { limit: number }): Promise<SessionSummary[]>;
  sessionReport(sessionId: string): Promise<SessionReport | null>;
  /** ended attempts of a session with their state timelines, oldest first; null = unknown session */
  attempts(sessionId: string): Promise<AttemptTimeline[] | null>;
  /** sweeps recorded during an attempt, in order; null = unknown attempt */
  sweepsOfAttempt(attemptId: string): Promise<SweepInfo[] | null>;
  sweep(sweepId: number): Promise<SweepData | null>;
}
