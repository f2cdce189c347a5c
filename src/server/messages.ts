/**
 * What the server sends over `/ws`, and how much each message matters.
 *
 * Text frames are JSON objects with a `type`:
 *   {type:'snapshot', snapshot}       full SessionSnapshot (on connect, after session start/end/e-stop, on resync)
 *   {type:'event', event}             one RigEvent, except sweeps
 *   {type:'clock', t, epochMs}        rig clock heartbeat (when the server was given a clock)
 *   {type:'reply', id, ok, error?}    answer to a client message that carried an id
 *   {type:'error', id?, error}        a client message was refused; nothing changed
 *   {type:'pong', id?}
 * Binary frames are trace frames (trace-frame.ts): every `sweep` event,
 * decimated for display.
 *
 * Priorities decide what a slow client loses:
 *   critical   never dropped: session, e-stop, state, attempt, fault, warn/error logs, replies
 *   latest     only the newest per key matters (pressure, position, holding, clock): coalesced
 *   droppable  traces and test-pulse readings (another arrives in ~0.1 s), info logs
 */
import type { RigEvent } from '../control/events.ts';
import type { SessionSnapshot } from '../control/api.ts';
import { decimateMinMax } from './decimate.ts';
import { encodeTraceFrame, type TraceEncoding } from './trace-frame.ts';

export type Priority = 'critical' | 'latest' | 'droppable';

export interface OutMessage {
  priority: Priority;
  /** coalescing key for 'latest' */
  key?: string;
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

export function encodeEvent(event: RigEvent, ctx: EncodeContext): OutMessage {
  const priority = priorityOf(event);
  if (event.type === 'sweep') {
    const s = event.sweep;
    const d = decimateMinMax(s.response, s.sampleRateHz, ctx.maxPoints);
    const data = encodeTraceFrame(
      {
        pipetteIndex: ctx.pipetteIndex(event.pipetteId),
        kind: s.kind,
        unit: s.responseUnit,
        mode: s.mode,
        seq: s.seq,
        startTime: s.startTime,
        sampleRateHz: d.sampleRateHz,
        samples: d.samples,
        originalLength: s.response.length,
      },
      ctx.encoding,
    );
    return { priority, data };
  }
  const data = JSON.stringify({ type: 'event', event });
  if (priority === 'latest') return { priority, key: `${event.type}:${(event as { pipetteId: string }).pipetteId}`, data };
  return { priority, data };
}

export function snapshotMessage(snapshot: SessionSnapshot): OutMessage {
  return { priority: 'critical', data: JSON.stringify({ type: 'snapshot', snapshot }) };
}

export function clockMessage(t: number, epochMs: number): OutMessage {
  return { priority: 'latest', key: 'clock', data: JSON.stringify({ type: 'clock', t, epochMs }) };
}
