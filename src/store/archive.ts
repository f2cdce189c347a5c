/**
 * The store seen through the dashboard's SessionArchive interface
 * (src/server/archive-types.ts): adapts reports, timelines and sweeps to the
 * shapes the sessions page and sweep viewer use. Read-only.
 *
 * `createArchiveReader(db)` answers synchronously; it runs in the archive
 * worker thread (archive-worker.ts, `openArchiveWorker`), so a report over a
 * long session never holds up the control loop's thread. `createSqliteArchive`
 * wraps a reader on the caller's thread, for tools and tests.
 */
import type Database from 'better-sqlite3';
import type { AttemptRecord, PipetteStateName } from '../control/events.ts';
import type {
  AttemptTimeline,
  Distribution as ArchiveDistribution,
  FunnelCounts,
  SessionArchive,
  SessionReport,
  SessionSummary,
  StateTransition,
  SweepData,
  SweepInfo,
} from '../server/archive-types.ts';
import { CELL_COLUMNS, HARDWARE_HEADERS, hardwareRow } from './report-columns.ts';
import { funnelOf, type Distribution, type FunnelFigures } from './report-figures.ts';
import { buildReport } from './reports.ts';
import {
  getSession,
  listAttempts,
  listTransitions,
  sessionFromRow,
  type SessionRowDb,
  type StoredAttempt,
  type StoredSession,
} from './queries.ts';
import { listSweeps, readSweep, type SweepMeta } from './sweeps.ts';

function counts(f: FunnelFigures): FunnelCounts {
  return { attempts: f.attempts, unfinished: f.unfinished, ...f.counts };
}

function dist(d: Distribution): ArchiveDistribution | null {
  if (d.n === 0 || d.min === null || d.q1 === null || d.median === null || d.q3 === null || d.max === null) return null;
  return { n: d.n, min: d.min, q1: d.q1, median: d.median, q3: d.q3, max: d.max };
}

function toRecord(a: StoredAttempt): AttemptRecord {
  const { sessionId: _s, status: _st, ...rest } = a;
  return {
    ...rest,
    endEpochMs: a.endEpochMs ?? a.startEpochMs,
    endT: a.endT ?? a.startT,
    stageReached: a.stageReached ?? 'none',
    outcome: a.outcome ?? 'aborted',
  };
}

function info(m: SweepMeta): SweepInfo {
  return {
    sweepId: m.id,
    pipetteId: m.pipetteId,
    attemptId: m.attemptId,
    kind: m.kind,
    mode: m.mode,
    seq: m.seq,
    startTime: m.startTime,
    sampleRateHz: m.sampleRateHz,
    responseUnit: m.responseUnit,
    holding: m.holding,
    samples: m.nSamples,
    stimulusName: m.stimulus?.name ?? null,
    qc: m.qc,
  };
}

interface SummaryRow {
  id: string;
  attempts: number;
  unfinished: number;
  whole_cell: number;
  recorded: number;
}

function summary(s: StoredSession, row: SummaryRow | undefined): SessionSummary {
  return {
    sessionId: s.id,
    preset: s.preset,
    operator: s.operator,
    rig: s.rig,
    virtual: s.virtual,
    startEpochMs: s.startEpochMs,
    endEpochMs: s.endEpochMs,
    status: s.status,
    endReason: s.endReason,
    pipettes: s.pipettes,
    attempts: row?.attempts ?? 0,
    unfinished: row?.unfinished ?? 0,
    wholeCell: row?.whole_cell ?? 0,
    recorded: row?.recorded ?? 0,
  };
}

/** Most sessions one list returns, whatever is asked (each summary is a row of JSON to the page). */
export const MAX_SESSION_LIST = 1000;

// attempts = ended ones, as funnelOf counts them (open ones are unfinished)
const COUNTS = `sum(status = 'ended') AS attempts, sum(status = 'open') AS unfinished,
    sum(status = 'ended' AND stage_reached IN ('wholeCell', 'recorded')) AS whole_cell,
    sum(status = 'ended' AND stage_reached = 'recorded') AS recorded`;

/** The newest sessions with their attempt counts, in one query (counting only their attempts, through the index). */
const LIST_SQL = `WITH top AS (SELECT *, rowid AS list_order FROM sessions ORDER BY start_epoch DESC, rowid DESC LIMIT ?)
  SELECT top.*, c.attempts, c.unfinished, c.whole_cell, c.recorded FROM top
  LEFT JOIN (SELECT session_id, ${COUNTS} FROM attempts WHERE session_id IN (SELECT id FROM top) GROUP BY session_id) c
    ON c.session_id = top.id
  ORDER BY top.start_epoch DESC, top.list_order DESC`;

const ONE_SQL = `SELECT ${COUNTS} FROM attempts WHERE session_id = ?`;

/** SessionArchive's questions, answered synchronously (in the archive worker). */
export interface ArchiveReader {
  listSessions(options: { limit: number }): SessionSummary[];
  sessionReport(sessionId: string): SessionReport | null;
  attempts(sessionId: string): AttemptTimeline[] | null;
  sweepsOfAttempt(attemptId: string): SweepInfo[] | null;
  sweep(sweepId: number): SweepData | null;
}

export function createArchiveReader(db: Database.Database): ArchiveReader {
  const list = db.prepare(LIST_SQL);
  const one = db.prepare(ONE_SQL);
  const summaryOf = (s: StoredSession): SessionSummary => summary(s, { id: s.id, ...(one.get(s.id) as Omit<SummaryRow, 'id'>) });

  return {
    listSessions({ limit }) {
      const n = Math.max(0, Math.min(MAX_SESSION_LIST, Math.floor(limit)));
      const rows = list.all(n) as Array<SessionRowDb & SummaryRow>;
      return rows.map((r) => summary(sessionFromRow(r), r));
    },

    sessionReport(sessionId): SessionReport | null {
      const s = getSession(db, sessionId);
      if (!s) return null;
      // the report `autopatch report --session ID` gives, in the page's shapes
      const r = buildReport(db, [sessionId]);
      const [row] = r.sessions;
      const perHour = (f: FunnelFigures): number => (r.hours > 0 ? f.counts.recorded / r.hours : 0);
      const pipetteFunnels = new Map(r.byPipette.map((f) => [f.key, f]));
      const byPipette = [...new Set([...s.pipettes, ...pipetteFunnels.keys()])].map((pipetteId) => {
        const f = pipetteFunnels.get(pipetteId) ?? funnelOf([]);
        return { pipetteId, funnel: counts(f), cellsPerHour: perHour(f) };
      });
      const sim = r.simultaneous;
      const q = r.quality;
      return {
        session: summaryOf(s),
        seed: row.seed,
        hardware: row.hardware,
        hardwareTable: row.hardware?.length ? { headers: [...HARDWARE_HEADERS], rows: row.hardware.map(hardwareRow) } : null,
        stats: row.stats,
        durationS: row.durationS,
        funnel: counts(r.funnel),
        byPipette,
        byPreset: r.byPreset.map((f) => ({ preset: f.key, funnel: counts(f), cellsPerHour: perHour(f) })),
        timePerState: r.timePerState.map((x) => ({ ...x, state: x.state as PipetteStateName })),
        failureReasons: r.failureReasons,
        recorded: r.recorded,
        hours: r.hours,
        cellsPerHour: r.cellsPerHour ?? 0,
        simultaneous: {
          trials: sim.trials,
          atLeastTwo: sim.successes,
          rate: sim.rate,
          roundMode: row.roundMode,
          definition: sim.definition,
          episodes: sim.episodes,
          episodeSeconds: sim.episodeSeconds,
          wholeCellAttempts: sim.wholeCellAttempts,
          overlappingAttempts: sim.overlappingAttempts,
          overlapShare: sim.overlapShare,
        },
        quality: {
          peakSeal: dist(q.seal),
          r0: dist(q.r0),
          ra: dist(q.ra),
          rm: dist(q.rm),
          cm: dist(q.cm),
          ihold: dist(q.ihold),
          vrest: dist(q.vrest),
          timeToSeal: dist(q.timeToSeal),
        },
        spontaneousBreakIn: q.spontaneousBreakIn,
        cellColumns: [...CELL_COLUMNS],
        cells: r.cells.map(({ attemptId, pipetteId, ra, rm, cm, vrest, features }) => ({ attemptId, pipetteId, ra, rm, cm, vrest, features })),
      };
    },

    attempts(sessionId): AttemptTimeline[] | null {
      if (!getSession(db, sessionId)) return null;
      const byAttempt = new Map<string, StateTransition[]>();
      for (const tr of listTransitions(db, [sessionId])) {
        if (tr.attemptId === null) continue;
        const list = byAttempt.get(tr.attemptId) ?? [];
        list.push({ t: tr.t, epochMs: tr.epochMs, from: tr.from, to: tr.to, reason: tr.reason });
        byAttempt.set(tr.attemptId, list);
      }
      return listAttempts(db, [sessionId])
        .filter((a) => a.status === 'ended')
        .map((a) => ({ record: toRecord(a), transitions: byAttempt.get(a.attemptId) ?? [] }));
    },

    sweepsOfAttempt(attemptId): SweepInfo[] | null {
      // attempt ids are unique within a session; if reused across sessions, the latest session's
      const sessionId = db
        .prepare(
          `SELECT a.session_id FROM attempts a LEFT JOIN sessions s ON s.id = a.session_id
           WHERE a.attempt_id = ? ORDER BY s.start_epoch DESC, a.id DESC LIMIT 1`,
        )
        .pluck()
        .get(attemptId) as string | null | undefined;
      if (sessionId === undefined) return null;
      const metas = listSweeps(db, { attemptId, ...(sessionId !== null ? { sessionId } : {}) });
      return metas.sort((a, b) => a.startTime - b.startTime || a.id - b.id).map(info);
    },

    sweep(sweepId) {
      const s = readSweep(db, sweepId);
      if (!s) return null;
      return { info: info(s), response: s.sweep.response, stimulus: s.sweep.stimulus?.samples ?? null };
    },
  };
}

/** A reader on the caller's thread behind the SessionArchive interface (tools, tests; the dashboard uses the worker). */
export function createSqliteArchive(db: Database.Database): SessionArchive {
  const reader = createArchiveReader(db);
  const call = async <T>(fn: () => T): Promise<T> => fn();
  return {
    listSessions: (options) => call(() => reader.listSessions(options)),
    sessionReport: (id) => call(() => reader.sessionReport(id)),
    attempts: (id) => call(() => reader.attempts(id)),
    sweepsOfAttempt: (id) => call(() => reader.sweepsOfAttempt(id)),
    sweep: (id) => call(() => reader.sweep(id)),
  };
}
