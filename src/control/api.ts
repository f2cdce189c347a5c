/**
 * What the outside world (CLI, dashboard server) may ask of a running rig.
 * The server depends on this interface, never on control internals; the
 * control core never imports the server.
 */
import type { Vec3 } from '../../drivers/types.ts';
import type { AttemptRecord, PipetteStateName, RigEvent, SessionLimits, TestPulseReading } from './events.ts';

export type SessionPhase = 'idle' | 'running' | 'paused' | 'stopping' | 'ended' | 'estopped';

export interface PipetteSnapshot {
  pipetteId: string;
  state: PipetteStateName;
  /** clock ms when the current state was entered */
  stateSince: number;
  lastReason: string;
  attemptId: string | null;
  attempts: number;
  health: 'ok' | 'warning' | 'failed';
  lastReading: TestPulseReading | null;
  pressure: { mbar: number; source: 'regulator' | 'atmosphere' } | null;
  /** world µm; depth = z below the surface */
  position: Vec3 | null;
  holding: { mode: 'VC' | 'IC' | 'I0'; value: number } | null;
  cleanCount: number;
  /** operator overrides in force */
  overrides: { pressureMbar: number | null; holdingMv: number | null };
  /** recent R readings for the plot: [clock ms, Ω] */
  history: Array<[number, number]>;
}

export interface SessionSnapshot {
  sessionId: string | null;
  phase: SessionPhase;
  preset: string | null;
  startedAt: number | null;
  /** clock ms now */
  now: number;
  epochMs: number;
  virtual: boolean;
  pipettes: PipetteSnapshot[];
  funnel: Record<'attempts' | 'approached' | 'detected' | 'sealed' | 'wholeCell' | 'recorded', number>;
  cellsPerHour: number;
  recentAttempts: AttemptRecord[];
  /** thresholds to draw on the resistance plot, Ω */
  thresholds: { holdingAt: number; gigaseal: number; breakIn: number };
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

export interface RigControl {
  snapshot(): SessionSnapshot;
  /** start a new session when none is running */
  start(options: StartOptions, by: string): Promise<CommandResult>;
  onEvent(listener: (event: RigEvent) => void): () => void;
  pause(by: string): Promise<CommandResult>;
  resume(by: string): Promise<CommandResult>;
  abort(by: string): Promise<CommandResult>;
  /** emergency stop: every pipette to its safe state now, motion stopped, session ends */
  emergencyStop(by: string): Promise<CommandResult>;
  pipette(pipetteId: string, command: PipetteCommand, by: string): Promise<CommandResult>;
}
