/**
 * The typed event stream the rig supervisor emits. Storage and the dashboard
 * consume it; nothing flows back through it (commands go through the
 * supervisor's API). All times are clock ms (`t`) plus wall time (`epochMs`).
 */
import type { Sweep, Vec3 } from '../../drivers/types.ts';
import type { AutopatchPreset } from '../protocol/types.ts';
import type { PipetteHealth } from './health.ts';

/** Stages of an attempt, in funnel order, as the pipette machine names its top-level states. */
export const PIPETTE_STATES = [
  'idle',
  'pipetteCheck',
  'descent',
  'hunt',
  'confirmHit',
  'seal',
  'cellAttached',
  'breakIn',
  'wholeCell',
  'record',
  'retract',
  'clean',
  'safe',
  'lost',
  'broken',
  'fouled',
  'needsPipette',
  'done',
] as const;
export type PipetteStateName = (typeof PIPETTE_STATES)[number];

/** Furthest funnel stage an attempt reached. */
export type FunnelStage = 'none' | 'approached' | 'detected' | 'sealed' | 'wholeCell' | 'recorded';
export const FUNNEL: readonly FunnelStage[] = ['approached', 'detected', 'sealed', 'wholeCell', 'recorded'];

export type Outcome = 'recorded' | 'failed' | 'aborted';

/** Everything a technician needs about one attempt (autopatching.md, "per-attempt record"). */
export interface AttemptRecord {
  attemptId: string;
  pipetteId: string;
  /** target the attempt went for: world µm, and the cell id when targeted */
  target: Vec3 | null;
  targetCellId: number | null;
  startEpochMs: number;
  endEpochMs: number;
  /** clock ms */
  startT: number;
  endT: number;
  stageReached: FunnelStage;
  outcome: Outcome;
  /** machine-readable failure reason (e.g. 'seal-stalled', 'no-cell-within-travel'), null on success */
  failureReason: string | null;
  /** state the attempt failed in */
  failedIn: PipetteStateName | null;
  /** Ω */
  r0: number | null;
  cleanCount: number;
  peakSeal: number | null;
  /** s from seal start to gigaseal */
  timeToSeal: number | null;
  breakInAttempts: number;
  spontaneousBreakIn: boolean;
  /** whole-cell QC: Ω, Ω, F, A, V */
  ra: number | null;
  rm: number | null;
  cm: number | null;
  ihold: number | null;
  vrest: number | null;
  /** s of recording (stimulus sweeps) */
  recordingDuration: number | null;
  sweepsRecorded: number;
  /** time spent per state in this attempt, s */
  stateDurations: Partial<Record<PipetteStateName, number>>;
  /** IPFX-style cell features when recorded */
  features?: Record<string, number | null>;
}

/** Result of analysing one test-pulse sweep, as streamed. */
export interface TestPulseReading {
  /** Ω (steady state) */
  r: number;
  /** Ω, F, Ω; null when no transient was fitted */
  ra: number | null;
  cm: number | null;
  rm: number | null;
  /** A (VC) */
  ihold: number;
  /** 0–1, confidence of the exponential fit */
  fitQuality: number;
  mode: 'VC' | 'IC' | 'I0';
}

interface Base {
  t: number;
  epochMs: number;
}

/** When a session stops starting attempts (null: no such limit). */
export interface SessionLimits {
  /** rig-clock ms after the start */
  durationMs: number | null;
  maxAttempts: number | null;
}

/**
 * One pipette's devices, as the rig description names them: driver and port
 * of each, the drive on a multi-drive controller (`unit`), and the channel of
 * the shared pressure box and amplifier.
 */
export interface PipetteHardwareInfo {
  pipetteId: string;
  manipulator: { driver: string; path: string; unit: number | null };
  pressure: { driver: string; path: string; channel: number };
  amplifier: { driver: string; path: string; channel: number };
}

export type RigEvent =
  | (Base & {
      type: 'session.started'; sessionId: string; preset: string; pipettes: string[]; seed: number | null; rig: string; operator: string; virtual: boolean; limits: SessionLimits;
      /** the devices of each pipette, when the rig description is known */
      hardware?: PipetteHardwareInfo[];
      /** the preset's settings as the session runs with them */
      presetSettings?: AutopatchPreset;
    })
  | (Base & { type: 'session.paused' | 'session.resumed'; sessionId: string; by: string })
  | (Base & { type: 'session.ended'; sessionId: string; reason: 'completed' | 'aborted' | 'estop' | 'duration' | 'error'; detail?: string })
  | (Base & { type: 'estop'; by: string })
  | (Base & { type: 'pipette.state'; pipetteId: string; attemptId: string | null; from: PipetteStateName; to: PipetteStateName; reason: string })
  | (Base & { type: 'pipette.testpulse'; pipetteId: string; attemptId: string | null; reading: TestPulseReading })
  | (Base & { type: 'pipette.pressure'; pipetteId: string; mbar: number; source: 'regulator' | 'atmosphere' })
  | (Base & { type: 'pipette.position'; pipetteId: string; world: Vec3; manipulator: Vec3 })
  | (Base & { type: 'pipette.holding'; pipetteId: string; mode: 'VC' | 'IC' | 'I0'; holding: number })
  /** the pipette's health changed (the rule is health.ts) */
  | (Base & { type: 'pipette.health'; pipetteId: string; health: PipetteHealth })
  /** operator overrides now in force (null: none) */
  | (Base & { type: 'pipette.overrides'; pipetteId: string; pressureMbar: number | null; holdingMv: number | null })
  /** cleanings of the tip fitted now (0 after a replacement) */
  | (Base & { type: 'pipette.cleanCount'; pipetteId: string; cleanCount: number })
  | (Base & { type: 'attempt.started'; pipetteId: string; attemptId: string; target: Vec3 | null; targetCellId: number | null })
  | (Base & { type: 'attempt.ended'; record: AttemptRecord })
  /** a sweep to store: every stimulus sweep, and test-pulse sweeps as decimated by the supervisor */
  | (Base & { type: 'sweep'; pipetteId: string; attemptId: string | null; sweep: Sweep; qc?: Record<string, number | boolean> })
  | (Base & { type: 'fault'; pipetteId: string | null; device: string; kind: string; message: string })
  | (Base & { type: 'log'; level: 'info' | 'warn' | 'error'; pipetteId: string | null; message: string });

export type RigEventType = RigEvent['type'];
