import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type Database from 'better-sqlite3';
import { openDatabase } from '../../src/store/migrations.ts';
import { createIngestor } from '../../src/store/ingest.ts';
import { attemptTimelines, buildReport, compareSessions } from '../../src/store/reports.ts';
import { distribution, maxOverlap } from '../../src/store/report-figures.ts';
import { createSqliteArchive } from '../../src/store/archive.ts';
import { formatReport } from '../../src/store/report-format.ts';
import { reportFixtureEvents, SESSION_A_HARDWARE } from './fixtures/report-sessions.ts';
import { getSession } from '../../src/store/queries.ts';
import { tempDir } from './helpers.ts';

const tmp = tempDir();
let db: Database.Database;
beforeAll(() => {
  db = openDatabase(tmp.file('reports.sqlite'));
  createIngestor(db).applyBatch(reportFixtureEvents());
});
afterAll(() => {
  db.close();
  tmp.cleanup();
});

const close = (actual: number | null | undefined, expected: number): void => {
  expect(actual).not.toBeNull();
  expect(Math.abs((actual as number) - expected)).toBeLessThanOrEqual(1e-9 * Math.abs(expected) + 1e-15);
};

describe('reports on the hand-written fixture (tests/store/fixtures/report-sessions.ts)', () => {
  it('funnel over both sessions', () => {
    const r = buildReport(db);
    expect(r.sessionIds).toEqual(['A', 'B']);
    // Ended attempts: a1 a2 b1 b2 b3 c1 c2 d1 e1 = 9; d2 never ended → 1 unfinished.
    // Reached at least: approached = all but e1 (none) = 8; detected = minus a2 = 7;
    // sealed = minus b2, b3 (stuck at detected) = 5; wholeCell = 5; recorded = a1 b1 c2 d1 = 4.
    expect(r.funnel.attempts).toBe(9);
    expect(r.funnel.unfinished).toBe(1);
    expect(r.funnel.counts).toEqual({ approached: 8, detected: 7, sealed: 5, wholeCell: 5, recorded: 4 });
    close(r.funnel.rates.approached, 8 / 9);
    close(r.funnel.rates.recorded, 4 / 9);
    // step rates: 8/9, 7/8, 5/7, 5/5, 4/5
    close(r.funnel.stepRates.approached, 8 / 9);
    close(r.funnel.stepRates.detected, 7 / 8);
    close(r.funnel.stepRates.sealed, 5 / 7);
    close(r.funnel.stepRates.wholeCell, 1);
    close(r.funnel.stepRates.recorded, 4 / 5);
  });

  it('funnel per pipette, per preset and per session', () => {
    const r = buildReport(db);
    const by = (rows: typeof r.byPipette) => Object.fromEntries(rows.map((f) => [f.key, [f.attempts, f.unfinished, ...Object.values(f.counts)]]));
    // p1: a1 a2 d1 (+ d2 open): approached 3, detected a1 d1 = 2, sealed 2, wholeCell 2, recorded 2
    // p2: b1 b2 b3 e1: approached 3, detected 3, sealed b1 = 1, wholeCell 1, recorded 1
    // p3: c1 c2: 2, 2, 2, 2, recorded c2 = 1
    expect(by(r.byPipette)).toEqual({ p1: [3, 1, 3, 2, 2, 2, 2], p2: [4, 0, 3, 3, 1, 1, 1], p3: [2, 0, 2, 2, 2, 2, 1] });
    // slice-test = session A (7 ended): 7, 6, 4, 4, 3; vivo-test = B (d1 e1, d2 open): 1, 1, 1, 1, 1
    expect(by(r.byPreset)).toEqual({ 'slice-test': [7, 0, 7, 6, 4, 4, 3], 'vivo-test': [2, 1, 1, 1, 1, 1, 1] });
    expect(by(r.bySession)).toEqual({ A: [7, 0, 7, 6, 4, 4, 3], B: [2, 1, 1, 1, 1, 1, 1] });
  });

  it('time per state, from transitions to the session end', () => {
    const r = buildReport(db);
    // Seconds, summed over pipettes (worked out per pipette in the fixture's table):
    //   A: p1 descent 200 hunt 500 seal 100 breakIn 20 wholeCell 80 record 150 retract 150 idle 2400
    //      p2 descent 250 hunt 300 seal 530 breakIn 30 wholeCell 70 record 200 retract 120 idle 2100
    //      p3 descent 200 hunt 150 seal 150 breakIn 100 wholeCell 100 record 400 retract 300 idle 2200
    //   B: p1 descent 150 hunt 750 (d2 hunts until the abort at 1800) seal 50 breakIn 50 wholeCell 20 record 160 retract 20 idle 600
    //      p2 descent 60 retract 240 needsPipette 1500
    // Total 3 × 3600 + 2 × 1800 = 14400 pipette-seconds.
    expect(r.timePerState.map((s) => [s.state, s.seconds, s.visits])).toEqual([
      ['idle', 7300, 8],
      ['descent', 860, 10],
      ['hunt', 1700, 9],
      ['seal', 830, 7],
      ['breakIn', 200, 5],
      ['wholeCell', 270, 5],
      ['record', 910, 4],
      ['retract', 830, 9],
      ['needsPipette', 1500, 1],
    ]);
    close(r.timePerState.reduce((s, x) => s + x.fraction, 0), 1);
    close(r.timePerState.find((s) => s.state === 'needsPipette')!.fraction, 1500 / 14400);
  });

  it('failure reasons ranked by count, ties by name', () => {
    const r = buildReport(db);
    // failed: a2 no-cell-within-travel (hunt), b2 b3 seal-stalled (seal), c1 qc-failed (wholeCell), e1 pipette-broken (descent)
    expect(r.failureReasons.map((f) => [f.reason, f.count, f.failedIn])).toEqual([
      ['seal-stalled', 2, [{ state: 'seal', count: 2 }]],
      ['no-cell-within-travel', 1, [{ state: 'hunt', count: 1 }]],
      ['pipette-broken', 1, [{ state: 'descent', count: 1 }]],
      ['qc-failed', 1, [{ state: 'wholeCell', count: 1 }]],
    ]);
    close(r.failureReasons[0].fraction, 2 / 5);
  });

  it('cells per hour and the ≥2-simultaneous whole-cell rate', () => {
    const r = buildReport(db);
    // 4 recorded cells in 1 h (A) + 0.5 h (B)
    expect(r.recorded).toBe(4);
    close(r.hours, 1.5);
    close(r.cellsPerHour, 4 / 1.5);
    // Trials: A round 1 = a1 b1 c1: whole-cell a1 [320,550) b1 [380,650) c1 [250,300) → a1 and b1 overlap: 2 at once.
    //         A round 2 = a2 b2 c2: only c2 reaches whole-cell → 1.   A round 3 = b3 alone → not a trial.
    //         B round 1 = d1 e1: only d1 → 1.                         B round 2 = d2 alone → not a trial.
    // → 1 success in 3 trials.
    expect(r.simultaneous.trials).toBe(3);
    expect(r.simultaneous.successes).toBe(1);
    close(r.simultaneous.rate, 1 / 3);
    expect(r.simultaneous.byMax).toEqual({ 1: 2, 2: 1 });
    expect(r.simultaneous.detail.map((t) => [t.sessionId, t.round, t.attempts.map((a) => a.attemptId), t.maxSimultaneous])).toEqual([
      ['A', 1, ['a1', 'b1', 'c1'], 2],
      ['A', 2, ['a2', 'b2', 'c2'], 1],
      ['B', 1, ['d1', 'e1'], 1],
    ]);
  });

  it('quality distributions: min, quartiles, max', () => {
    const q = buildReport(db).quality;
    // peak seal, sorted: 0.15 0.3 1.2 1.5 1.8 2 3 GΩ (n = 7; a2 and e1 have none)
    // q1 at rank 1.5 → 0.3 + 0.5 × 0.9 = 0.75; median rank 3 → 1.5; q3 rank 4.5 → 1.8 + 0.5 × 0.2 = 1.9
    expect(q.seal.n).toBe(7);
    close(q.seal.min, 0.15e9);
    close(q.seal.q1, 0.75e9);
    close(q.seal.median, 1.5e9);
    close(q.seal.q3, 1.9e9);
    close(q.seal.max, 3e9);
    // Ra: 10 15 25 30 60 MΩ → quartiles fall on ranks 1, 2, 3
    expect([q.ra.n, q.ra.min, q.ra.q1, q.ra.median, q.ra.q3, q.ra.max]).toEqual([5, 10e6, 15e6, 25e6, 30e6, 60e6]);
    // Ihold: −300 −120 −80 −50 −20 pA
    expect(q.ihold.n).toBe(5);
    close(q.ihold.q1, -120e-12);
    close(q.ihold.median, -80e-12);
    close(q.ihold.q3, -50e-12);
    // nobody recorded Cm
    expect(q.cm).toEqual({ n: 0, min: null, q1: null, median: null, q3: null, max: null });
  });

  it('per-session comparison', () => {
    const [a, b] = compareSessions(db, ['A', 'B']);
    expect(a).toMatchObject({ id: 'A', preset: 'slice-test', status: 'completed', durationS: 3600, pipettes: 3, attempts: 7, unfinished: 0, recorded: 3 });
    close(a.cellsPerHour, 3);
    close(a.simultaneousRate, 1 / 2);
    close(a.medianSeal, 1.35e9); // 0.15 0.3 1.2 1.5 2 3 → between 1.2 and 1.5
    close(a.medianRa, 20e6); // 10 15 25 60 → between 15 and 25
    expect(b).toMatchObject({ id: 'B', preset: 'vivo-test', status: 'aborted', endReason: 'aborted', durationS: 1800, attempts: 2, unfinished: 1, recorded: 1 });
    close(b.cellsPerHour, 2);
    expect(b.simultaneousRate).toBe(0);
    // one session alone gives that session's figures
    const onlyA = buildReport(db, ['A']);
    expect(onlyA.funnel.counts).toEqual({ approached: 7, detected: 6, sealed: 4, wholeCell: 4, recorded: 3 });
    expect(() => buildReport(db, ['nope'])).toThrow(/no session "nope"/);
  });

  it('records each session\'s seed and hardware, and shows them in the session section', () => {
    const raw = db.prepare('SELECT id, seed, hardware FROM sessions ORDER BY id').all() as Array<{ id: string; seed: number; hardware: string | null }>;
    expect(raw.map((r) => [r.id, r.seed, r.hardware === null ? null : JSON.parse(r.hardware)])).toEqual([
      ['A', 7, SESSION_A_HARDWARE],
      ['B', 7, null],
    ]);
    expect(getSession(db, 'A')?.hardware).toEqual(SESSION_A_HARDWARE);
    const r = buildReport(db);
    expect(r.sessions.map((s) => [s.id, s.seed, s.hardware])).toEqual([['A', 7, SESSION_A_HARDWARE], ['B', 7, null]]);
    const table = formatReport(r, 'table');
    expect(table).toMatch(/^A\s+slice-test\s+hand\s+7\s+completed/m);
    expect(table).toContain('Hardware of A (fixture rig)');
    expect(table).not.toContain('Hardware of B');
    expect(table).toMatch(/^p2\s+sutter-mpc325 #2\s+\/dev\/ttyUSB1\s+autopatch-pbox\s+\/dev\/ttyACM0\s+1\s+amp-bridge\s+\/dev\/ttyACM1\s+1$/m);
    const csv = formatReport(r, 'csv').split('\n');
    expect(csv).toContain('sessions,A,seed,7');
    expect(csv).toContain('hardware,A,p3.manipulator.driver,scientifica');
    expect(csv).toContain('hardware,A,p2.manipulator.unit,2');
    expect(csv).toContain('hardware,A,p1.amplifier.channel,0');
    expect(csv.filter((l) => l.startsWith('hardware,'))).toHaveLength(3 * 3 * 3);
    expect(csv.some((l) => l.startsWith('sessions,A,hardware'))).toBe(false);
    expect(JSON.parse(formatReport(r, 'json')).sessions[0].hardware).toEqual(SESSION_A_HARDWARE);
  });

  it('per-attempt timelines, including an attempt cut short by the session end', () => {
    const [a1] = attemptTimelines(db, 'A', { attemptId: 'a1' });
    expect(a1.attempt).toMatchObject({ attemptId: 'a1', pipetteId: 'p1', status: 'ended', stageReached: 'recorded' });
    expect(a1.segments.map((s) => [s.state, s.startT / 1000, s.seconds])).toEqual([
      ['descent', 0, 100], ['hunt', 100, 100], ['seal', 200, 100], ['breakIn', 300, 20],
      ['wholeCell', 320, 80], ['record', 400, 150], ['retract', 550, 50], ['idle', 600, 0],
    ]);
    const p1B = attemptTimelines(db, 'B', { pipetteId: 'p1' });
    expect(p1B.map((x) => x.attempt.attemptId)).toEqual(['d1', 'd2']);
    expect(p1B[1].attempt.status).toBe('open');
    expect(p1B[1].segments.map((s) => [s.state, s.startT / 1000, s.endT / 1000])).toEqual([
      ['descent', 1000, 1100],
      ['hunt', 1100, 1800],
    ]);
    expect(p1B[1].transitions[0].reason).toBe('idle→descent');
  });
});

describe('recorded cells and their e-features', () => {
  it('lists every recorded cell with its features, and summarises each feature over the cells that have it', () => {
    const r = buildReport(db);
    // recorded: a1, b1, c2 (session A) and d1 (session B); a1 and c2 carry features
    expect(r.cells.map((c) => c.attemptId)).toEqual(['a1', 'b1', 'c2', 'd1']);
    expect(r.cells[0].features).toEqual({ rheobaseA: 60e-12, inputResistance: 180e6, tau: 0.021, apWidth: 0.0009, sag: null });
    expect(r.cells[1].features).toEqual({});
    // rheobase over the two cells with one: 60 and 100 pA → median 80 pA, n = 2
    expect(r.features.rheobaseA.n).toBe(2);
    close(r.features.rheobaseA.median, 80e-12);
    // sag is null on a1: only c2 counts
    expect(r.features.sag.n).toBe(1);
    close(r.features.sag.median, 0.12);
    expect(r.features.fiSlope.n).toBe(0);
  });

  it('shows them in the table and the CSV', () => {
    const r = buildReport(db, ['A']);
    const table = formatReport(r, 'table');
    expect(table).toContain('Recorded cells: e-features (IPFX definitions; 3 cells)');
    // a1: Rin 180 MΩ, tau 21.0 ms, rheobase 60 pA, AP width 0.90 ms
    const a1 = table.split('\n').find((l) => l.startsWith('a1 '))!;
    expect(a1).toMatch(/\b180\b.*\b21\.0\b.*\b60\b.*\b0\.90\b/);
    const csv = formatReport(r, 'csv');
    expect(csv).toContain('cell_features,c2,rheobaseA,1e-10');
    expect(csv).toMatch(/features,tau,median,0\.018/);
  });
});

describe('report figure helpers', () => {
  it('maxOverlap treats touching intervals as not overlapping', () => {
    expect(maxOverlap([{ start: 0, end: 10 }, { start: 10, end: 20 }])).toBe(1);
    expect(maxOverlap([{ start: 0, end: 10 }, { start: 9, end: 20 }, { start: 5, end: 9.5 }])).toBe(3);
    expect(maxOverlap([])).toBe(0);
  });

  it('distribution ignores missing and non-finite values', () => {
    expect(distribution([null, 4, NaN, 2, Infinity])).toEqual({ n: 2, min: 2, q1: 2.5, median: 3, q3: 3.5, max: 4 });
  });
});

describe('SessionArchive for the dashboard', () => {
  it('lists sessions newest first and gives reports, timelines and sweeps in its shapes', async () => {
    const archive = createSqliteArchive(db);
    const list = await archive.listSessions({ limit: 10 });
    expect(list.map((s) => [s.sessionId, s.attempts, s.wholeCell, s.recorded])).toEqual([
      ['B', 3, 1, 1],
      ['A', 7, 4, 3],
    ]);
    expect(await archive.listSessions({ limit: 1 })).toHaveLength(1);
    const report = (await archive.sessionReport('A'))!;
    expect(report.funnel).toEqual({ attempts: 7, approached: 7, detected: 6, sealed: 4, wholeCell: 4, recorded: 3 });
    expect(report.timePerState.idle).toBe(6700);
    expect(report.simultaneous).toMatchObject({ trials: 2, atLeastTwo: 1, rate: 0.5 });
    expect(report.byPipette.map((p) => [p.pipetteId, p.funnel.recorded, p.cellsPerHour])).toEqual([
      ['p1', 1, 1],
      ['p2', 1, 1],
      ['p3', 1, 1],
    ]);
    expect(report.quality.cm).toBeNull();
    // the recorded cells, the same ones `autopatch report` lists
    expect(report.cells.map((c) => c.attemptId)).toEqual(buildReport(db, ['A']).cells.map((c) => c.attemptId));
    expect(report.cells).toHaveLength(3);
    expect(await archive.sessionReport('nope')).toBeNull();
    const attempts = (await archive.attempts('B'))!;
    expect(attempts.map((a) => a.record.attemptId)).toEqual(['d1', 'e1']); // ended ones only
    expect(attempts[0].transitions).toHaveLength(8);
    expect(await archive.attempts('nope')).toBeNull();
    expect(await archive.sweepsOfAttempt('a1')).toEqual([]);
    expect(await archive.sweepsOfAttempt('zz')).toBeNull();
    expect(await archive.sweep(12345)).toBeNull();
  });
});
