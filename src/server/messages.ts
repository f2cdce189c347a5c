/**
 * What the server sends over `/ws`, and how much each message matters.
 *
 * Text frames are JSON objects with a `type`:
 *   {type:'snapshot', snapshot, recent}
 *                                     full SessionSnapshot (on connect, after session start/end/e-stop, on
 *                                     resync) and the recent events the event log shows (oldest first);
 *                                     then one binary message with each pipette's last traces
 *   {type:'event', event}             one RigEvent, except sweeps
 *   {type:'clock', t, epochMs}        rig clock heartbeat (when the server was given a clock)
 *   {type:'reply', id, ok, error?}    answer to a client message that carried an id
 *   {type:'error', id?, error}        a client message was refused; nothing changed
 *   {type:'pong', id?}
 * Binary frames are trace frames (trace-frame.ts), decimated for display:
 * every live test-pulse trace (RigControl.onTrace) and every stimulus sweep
 * (its response, then the command played, in one message). Stored test-pulse
 * `sweep` events are not sent: the live traces already carry them.
 *
 * Priorities decide what a slow client loses:
 *   critical   never dropped: session, e-stop, state, attempt, fault, warn/error logs, replies
 *   latest     only the newest per key matters (pressure, position, holding, clock): coalesced
 *   droppable  traces and test-pulse readings (another arrives in ~0.1 s), info logs
 */
import type { RigEvent } from '../control/events.ts';
import type { LiveTrace, SessionSnapshot } from '../control/api.ts';
import { decimateMinMax } from './decimate.ts';
import { encodeTraceFrame, type TraceEncoding } from './trace-frame.ts';

export type Priority = 'critical' | 'latest' | 'droppable';

export interface OutMessage {
  priority: Priority;
  /** coalescing key for 'latest' */
  key?: string;
  /** a snapshot: it supersedes every 'latest' frame still waiting */
  resets?: boolean;
  data: string | Buffer;
}

/** O(1), allocation-free: runs on the rig's emit path. */
export function priorityOf(event: RigEvent): Priority {
  switch (event.type) {
    case 'pipette.testpulse':
    case 'sweep':
      return 'droppable';
    case 'pipette.pressure':
    case 'pipette.position':
    case 'pipette.holding':
      return 'latest';
    case 'log':
      return event.level === 'info' ? 'droppable' : 'critical';
    default:
      return 'critical';
  }
}

/**
 * Events the dashboard's event log shows (ui/js/model.js logEntry logs
 * exactly these): the hub keeps the recent ones for snapshots, so a reloaded
 * page shows the same log.
 */
const LOGGED: ReadonlySet<RigEvent['type']> = new Set([
  'session.started',
  'session.paused',
  'session.resumed',
  'session.ended',
  'estop',
  'pipette.state',
  'attempt.ended',
  'fault',
  'log',
]);

export function isLogged(event: RigEvent): boolean {
  return LOGGED.has(event.type);
}

/** Stored test-pulse sweeps: not sent, the live traces carry every test pulse. */
export function isStoredTestPulse(event: RigEvent): boolean {
  return event.type === 'sweep' && event.sweep.kind === 'testpulse';
}

/** Events after which clients get a fresh snapshot (pipette list or phase changed wholesale). */
export function triggersSnapshot(event: RigEvent): boolean {
  return event.type === 'session.started' || event.type === 'session.ended' || event.type === 'estop';
}

export interface EncodeContext {
  pipetteIndex(pipetteId: string): number;
  /** most samples a trace frame carries */
  maxPoints: number;
  encoding: TraceEncoding;
}

type SweepOf = Extract<RigEvent, { type: 'sweep' }>['sweep'];

function frame(index: number, kind: 'testpulse' | 'stimulus' | 'command', s: SweepOf, samples: Float32Array, rate: number, unit: 'A' | 'V', ctx: EncodeContext): Buffer {
  const d = decimateMinMax(samples, rate, ctx.maxPoints);
  return encodeTraceFrame(
    { pipetteIndex: index, kind, unit, mode: s.mode, seq: s.seq, startTime: s.startTime, sampleRateHz: d.sampleRateHz, samples: d.samples, originalLength: samples.length },
    ctx.encoding,
  );
}

/**
 * The trace frames of one sweep: its response, and for a stimulus sweep the
 * command played (A in current clamp, V in voltage clamp), concatenated.
 */
export function sweepFrames(pipetteId: string, s: SweepOf, ctx: EncodeContext): Buffer {
  const index = ctx.pipetteIndex(pipetteId);
  const response = frame(index, s.kind, s, s.response, s.sampleRateHz, s.responseUnit, ctx);
  if (s.kind !== 'stimulus' || !s.stimulus) return response;
  const st = s.stimulus;
  const command = frame(index, 'command', s, st.samples, st.sampleRateHz, st.mode === 'VC' ? 'V' : 'A', ctx);
  return Buffer.concat([response, command]);
}

/** A live test-pulse trace: droppable, another follows within ~30 ms. */
export function encodeTrace(trace: LiveTrace, ctx: EncodeContext): OutMessage {
  return { priority: 'droppable', data: sweepFrames(trace.pipetteId, trace.sweep, ctx) };
}

export function encodeEvent(event: RigEvent, ctx: EncodeContext): OutMessage {
  const priority = priorityOf(event);
  if (event.type === 'sweep') return { priority, data: sweepFrames(event.pipetteId, event.sweep, ctx) };
  const data = JSON.stringify({ type: 'event', event });
  if (priority === 'latest') return { priority, key: `${event.type}:${(event as { pipetteId: string }).pipetteId}`, data };
  return { priority, data };
}

export function snapshotMessage(snapshot: SessionSnapshot, recent: readonly RigEvent[]): OutMessage {
  return { priority: 'critical', resets: true, data: JSON.stringify({ type: 'snapshot', snapshot, recent }) };
}

export function clockMessage(t: number, epochMs: number): OutMessage {
  return { priority: 'latest', key: 'clock', data: JSON.stringify({ type: 'clock', t, epochMs }) };
}
