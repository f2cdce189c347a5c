/**
 * Events the store refused, kept whole in `rejected_events` so nothing is
 * thrown away: the event as JSON, float32 sample arrays as base64 of their
 * little-endian bytes (bit-exact, NaN payloads included), and the error.
 */
import type Database from 'better-sqlite3';
import type { RigEvent } from '../control/events.ts';
import { blobToFloat32, float32ToBlob } from './sweeps.ts';

export function encodeEvent(event: RigEvent): string {
  return JSON.stringify(event, (_key, value: unknown) =>
    value instanceof Float32Array ? { float32: float32ToBlob(value).toString('base64') } : value,
  );
}

export function decodeEvent(json: string): RigEvent {
  return JSON.parse(json, (_key, value: unknown) => {
    if (value !== null && typeof value === 'object' && 'float32' in value && Object.keys(value).length === 1) {
      return blobToFloat32(Buffer.from((value as { float32: string }).float32, 'base64'));
    }
    return value;
  }) as RigEvent;
}

export interface RejectedEvent {
  sessionId: string | null;
  type: string;
  t: number;
  error: string;
  event: RigEvent;
}

/** Rejected events, oldest first (of one session when given). */
export function listRejectedEvents(db: Database.Database, sessionId?: string): RejectedEvent[] {
  const rows = (
    sessionId === undefined
      ? db.prepare('SELECT session_id, type, t, error, event FROM rejected_events ORDER BY id').all()
      : db.prepare('SELECT session_id, type, t, error, event FROM rejected_events WHERE session_id IS ? ORDER BY id').all(sessionId)
  ) as Array<{ session_id: string | null; type: string; t: number; error: string; event: string }>;
  return rows.map((r) => ({ sessionId: r.session_id, type: r.type, t: r.t, error: r.error, event: decodeEvent(r.event) }));
}
