import { afterAll, describe, expect, it } from 'vitest';
import { statSync, writeFileSync } from 'node:fs';
import type Database from 'better-sqlite3';
import type { AttemptRecord, RigEvent } from '../../src/control/events.ts';
import { openDatabase } from '../../src/store/migrations.ts';
import { createIngestor } from '../../src/store/ingest.ts';
import { StoreError } from '../../src/store/errors.ts';
import { backpressureToLog, createStoreWriter, openStoreWriter, type BackpressureEvent } from '../../src/store/writer.ts';
import { createEventSink } from '../../src/control/event-sink.ts';
import { createVirtualClock } from '../../src/clock/index.ts';
import { getSession, listAttempts, listTransitions, sessionStats } from '../../src/store/queries.ts';
import { listSweeps } from '../../src/store/sweeps.ts';
import { EPOCH0, ramp, sessionEnded, sessionStarted, stimSweep, sweepEvent, tempDir, tpEvent, tpSweep } from './helpers.ts';

const tmp = tempDir();
afterAll(() => tmp.cleanup());
let n = 0;
const fresh = (): string => tmp.file(`w-${++n}.sqlite`);

const count = (db: Database.Database, table: string, sessionId: string): number =>
  db.prepare(`SELECT count(*) FROM ${table} WHERE session_id = ?`).pluck().get(sessionId) as number;

/** the RigEvent member(s) whose `type` admits T (some members cover two types) */
type EventOf<T extends RigEvent['type']> = RigEvent extends infer E ? (E extends { type: infer U } ? (T extends U ? E : never) : never) : never;
const ev = <T extends RigEvent['type']>(type: T, t: number, body: Omit<EventOf<T>, 'type' | 't' | 'epochMs'>): RigEvent =>
  ({ type, t, epochMs: EPOCH0 + t, ...body }) as unknown as RigEvent;

function record(over: Partial<AttemptRecord>): AttemptRecord {
  return {
    attemptId: 'a1', pipetteId: 'p1', target: [10, 20, -30], targetCellId: 7,
    startEpochMs: EPOCH0 + 100, endEpochMs: EPOCH0 + 5000, startT: 100, endT: 5000,
    stageReached: 'recorded', outcome: 'recorded', failureReason: null, failedIn: null,
    r0: 6e6, cleanCount: 2, peakSeal: 2.5e9, timeToSeal: 12.5, breakInAttempts: 2, spontaneousBreakIn: false,
    ra: 14e6, rm: 300e6, cm: 25e-12, ihold: -40e-12, vrest: -0.068,
    recordingDuration: 60, sweepsRecorded: 1,
    stateDurations: { descent: 1.2, hunt: 0.8, seal: 1.5, record: 1.0 },
    features: { rheobase: 40e-12, fi_slope: 0.3, sag: null },
    ...over,
  };
}

/** A short, complete session written by hand: every kind of event once or more. */
function syntheticStream(): RigEvent[] {
  return [
    ev('log', 0, { level: 'info', pipetteId: null, message: 'before any session' }),
    sessionStarted('S1', 10),
    ev('pipette.state', 20, { pipetteId: 'p1', attemptId: null, from: 'idle', to: 'pipetteCheck', reason: 'start' }),
    ev('pipette.pressure', 25, { pipetteId: 'p1', mbar: 35, source: 'regulator' }),
    ev('pipette.holding', 26, { pipetteId: 'p1', mode: 'VC', holding: 0 }),
    ev('pipette.position', 27, { pipetteId: 'p1', world: [0, 0, 100], manipulator: [1, 2, 3] }),
    tpEvent('p1', 30, 6e6),
    ev('attempt.started', 100, { pipetteId: 'p1', attemptId: 'a1', target: [10, 20, -30], targetCellId: 7 }),
    ev('pipette.state', 100, { pipetteId: 'p1', attemptId: 'a1', from: 'pipetteCheck', to: 'descent', reason: 'R0 ok' }),
    sweepEvent('p1', 'a1', tpSweep(1, ramp(340)), 150),
    ev('session.paused', 200, { sessionId: 'S1', by: 'operator' }),
    ev('session.resumed', 300, { sessionId: 'S1', by: 'operator' }),
    ev('fault', 400, { pipetteId: 'p2', device: 'manipulator-2', kind: 'timeout', message: 'no reply in 200 ms' }),
    ev('pipette.state', 1300, { pipetteId: 'p1', attemptId: 'a1', from: 'descent', to: 'record', reason: 'QC ok' }),
    sweepEvent('p1', 'a1', stimSweep(2, ramp(1000, 1e-3), ramp(1000, 1e-12)), 2000, { passed: true }),
    ev('attempt.ended', 5000, { record: record({}) }),
    ev('estop', 5100, { by: 'operator' }),
    ev('log', 5200, { level: 'warn', pipetteId: 'p1', message: 'pipette retired' }),
    sessionEnded('S1', 6000, 'estop'),
  ];
}

describe('store writer', () => {
  it('persists a synthetic event stream: every event lands in its table', async () => {
    const path = fresh();
    const writer = await openStoreWriter({ path });
    for (const e of syntheticStream()) writer.write(e);
    await writer.close();
    const s = writer.stats();
    expect(s).toMatchObject({ received: 19, committed: 19, pendingEvents: 0, lost: 0, rejected: 0, error: null });

    const db = openDatabase(path);
    const session = getSession(db, 'S1')!;
    expect(session).toMatchObject({
      preset: 'slice-test', operator: 'tester', seed: 42, virtual: true, pipettes: ['p1', 'p2'],
      startT: 10, endT: 6000, endReason: 'estop', status: 'aborted', lastT: 6000,
    });
    expect(db.prepare('SELECT pipette_id FROM pipettes WHERE session_id = ? ORDER BY idx').pluck().all('S1')).toEqual(['p1', 'p2']);
    expect(db.prepare('SELECT name, virtual FROM rigs').all()).toEqual([{ name: 'simulated 2-pipette rig', virtual: 1 }]);
    const transitions = listTransitions(db, ['S1']);
    expect(transitions.map((x) => [x.from, x.to, x.attemptId, x.t])).toEqual([
      ['idle', 'pipetteCheck', null, 20],
      ['pipetteCheck', 'descent', 'a1', 100],
      ['descent', 'record', 'a1', 1300],
    ]);
    const [attempt] = listAttempts(db, ['S1']);
    const { sessionId, status, ...fields } = attempt;
    expect(sessionId).toBe('S1');
    expect(status).toBe('ended');
    expect(fields).toEqual(record({}));
    expect(count(db, 'testpulse_readings', 'S1')).toBe(1);
    expect(count(db, 'sweeps', 'S1')).toBe(2);
    expect(count(db, 'faults', 'S1')).toBe(1);
    expect(db.prepare('SELECT type, by FROM session_events WHERE session_id = ? ORDER BY t').all('S1')).toEqual([
      { type: 'paused', by: 'operator' },
      { type: 'resumed', by: 'operator' },
      { type: 'estop', by: 'operator' },
    ]);
    expect(db.prepare('SELECT kind, value, detail FROM pipette_settings WHERE session_id = ? ORDER BY t').all('S1')).toEqual([
      { kind: 'pressure', value: 35, detail: 'regulator' },
      { kind: 'holding', value: 0, detail: 'VC' },
    ]);
    expect(count(db, 'positions', 'S1')).toBe(1);
    // the log before any session has no session; the later one belongs to S1
    expect(db.prepare('SELECT session_id, message FROM logs ORDER BY t').all()).toEqual([
      { session_id: null, message: 'before any session' },
      { session_id: 'S1', message: 'pipette retired' },
    ]);
    const stats = sessionStats(db, 'S1');
    expect(stats.events_received).toBe(18);
    expect(stats.events_stored).toBe(18);
    expect(stats.sample_bytes).toBe(340 * 4 + 2 * 1000 * 4);
    db.close();
  });

  it('flush resolves once everything written before it is readable by another connection', async () => {
    const path = fresh();
    const writer = createStoreWriter({ path });
    writer.write(sessionStarted('F'));
    for (let i = 0; i < 50; i++) writer.write(sweepEvent('p1', null, tpSweep(i, ramp(340, 1e-12, i)), i * 33));
    await writer.flush();
    const reader = openDatabase(path);
    expect(count(reader, 'sweeps', 'F')).toBe(50);
    expect(getSession(reader, 'F')?.status).toBe('running'); // the writer is alive: recovery leaves it alone
    expect(getSession(reader, 'F')?.lastT).toBe(49 * 33);
    for (let i = 50; i < 60; i++) writer.write(sweepEvent('p1', null, tpSweep(i, ramp(340)), i * 33));
    await writer.flush();
    expect(count(reader, 'sweeps', 'F')).toBe(60);
    reader.close();
    await writer.close();
  });

  it('flush stores the test-pulse readings decimation was holding back', async () => {
    const path = fresh();
    const writer = await openStoreWriter({ path });
    writer.write(sessionStarted('H', 0));
    // steady R at 50 Hz: the first is kept, the next ones are held back (2 Hz at most while nothing changes)
    for (let i = 0; i < 5; i++) writer.write(tpEvent('p1', 20 * i, 8e6));
    await writer.flush();
    const reader = openDatabase(path, { readonly: true });
    const rows = reader.prepare('SELECT t, summarised FROM testpulse_readings WHERE session_id = ? ORDER BY t').all('H');
    // the last one written is on disk, standing for the 3 before it that were not kept
    expect(rows).toEqual([{ t: 0, summarised: 0 }, { t: 80, summarised: 3 }]);
    reader.close();
    // decimation goes on from there: readings after the flush are counted from the stored one
    for (let i = 5; i < 8; i++) writer.write(tpEvent('p1', 20 * i, 8e6));
    await writer.close();
    const db = openDatabase(path, { readonly: true });
    const all = db.prepare('SELECT t, summarised FROM testpulse_readings WHERE session_id = ? ORDER BY t').all('H') as Array<{ summarised: number }>;
    expect(all.reduce((n, r) => n + 1 + r.summarised, 0)).toBe(8);
    db.close();
  });

  it('keeps the WAL bounded when a slow session commits many small transactions', async () => {
    // Each small commit rewrites whole pages (rows, indexes, counters); checkpointing by bytes of events alone let the WAL grow without bound.
    const walAfter = async (checkpointCommits: number): Promise<{ wal: number; checkpoints: number; rows: number }> => {
      const path = fresh();
      const writer = createStoreWriter({ path, checkpointCommits });
      writer.write(sessionStarted('W'));
      for (let i = 0; i < 400; i++) {
        writer.write(tpEvent('p1', i * 33, 6e6 + i));
        writer.write(ev('pipette.state', i * 33 + 1, { pipetteId: 'p1', attemptId: null, from: 'hunt', to: 'hunt', reason: `step ${i}` }));
        await writer.flush(); // one transaction per turn, as in a real-time session
      }
      const wal = statSync(`${path}-wal`).size;
      const checkpoints = writer.stats().checkpoints;
      const reader = openDatabase(path);
      const rows = count(reader, 'state_transitions', 'W');
      reader.close();
      await writer.close();
      return { wal, checkpoints, rows };
    };
    const bounded = await walAfter(32);
    const unbounded = await walAfter(1_000_000);
    expect(bounded.rows).toBe(400);
    expect(unbounded.rows).toBe(400);
    expect(unbounded.checkpoints).toBe(0);
    expect(bounded.checkpoints).toBeGreaterThanOrEqual(Math.floor(400 / 32));
    expect(unbounded.wal).toBeGreaterThan(4 * bounded.wal);
    // 32 small transactions of 16 KiB pages: a few MB at most, the same order as the bytes threshold
    expect(bounded.wal).toBeLessThan(8 * 1024 * 1024);
  });

  it('close marks a session left running as interrupted; later writes are counted as lost and reported', async () => {
    const path = fresh();
    const errors: string[] = [];
    const writer = createStoreWriter({ path, onError: (e) => errors.push(e.message) });
    writer.write(sessionStarted('C', 0));
    writer.write(tpEvent('p1', 700, 5e6));
    await writer.close();
    await writer.close(); // idempotent
    writer.write(tpEvent('p1', 800, 5e6));
    await expect(writer.flush()).rejects.toThrow(/closed/);
    await Promise.resolve();
    expect(writer.stats().lost).toBe(1);
    expect(errors.some((m) => /closed.*not stored/.test(m))).toBe(true);
    const db = openDatabase(path);
    expect(getSession(db, 'C')).toMatchObject({ status: 'interrupted', endT: 700, endDetail: expect.stringMatching(/closed before the session ended/) });
    db.close();
  });

  it('reports a file it cannot use through ready, onError and stats, and counts what it could not store', async () => {
    const path = fresh();
    writeFileSync(path, 'not a database at all, just text '.repeat(20));
    const errors: Error[] = [];
    const writer = createStoreWriter({ path, onError: (e) => errors.push(e) });
    writer.write(sessionStarted('X'));
    await expect(writer.ready).rejects.toBeInstanceOf(StoreError);
    await expect(writer.ready).rejects.toMatchObject({ problem: 'not-sqlite', file: path });
    writer.write(tpEvent('p1', 1, 1e6));
    await Promise.resolve();
    expect(writer.stats().lost).toBe(2);
    expect(writer.stats().error).toMatch(/not an SQLite database/);
    expect(errors[0]).toBeInstanceOf(StoreError);
    await expect(writer.close()).rejects.toBeInstanceOf(StoreError);
    await expect(openStoreWriter({ path })).rejects.toMatchObject({ problem: 'not-sqlite' });
  });

  it('stores the rest of a batch when one event is refused, and logs the refusal in the database', async () => {
    const path = fresh();
    const errors: string[] = [];
    const writer = await openStoreWriter({ path, onError: (e) => errors.push(e.message) });
    writer.write(sessionStarted('D', 0));
    writer.write(sessionStarted('D', 5)); // same id again: refused
    writer.write(tpEvent('p1', 10, 5e6));
    await writer.flush();
    expect(writer.stats()).toMatchObject({ received: 3, committed: 2, rejected: 1 });
    expect(errors.some((m) => /rejected 1 event.*session\.started/.test(m))).toBe(true);
    await writer.close();
    const db = openDatabase(path);
    expect(count(db, 'testpulse_readings', 'D')).toBe(1);
    expect(db.prepare("SELECT message FROM logs WHERE level = 'error'").pluck().get()).toMatch(/could not store a session\.started event/);
    expect(sessionStats(db, 'D').events_rejected).toBe(1);
    db.close();
  });

  it('reports sessions it marked interrupted when it opened the store', async () => {
    const path = fresh();
    const db = openDatabase(path);
    createIngestor(db, { writer: { host: 'elsewhere', boot: null, pid: 4, token: null } }).applyBatch([sessionStarted('old', 0)]);
    db.close();
    const writer = await openStoreWriter({ path });
    expect(writer.stats().recovered).toEqual(['old']);
    await writer.close();
  });
});

describe('back-pressure', () => {
  it('sheds only test-pulse sweeps, readings and positions, counts every one, and never drops critical events', async () => {
    const path = fresh();
    const notices: BackpressureEvent[] = [];
    // a tiny bound so one synchronous burst (which the worker cannot drain meanwhile) overflows it
    const writer = await openStoreWriter({ path, highWaterEvents: 10, shedKeepEvery: 5, onBackpressure: (e) => notices.push(e) });
    writer.write(sessionStarted('B', 0));
    let critical = 1;
    for (let i = 0; i < 100; i++) {
      writer.write(sweepEvent('p1', null, tpSweep(i, ramp(340)), i * 10));
      if (i % 10 === 9) {
        writer.write(ev('pipette.state', i * 10 + 5, { pipetteId: 'p1', attemptId: null, from: 'hunt', to: 'hunt', reason: `tick ${i}` }));
        writer.write(sweepEvent('p1', 'a', stimSweep(1000 + i, ramp(100), ramp(100)), i * 10 + 6));
        critical += 2;
      }
    }
    // Hand count: the backlog check runs before each event is queued; shedding starts at the first
    // write that sees more than 10 pending: session + sweeps 0..9 = 11 pending when sweep 10 arrives.
    // From sweep 10 on, one in five test-pulse sweeps is kept (10, 15, …, 95): 18 kept, 72 shed.
    const stats = writer.stats();
    expect(stats.shedding).toBe(true);
    expect(stats.dropped).toEqual({ testpulseSweeps: 72, testpulseReadings: 0, positions: 0 });
    expect(stats.backpressureEpisodes).toBe(1);
    await writer.flush();
    await Promise.resolve();
    expect(writer.stats().shedding).toBe(false);
    expect(notices.map((x) => x.kind)).toEqual(['shedding-started', 'shedding-stopped']);
    const stopped = notices[1] as Extract<BackpressureEvent, { kind: 'shedding-stopped' }>;
    expect(stopped.dropped.testpulseSweeps).toBe(72);
    await writer.close();

    const db = openDatabase(path);
    const tp = listSweeps(db, { sessionId: 'B', kind: 'testpulse' });
    expect(tp).toHaveLength(100 - 72);
    expect(tp.filter((m) => m.seq >= 10).map((m) => m.seq)).toEqual(Array.from({ length: 18 }, (_, k) => 10 + 5 * k));
    expect(listSweeps(db, { sessionId: 'B', kind: 'stimulus' })).toHaveLength(10);
    expect(count(db, 'state_transitions', 'B')).toBe(10);
    expect(critical).toBe(21);
    const persisted = sessionStats(db, 'B');
    expect(persisted.backpressure_dropped_testpulse_sweeps).toBe(72);
    expect(persisted.backpressure_episodes).toBe(1);
    expect(persisted.queue_peak_events).toBeGreaterThan(10);
    db.close();
  });

  it('stores the shed counts of a tail of shed events, with nothing after them but a flush', async () => {
    const path = fresh();
    const writer = await openStoreWriter({ path, highWaterEvents: 10, shedKeepEvery: 1000 });
    writer.write(sessionStarted('T', 0));
    for (let i = 0; i < 20; i++) writer.write(sweepEvent('p1', null, tpSweep(i, ramp(340)), i * 10));
    // the next turn: the worker has not caught up, so every test-pulse sweep written now is shed and nothing is queued
    await Promise.resolve();
    for (let i = 20; i < 50; i++) writer.write(sweepEvent('p1', null, tpSweep(i, ramp(340)), i * 10));
    const dropped = writer.stats().dropped.testpulseSweeps;
    expect(dropped).toBeGreaterThan(30);
    await writer.flush();
    const reader = openDatabase(path, { readonly: true });
    expect(sessionStats(reader, 'T').backpressure_dropped_testpulse_sweeps).toBe(dropped);
    reader.close();
    await writer.close();
  });

  it('credits shed events to the session they were written in, even when the next one starts in the same batch', async () => {
    const path = fresh();
    const writer = await openStoreWriter({ path, highWaterEvents: 10, shedKeepEvery: 5 });
    writer.write(sessionStarted('first', 0));
    for (let i = 0; i < 40; i++) writer.write(sweepEvent('p1', null, tpSweep(i, ramp(340)), i * 10));
    const shedInFirst = writer.stats().dropped.testpulseSweeps;
    expect(shedInFirst).toBeGreaterThan(0);
    writer.write(sessionEnded('first', 500));
    writer.write(sessionStarted('second', 600, { epochMs: EPOCH0 + 600 }));
    writer.write(ev('log', 610, { level: 'info', pipetteId: null, message: 'second session running' }));
    await writer.close();
    const db = openDatabase(path, { readonly: true });
    expect(sessionStats(db, 'first')).toMatchObject({ backpressure_dropped_testpulse_sweeps: shedInFirst, backpressure_episodes: 1 });
    expect(sessionStats(db, 'second').backpressure_dropped_testpulse_sweeps).toBeUndefined();
    expect(sessionStats(db, 'second').backpressure_episodes).toBeUndefined();
    db.close();
  });

  it('reports each episode as a warn event on the rig\'s event sink, which reaches the store like any event', async () => {
    const path = fresh();
    const sink = createEventSink(createVirtualClock({ startEpochMs: EPOCH0 }));
    const seen: RigEvent[] = [];
    sink.subscribe((e) => seen.push(e)); // the dashboard's view
    // wired as autopatch run wires it
    const writer = await openStoreWriter({ path, highWaterEvents: 10, shedKeepEvery: 5, onBackpressure: backpressureToLog((e) => sink.emit(e)) });
    sink.subscribe((e) => writer.write(e));
    sink.emit({ type: 'session.started', sessionId: 'W', preset: 'slice-test', pipettes: ['p1'], seed: 1, rig: 'r', operator: 'o', virtual: true, limits: { durationMs: null, maxAttempts: null } });
    for (let i = 0; i < 40; i++) writer.write(sweepEvent('p1', null, tpSweep(i, ramp(340)), i));
    const shed = writer.stats().dropped.testpulseSweeps;
    await writer.flush();
    await Promise.resolve(); // the report of the episode's end
    await writer.close();
    const warnings = seen.filter((e): e is Extract<RigEvent, { type: 'log' }> => e.type === 'log' && e.level === 'warn');
    expect(warnings.map((w) => w.message)).toEqual([
      expect.stringMatching(/^store: back-pressure: 1[1-9] events .* thinning test-pulse sweeps, readings and positions/),
      `store: back-pressure cleared; shed ${shed} test-pulse sweeps, 0 readings and 0 positions (counted in the session's stats)`,
    ]);
    const db = openDatabase(path, { readonly: true });
    expect(db.prepare("SELECT session_id, message FROM logs WHERE level = 'warn' ORDER BY id").all()).toEqual(
      warnings.map((w) => ({ session_id: 'W', message: w.message })),
    );
    db.close();
  });

  it('keeps critical events past the hard limit and says so', async () => {
    const path = fresh();
    const notices: BackpressureEvent[] = [];
    const writer = await openStoreWriter({ path, highWaterBytes: 8_000, hardLimitBytes: 20_000, onBackpressure: (e) => notices.push(e) });
    writer.write(sessionStarted('H', 0));
    for (let i = 0; i < 20; i++) writer.write(sweepEvent('p1', 'a', stimSweep(i, ramp(1000), ramp(1000)), i)); // 8 kB + each
    await writer.flush();
    await Promise.resolve();
    expect(notices.map((x) => x.kind)).toEqual(['shedding-started', 'critical-backlog', 'shedding-stopped']);
    await writer.close();
    const db = openDatabase(path);
    expect(listSweeps(db, { sessionId: 'H' })).toHaveLength(20);
    db.close();
  });

  it('decimates test-pulse readings in long sessions with exact totals', async () => {
    const path = fresh();
    const writer = await openStoreWriter({ path, readings: { maxHz: 2, relChange: 0.05, iholdChange: 1e-9, smoothingS: 0.5 } });
    writer.write(sessionStarted('R', 0));
    // 60 s at 50 Hz per pipette, two pipettes, R steady; one state change on p1 at 30 s
    for (let i = 0; i < 3000; i++) {
      const t = i * 20;
      if (t === 30_000) writer.write(ev('pipette.state', t, { pipetteId: 'p1', attemptId: null, from: 'hunt', to: 'seal', reason: 'hit' }));
      writer.write(tpEvent('p1', t, 8e6));
      writer.write(tpEvent('p2', t + 1, 8e6));
    }
    await writer.close();
    const db = openDatabase(path);
    const rows = db.prepare('SELECT pipette_id, t, summarised FROM testpulse_readings WHERE session_id = ? ORDER BY pipette_id, t').all('R') as Array<{
      pipette_id: string;
      t: number;
      summarised: number;
    }>;
    const p1 = rows.filter((r) => r.pipette_id === 'p1');
    const p2 = rows.filter((r) => r.pipette_id === 'p2');
    // 2 Hz over 60 s → kept at 0, 500, …, 59500 (120 rows per pipette), plus the last reading before
    // each state change (p1: 29980) and before the writer closed (p1: 59980, p2: 59981)
    expect(p2.map((r) => r.t).slice(-3)).toEqual([59001, 59501, 59981]);
    expect(p2).toHaveLength(121);
    expect(p1).toHaveLength(122);
    expect(p1.filter((r) => r.t > 29000 && r.t < 31000).map((r) => [r.t, r.summarised])).toEqual([
      [29500, 24], [29980, 23], [30000, 0], [30500, 24],
    ]);
    const stats = sessionStats(db, 'R');
    expect(stats.readings_received).toBe(6000);
    expect(stats.readings_stored).toBe(243);
    // every reading is accounted for: stored rows + those they summarise
    expect(rows.reduce((s, r) => s + 1 + r.summarised, 0)).toBe(6000);
    db.close();
  });
});
