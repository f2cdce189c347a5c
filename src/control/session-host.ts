/**
 * The RigControl the CLI and the dashboard talk to: one rig, one session at a
 * time. It keeps a single event stream across sessions and forwards commands
 * to the current supervisor; `start` builds a new supervisor through the
 * factory the application provides (which knows the rig, presets, targets).
 */
import type { Clock } from '../clock/clock.ts';
import type { CommandResult, RigControl, SessionSnapshot, StartOptions } from './api.ts';
import type { EventSink } from './event-sink.ts';
import type { TraceTap } from './trace-tap.ts';
import type { SessionSummary, Supervisor } from './supervisor.ts';

export interface SessionHost extends RigControl {
  readonly current: Supervisor | null;
  /** resolves with each session's summary as it ends */
  onSessionEnd(listener: (summary: SessionSummary) => void): () => void;
}

export interface SessionHostOptions {
  clock: Clock;
  sink: EventSink;
  /** live traces of every session (each supervisor is built to emit into it) */
  traces: TraceTap;
  /** names of the presets this rig can run */
  presets(): Promise<string[]>;
  /** build (not start) a supervisor for a new session; throws with a clear message if it cannot */
  createSession(options: StartOptions): Promise<Supervisor>;
  /** thresholds and pipette ids to show before any session has run */
  idleSnapshot(): SessionSnapshot;
  /** stop every manipulator and vent every line, for an e-stop when no session is running */
  stopHardware(): Promise<void>;
}

const refuse = (error: string): CommandResult => ({ ok: false, error });

export function createSessionHost(options: SessionHostOptions): SessionHost {
  const { clock, sink } = options;
  let current: Supervisor | null = null;
  let starting = false;
  const endListeners = new Set<(s: SessionSummary) => void>();

  const running = (): boolean => current !== null && !['ended', 'estopped'].includes(current.phase);

  return {
    get current() {
      return current;
    },
    onSessionEnd(listener) {
      endListeners.add(listener);
      return () => endListeners.delete(listener);
    },
    snapshot() {
      if (current) return current.snapshot();
      return { ...options.idleSnapshot(), now: clock.now(), epochMs: clock.epochMs() };
    },
    onEvent: (listener) => sink.subscribe(listener),
    onTrace: (listener) => options.traces.subscribe(listener),
    presets: () => options.presets(),
    async start(start, by) {
      if (starting || running()) return refuse('a session is already running');
      starting = true;
      try {
        const supervisor = await options.createSession(start);
        current = supervisor;
        void supervisor.done.then((summary) => {
          for (const l of endListeners) l(summary);
        });
        supervisor.start();
        sink.emit({ type: 'log', level: 'info', pipetteId: null, message: `session ${supervisor.sessionId} started by ${by}` });
        return { ok: true };
      } catch (e) {
        return refuse((e as Error).message);
      } finally {
        starting = false;
      }
    },
    pause: (by) => (running() ? current!.pause(by) : Promise.resolve(refuse('no session is running'))),
    resume: (by) => (running() ? current!.resume(by) : Promise.resolve(refuse('no session is running'))),
    abort: (by) => (running() ? current!.abort(by) : Promise.resolve(refuse('no session is running'))),
    emergencyStop: async (by) => {
      if (current && running()) return current.emergencyStop(by);
      // Honoured between sessions too: whatever moves is stopped, every line vented.
      sink.emit({ type: 'estop', by });
      await options.stopHardware();
      return { ok: true };
    },
    pipette: (id, command, by) => (running() ? current!.pipette(id, command, by) : Promise.resolve(refuse('no session is running'))),
  };
}
