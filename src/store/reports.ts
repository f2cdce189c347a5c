/**
 * Reports: read-only queries returning typed figures for one session, several,
 * or all (definitions in report-figures.ts). Used by the `report` command and
 * the dashboard's sessions page.
 */
import type Database from 'better-sqlite3';
import type { PipetteHardwareInfo } from '../control/events.ts';
import {
  cellsPerHour,
  failureReasons,
  funnelOf,
  qualityOf,
  simultaneousWholeCell,
  timePerState,
  type FailureReason,
  type FunnelFigures,
  type QualityFigures,
  type SimultaneousFigures,
  type StateTime,
  featureSummary,
  recordedCells,
  type Distribution,
  type RecordedCell,
  roundModeOf,
  type RoundMode,
} from './report-figures.ts';
import {
  getSession,
  listAttempts,
  listSessions,
  listTransitions,
  sessionEndT,
  sessionStats,
  type StoredAttempt,
  type StoredSession,
  type StoredTransition,
} from './queries.ts';

export interface SessionSummary {
  id: string;
  preset: string;
  operator: string;
  rig: string;
  virtual: boolean;
  seed: number | null;
  /** each pipette's devices, when the session recorded them */
  hardware: PipetteHardwareInfo[] | null;
  status: StoredSession['status'];
  endReason: string | null;
  startEpochMs: number;
  endEpochMs: number | null;
  durationS: number;
  pipettes: number;
  attempts: number;
  unfinished: number;
  recorded: number;
  /** recorded / ended attempts */
  recordedRate: number | null;
  cellsPerHour: number | null;
  /** ≥ 2 simultaneous whole-cell by round, and how the rounds were formed */
  simultaneousRate: number | null;
  roundMode: RoundMode;
  /** by time: episodes with ≥ 2 pipettes in whole-cell, and the share of whole-cell attempts that overlapped another */
  simultaneousEpisodes: number;
  overlapShare: number | null;
  medianSeal: number | null;
  medianRa: number | null;
  /** writer counters (back-pressure, decimation) */
  stats: Record<string, number>;
}

export interface KeyedFunnel extends FunnelFigures {
  key: string;
}

export interface StoreReport {
  sessionIds: string[];
  /** one row per session: the cross-session comparison */
  sessions: SessionSummary[];
  funnel: FunnelFigures;
  bySession: KeyedFunnel[];
  byPipette: KeyedFunnel[];
  byPreset: KeyedFunnel[];
  timePerState: StateTime[];
  failureReasons: FailureReason[];
  recorded: number;
  hours: number;
  cellsPerHour: number | null;
  simultaneous: SimultaneousFigures;
  quality: QualityFigures;
  /** recorded cells with their e-features, and each feature's distribution */
  cells: RecordedCell[];
  features: Record<string, Distribution>;
}

function groupFunnel(attempts: readonly StoredAttempt[], key: (a: StoredAttempt) => string): KeyedFunnel[] {
  const groups = new Map<string, StoredAttempt[]>();
  for (const a of attempts) {
    const k = key(a);
    const list = groups.get(k) ?? [];
    list.push(a);
    groups.set(k, list);
  }
  return [...groups.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([k, list]) => ({ key: k, ...funnelOf(list) }));
}

function simultaneousColumns(f: SimultaneousFigures): Pick<SessionSummary, 'simultaneousRate' | 'simultaneousEpisodes' | 'overlapShare'> {
  return { simultaneousRate: f.rate, simultaneousEpisodes: f.episodes, overlapShare: f.overlapShare };
}

function summarize(
  db: Database.Database,
  s: StoredSession,
  attempts: readonly StoredAttempt[],
  transitions: readonly StoredTransition[],
): SessionSummary {
  const mine = attempts.filter((a) => a.sessionId === s.id);
  const funnel = funnelOf(mine);
  const cph = cellsPerHour([s], mine);
  const quality = qualityOf(mine);
  return {
    id: s.id,
    preset: s.preset,
    operator: s.operator,
    rig: s.rig,
    virtual: s.virtual,
    seed: s.seed,
    hardware: s.hardware,
    status: s.status,
    endReason: s.endReason,
    startEpochMs: s.startEpochMs,
    endEpochMs: s.endEpochMs,
    durationS: (sessionEndT(s) - s.startT) / 1000,
    pipettes: s.pipettes.length,
    attempts: funnel.attempts,
    unfinished: funnel.unfinished,
    recorded: funnel.counts.recorded,
    recordedRate: funnel.rates.recorded,
    cellsPerHour: cph.perHour,
    ...simultaneousColumns(simultaneousWholeCell([s], mine, transitions)),
    roundMode: roundModeOf(s),
    medianSeal: quality.seal.median,
    medianRa: quality.ra.median,
    stats: sessionStats(db, s.id),
  };
}

/** Report over the given sessions (all sessions when omitted). Unknown ids are an error. */
export function buildReport(db: Database.Database, sessionIds?: readonly string[]): StoreReport {
  let sessions: StoredSession[];
  if (sessionIds) {
    sessions = sessionIds.map((id) => {
      const s = getSession(db, id);
      if (!s) throw new Error(`no session "${id}" in the store`);
      return s;
    });
  } else {
    sessions = listSessions(db);
  }
  const ids = sessions.map((s) => s.id);
  const attempts = listAttempts(db, ids);
  const transitions = listTransitions(db, ids);
  const presetOf = new Map(sessions.map((s) => [s.id, s.preset]));
  const cph = cellsPerHour(sessions, attempts);
  const cells = recordedCells(attempts);
  return {
    sessionIds: ids,
    sessions: sessions.map((s) => summarize(db, s, attempts, transitions)),
    funnel: funnelOf(attempts),
    bySession: groupFunnel(attempts, (a) => a.sessionId ?? ''),
    byPipette: groupFunnel(attempts, (a) => a.pipetteId),
    byPreset: groupFunnel(attempts, (a) => presetOf.get(a.sessionId ?? '') ?? ''),
    timePerState: timePerState(sessions, transitions),
    failureReasons: failureReasons(attempts),
    recorded: cph.recorded,
    hours: cph.hours,
    cellsPerHour: cph.perHour,
    simultaneous: simultaneousWholeCell(sessions, attempts, transitions),
    quality: qualityOf(attempts),
    cells,
    features: featureSummary(cells),
  };
}

/** One row per session, side by side. */
export function compareSessions(db: Database.Database, sessionIds?: readonly string[]): SessionSummary[] {
  return buildReport(db, sessionIds).sessions;
}

export interface TimelineSegment {
  state: string;
  /** clock ms */
  startT: number;
  endT: number;
  seconds: number;
  /** reason of the transition into this state */
  reason: string;
}

export interface AttemptTimeline {
  attempt: StoredAttempt;
  transitions: StoredTransition[];
  /** the attempt as consecutive states, for a Gantt-style bar */
  segments: TimelineSegment[];
}

/** Every attempt of a session (or of one pipette) with its state transitions. */
export function attemptTimelines(
  db: Database.Database,
  sessionId: string,
  filter: { pipetteId?: string; attemptId?: string } = {},
): AttemptTimeline[] {
  const session = getSession(db, sessionId);
  if (!session) throw new Error(`no session "${sessionId}" in the store`);
  const attempts = listAttempts(db, [sessionId]).filter(
    (a) =>
      (filter.pipetteId === undefined || a.pipetteId === filter.pipetteId) &&
      (filter.attemptId === undefined || a.attemptId === filter.attemptId),
  );
  const transitions = listTransitions(db, [sessionId], filter);
  return attempts.map((attempt) => {
    const mine = transitions.filter((tr) => tr.attemptId === attempt.attemptId);
    const end = attempt.endT ?? sessionEndT(session);
    const segments: TimelineSegment[] = [];
    if (mine.length && mine[0].t > attempt.startT) {
      segments.push({ state: mine[0].from, startT: attempt.startT, endT: mine[0].t, seconds: (mine[0].t - attempt.startT) / 1000, reason: '' });
    }
    mine.forEach((tr, i) => {
      const until = i + 1 < mine.length ? mine[i + 1].t : Math.max(end, tr.t);
      segments.push({ state: tr.to, startT: tr.t, endT: until, seconds: (until - tr.t) / 1000, reason: tr.reason });
    });
    return { attempt, transitions: mine, segments };
  });
}
