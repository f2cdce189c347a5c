/** Typed reads of sessions, attempts and state transitions. */
import type Database from 'better-sqlite3';
import type { AttemptRecord, FunnelStage, Outcome, PipetteHardwareInfo, PipetteStateName } from '../control/events.ts';
import type { Vec3 } from '../../drivers/types.ts';

export type SessionStatus = 'running' | 'completed' | 'interrupted' | 'aborted';

export interface StoredSession {
  id: string;
  preset: string;
  operator: string;
  rig: string;
  virtual: boolean;
  seed: number | null;
  /** each pipette's devices, when the session recorded them */
  hardware: PipetteHardwareInfo[] | null;
  /** the preset's settings as the session ran with them (null for sessions that did not record them) */
  presetSettings: Record<string, unknown> | null;
  pipettes: string[];
  startT: number;
  startEpochMs: number;
  endT: number | null;
  endEpochMs: number | null;
  endReason: string | null;
  endDetail: string | null;
  status: SessionStatus;
  /** time of the last committed row */
  lastT: number;
  lastEpochMs: number;
}

export interface SessionRowDb {
  id: string;
  preset: string;
  operator: string;
  rig: string;
  virtual: number;
  seed: number | null;
  hardware: string | null;
  /** absent before schema 2 */
  preset_settings?: string | null;
  pipettes: string;
  start_t: number;
  start_epoch: number;
  end_t: number | null;
  end_epoch: number | null;
  end_reason: string | null;
  end_detail: string | null;
  status: SessionStatus;
  last_t: number;
  last_epoch: number;
}

export function sessionFromRow(r: SessionRowDb): StoredSession {
  return {
    id: r.id,
    preset: r.preset,
    operator: r.operator,
    rig: r.rig,
    virtual: r.virtual === 1,
    seed: r.seed,
    hardware: r.hardware === null ? null : (JSON.parse(r.hardware) as PipetteHardwareInfo[]),
    presetSettings: r.preset_settings ? (JSON.parse(r.preset_settings) as Record<string, unknown>) : null,
    pipettes: JSON.parse(r.pipettes) as string[],
    startT: r.start_t,
    startEpochMs: r.start_epoch,
    endT: r.end_t,
    endEpochMs: r.end_epoch,
    endReason: r.end_reason,
    endDetail: r.end_detail,
    status: r.status,
    lastT: r.last_t,
    lastEpochMs: r.last_epoch,
  };
}

/** Sessions, oldest first (by start time). */
export function listSessions(db: Database.Database, filter: { status?: SessionStatus } = {}): StoredSession[] {
  const rows = (
    filter.status
      ? db.prepare('SELECT * FROM sessions WHERE status = ? ORDER BY start_epoch, rowid').all(filter.status)
      : db.prepare('SELECT * FROM sessions ORDER BY start_epoch, rowid').all()
  ) as SessionRowDb[];
  return rows.map(sessionFromRow);
}

export function getSession(db: Database.Database, id: string): StoredSession | null {
  const row = db.prepare('SELECT * FROM sessions WHERE id = ?').get(id) as SessionRowDb | undefined;
  return row ? sessionFromRow(row) : null;
}

/** The most recently started session, or null on an empty store. */
export function lastSessionId(db: Database.Database): string | null {
  return (db.prepare('SELECT id FROM sessions ORDER BY start_epoch DESC, rowid DESC LIMIT 1').pluck().get() as string | undefined) ?? null;
}

/** Session end for durations: its end, or its last committed row while running. */
export function sessionEndT(s: StoredSession): number {
  return s.endT ?? s.lastT;
}

/**
 * An attempt as stored: the full AttemptRecord once it ended; while open (or
 * if its session was interrupted) only the start is known and the outcome
 * fields are null / zero.
 */
export interface StoredAttempt extends Omit<AttemptRecord, 'endEpochMs' | 'endT' | 'stageReached' | 'outcome'> {
  sessionId: string | null;
  status: 'open' | 'ended';
  endEpochMs: number | null;
  endT: number | null;
  stageReached: FunnelStage | null;
  outcome: Outcome | null;
}

interface AttemptRowDb {
  id: number;
  session_id: string | null;
  attempt_id: string;
  pipette_id: string;
  status: 'open' | 'ended';
  target_x: number | null;
  target_y: number | null;
  target_z: number | null;
  target_cell_id: number | null;
  start_t: number;
  start_epoch: number;
  end_t: number | null;
  end_epoch: number | null;
  stage_reached: FunnelStage | null;
  outcome: Outcome | null;
  failure_reason: string | null;
  failed_in: PipetteStateName | null;
  r0: number | null;
  clean_count: number | null;
  peak_seal: number | null;
  time_to_seal: number | null;
  break_in_attempts: number | null;
  spontaneous_break_in: number | null;
  ra: number | null;
  rm: number | null;
  cm: number | null;
  ihold: number | null;
  vrest: number | null;
  recording_duration: number | null;
  sweeps_recorded: number | null;
  state_durations: string | null;
  has_features: number;
}

function attemptFromRow(r: AttemptRowDb, features: Map<number, Record<string, number | null>>): StoredAttempt {
  const target: Vec3 | null =
    r.target_x !== null && r.target_y !== null && r.target_z !== null ? [r.target_x, r.target_y, r.target_z] : null;
  const a: StoredAttempt = {
    sessionId: r.session_id,
    status: r.status,
    attemptId: r.attempt_id,
    pipetteId: r.pipette_id,
    target,
    targetCellId: r.target_cell_id,
    startEpochMs: r.start_epoch,
    endEpochMs: r.end_epoch,
    startT: r.start_t,
    endT: r.end_t,
    stageReached: r.stage_reached,
    outcome: r.outcome,
    failureReason: r.failure_reason,
    failedIn: r.failed_in,
    r0: r.r0,
    cleanCount: r.clean_count ?? 0,
    peakSeal: r.peak_seal,
    timeToSeal: r.time_to_seal,
    breakInAttempts: r.break_in_attempts ?? 0,
    spontaneousBreakIn: r.spontaneous_break_in === 1,
    ra: r.ra,
    rm: r.rm,
    cm: r.cm,
    ihold: r.ihold,
    vrest: r.vrest,
    recordingDuration: r.recording_duration,
    sweepsRecorded: r.sweeps_recorded ?? 0,
    stateDurations: r.state_durations ? (JSON.parse(r.state_durations) as StoredAttempt['stateDurations']) : {},
  };
  if (r.has_features === 1) a.features = features.get(r.id) ?? {};
  return a;
}

/** Attempts of the given sessions (all when omitted), by session, then start time. */
export function listAttempts(db: Database.Database, sessionIds?: readonly string[]): StoredAttempt[] {
  const filter = sessionIds ? `WHERE session_id IN (SELECT value FROM json_each(?))` : '';
  const args = sessionIds ? [JSON.stringify(sessionIds)] : [];
  const rows = db
    .prepare(`SELECT * FROM attempts ${filter} ORDER BY session_id, start_t, id`)
    .all(...args) as AttemptRowDb[];
  const features = new Map<number, Record<string, number | null>>();
  const featureRows = db
    .prepare(
      `SELECT f.attempt, f.name, f.value FROM cell_features f JOIN attempts a ON a.id = f.attempt ${
        sessionIds ? 'WHERE a.session_id IN (SELECT value FROM json_each(?))' : ''
      } ORDER BY f.attempt, f.name`,
    )
    .all(...args) as Array<{ attempt: number; name: string; value: number | null }>;
  for (const f of featureRows) {
    let rec = features.get(f.attempt);
    if (!rec) features.set(f.attempt, (rec = {}));
    rec[f.name] = f.value;
  }
  return rows.map((r) => attemptFromRow(r, features));
}

export interface StoredTransition {
  sessionId: string | null;
  pipetteId: string;
  attemptId: string | null;
  from: PipetteStateName;
  to: PipetteStateName;
  reason: string;
  t: number;
  epochMs: number;
}

/** State transitions of the given sessions (all when omitted), in time order per session. */
export function listTransitions(
  db: Database.Database,
  sessionIds?: readonly string[],
  filter: { pipetteId?: string; attemptId?: string } = {},
): StoredTransition[] {
  const where: string[] = [];
  const args: string[] = [];
  if (sessionIds) (where.push('session_id IN (SELECT value FROM json_each(?))'), args.push(JSON.stringify(sessionIds)));
  if (filter.pipetteId !== undefined) (where.push('pipette_id = ?'), args.push(filter.pipetteId));
  if (filter.attemptId !== undefined) (where.push('attempt_id = ?'), args.push(filter.attemptId));
  const rows = db
    .prepare(
      `SELECT session_id, pipette_id, attempt_id, from_state, to_state, reason, t, epoch FROM state_transitions
       ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY session_id, t, id`,
    )
    .all(...args) as Array<{
    session_id: string | null;
    pipette_id: string;
    attempt_id: string | null;
    from_state: PipetteStateName;
    to_state: PipetteStateName;
    reason: string;
    t: number;
    epoch: number;
  }>;
  return rows.map((r) => ({
    sessionId: r.session_id,
    pipetteId: r.pipette_id,
    attemptId: r.attempt_id,
    from: r.from_state,
    to: r.to_state,
    reason: r.reason,
    t: r.t,
    epochMs: r.epoch,
  }));
}

/** A session's writer counters (session_stats). */
export function sessionStats(db: Database.Database, sessionId: string): Record<string, number> {
  const rows = db.prepare('SELECT name, value FROM session_stats WHERE session_id = ? ORDER BY name').all(sessionId) as Array<{
    name: string;
    value: number;
  }>;
  return Object.fromEntries(rows.map((r) => [r.name, r.value]));
}
