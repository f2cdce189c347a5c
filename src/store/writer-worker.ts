/**
 * The store writer's worker thread: owns the only write connection, turns
 * queued batches into transactions and checkpoints the WAL itself, so neither
 * commits nor checkpoints ever run on the control loop's thread.
 *
 * Batching: messages are only queued on arrival; a drain runs on the next
 * turn (setImmediate — a yield, not a timer) and commits everything that
 * arrived meanwhile in one transaction (bounded by maxTransactionBytes).
 * Checkpoints are PASSIVE (never wait for readers) and frequent — by bytes
 * committed or by number of transactions, whichever comes first — so each is
 * small and the WAL stays bounded; WAL autocheckpoint is off for this connection.
 */
import { setPriority } from 'node:os';
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import type Database from 'better-sqlite3';
import type { RigEvent } from '../control/events.ts';
import { StoreError } from './errors.ts';
import { createIngestor, type BatchCounters, type Ingestor } from './ingest.ts';
import { openDatabase } from './migrations.ts';
import { currentWriter, holdWriterLock, type WriterLock } from './writer-identity.ts';
import { serializeError, type SerializedError } from './worker-errors.ts';
import type { FromWorker, ToWorker, WorkerConfig } from './writer-protocol.ts';

if (!parentPort) throw new Error('writer-worker.ts must run in a worker thread');
const port: MessagePort = parentPort;
const config = (workerData as { config: WorkerConfig }).config;

const send = (msg: FromWorker): void => port.postMessage(msg);

type Batch = Extract<ToWorker, { type: 'batch' }>;


function start(): void {
  if (config.nice > 0 && process.platform === 'linux') {
    // on Linux this sets the calling thread's nice value only (elsewhere it would be the whole process)
    try {
      setPriority(config.nice);
    } catch {
      // not permitted: run at normal priority
    }
  }
  let db: Database.Database;
  let lock: WriterLock;
  let recovered: string[] = [];
  try {
    db = openDatabase(config.path, { synchronous: config.synchronous, onRecovered: (ids) => (recovered = ids) });
  } catch (err) {
    send({ type: 'open-failed', error: serializeError(err) });
    port.close();
    return;
  }
  try {
    db.pragma('wal_autocheckpoint = 0');
    // held while this writer lives, so other processes see its sessions as live (writer-identity.ts)
    lock = holdWriterLock(config.path, currentWriter().token as string);
  } catch (err) {
    db.close();
    const e = new StoreError(config.path, 'io', `cannot take the writer lock next to the database (${(err as Error).message})`, { cause: err });
    send({ type: 'open-failed', error: serializeError(e) });
    port.close();
    return;
  }
  const ingest: Ingestor = createIngestor(db, { readings: config.readings, positions: config.positions });
  const queue: Batch[] = [];
  let scheduled = false;
  let sinceCheckpoint = 0;
  let commitsSinceCheckpoint = 0;

  /** point sweeps whose samples came through the ring at views of it (valid until this batch is acknowledged) */
  const attachRingSamples = (b: Batch): void => {
    const ring = config.ring;
    if (!ring) return;
    for (const [index, field, offset, length] of b.refs) {
      const e = b.events[index];
      if (e.type !== 'sweep') continue;
      const view = new Float32Array(ring, offset, length);
      if (field === 0) e.sweep.response = view;
      else if (e.sweep.stimulus) e.sweep.stimulus.samples = view;
    }
  };

  const checkpoint = (mode: 'PASSIVE' | 'TRUNCATE'): void => {
    db.pragma(`wal_checkpoint(${mode})`);
    sinceCheckpoint = 0;
    commitsSinceCheckpoint = 0;
  };

  /** commit what is queued, in transactions of at most maxTransactionBytes */
  const drain = (): void => {
    while (queue.length > 0) {
      const events: RigEvent[] = [];
      const counters: BatchCounters = { marks: [], queuePeakBytes: 0, queuePeakEvents: 0 };
      let bytes = 0;
      let batches = 0;
      while (queue.length > 0 && (events.length === 0 || bytes < config.maxTransactionBytes)) {
        const b = queue.shift() as Batch;
        batches++;
        attachRingSamples(b);
        // positions of shed counts are per batch: shift them to this transaction's event list
        for (const m of b.counters.marks) counters.marks.push({ ...m, at: events.length + m.at });
        for (const e of b.events) events.push(e);
        bytes += b.bytes;
        counters.queuePeakBytes = Math.max(counters.queuePeakBytes, b.counters.queuePeakBytes);
        counters.queuePeakEvents = Math.max(counters.queuePeakEvents, b.counters.queuePeakEvents);
      }
      try {
        const result = ingest.applyBatch(events, counters);
        sinceCheckpoint += result.sampleBytes + 256 * events.length;
        commitsSinceCheckpoint++;
        let checkpointed = false;
        if (sinceCheckpoint >= config.checkpointBytes || commitsSinceCheckpoint >= config.checkpointCommits) {
          checkpoint('PASSIVE');
          checkpointed = true;
        }
        send({ type: 'committed', batches, events: events.length, bytes, rejected: result.rejected, checkpointed });
      } catch (err) {
        send({ type: 'failed', batches, events: events.length, bytes, error: serializeError(err) });
      }
    }
  };

  const scheduleDrain = (): void => {
    if (scheduled) return;
    scheduled = true;
    setImmediate(() => {
      scheduled = false;
      drain();
    });
  };

  port.on('message', (msg: ToWorker) => {
    switch (msg.type) {
      case 'batch':
        queue.push(msg);
        scheduleDrain();
        break;
      case 'flush':
        drain();
        try {
          ingest.storeHeldReadings(); // "flushed" means every reading written so far is stored, not held
        } catch (err) {
          send({ type: 'failed', batches: 0, events: 0, bytes: 0, error: serializeError(err) });
        }
        send({ type: 'flushed', id: msg.id });
        break;
      case 'close': {
        drain();
        let interrupted: string[] = [];
        let error: SerializedError | undefined;
        try {
          interrupted = ingest.interruptOpenSessions(msg.interruptDetail);
          checkpoint('TRUNCATE');
          db.close();
        } catch (err) {
          error = serializeError(err);
        }
        try {
          lock.release();
        } catch {
          // the kernel drops it when this thread's connections close; a later open deletes the file
        }
        send({ type: 'closed', id: msg.id, interrupted, ...(error ? { error } : {}) });
        port.close();
        break;
      }
    }
  });
  send({ type: 'ready', recovered });
}

start();
