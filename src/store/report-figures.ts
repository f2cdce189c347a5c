/**
 * The figures of a report, as pure functions of sessions, attempts and state
 * transitions (no database here, so each rule is testable on its own).
 *
 * Definitions:
 * - Funnel: over *ended* attempts; a stage's count is the number of attempts
 *   whose `stageReached` is that stage or a later one. `rate` = count /
 *   attempts, `stepRate` = count / the previous stage's count. Attempts that
 *   never ended (session interrupted or aborted mid-attempt) are counted
 *   apart as `unfinished`.
 * - Time per state: per pipette, each transition's target state lasts until
 *   the pipette's next transition, the last one until the session's end (its
 *   last committed row while running); the time from session start to the
 *   first transition counts for that transition's `from` state.
 * - Whole-cell interval of an attempt: from its first transition into
 *   `wholeCell` or `record` to the pipette's next transition into any other
 *   state (or the attempt's / session's end).
 * - ≥ 2 simultaneous whole-cell, by time (right however the pipettes were
 *   coordinated): an episode is a maximal stretch of session time during
 *   which at least two pipettes are in whole-cell or record at once (their
 *   whole-cell intervals overlap; touching ends do not); the report gives the
 *   number of episodes, their total time, and the share of attempts that
 *   reached whole-cell whose whole-cell interval overlapped that of an
 *   attempt on another pipette.
 * - ≥ 2 simultaneous whole-cell, by round: round k of a session is the k-th
 *   attempt of each pipette (attempts ordered by start). A round is a trial
 *   when at least two pipettes took part (a round of one cannot test
 *   simultaneity); it succeeds when the whole-cell intervals of at least two
 *   of its attempts overlap. This is the Multipatcher's trial when the preset
 *   runs synchronized rounds (`coordination.synchronized_rounds`: every
 *   pipette starts its k-th attempt together). Otherwise pipettes run
 *   independently and round k only groups attempts by index: its attempts need
 *   not have run at the same time, and overlaps across rounds are missed; the
 *   figures by time are the ones to read. Sessions that did not record their
 *   preset's settings count as independent.
 * - Failure reasons: ended attempts whose outcome is not `recorded`, grouped
 *   by failureReason (null → the outcome, e.g. 'aborted', or 'unknown'),
 *   ranked by count, ties by name.
 * - Cells per hour: attempts that reached `recorded`, per hour of session
 *   time (clock time, end − start).
 * - Quality distributions: over ended attempts where the figure is known;
 *   quartiles by linear interpolation between order statistics. Spontaneous
 *   break-in: the share of ended attempts that reached whole-cell whose
 *   break-in happened by itself, before any suction pulse.
 */
import { FUNNEL, PIPETTE_STATES, type FunnelStage } from '../control/events.ts';
import type { StoredAttempt, StoredSession, StoredTransition } from './queries.ts';
import { sessionEndT } from './queries.ts';

export type FunnelKey = Exclude<FunnelStage, 'none'>;

export interface FunnelFigures {
  /** ended attempts */
  attempts: number;
  unfinished: number;
  counts: Record<FunnelKey, number>;
  rates: Record<FunnelKey, number | null>;
  stepRates: Record<FunnelKey, number | null>;
}

export function funnelOf(attempts: readonly StoredAttempt[]): FunnelFigures {
  const ended = attempts.filter((a) => a.status === 'ended');
  const counts = {} as Record<FunnelKey, number>;
  const rates = {} as Record<FunnelKey, number | null>;
  const stepRates = {} as Record<FunnelKey, number | null>;
  let previous = ended.length;
  FUNNEL.forEach((stage, i) => {
    const key = stage as FunnelKey;
    const n = ended.filter((a) => a.stageReached !== null && FUNNEL.indexOf(a.stageReached) >= i).length;
    counts[key] = n;
    rates[key] = ended.length ? n / ended.length : null;
    stepRates[key] = previous ? n / previous : null;
    previous = n;
  });
  return { attempts: ended.length, unfinished: attempts.length - ended.length, counts, rates, stepRates };
}

export interface StateTime {
  state: string;
  seconds: number;
  /** share of all pipette-time in scope */
  fraction: number;
  /** times the state was entered */
  visits: number;
}

export function timePerState(sessions: readonly StoredSession[], transitions: readonly StoredTransition[]): StateTime[] {
  const acc = new Map<string, { ms: number; visits: number }>();
  const add = (state: string, ms: number, visit: boolean): void => {
    const cur = acc.get(state) ?? { ms: 0, visits: 0 };
    cur.ms += ms;
    if (visit) cur.visits++;
    acc.set(state, cur);
  };
  for (const s of sessions) {
    const end = sessionEndT(s);
    const byPipette = new Map<string, StoredTransition[]>();
    for (const tr of transitions) {
      if (tr.sessionId !== s.id) continue;
      const list = byPipette.get(tr.pipetteId) ?? [];
      list.push(tr);
      byPipette.set(tr.pipetteId, list);
    }
    for (const list of byPipette.values()) {
      list.sort((a, b) => a.t - b.t);
      const lead = list[0].t - s.startT;
      if (lead > 0) add(list[0].from, lead, true);
      list.forEach((tr, i) => {
        // 'done' is a pipette that has finished its session, waiting for the others: not working time.
        if (tr.to === 'done') return;
        const until = i + 1 < list.length ? list[i + 1].t : Math.max(end, tr.t);
        add(tr.to, until - tr.t, true);
      });
    }
  }
  const total = [...acc.values()].reduce((sum, v) => sum + v.ms, 0);
  const order = (state: string): number => {
    const i = (PIPETTE_STATES as readonly string[]).indexOf(state);
    return i < 0 ? PIPETTE_STATES.length : i;
  };
  return [...acc.entries()]
    .map(([state, v]) => ({ state, seconds: v.ms / 1000, fraction: total ? v.ms / total : 0, visits: v.visits }))
    .sort((a, b) => order(a.state) - order(b.state) || a.state.localeCompare(b.state));
}

export interface FailureReason {
  reason: string;
  count: number;
  /** share of all failed attempts */
  fraction: number;
  /** states the attempts failed in, most frequent first */
  failedIn: Array<{ state: string; count: number }>;
}

export function failureReasons(attempts: readonly StoredAttempt[]): FailureReason[] {
  const failed = attempts.filter((a) => a.status === 'ended' && a.outcome !== 'recorded');
  const groups = new Map<string, Map<string, number>>();
  for (const a of failed) {
    const reason = a.failureReason ?? a.outcome ?? 'unknown';
    const states = groups.get(reason) ?? new Map<string, number>();
    const state = a.failedIn ?? 'unknown';
    states.set(state, (states.get(state) ?? 0) + 1);
    groups.set(reason, states);
  }
  const rank = <T extends { count: number }>(key: (x: T) => string) => (a: T, b: T) =>
    b.count - a.count || key(a).localeCompare(key(b));
  return [...groups.entries()]
    .map(([reason, states]) => {
      const count = [...states.values()].reduce((s, n) => s + n, 0);
      return {
        reason,
        count,
        fraction: count / failed.length,
        failedIn: [...states.entries()].map(([state, n]) => ({ state, count: n })).sort(rank((x) => x.state)),
      };
    })
    .sort(rank((x) => x.reason));
}

const WHOLE_CELL_STATES = new Set(['wholeCell', 'record']);

export interface Interval {
  start: number;
  end: number;
}

/** Whole-cell interval of each attempt (keyed by session + attempt id) that reached it. */
export function wholeCellIntervals(
  sessions: readonly StoredSession[],
  attempts: readonly StoredAttempt[],
  transitions: readonly StoredTransition[],
): Map<string, Interval> {
  const out = new Map<string, Interval>();
  const sessionEnd = new Map(sessions.map((s) => [s.id, sessionEndT(s)]));
  const attemptEnd = new Map(attempts.map((a) => [`${a.sessionId}\0${a.attemptId}`, a.endT]));
  const byPipette = new Map<string, StoredTransition[]>();
  for (const tr of transitions) {
    const key = `${tr.sessionId}\0${tr.pipetteId}`;
    const list = byPipette.get(key) ?? [];
    list.push(tr);
    byPipette.set(key, list);
  }
  for (const list of byPipette.values()) {
    list.sort((a, b) => a.t - b.t);
    let open: { key: string; start: number } | null = null;
    for (const tr of list) {
      const inside = WHOLE_CELL_STATES.has(tr.to);
      if (inside && open === null && tr.attemptId !== null) {
        const key = `${tr.sessionId}\0${tr.attemptId}`;
        if (!out.has(key)) open = { key, start: tr.t };
      } else if (!inside && open !== null) {
        out.set(open.key, { start: open.start, end: tr.t });
        open = null;
      }
    }
    if (open !== null) {
      const sid = open.key.split('\0')[0];
      const end = attemptEnd.get(open.key) ?? sessionEnd.get(sid) ?? open.start;
      out.set(open.key, { start: open.start, end });
    }
  }
  return out;
}

/** Most intervals covering one instant (half-open: an end at t does not meet a start at t). */
export function maxOverlap(intervals: readonly Interval[]): number {
  const points: Array<[number, number]> = [];
  for (const iv of intervals) {
    if (iv.end <= iv.start) continue;
    points.push([iv.start, 1], [iv.end, -1]);
  }
  points.sort((a, b) => a[0] - b[0] || a[1] - b[1]); // ends before starts at the same time
  let cur = 0;
  let best = 0;
  for (const [, d] of points) {
    cur += d;
    best = Math.max(best, cur);
  }
  return best;
}

/** How a session's pipettes were coordinated, as its stored preset says (a missing flag = independent). */
export type RoundMode = 'synchronized' | 'independent';
/** Over several sessions: 'mixed' when they differ. */
export type RoundsOf = RoundMode | 'mixed' | 'none';

export function roundModeOf(s: StoredSession): RoundMode {
  const coordination = s.presetSettings?.coordination as Record<string, unknown> | undefined;
  return coordination?.synchronized_rounds === true ? 'synchronized' : 'independent';
}

export function roundsOf(sessions: readonly StoredSession[]): RoundsOf {
  const modes = new Set(sessions.map(roundModeOf));
  if (modes.size === 0) return 'none';
  return modes.size > 1 ? 'mixed' : [...modes][0];
}

/** One-line statement of what a round-based trial is, for reports: says plainly when rounds are only attempt indexes. */
export function roundDefinition(mode: RoundsOf): string {
  const success = 'success = whole-cell intervals (wholeCell/record states) of at least 2 of its attempts overlap in time';
  switch (mode) {
    case 'synchronized':
      return `trial = round k of a session: every pipette's k-th attempt, started together (synchronized rounds), with at least 2 pipettes taking part; ${success}`;
    case 'independent':
    case 'none':
      return (
        `by attempt index: the pipettes ran independently, so round k is just the k-th attempt of each pipette, whose attempts need not have run at the same time (see the figures by time); ` +
        `trial = such a round with at least 2 pipettes taking part; ${success}`
      );
    case 'mixed':
      return (
        `round k = the k-th attempt of each pipette: started together in sessions with synchronized rounds, by attempt index only in the others (see the figures by time); ` +
        `trial = a round with at least 2 pipettes taking part; ${success}`
      );
  }
}

export interface Trial {
  sessionId: string;
  /** 1-based round */
  round: number;
  /** attempt id per pipette taking part */
  attempts: Array<{ pipetteId: string; attemptId: string; wholeCell: boolean }>;
  /** most whole-cell recordings at one instant */
  maxSimultaneous: number;
}

/** A maximal stretch of time with ≥ 2 pipettes in whole-cell or record. */
export interface Episode {
  sessionId: string;
  /** clock ms */
  start: number;
  end: number;
  /** most pipettes in whole-cell at one instant of it */
  maxPipettes: number;
  /** the pipettes in whole-cell at some point of it */
  pipettes: string[];
}

export interface SimultaneousFigures {
  /** by round (see roundMode / definition) */
  trials: number;
  /** trials with ≥ 2 overlapping whole-cell recordings */
  successes: number;
  rate: number | null;
  /** number of trials by their maxSimultaneous */
  byMax: Record<number, number>;
  detail: Trial[];
  /** how the rounds were formed */
  roundMode: RoundsOf;
  definition: string;
  /** by time: episodes with ≥ 2 pipettes in whole-cell or record, and their total length, s */
  episodes: number;
  episodeSeconds: number;
  episodeDetail: Episode[];
  /** attempts that reached whole-cell, and those whose whole-cell interval overlapped another pipette's */
  wholeCellAttempts: number;
  overlappingAttempts: number;
  overlapShare: number | null;
}

export function simultaneousWholeCell(
  sessions: readonly StoredSession[],
  attempts: readonly StoredAttempt[],
  transitions: readonly StoredTransition[],
): SimultaneousFigures {
  const intervals = wholeCellIntervals(sessions, attempts, transitions);
  const detail: Trial[] = [];
  for (const s of sessions) {
    const perPipette = new Map<string, StoredAttempt[]>();
    for (const a of attempts) {
      if (a.sessionId !== s.id) continue;
      const list = perPipette.get(a.pipetteId) ?? [];
      list.push(a);
      perPipette.set(a.pipetteId, list);
    }
    const rounds = Math.max(0, ...[...perPipette.values()].map((l) => l.length));
    for (let k = 0; k < rounds; k++) {
      const taking = [...perPipette.entries()]
        .filter(([, list]) => list.length > k)
        .map(([pipetteId, list]) => ({ pipetteId, attempt: [...list].sort((a, b) => a.startT - b.startT)[k] }));
      if (taking.length < 2) continue;
      const ivs = taking
        .map((x) => intervals.get(`${s.id}\0${x.attempt.attemptId}`))
        .filter((iv): iv is Interval => iv !== undefined);
      detail.push({
        sessionId: s.id,
        round: k + 1,
        attempts: taking
          .map((x) => ({
            pipetteId: x.pipetteId,
            attemptId: x.attempt.attemptId,
            wholeCell: intervals.has(`${s.id}\0${x.attempt.attemptId}`),
          }))
          .sort((a, b) => a.pipetteId.localeCompare(b.pipetteId)),
        maxSimultaneous: maxOverlap(ivs),
      });
    }
  }
  const successes = detail.filter((t) => t.maxSimultaneous >= 2).length;
  const byMax: Record<number, number> = {};
  for (const t of detail) byMax[t.maxSimultaneous] = (byMax[t.maxSimultaneous] ?? 0) + 1;
  const mode = roundsOf(sessions);
  const byTime = simultaneityByTime(sessions, attempts, intervals);
  return {
    trials: detail.length,
    successes,
    rate: detail.length ? successes / detail.length : null,
    byMax,
    detail,
    roundMode: mode,
    definition: roundDefinition(mode),
    ...byTime,
  };
}

interface Timed extends Interval {
  pipetteId: string;
}

/** Episodes of ≥ 2 pipettes in whole-cell, and which attempts overlapped another pipette's, per session. */
function simultaneityByTime(
  sessions: readonly StoredSession[],
  attempts: readonly StoredAttempt[],
  intervals: ReadonlyMap<string, Interval>,
): Pick<SimultaneousFigures, 'episodes' | 'episodeSeconds' | 'episodeDetail' | 'wholeCellAttempts' | 'overlappingAttempts' | 'overlapShare'> {
  const episodeDetail: Episode[] = [];
  let wholeCellAttempts = 0;
  let overlappingAttempts = 0;
  for (const s of sessions) {
    const mine: Timed[] = [];
    for (const a of attempts) {
      if (a.sessionId !== s.id) continue;
      const iv = intervals.get(`${s.id}\0${a.attemptId}`);
      if (iv) mine.push({ ...iv, pipetteId: a.pipetteId });
    }
    wholeCellAttempts += mine.length;
    const swept = sweepWholeCell(s.id, mine);
    overlappingAttempts += swept.overlapping;
    episodeDetail.push(...swept.episodes);
  }
  const episodeSeconds = episodeDetail.reduce((sum, e) => sum + (e.end - e.start) / 1000, 0);
  return {
    episodes: episodeDetail.length,
    episodeSeconds,
    episodeDetail,
    wholeCellAttempts,
    overlappingAttempts,
    overlapShare: wholeCellAttempts ? overlappingAttempts / wholeCellAttempts : null,
  };
}

/**
 * One pass over a session's whole-cell intervals in time order: the maximal
 * stretches with ≥ 2 pipettes inside, and the intervals that were inside
 * during one. All changes at one instant are applied before looking, so an
 * interval ending where another starts neither overlaps it nor splits an
 * episode.
 */
function sweepWholeCell(sessionId: string, intervals: readonly Timed[]): { episodes: Episode[]; overlapping: number } {
  const points: Array<{ t: number; iv: Timed; starts: boolean }> = [];
  for (const iv of intervals) {
    if (iv.end <= iv.start) continue;
    points.push({ t: iv.start, iv, starts: true }, { t: iv.end, iv, starts: false });
  }
  points.sort((a, b) => a.t - b.t);
  const active = new Set<Timed>();
  const perPipette = new Map<string, number>();
  const overlapped = new Set<Timed>();
  const episodes: Episode[] = [];
  let open: (Episode & { seen: Set<string> }) | null = null;
  for (let i = 0; i < points.length; ) {
    const t = points[i].t;
    for (; i < points.length && points[i].t === t; i++) {
      const { iv, starts } = points[i];
      const n = (perPipette.get(iv.pipetteId) ?? 0) + (starts ? 1 : -1);
      if (n === 0) perPipette.delete(iv.pipetteId);
      else perPipette.set(iv.pipetteId, n);
      if (starts) active.add(iv);
      else active.delete(iv);
    }
    if (perPipette.size >= 2) {
      for (const iv of active) overlapped.add(iv);
      open ??= { sessionId, start: t, end: t, maxPipettes: 0, pipettes: [], seen: new Set() };
      open.maxPipettes = Math.max(open.maxPipettes, perPipette.size);
      for (const p of perPipette.keys()) open.seen.add(p);
    } else if (open !== null) {
      const { seen, ...episode } = open;
      episodes.push({ ...episode, end: t, pipettes: [...seen].sort() });
      open = null;
    }
  }
  return { episodes, overlapping: overlapped.size };
}

export interface Distribution {
  n: number;
  min: number | null;
  q1: number | null;
  median: number | null;
  q3: number | null;
  max: number | null;
}

/** Quantile p of sorted values, linear between order statistics. */
function quantile(sorted: readonly number[], p: number): number {
  const h = (sorted.length - 1) * p;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
}

export function distribution(values: ReadonlyArray<number | null>): Distribution {
  const xs = values.filter((v): v is number => v !== null && Number.isFinite(v)).sort((a, b) => a - b);
  if (xs.length === 0) return { n: 0, min: null, q1: null, median: null, q3: null, max: null };
  return {
    n: xs.length,
    min: xs[0],
    q1: quantile(xs, 0.25),
    median: quantile(xs, 0.5),
    q3: quantile(xs, 0.75),
    max: xs[xs.length - 1],
  };
}

/** Of the ended attempts that reached whole-cell, how many broke in spontaneously. */
export interface BreakInShare {
  attempts: number;
  spontaneous: number;
  rate: number | null;
}

/** SI units: Ω, Ω, Ω, F, A, V, Ω, s. */
export interface QualityFigures {
  seal: Distribution;
  ra: Distribution;
  rm: Distribution;
  cm: Distribution;
  ihold: Distribution;
  vrest: Distribution;
  r0: Distribution;
  timeToSeal: Distribution;
  spontaneousBreakIn: BreakInShare;
}

const WHOLE_CELL_STAGES = new Set<string>(['wholeCell', 'recorded']);

export function qualityOf(attempts: readonly StoredAttempt[]): QualityFigures {
  const ended = attempts.filter((a) => a.status === 'ended');
  const of = (pick: (a: StoredAttempt) => number | null): Distribution => distribution(ended.map(pick));
  const brokeIn = ended.filter((a) => a.stageReached !== null && WHOLE_CELL_STAGES.has(a.stageReached));
  const spontaneous = brokeIn.filter((a) => a.spontaneousBreakIn).length;
  return {
    spontaneousBreakIn: { attempts: brokeIn.length, spontaneous, rate: brokeIn.length ? spontaneous / brokeIn.length : null },
    seal: of((a) => a.peakSeal),
    ra: of((a) => a.ra),
    rm: of((a) => a.rm),
    cm: of((a) => a.cm),
    ihold: of((a) => a.ihold),
    vrest: of((a) => a.vrest),
    r0: of((a) => a.r0),
    timeToSeal: of((a) => a.timeToSeal),
  };
}

/** Recorded cells and hours of session time. */
export function cellsPerHour(
  sessions: readonly StoredSession[],
  attempts: readonly StoredAttempt[],
): { recorded: number; hours: number; perHour: number | null } {
  const ids = new Set(sessions.map((s) => s.id));
  const recorded = attempts.filter((a) => a.status === 'ended' && a.stageReached === 'recorded' && ids.has(a.sessionId ?? '')).length;
  const hours = sessions.reduce((h, s) => h + Math.max(0, sessionEndT(s) - s.startT), 0) / 3_600_000;
  return { recorded, hours, perHour: hours > 0 ? recorded / hours : null };
}

/** A recorded cell with its whole-cell figures and e-features (IPFX definitions, SI units). */
export interface RecordedCell {
  sessionId: string | null;
  attemptId: string;
  pipetteId: string;
  ra: number | null;
  rm: number | null;
  cm: number | null;
  vrest: number | null;
  features: Record<string, number | null>;
}

/** The features the report summarises, in the order it shows them. */
export const REPORTED_FEATURES = [
  'vBaseline',
  'inputResistance',
  'tau',
  'rheobaseA',
  'fiSlope',
  'apThreshold',
  'apAmplitude',
  'apWidth',
  'apUpDownRatio',
  'sag',
  'heroAdaptation',
  'heroIsiCv',
  'heroFirstIsi',
  'heroLatency',
] as const;

export function recordedCells(attempts: readonly StoredAttempt[]): RecordedCell[] {
  return attempts
    .filter((a) => a.status === 'ended' && a.stageReached === 'recorded')
    .map((a) => ({
      sessionId: a.sessionId,
      attemptId: a.attemptId,
      pipetteId: a.pipetteId,
      ra: a.ra,
      rm: a.rm,
      cm: a.cm,
      vrest: a.vrest,
      features: a.features ?? {},
    }));
}

/** Distribution of each reported feature over the recorded cells that have it. */
export function featureSummary(cells: readonly RecordedCell[]): Record<string, Distribution> {
  const out: Record<string, Distribution> = {};
  for (const name of REPORTED_FEATURES) out[name] = distribution(cells.map((c) => c.features[name] ?? null));
  return out;
}
