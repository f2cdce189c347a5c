/**
 * What the outside world (CLI, dashboard server) may ask of a running rig.
 * The server depends on this interface, never on control internals; the
 * control core never imports the server.
 */
import type { Sweep, Vec3 } from '../../drivers/types.ts';
import type { PipetteHealth } from './health.ts';
import type { PipetteStateName, RigEvent, SessionLimits, TestPulseReading } from './events.ts';

/** Device types the layers above control need, so they depend on control only. */
export type { ClampMode, Sweep, Vec3 } from '../../drivers/types.ts';
export type { PipetteHealth } from './health.ts';

/** R readings kept per pipette for the resistance plot (snapshot.historyLimit) */
export const HISTORY_LIMIT = 3000;

export type SessionPhase = 'idle' | 'running' | 'paused' | 'stopping' | 'ended' | 'estopped';

export interface PipetteSnapshot {
  pipetteId: string;
  state: PipetteStateName;
  /** clock ms when the current state was entered */
  stateSince: number;
  lastReason: string;
  attemptId: string | null;
  attempts: number;
  /** by the one rule in health.ts; streamed as `pipette.health` events */
  health: PipetteHealth;
  lastReading: TestPulseReading | null;
  pressure: { mbar: number; source: 'regulator' | 'atmosphere' } | null;
  /** world µm; depth = z below the surface */
  position: Vec3 | null;
  /** holding command, SI as in `pipette.holding`: V in VC, A in IC */
  holding: { mode: 'VC' | 'IC' | 'I0'; value: number } | null;
  cleanCount: number;
  /** operator overrides in force */
  overrides: { pressureMbar: number | null; holdingMv: number | null };
  /** R readings of the current attempt for the plot, the newest `historyLimit`: [clock ms, Ω] */
  history: Array<[number, number]>;
}

export interface SessionSnapshot {
  sessionId: string | null;
  phase: SessionPhase;
  preset: string | null;
  startedAt: number | null;
  /** clock ms the session ended (null while it runs) */
  endedAt: number | null;
  /** clock ms now */
  now: number;
  epochMs: number;
  virtual: boolean;
  pipettes: PipetteSnapshot[];
  funnel: Record<'attempts' | 'approached' | 'detected' | 'sealed' | 'wholeCell' | 'recorded', number>;
  /** recorded cells per hour of session time (up to its end) */
  cellsPerHour: number;
  /** thresholds to draw on the resistance plot, Ω; the holding potential switched to at holdingAt, mV */
  thresholds: { holdingAt: number; gigaseal: number; breakIn: number; holdingMv: number };
  /**
   * History policy, the same on both sides: each pipette's R history restarts
   * at `attempt.started` and keeps the newest this many readings.
   */
  historyLimit: number;
  /** the session's limits, for its progress (null fields: none) */
  limits: SessionLimits;
  /** attempts started so far (the count the attempt limit applies to) */
  attemptsStarted: number;
}

export type PipetteCommand =
  | { action: 'skip' }          // give up the current attempt, go on with the next
  | { action: 'retry' }         // leave a failed/needsPipette state and start again
  | { action: 'abort' }         // stop this pipette safely and keep it out
  | { action: 'clean' }         // clean now
  | { action: 'replaced' }      // the operator fitted a new pipette
  | { action: 'pressure'; mbar: number | null }  // manual pressure override (null = release)
  | { action: 'holding'; mV: number | null };    // manual holding override (null = release)

export interface CommandResult {
  ok: boolean;
  error?: string;
}

export interface StartOptions {
  preset: string;
  operator: string;
  /** stop starting new attempts after this many minutes (of clock time); null = until stopped */
  durationMin?: number | null;
}

/**
 * One test-pulse sweep for display only (every sweep, unlike the stored
 * `sweep` events): a listener may drop it; it never reaches the store.
 */
export interface LiveTrace {
  /** clock ms */
  t: number;
  pipetteId: string;
  attemptId: string | null;
  sweep: Sweep;
}

export interface RigControl {
  snapshot(): SessionSnapshot;
  /** names of the presets this rig can run (their preparation and limits fit it) */
  presets(): Promise<string[]>;
  /** start a new session when none is running */
  start(options: StartOptions, by: string): Promise<CommandResult>;
  onEvent(listener: (event: RigEvent) => void): () => void;
  /** every test-pulse sweep, for live display; listeners must only enqueue */
  onTrace(listener: (trace: LiveTrace) => void): () => void;
  pause(by: string): Promise<CommandResult>;
  resume(by: string): Promise<CommandResult>;
  abort(by: string): Promise<CommandResult>;
  /** emergency stop: every pipette to its safe state now, motion stopped, session ends */
  emergencyStop(by: string): Promise<CommandResult>;
  pipette(pipetteId: string, command: PipetteCommand, by: string): Promise<CommandResult>;
}
