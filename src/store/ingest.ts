/**
 * Turns the RigEvent stream into rows. Synchronous, one transaction per batch;
 * runs in the writer's worker thread (and directly in tests and tools that
 * build a database without a live rig).
 *
 * Events belong to the session most recently started in the stream; events
 * after its `session.ended` still go to it (late attempt records, final
 * retractions) until the next session starts. Before any session they are
 * stored with a null session.
 */
import type Database from 'better-sqlite3';
import type { AttemptRecord, RigEvent } from '../control/events.ts';
import {
  type KeptReading,
  createPositionDecimator,
  createReadingDecimator,
  DEFAULT_POSITION_DECIMATION,
  DEFAULT_READING_DECIMATION,
  type PositionDecimation,
  type ReadingDecimation,
} from './decimation.ts';
import { encodeEvent } from './rejected.ts';
import { float32ToBlob } from './sweeps.ts';
import { currentWriter, type WriterIdentity } from './writer-identity.ts';

export interface IngestOptions {
  readings?: ReadingDecimation;
  positions?: PositionDecimation;
  /** recorded on sessions this ingestor starts (default: this process) */
  writer?: WriterIdentity;
}

/** What the writer shed on the caller's side (back-pressure happens before the worker). */
export interface ShedCounts {
  droppedTestpulseSweeps: number;
  droppedReadings: number;
  droppedPositions: number;
  backpressureEpisodes: number;
}

/**
 * Shed counts that happened just before event `at` of the batch (`at` =
 * events.length: after the last), so each is credited to the session the
 * shed events belonged to even when a session starts in the same batch.
 */
export interface CounterMark extends ShedCounts {
  at: number;
}

/** Caller-side counters delivered with a batch. */
export interface BatchCounters {
  marks: CounterMark[];
  queuePeakBytes: number;
  queuePeakEvents: number;
}

export interface BatchResult {
  stored: number;
  rejected: Array<{ type: string; error: string }>;
  sampleBytes: number;
}

export interface Ingestor {
  /**
   * store events in one transaction; an event that cannot be stored is rejected
   * alone, kept whole in rejected_events and logged. If the transaction fails as
   * a whole (disk full, I/O error) it throws, and what the ingestor remembered
   * from the batch is forgotten, as the database forgot it.
   */
  applyBatch(events: readonly RigEvent[], counters?: Partial<BatchCounters>): BatchResult;
  /** the session events are currently attributed to */
  currentSession(): string | null;
  /** mark sessions started here and not ended as interrupted (writer closing early) */
  interruptOpenSessions(detail: string): string[];
  /** readings counted by decimation but not yet attached to a stored row */
  pendingSummarised(): number;
  /** store the readings decimation holds back (flush: everything written so far is on disk) */
  storeHeldReadings(): void;
}

type Stats = Map<string, number>;

const END_STATUS: Record<string, 'completed' | 'aborted'> = {
  completed: 'completed',
  duration: 'completed',
  aborted: 'aborted',
  estop: 'aborted',
  error: 'aborted',
};

export function createIngestor(db: Database.Database, options: IngestOptions = {}): Ingestor {
  const writer = options.writer ?? currentWriter();
  let readings = createReadingDecimator(options.readings ?? DEFAULT_READING_DECIMATION);
  let positions = createPositionDecimator(options.positions ?? DEFAULT_POSITION_DECIMATION);
  let session: string | null = null;
  const startedHere = new Set<string>();
  const ended = new Set<string>();
  const knownPipettes = new Map<string, Set<string>>();
  const attemptRows = new Map<string, number>(); // `${session}\0${attemptId}` → attempts.id
  const stats = new Map<string, Stats>();
  const touched = new Map<string, { t: number; epoch: number }>();

  const q = {
    rig: db.prepare('INSERT INTO rigs (name, virtual, first_epoch) VALUES (?, ?, ?) ON CONFLICT(name) DO NOTHING'),
    rigId: db.prepare('SELECT id FROM rigs WHERE name = ?').pluck(),
    session: db.prepare(
      `INSERT INTO sessions (id, rig_id, preset, operator, seed, hardware, preset_settings, rig, virtual, pipettes, start_t,
         start_epoch, status, last_t, last_epoch, writer_host, writer_boot, writer_pid, writer_token)
       VALUES (@id, @rigId, @preset, @operator, @seed, @hardware, @presetSettings, @rig, @virtual, @pipettes, @t,
         @epoch, 'running', @t, @epoch, @host, @boot, @pid, @token)`,
    ),
    endSession: db.prepare(
      `UPDATE sessions SET end_t = ?, end_epoch = ?, end_reason = ?, end_detail = ?, status = ? WHERE id = ?`,
    ),
    interrupt: db.prepare(
      `UPDATE sessions SET status = 'interrupted', end_t = last_t, end_epoch = last_epoch, end_reason = 'interrupted',
         end_detail = ? WHERE id = ? AND status = 'running'`,
    ),
    touch: db.prepare('UPDATE sessions SET last_t = max(last_t, ?), last_epoch = max(last_epoch, ?) WHERE id = ?'),
    pipette: db.prepare(
      `INSERT OR IGNORE INTO pipettes (session_id, pipette_id, idx)
       VALUES (?, ?, (SELECT count(*) FROM pipettes WHERE session_id = ?))`,
    ),
    sessionEvent: db.prepare('INSERT INTO session_events (session_id, type, by, t, epoch) VALUES (?, ?, ?, ?, ?)'),
    transition: db.prepare(
      `INSERT INTO state_transitions (session_id, pipette_id, attempt_id, from_state, to_state, reason, t, epoch)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    reading: db.prepare(
      `INSERT INTO testpulse_readings (session_id, pipette_id, attempt_id, t, epoch, r, ra, cm, rm, ihold, fit_quality, mode, summarised)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    setting: db.prepare(
      'INSERT INTO pipette_settings (session_id, pipette_id, kind, value, detail, t, epoch) VALUES (?, ?, ?, ?, ?, ?, ?)',
    ),
    position: db.prepare(
      `INSERT INTO positions (session_id, pipette_id, t, epoch, world_x, world_y, world_z, manip_x, manip_y, manip_z, summarised)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    attemptStart: db.prepare(
      `INSERT INTO attempts (session_id, attempt_id, pipette_id, status, target_x, target_y, target_z, target_cell_id, start_t, start_epoch)
       VALUES (?, ?, ?, 'open', ?, ?, ?, ?, ?, ?)`,
    ),
    attemptFind: db.prepare('SELECT id FROM attempts WHERE session_id IS ? AND attempt_id = ?').pluck(),
    attemptEnd: db.prepare(
      `UPDATE attempts SET pipette_id = @pipetteId, status = 'ended', target_x = @tx, target_y = @ty, target_z = @tz,
         target_cell_id = @targetCellId, start_t = @startT, start_epoch = @startEpochMs, end_t = @endT, end_epoch = @endEpochMs,
         stage_reached = @stageReached, outcome = @outcome, failure_reason = @failureReason, failed_in = @failedIn,
         r0 = @r0, clean_count = @cleanCount, peak_seal = @peakSeal, time_to_seal = @timeToSeal,
         break_in_attempts = @breakInAttempts, spontaneous_break_in = @spontaneous, ra = @ra, rm = @rm, cm = @cm,
         ihold = @ihold, vrest = @vrest, recording_duration = @recordingDuration, sweeps_recorded = @sweepsRecorded,
         state_durations = @stateDurations, has_features = @hasFeatures
       WHERE id = @row`,
    ),
    clearFeatures: db.prepare('DELETE FROM cell_features WHERE attempt = ?'),
    feature: db.prepare('INSERT INTO cell_features (attempt, name, value) VALUES (?, ?, ?)'),
    sweep: db.prepare(
      `INSERT INTO sweeps (session_id, pipette_id, attempt_id, channel, kind, mode, seq, start_time, t, epoch, sample_rate_hz,
         n_samples, response_unit, holding, step_amplitude, step_onset, step_length, stimulus_name, stimulus_mode,
         stimulus_rate_hz, stimulus_onset, stimulus_length, stimulus_amplitude, response, stimulus, qc)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    fault: db.prepare(
      'INSERT INTO faults (session_id, pipette_id, device, kind, message, t, epoch) VALUES (?, ?, ?, ?, ?, ?, ?)',
    ),
    log: db.prepare('INSERT INTO logs (session_id, level, pipette_id, message, t, epoch) VALUES (?, ?, ?, ?, ?, ?)'),
    rejected: db.prepare('INSERT INTO rejected_events (session_id, type, t, epoch, error, event) VALUES (?, ?, ?, ?, ?, ?)'),
    sessionStatus: db.prepare('SELECT status FROM sessions WHERE id = ?').pluck(),
    stat: db.prepare(
      `INSERT INTO session_stats (session_id, name, value) VALUES (?, ?, ?)
       ON CONFLICT(session_id, name) DO UPDATE SET value = excluded.value`,
    ),
    statsLoad: db.prepare('SELECT name, value FROM session_stats WHERE session_id = ?'),
  };

  const statsOf = (id: string): Stats => {
    let s = stats.get(id);
    if (!s) {
      s = new Map((q.statsLoad.all(id) as Array<{ name: string; value: number }>).map((r) => [r.name, r.value]));
      stats.set(id, s);
    }
    return s;
  };
  const dirtyStats = new Set<string>();
  const bump = (name: string, by = 1): void => {
    if (session === null || by === 0) return;
    const s = statsOf(session);
    s.set(name, (s.get(name) ?? 0) + by);
    dirtyStats.add(session);
  };
  const peak = (name: string, value: number): void => {
    if (session === null) return;
    const s = statsOf(session);
    if (value > (s.get(name) ?? 0)) {
      s.set(name, value);
      dirtyStats.add(session);
    }
  };

  const ensurePipette = (pipetteId: string | null): void => {
    if (session === null || pipetteId === null) return;
    let set = knownPipettes.get(session);
    if (!set) knownPipettes.set(session, (set = new Set()));
    if (set.has(pipetteId)) return;
    q.pipette.run(session, pipetteId, session);
    set.add(pipetteId);
  };

  const storeReading = (pipetteId: string, k: KeptReading): void => {
    const r = k.reading;
    q.reading.run(session, pipetteId, k.attemptId, k.t, k.epochMs, r.r, r.ra, r.cm, r.rm, r.ihold, r.fitQuality, r.mode, k.summarised);
    bump('readings_stored');
  };

  /** store the readings decimation held back, so each pipette's last value is kept */
  const flushReadings = (): void => {
    for (const { pipetteId, kept } of readings.flushAll()) storeReading(pipetteId, kept);
  };

  const attemptRow = (attemptId: string): number | undefined => {
    const key = `${session ?? ''}\0${attemptId}`;
    let row = attemptRows.get(key);
    if (row === undefined) {
      row = q.attemptFind.get(session, attemptId) as number | undefined;
      if (row !== undefined) attemptRows.set(key, row);
    }
    return row;
  };

  const endAttempt = (rec: AttemptRecord): void => {
    let row = attemptRow(rec.attemptId);
    if (row === undefined) {
      const info = q.attemptStart.run(
        session, rec.attemptId, rec.pipetteId,
        rec.target?.[0] ?? null, rec.target?.[1] ?? null, rec.target?.[2] ?? null,
        rec.targetCellId, rec.startT, rec.startEpochMs,
      );
      row = Number(info.lastInsertRowid);
      attemptRows.set(`${session ?? ''}\0${rec.attemptId}`, row);
    }
    q.attemptEnd.run({
      row,
      pipetteId: rec.pipetteId,
      tx: rec.target?.[0] ?? null,
      ty: rec.target?.[1] ?? null,
      tz: rec.target?.[2] ?? null,
      targetCellId: rec.targetCellId,
      startT: rec.startT,
      startEpochMs: rec.startEpochMs,
      endT: rec.endT,
      endEpochMs: rec.endEpochMs,
      stageReached: rec.stageReached,
      outcome: rec.outcome,
      failureReason: rec.failureReason,
      failedIn: rec.failedIn,
      r0: rec.r0,
      cleanCount: rec.cleanCount,
      peakSeal: rec.peakSeal,
      timeToSeal: rec.timeToSeal,
      breakInAttempts: rec.breakInAttempts,
      spontaneous: rec.spontaneousBreakIn ? 1 : 0,
      ra: rec.ra,
      rm: rec.rm,
      cm: rec.cm,
      ihold: rec.ihold,
      vrest: rec.vrest,
      recordingDuration: rec.recordingDuration,
      sweepsRecorded: rec.sweepsRecorded,
      stateDurations: JSON.stringify(rec.stateDurations),
      hasFeatures: rec.features ? 1 : 0,
    });
    q.clearFeatures.run(row);
    for (const [name, value] of Object.entries(rec.features ?? {})) q.feature.run(row, name, value);
  };

  /** rows written for one event (0 when decimated away) */
  const apply = (e: RigEvent): number => {
    switch (e.type) {
      case 'session.started': {
        flushReadings(); // a session left without an end: its held readings still belong to it
        q.rig.run(e.rig, e.virtual ? 1 : 0, e.epochMs);
        const rigId = q.rigId.get(e.rig) as number;
        q.session.run({
          id: e.sessionId, rigId, preset: e.preset, operator: e.operator, seed: e.seed, rig: e.rig,
          hardware: e.hardware ? JSON.stringify(e.hardware) : null,
          presetSettings: e.presetSettings ? JSON.stringify(e.presetSettings) : null,
          virtual: e.virtual ? 1 : 0, pipettes: JSON.stringify(e.pipettes), t: e.t, epoch: e.epochMs,
          host: writer.host, boot: writer.boot, pid: writer.pid, token: writer.token,
        });
        session = e.sessionId;
        startedHere.add(e.sessionId);
        freshDecimators();
        for (const p of e.pipettes) ensurePipette(p);
        return 1;
      }
      case 'session.ended':
        flushReadings();
        q.endSession.run(e.t, e.epochMs, e.reason, e.detail ?? null, END_STATUS[e.reason] ?? 'aborted', e.sessionId);
        ended.add(e.sessionId);
        return 1;
      case 'session.paused':
      case 'session.resumed':
        q.sessionEvent.run(session, e.type.slice('session.'.length), e.by, e.t, e.epochMs);
        return 1;
      case 'estop':
        q.sessionEvent.run(session, 'estop', e.by, e.t, e.epochMs);
        return 1;
      case 'pipette.state':
        ensurePipette(e.pipetteId);
        {
          const held = readings.flush(e.pipetteId);
          if (held) storeReading(e.pipetteId, held);
        }
        readings.stateChanged(e.pipetteId);
        positions.stateChanged(e.pipetteId);
        q.transition.run(session, e.pipetteId, e.attemptId, e.from, e.to, e.reason, e.t, e.epochMs);
        return 1;
      case 'pipette.testpulse': {
        ensurePipette(e.pipetteId);
        bump('readings_received');
        const kept = readings.offer(e.pipetteId, { t: e.t, epochMs: e.epochMs, attemptId: e.attemptId, reading: e.reading });
        for (const k of kept) storeReading(e.pipetteId, k);
        return kept.length;
      }
      case 'pipette.pressure':
        ensurePipette(e.pipetteId);
        q.setting.run(session, e.pipetteId, 'pressure', e.mbar, e.source, e.t, e.epochMs);
        return 1;
      case 'pipette.holding':
        ensurePipette(e.pipetteId);
        q.setting.run(session, e.pipetteId, 'holding', e.holding, e.mode, e.t, e.epochMs);
        return 1;
      case 'pipette.position': {
        ensurePipette(e.pipetteId);
        bump('positions_received');
        const summarised = positions.offer(e.pipetteId, { t: e.t, epochMs: e.epochMs, world: e.world, manipulator: e.manipulator });
        if (summarised === null) return 0;
        q.position.run(session, e.pipetteId, e.t, e.epochMs, ...e.world, ...e.manipulator, summarised);
        bump('positions_stored');
        return 1;
      }
      case 'attempt.started': {
        ensurePipette(e.pipetteId);
        const info = q.attemptStart.run(
          session, e.attemptId, e.pipetteId,
          e.target?.[0] ?? null, e.target?.[1] ?? null, e.target?.[2] ?? null,
          e.targetCellId, e.t, e.epochMs,
        );
        attemptRows.set(`${session ?? ''}\0${e.attemptId}`, Number(info.lastInsertRowid));
        return 1;
      }
      case 'attempt.ended':
        ensurePipette(e.record.pipetteId);
        endAttempt(e.record);
        return 1;
      case 'sweep': {
        ensurePipette(e.pipetteId);
        const s = e.sweep;
        const st = s.stimulus;
        q.sweep.run(
          session, e.pipetteId, e.attemptId, s.channel, s.kind, s.mode, s.seq, s.startTime, e.t, e.epochMs,
          s.sampleRateHz, s.response.length, s.responseUnit, s.holding,
          s.step?.amplitude ?? null, s.step?.onsetIndex ?? null, s.step?.lengthSamples ?? null,
          st?.name ?? null, st?.mode ?? null, st?.sampleRateHz ?? null, st?.onsetIndex ?? null,
          st?.lengthSamples ?? null, st?.amplitude ?? null,
          float32ToBlob(s.response), st ? float32ToBlob(st.samples) : null,
          e.qc ? JSON.stringify(e.qc) : null,
        );
        bump(s.kind === 'testpulse' ? 'testpulse_sweeps_stored' : 'stimulus_sweeps_stored');
        bump('sample_bytes', s.response.byteLength + (st?.samples.byteLength ?? 0));
        return 1;
      }
      case 'fault':
        ensurePipette(e.pipetteId);
        q.fault.run(session, e.pipetteId, e.device, e.kind, e.message, e.t, e.epochMs);
        return 1;
      case 'log':
        ensurePipette(e.pipetteId);
        q.log.run(session, e.level, e.pipetteId, e.message, e.t, e.epochMs);
        return 1;
      case 'pipette.health':
      case 'pipette.overrides':
      case 'pipette.cleanCount':
        return 0; // live-display state; attempt records carry what is kept
    }
  };

  const noteTime = (e: RigEvent): void => {
    if (session === null) return;
    const prev = touched.get(session);
    if (!prev || e.t > prev.t) touched.set(session, { t: e.t, epoch: e.epochMs });
  };

  const applyShed = (c: ShedCounts): void => {
    bump('backpressure_dropped_testpulse_sweeps', c.droppedTestpulseSweeps);
    bump('backpressure_dropped_readings', c.droppedReadings);
    bump('backpressure_dropped_positions', c.droppedPositions);
    bump('backpressure_episodes', c.backpressureEpisodes);
  };

  const finishBatch = (): void => {
    for (const [id, last] of touched) q.touch.run(last.t, last.epoch, id);
    touched.clear();
    for (const id of dirtyStats) {
      for (const [name, value] of statsOf(id)) q.stat.run(id, name, value);
    }
    dirtyStats.clear();
  };

  const applyOne = (e: RigEvent): void => {
    const rows = apply(e);
    noteTime(e);
    bump('events_received');
    if (rows > 0) bump('events_stored');
  };

  // nested db.transaction = SAVEPOINT: a bad event rolls back alone and the batch goes on
  const applyOneSaved = db.transaction(applyOne);

  const freshDecimators = (): void => {
    readings = createReadingDecimator(options.readings ?? DEFAULT_READING_DECIMATION);
    positions = createPositionDecimator(options.positions ?? DEFAULT_POSITION_DECIMATION);
  };

  /**
   * A transaction failed as a whole: drop everything cached from it, so later
   * batches neither point at rows it rolled back (a session started in it) nor
   * store what it held back (decimated readings) or counted (stats).
   */
  const forgetRolledBack = (): void => {
    knownPipettes.clear();
    attemptRows.clear();
    stats.clear();
    dirtyStats.clear();
    touched.clear();
    const status = (id: string): string | undefined => q.sessionStatus.get(id) as string | undefined;
    for (const id of startedHere) if (status(id) === undefined) startedHere.delete(id);
    for (const id of ended) if (status(id) === undefined || status(id) === 'running') ended.delete(id);
    if (session !== null && status(session) === undefined) session = null;
    freshDecimators();
  };

  const applyAll = (events: readonly RigEvent[], counters: Partial<BatchCounters> | undefined, result: BatchResult): void => {
    const marks = [...(counters?.marks ?? [])].sort((a, b) => a.at - b.at);
    let nextMark = 0;
    /** credit the shed counts made before event `index` to the session current there */
    const shedBefore = (index: number): void => {
      while (nextMark < marks.length && marks[nextMark].at <= index) applyShed(marks[nextMark++]);
    };
    db.transaction(() => {
      for (const [index, e] of events.entries()) {
        shedBefore(index);
        try {
          applyOneSaved(e);
          result.stored++;
          if (e.type === 'sweep') result.sampleBytes += e.sweep.response.byteLength + (e.sweep.stimulus?.samples.byteLength ?? 0);
        } catch (err) {
          const message = (err as Error).message;
          // caches may name rows the savepoint just rolled back
          knownPipettes.clear();
          attemptRows.clear();
          result.rejected.push({ type: e.type, error: message });
          bump('events_received');
          bump('events_rejected');
          q.rejected.run(session, e.type, e.t, e.epochMs, message, encodeEvent(e));
          q.log.run(session, 'error', null, `store: could not store a ${e.type} event (kept in rejected_events): ${message}`, e.t, e.epochMs);
        }
      }
      shedBefore(Infinity);
      peak('queue_peak_bytes', counters?.queuePeakBytes ?? 0);
      peak('queue_peak_events', counters?.queuePeakEvents ?? 0);
      finishBatch();
    })();
  };

  return {
    applyBatch(events, counters) {
      const result: BatchResult = { stored: 0, rejected: [], sampleBytes: 0 };
      try {
        applyAll(events, counters, result);
      } catch (err) {
        forgetRolledBack();
        throw err;
      }
      return result;
    },
    currentSession: () => session,
    interruptOpenSessions(detail) {
      const out: string[] = [];
      db.transaction(() => {
        if (session !== null && !ended.has(session)) flushReadings();
        for (const id of startedHere) {
          if (ended.has(id)) continue;
          if (q.interrupt.run(detail, id).changes > 0) out.push(id);
        }
        finishBatch();
      })();
      return out;
    },
    pendingSummarised: () => readings.pendingSummarised(),
    storeHeldReadings() {
      try {
        db.transaction(() => {
          flushReadings();
          finishBatch();
        })();
      } catch (err) {
        forgetRolledBack();
        throw err;
      }
    },
  };
}
