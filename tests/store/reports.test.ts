import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type Database from 'better-sqlite3';
import { openDatabase } from '../../src/store/migrations.ts';
import { createIngestor } from '../../src/store/ingest.ts';
import { attemptTimelines, buildReport, compareSessions } from '../../src/store/reports.ts';
import { distribution, maxOverlap } from '../../src/store/report-figures.ts';
import { createSqliteArchive } from '../../src/store/archive.ts';
import { formatReport } from '../../src/store/report-format.ts';
import { reportFixtureEvents, SESSION_A_HARDWARE, simultaneityFixtureEvents } from './fixtures/report-sessions.ts';
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
    //   B: p1 descent 150 hunt 750 (d2 hunts until the abort at 1800) seal 100 (d1 broke in by itself: no breakIn) wholeCell 20 record 160 retract 20 idle 600
    //      p2 descent 60 retract 240 needsPipette 1500
    // Total 3 × 3600 + 2 × 1800 = 14400 pipette-seconds.
    expect(r.timePerState.map((s) => [s.state, s.seconds, s.visits])).toEqual([
      ['idle', 7300, 8],
      ['descent', 860, 10],
      ['hunt', 1700, 9],
      ['seal', 880, 7],
      ['breakIn', 150, 4],
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
    // Neither session recorded preset settings: independent pipettes, rounds by attempt index.
    expect(r.simultaneous.roundMode).toBe('independent');
    expect(r.simultaneous.definition).toMatch(/^by attempt index: the pipettes ran independently/);
    // By time. Whole-cell intervals: A c1 [250,300) a1 [320,550) b1 [380,650) c2 [850,1300); B d1 [200,380).
    // ≥ 2 at once only while a1 and b1 overlap: one episode [380, 550) = 170 s, p1 and p2.
    // Whole-cell attempts a1 b1 c1 c2 d1 = 5, of which a1 and b1 overlapped another pipette's → 2/5.
    expect(r.simultaneous.episodeDetail).toEqual([{ sessionId: 'A', start: 380_000, end: 550_000, maxPipettes: 2, pipettes: ['p1', 'p2'] }]);
    expect([r.simultaneous.episodes, r.simultaneous.episodeSeconds]).toEqual([1, 170]);
    expect([r.simultaneous.wholeCellAttempts, r.simultaneous.overlappingAttempts, r.simultaneous.overlapShare]).toEqual([5, 2, 0.4]);
    const table = formatReport(r, 'table');
    expect(table).toContain('  by time: 1 episode with ≥2 pipettes in whole-cell or record, 2m50s in all; 2 of 5 whole-cell attempts (40.0%) overlapped another pipette\'s\n');
    expect(table).toMatch(/  by round: 1 of 3 trials \(33\.3%\); by attempt index: the pipettes ran independently, so round k is just the k-th attempt/);
    expect(table).toMatch(/^A\s.*\s50\.0% idx\s+50\.0%\s/m); // A: by round 1 of 2 trials; by time a1 b1 of a1 b1 c1 c2
    expect(table).toMatch(/^idx: the pipettes ran independently, so '≥2 by round' groups attempts by index only/m);
    const csv = formatReport(r, 'csv').split('\n');
    for (const line of ['simultaneous,all,episodes,1', 'simultaneous,all,episode_seconds,170', 'simultaneous,all,whole_cell_attempts,5',
      'simultaneous,all,overlapping_attempts,2', 'simultaneous,all,overlap_share,0.4', 'simultaneous,all,round_mode,independent',
      'sessions,A,roundMode,independent', 'sessions,A,simultaneousEpisodes,1', 'sessions,A,overlapShare,0.5', 'sessions,B,overlapShare,0']) {
      expect(csv).toContain(line);
    }
    const json = JSON.parse(formatReport(r, 'json'));
    expect(json.simultaneous).toMatchObject({ episodes: 1, episodeSeconds: 170, overlapShare: 0.4, roundMode: 'independent' });
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
    // time to seal over a1 b1 c1 c2 d1, sorted 8 12 20 30 45 s: quartiles on ranks 1, 2, 3
    expect(q.timeToSeal).toEqual({ n: 5, min: 8, q1: 12, median: 20, q3: 30, max: 45 });
    // Rm: 80 150 220 300 500 MΩ
    expect([q.rm.n, q.rm.min, q.rm.q1, q.rm.median, q.rm.q3, q.rm.max]).toEqual([5, 80e6, 150e6, 220e6, 300e6, 500e6]);
    // Cm: d1 has none → 18 25 32 40 pF (n = 4): q1 at rank 0.75 → 18 + 0.75 × 7 = 23.25; median rank 1.5 → 28.5;
    // q3 rank 2.25 → 32 + 0.25 × 8 = 34
    expect(q.cm.n).toBe(4);
    close(q.cm.min, 18e-12);
    close(q.cm.q1, 23.25e-12);
    close(q.cm.median, 28.5e-12);
    close(q.cm.q3, 34e-12);
    close(q.cm.max, 40e-12);
    // Vrest: −71 −65 −62 −58 −35 mV
    expect([q.vrest.n, q.vrest.min, q.vrest.q1, q.vrest.median, q.vrest.q3, q.vrest.max]).toEqual([5, -0.071, -0.065, -0.062, -0.058, -0.035]);
    // spontaneous break-in: d1 alone of the 5 that reached whole-cell
    expect(q.spontaneousBreakIn).toEqual({ attempts: 5, spontaneous: 1, rate: 0.2 });
    const table = formatReport(buildReport(db), 'table');
    expect(table).toMatch(/^time to seal \(s\)\s+5\s+8\.0\s+12\.0\s+20\.0\s+30\.0\s+45\.0$/m);
    expect(table).toMatch(/^Rm \(MΩ\)\s+5\s+80\s+150\s+220\s+300\s+500$/m);
    expect(table).toMatch(/^Cm \(pF\)\s+4\s+18\.0\s+23\.3\s+28\.5\s+34\.0\s+40\.0$/m);
    expect(table).toMatch(/^Vrest \(mV\)\s+5\s+-71\.0\s+-65\.0\s+-62\.0\s+-58\.0\s+-35\.0$/m);
    expect(table).toContain('Spontaneous break-in: 1 of 5 attempts that reached whole-cell (20.0%)');
    const csv = formatReport(buildReport(db), 'csv').split('\n');
    expect(csv).toContain('quality,timeToSeal,median,20');
    expect(csv).toContain('quality,cm,q3,3.4e-11');
    expect(csv).toContain('quality,spontaneousBreakIn,rate,0.2');
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

describe('≥ 2 simultaneous whole-cell, by round and by time (simultaneityFixtureEvents)', () => {
  let sdb: Database.Database;
  beforeAll(() => {
    sdb = openDatabase(tmp.file('simultaneous.sqlite'));
    createIngestor(sdb).applyBatch(simultaneityFixtureEvents());
  });
  afterAll(() => sdb.close());

  it('independent pipettes (C): the round figure misses an overlap across attempt indexes, the time figures see it', () => {
    const sim = buildReport(sdb, ['C']).simultaneous;
    // By round: round 1 = f1 g1 (only f1 whole-cell), round 2 = f2 g2 (only f2), round 3 = g3 alone (not a trial) → 0 of 2.
    expect([sim.roundMode, sim.trials, sim.successes, sim.rate]).toEqual(['independent', 2, 0, 0]);
    // By time: f2 [500,800) and g3 [600,750) overlap → one episode of 150 s; f1 f2 g3 reached whole-cell, f2 and g3 overlapped → 2/3.
    expect(sim.episodeDetail).toEqual([{ sessionId: 'C', start: 600_000, end: 750_000, maxPipettes: 2, pipettes: ['p1', 'p2'] }]);
    expect([sim.episodes, sim.episodeSeconds, sim.wholeCellAttempts, sim.overlappingAttempts]).toEqual([1, 150, 3, 2]);
    close(sim.overlapShare, 2 / 3);
    const table = formatReport(buildReport(sdb, ['C']), 'table');
    expect(table).toContain("  by time: 1 episode with ≥2 pipettes in whole-cell or record, 2m30s in all; 2 of 3 whole-cell attempts (66.7%) overlapped another pipette's");
    expect(table).toContain('  by round: 0 of 2 trials (0.0%); by attempt index: the pipettes ran independently');
  });

  it('synchronized rounds (D, from the stored preset): rounds are trials, and the episodes are counted over time', () => {
    const r = buildReport(sdb, ['D']);
    const sim = r.simultaneous;
    // Round 1 = h1 [200,300) i1 [250,350) j1 [280,320): 3 at once in [280,300). Round 2 = h2 (none) i2 [550,650) j2 [520,600): 2 → 2 of 2.
    expect([sim.roundMode, sim.trials, sim.successes, sim.byMax]).toEqual(['synchronized', 2, 2, { 2: 1, 3: 1 }]);
    expect(sim.definition).toMatch(/^trial = round k of a session: every pipette's k-th attempt, started together \(synchronized rounds\)/);
    // Episodes: ≥ 2 from 250 (i1 joins h1) to 320 (j1 leaves after h1): 70 s, up to 3 pipettes; then i2 ∩ j2 = [550, 600): 50 s.
    expect(sim.episodeDetail).toEqual([
      { sessionId: 'D', start: 250_000, end: 320_000, maxPipettes: 3, pipettes: ['p1', 'p2', 'p3'] },
      { sessionId: 'D', start: 550_000, end: 600_000, maxPipettes: 2, pipettes: ['p2', 'p3'] },
    ]);
    expect([sim.episodes, sim.episodeSeconds, sim.wholeCellAttempts, sim.overlappingAttempts, sim.overlapShare]).toEqual([2, 120, 5, 5, 1]);
    expect(r.sessions[0]).toMatchObject({ roundMode: 'synchronized', simultaneousRate: 1, simultaneousEpisodes: 2, overlapShare: 1 });
    const table = formatReport(r, 'table');
    expect(table).toMatch(/^D\s.*\s100\.0%\s+100\.0%\s/m);
    expect(table).not.toContain('idx');
    expect(table).toContain('  by time: 2 episodes with ≥2 pipettes in whole-cell or record, 2m00s in all; 5 of 5 whole-cell attempts (100.0%) overlapped');
    expect(formatReport(r, 'csv').split('\n')).toContain('simultaneous,all,round_mode,synchronized');
  });

  it('both sessions: the modes are mixed and the time figures add up', () => {
    const sim = buildReport(sdb).simultaneous;
    // by round 0 + 2 of 2 + 2 trials; by time 1 + 2 episodes, 150 + 120 s; 2 + 5 of 3 + 5 whole-cell attempts
    expect([sim.roundMode, sim.trials, sim.successes, sim.episodes, sim.episodeSeconds, sim.wholeCellAttempts, sim.overlappingAttempts]).toEqual([
      'mixed', 4, 2, 3, 270, 8, 7,
    ]);
    expect(sim.definition).toMatch(/^round k = the k-th attempt of each pipette: started together in sessions with synchronized rounds, by attempt index only in the others/);
    const json = JSON.parse(formatReport(buildReport(sdb), 'json'));
    expect(json.sessions.map((s: { id: string; roundMode: string }) => [s.id, s.roundMode])).toEqual([['C', 'independent'], ['D', 'synchronized']]);
  });

  it('the dashboard report says the same', async () => {
    const archive = createSqliteArchive(sdb);
    expect((await archive.sessionReport('C'))!.simultaneous).toMatchObject({ roundMode: 'independent', trials: 2, atLeastTwo: 0, episodes: 1, episodeSeconds: 150 });
    expect((await archive.sessionReport('D'))!.simultaneous).toMatchObject({ roundMode: 'synchronized', trials: 2, atLeastTwo: 2, episodes: 2, overlapShare: 1 });
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
    // attempts = ended ones, as in the report's funnel; B's d2 never ended
    expect(list.map((s) => [s.sessionId, s.attempts, s.unfinished, s.wholeCell, s.recorded])).toEqual([
      ['B', 2, 1, 1, 1],
      ['A', 7, 0, 4, 3],
    ]);
    const [b] = compareSessions(db, ['B']);
    expect([list[0].attempts, list[0].unfinished]).toEqual([b.attempts, b.unfinished]);
    expect(await archive.listSessions({ limit: 1 })).toHaveLength(1);
    const report = (await archive.sessionReport('A'))!;
    expect(report.funnel).toEqual({ attempts: 7, unfinished: 0, approached: 7, detected: 6, sealed: 4, wholeCell: 4, recorded: 3 });
    expect(report.timePerState.find((s) => s.state === 'idle')?.seconds).toBe(6700);
    expect(report.simultaneous).toMatchObject({ trials: 2, atLeastTwo: 1, rate: 0.5 });
    expect(report.byPipette.map((p) => [p.pipetteId, p.funnel.recorded, p.cellsPerHour])).toEqual([
      ['p1', 1, 1],
      ['p2', 1, 1],
      ['p3', 1, 1],
    ]);
    // A: Cm of a1 b1 c1 c2 = 25 18 40 32 pF; Vrest −65 −58 −35 −71 mV
    expect(report.quality.cm).toMatchObject({ n: 4, min: 18e-12, max: 40e-12 });
    expect(report.quality.vrest).toMatchObject({ n: 4, min: -0.071, max: -0.035 });
    expect(report.spontaneousBreakIn).toEqual({ attempts: 4, spontaneous: 0, rate: 0 });
    expect(report.simultaneous).toMatchObject({ roundMode: 'independent', episodes: 1, episodeSeconds: 170, wholeCellAttempts: 4, overlappingAttempts: 2, overlapShare: 0.5 });
    expect(report.simultaneous.definition).toMatch(/^by attempt index: the pipettes ran independently/);
    // the recorded cells, the same ones `autopatch report` lists
    expect(report.cells.map((c) => c.attemptId)).toEqual(buildReport(db, ['A']).cells.map((c) => c.attemptId));
    expect(report.cells).toHaveLength(3);
    expect(await archive.sessionReport('nope')).toBeNull();
    const attempts = (await archive.attempts('B'))!;
    expect(attempts.map((a) => a.record.attemptId)).toEqual(['d1', 'e1']); // ended ones only
    expect(attempts[0].transitions).toHaveLength(7);
    expect(await archive.attempts('nope')).toBeNull();
    expect(await archive.sweepsOfAttempt('a1')).toEqual([]);
    expect(await archive.sweepsOfAttempt('zz')).toBeNull();
    expect(await archive.sweep(12345)).toBeNull();
  });

  it('a session report carries the figures `autopatch report --session` gives for it', async () => {
    const archive = createSqliteArchive(db);
    for (const id of ['A', 'B']) {
      const cli = buildReport(db, [id]);
      const page = (await archive.sessionReport(id))!;
      const [row] = cli.sessions;
      expect([page.seed, page.hardware, page.stats, page.durationS], id).toEqual([row.seed, row.hardware, row.stats, row.durationS]);
      expect(page.funnel, id).toEqual({ attempts: cli.funnel.attempts, unfinished: cli.funnel.unfinished, ...cli.funnel.counts });
      expect(page.byPreset.map((p) => [p.preset, p.funnel.unfinished, p.funnel.recorded]), id).toEqual(cli.byPreset.map((f) => [f.key, f.unfinished, f.counts.recorded]));
      for (const f of cli.byPipette) {
        expect(page.byPipette.find((p) => p.pipetteId === f.key)?.funnel, `${id} ${f.key}`).toEqual({ attempts: f.attempts, unfinished: f.unfinished, ...f.counts });
      }
      expect(page.timePerState, id).toEqual(cli.timePerState);
      expect(page.failureReasons, id).toEqual(cli.failureReasons);
      expect([page.recorded, page.hours, page.cellsPerHour], id).toEqual([cli.recorded, cli.hours, cli.cellsPerHour ?? 0]);
      expect(page.quality.r0?.median, id).toBe(cli.quality.r0.median ?? undefined);
      expect(page.quality.vrest?.n ?? 0, id).toBe(cli.quality.vrest.n);
      expect(page.spontaneousBreakIn, id).toEqual(cli.quality.spontaneousBreakIn);
      const { episodes, episodeSeconds, wholeCellAttempts, overlappingAttempts, overlapShare, trials, rate, definition } = cli.simultaneous;
      expect(page.simultaneous, id).toMatchObject({ episodes, episodeSeconds, wholeCellAttempts, overlappingAttempts, overlapShare, trials, atLeastTwo: cli.simultaneous.successes, rate, definition });
    }
    // A's hardware, as the CLI prints it
    const a = (await archive.sessionReport('A'))!;
    const lines = formatReport(buildReport(db, ['A']), 'table').split('\n');
    const at = lines.findIndex((l) => l.startsWith('Hardware of A'));
    expect(a.hardwareTable!.rows.length).toBeGreaterThan(0);
    expect([lines[at + 1], ...lines.slice(at + 3, at + 3 + a.hardwareTable!.rows.length)].map((l) => l.trim().split(/\s{2,}/))).toEqual([a.hardwareTable!.headers, ...a.hardwareTable!.rows]);
    expect((await archive.sessionReport('B'))!.hardwareTable).toBe(null);
    // B: d2 never ended, on p1 (and B has p1 and p2 only)
    const b = (await archive.sessionReport('B'))!;
    expect(b.funnel.unfinished).toBe(1);
    expect(b.byPipette.map((p) => [p.pipetteId, p.funnel.unfinished])).toEqual([['p1', 1], ['p2', 0]]);
  });

  it('the cells table on the page has the columns of the CLI table', async () => {
    const page = (await createSqliteArchive(db).sessionReport('A'))!;
    const header = formatReport(buildReport(db, ['A']), 'table').split('\n').find((l) => l.startsWith('attempt  '))!;
    expect(header.split(/\s{2,}/)).toEqual(['attempt', 'pipette', ...page.cellColumns.map((c) => c.label)]);
    // every feature the report summarises is a column, the e-feature baseline right after Vrest(QC)
    const features = page.cellColumns.filter((c) => c.of === 'feature').map((c) => c.key);
    expect([...features].sort()).toEqual(Object.keys(buildReport(db, ['A']).features).sort());
    expect(page.cellColumns.slice(0, 2).map((c) => c.label)).toEqual(['Vrest(QC) mV', 'Vbase mV']);
    expect(page.cellColumns.map((c) => c.label)).toEqual(expect.arrayContaining(['ISI CV', '1st ISI ms']));
  });
});
