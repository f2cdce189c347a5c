/**
 * The store writer: persists the RigEvent stream without ever running SQLite
 * on the caller's (control loop's) thread.
 *
 * `write(event)` only classifies and enqueues: sample arrays are copied once
 * into a ring of shared memory (sample-ring.ts: no allocation, so no garbage
 * collection pressure on the caller), or, when the ring is full, into buffers
 * of their own that are transferred rather than cloned. Events of one
 * synchronous turn are posted to the worker together, a microtask later. The
 * worker batches them into transactions and checkpoints the WAL itself
 * (writer-worker.ts).
 *
 * Back-pressure policy (never silent loss):
 *   - The queue is bounded by `highWaterBytes` / `highWaterEvents` of events
 *     written but not yet committed. Above either, the writer *sheds*: it keeps
 *     only one in `shedKeepEvery` sheddable events per pipette and kind
 *     (test-pulse sweeps, test-pulse readings, positions; see classify.ts).
 *     Shedding stops once the backlog is below half of both bounds.
 *   - Critical events (session, attempt, state, fault, log, estop, pressure,
 *     holding, stimulus sweeps) are never dropped. If the backlog passes
 *     `hardLimitBytes` anyway, the writer keeps them and says so
 *     ('critical-backlog'): memory grows rather than the record losing data.
 *   - Every shed event is counted (stats().dropped, and per session in the
 *     session_stats table), and each episode is reported through
 *     `onBackpressure` when it starts and when it ends, with its counts.
 *     `backpressureToLog` turns those reports into `log` warn events for the
 *     rig's event sink (run.ts), so they reach the store and the dashboard.
 *     Callbacks run on a microtask, never inside write().
 *   - If the worker fails (disk full, crash), the events it could not commit
 *     are counted in stats().lost and reported through `onError`.
 */
import { Worker } from 'node:worker_threads';
import type { RigEvent } from '../control/events.ts';
import { classifyEvent, detachForTransfer, eventBytes, sheddableKind, type SheddableKind } from './classify.ts';
import {
  DEFAULT_POSITION_DECIMATION,
  DEFAULT_READING_DECIMATION,
  type PositionDecimation,
  type ReadingDecimation,
} from './decimation.ts';
import { createSampleRing, type SampleRing } from './sample-ring.ts';
import type { CounterMark, ShedCounts } from './ingest.ts';
import { defaultDbPath } from './paths.ts';
import { reviveError } from './worker-errors.ts';
import type { FromWorker, RingRef, ToWorker, WorkerConfig } from './writer-protocol.ts';

export interface StoreWriterOptions {
  /** database file (default: `AUTOPATCH_DB` or data/autopatch.sqlite in the repo) */
  path?: string;
  /** backlog (written, not committed) above which sheddable events are decimated */
  highWaterBytes?: number;
  highWaterEvents?: number;
  /** backlog above which a 'critical-backlog' warning is raised (default 4 × highWaterBytes) */
  hardLimitBytes?: number;
  /** while shedding, keep one in this many sheddable events per pipette and kind */
  shedKeepEvery?: number;
  /** Linux: nice value for the worker thread, so storage yields the CPU to the control loop (default 10; 0 = off) */
  workerNice?: number;
  /** shared memory for sample arrays on their way to the worker (default 32 MiB; 0 = copy each array) */
  ringBytes?: number;
  /** post to the worker early once this many bytes are queued in one turn */
  postBytes?: number;
  synchronous?: 'NORMAL' | 'FULL';
  checkpointBytes?: number;
  /** checkpoint after this many transactions at the latest (default 32) */
  checkpointCommits?: number;
  maxTransactionBytes?: number;
  readings?: ReadingDecimation;
  positions?: PositionDecimation;
  onBackpressure?: (event: BackpressureEvent) => void;
  onError?: (error: Error) => void;
}

export type DropCounts = Record<SheddableKind, number>;

export type BackpressureEvent =
  | { kind: 'shedding-started'; t: number; pendingBytes: number; pendingEvents: number }
  | { kind: 'shedding-stopped'; t: number; pendingBytes: number; pendingEvents: number; dropped: DropCounts }
  | { kind: 'critical-backlog'; t: number; pendingBytes: number; pendingEvents: number };

/** The `log` event an episode report becomes (without the sink's time stamps). */
export interface BackpressureLog {
  type: 'log';
  level: 'warn';
  pipetteId: null;
  message: string;
}

const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`;

export function describeBackpressure(e: BackpressureEvent): string {
  switch (e.kind) {
    case 'shedding-started':
      return `store: back-pressure: ${e.pendingEvents} events (${mb(e.pendingBytes)}) written but not yet on disk; thinning test-pulse sweeps, readings and positions until it clears`;
    case 'shedding-stopped':
      return (
        `store: back-pressure cleared; shed ${e.dropped.testpulseSweeps} test-pulse sweeps, ${e.dropped.testpulseReadings} readings ` +
        `and ${e.dropped.positions} positions (counted in the session's stats)`
      );
    case 'critical-backlog':
      return `store: ${mb(e.pendingBytes)} of events waiting for the disk, past the hard limit; critical events are still all kept (memory grows)`;
  }
}

/** An onBackpressure that reports every episode start and end as a `log` warn event through `emit`. */
export function backpressureToLog(emit: (event: BackpressureLog) => void): (e: BackpressureEvent) => void {
  return (e) => emit({ type: 'log', level: 'warn', pipetteId: null, message: describeBackpressure(e) });
}

export interface StoreWriterStats {
  /** write() calls */
  received: number;
  /** events committed by the worker */
  committed: number;
  /** written, not yet committed */
  pendingEvents: number;
  pendingBytes: number;
  peakPendingEvents: number;
  peakPendingBytes: number;
  shedding: boolean;
  /** shed under back-pressure, by kind */
  dropped: DropCounts;
  backpressureEpisodes: number;
  /** events the worker refused one by one (logged in the database) */
  rejected: number;
  /** events that could not be stored at all (worker failed, or written after close) */
  lost: number;
  commits: number;
  checkpoints: number;
  /** sweeps whose samples were copied outside the ring because it was full */
  ringFallbacks: number;
  /** sessions the open marked interrupted (their writer had died) */
  recovered: string[];
  error: string | null;
}

export interface StoreWriter {
  /**
   * Enqueue only; never blocks on the database. Sample arrays are copied at
   * once (the caller may reuse them); the rest of the event is read when the
   * turn's batch is posted, a microtask later, so do not mutate it after writing.
   */
  write(event: RigEvent): void;
  /** resolves once every event written before the call is committed */
  flush(): Promise<void>;
  /** flush, mark a session left running as interrupted, checkpoint, close the file and end the worker */
  close(): Promise<void>;
  stats(): StoreWriterStats;
  /** resolves when the database is open and migrated; rejects with its StoreError */
  readonly ready: Promise<void>;
}

const WORKER_URL = new URL('./worker-boot.mjs', import.meta.url);
/** stands in for arrays that travel through the ring (or are empty) */
const EMPTY = new Float32Array(0);

interface Waiter {
  resolve: () => void;
  reject: (err: Error) => void;
}

export function createStoreWriter(options: StoreWriterOptions = {}): StoreWriter {
  const highWaterBytes = options.highWaterBytes ?? 64 * 1024 * 1024;
  const highWaterEvents = options.highWaterEvents ?? 50_000;
  const hardLimitBytes = options.hardLimitBytes ?? 4 * highWaterBytes;
  const keepEvery = Math.max(1, Math.floor(options.shedKeepEvery ?? 10));
  const postBytes = options.postBytes ?? 4 * 1024 * 1024;
  const ringBytes = options.ringBytes ?? 32 * 1024 * 1024;
  const ring: SampleRing | null = ringBytes > 0 ? createSampleRing(ringBytes) : null;
  const config: WorkerConfig = {
    path: options.path ?? defaultDbPath(),
    synchronous: options.synchronous ?? 'NORMAL',
    checkpointBytes: options.checkpointBytes ?? 4 * 1024 * 1024,
    checkpointCommits: options.checkpointCommits ?? 32,
    maxTransactionBytes: options.maxTransactionBytes ?? 16 * 1024 * 1024,
    readings: options.readings ?? DEFAULT_READING_DECIMATION,
    positions: options.positions ?? DEFAULT_POSITION_DECIMATION,
    ring: ring?.buffer ?? null,
    nice: options.workerNice ?? 10,
  };

  const stats: StoreWriterStats = {
    received: 0,
    committed: 0,
    pendingEvents: 0,
    pendingBytes: 0,
    peakPendingEvents: 0,
    peakPendingBytes: 0,
    shedding: false,
    dropped: { testpulseSweeps: 0, testpulseReadings: 0, positions: 0 },
    backpressureEpisodes: 0,
    rejected: 0,
    lost: 0,
    commits: 0,
    checkpoints: 0,
    ringFallbacks: 0,
    recovered: [],
    error: null,
  };

  let phase: 'starting' | 'ready' | 'failed' | 'closing' | 'closed' = 'starting';
  let failure: Error | null = null;
  let queue: RigEvent[] = [];
  let refs: RingRef[] = [];
  let regionsInBatch = 0;
  /** ring regions of each posted batch, oldest first, released as the worker commits them */
  const postedRegions: number[] = [];
  let transfer: ArrayBuffer[] = [];
  let queueBytes = 0;
  let postScheduled = false;
  let nextId = 1;
  let lastT = 0;
  let episode: DropCounts = { testpulseSweeps: 0, testpulseReadings: 0, positions: 0 };
  let criticalWarned = false;
  const noShed = (): ShedCounts => ({ droppedTestpulseSweeps: 0, droppedReadings: 0, droppedPositions: 0, backpressureEpisodes: 0 });
  /** shed since the last event queued; becomes a mark at the queue position where it happened */
  let shed = noShed();
  let marks: CounterMark[] = [];
  const markShed = (): void => {
    if (shed.droppedTestpulseSweeps + shed.droppedReadings + shed.droppedPositions + shed.backpressureEpisodes === 0) return;
    marks.push({ at: queue.length, ...shed });
    shed = noShed();
  };
  const shedCount = new Map<string, number>();
  const flushWaiters = new Map<number, Waiter>();
  let closeWaiter: (Waiter & { id: number }) | null = null;

  const notify = (fn: () => void): void => queueMicrotask(fn);
  const reportError = (err: Error): void => {
    const cb = options.onError;
    if (cb) notify(() => cb(err));
  };
  const backpressure = (e: BackpressureEvent): void => {
    const cb = options.onBackpressure;
    if (cb) notify(() => cb(e));
  };

  const worker = new Worker(WORKER_URL, { workerData: { entry: './writer-worker.ts', config } });
  let refd = true;
  const setRef = (want: boolean): void => {
    // keep the process alive only while something is on its way to disk
    if (want === refd) return;
    refd = want;
    if (want) worker.ref();
    else worker.unref();
  };
  const idle = (): boolean =>
    stats.pendingEvents === 0 && flushWaiters.size === 0 && closeWaiter === null && phase !== 'starting';

  let resolveReady!: () => void;
  let rejectReady!: (err: Error) => void;
  const ready = new Promise<void>((res, rej) => {
    resolveReady = res;
    rejectReady = rej;
  });
  ready.catch(() => {}); // reported through onError, flush() and close() as well

  const fail = (err: Error): void => {
    if (phase === 'failed' || phase === 'closed') return;
    phase = 'failed';
    failure = err;
    stats.error = err.message;
    stats.lost += stats.pendingEvents;
    stats.pendingEvents = 0;
    stats.pendingBytes = 0;
    queue = [];
    refs = [];
    transfer = [];
    queueBytes = 0;
    rejectReady(err);
    for (const w of flushWaiters.values()) w.reject(err);
    flushWaiters.clear();
    if (closeWaiter) {
      closeWaiter.reject(err);
      closeWaiter = null;
    }
    reportError(err);
    setRef(false);
  };

  const updateShedding = (): void => {
    if (!stats.shedding && (stats.pendingBytes > highWaterBytes || stats.pendingEvents > highWaterEvents)) {
      stats.shedding = true;
      stats.backpressureEpisodes++;
      shed.backpressureEpisodes++;
      episode = { testpulseSweeps: 0, testpulseReadings: 0, positions: 0 };
      shedCount.clear();
      backpressure({ kind: 'shedding-started', t: lastT, pendingBytes: stats.pendingBytes, pendingEvents: stats.pendingEvents });
    } else if (stats.shedding && stats.pendingBytes < highWaterBytes / 2 && stats.pendingEvents < highWaterEvents / 2) {
      stats.shedding = false;
      criticalWarned = false;
      backpressure({
        kind: 'shedding-stopped',
        t: lastT,
        pendingBytes: stats.pendingBytes,
        pendingEvents: stats.pendingEvents,
        dropped: { ...episode },
      });
    }
  };

  const post = (): void => {
    postScheduled = false;
    if (phase === 'failed' || phase === 'closed') return;
    markShed();
    // shed counts go even with no event to carry them (a tail of shed events, then flush or close)
    if (queue.length === 0 && marks.length === 0) return;
    const counters = { marks, queuePeakBytes: stats.peakPendingBytes, queuePeakEvents: stats.peakPendingEvents };
    const msg: ToWorker = { type: 'batch', events: queue, refs, bytes: queueBytes, counters };
    const buffers = transfer;
    postedRegions.push(regionsInBatch);
    queue = [];
    refs = [];
    marks = [];
    regionsInBatch = 0;
    transfer = [];
    queueBytes = 0;
    setRef(true);
    worker.postMessage(msg, buffers);
  };

  const dropCounterName: Record<SheddableKind, Exclude<keyof ShedCounts, 'backpressureEpisodes'>> = {
    testpulseSweeps: 'droppedTestpulseSweeps',
    testpulseReadings: 'droppedReadings',
    positions: 'droppedPositions',
  };

  const releaseBatches = (n: number): void => {
    let regions = 0;
    for (const r of postedRegions.splice(0, n)) regions += r;
    ring?.release(regions);
  };

  /** the event as it travels: sample arrays in the ring when they fit, else copied for transfer */
  const toWire = (event: RigEvent): RigEvent => {
    if (event.type !== 'sweep') return event;
    const s = event.sweep;
    const st = s.stimulus;
    if (ring) {
      const r = s.response.length > 0 ? ring.put(s.response) : -2; // -2: nothing to copy
      let so = -2;
      if (r !== -1 && st && st.samples.length > 0) {
        so = ring.put(st.samples);
        if (so === -1 && r >= 0) ring.unput();
      }
      if (r !== -1 && so !== -1) {
        const index = queue.length;
        if (r >= 0) (refs.push([index, 0, r, s.response.length]), regionsInBatch++);
        if (so >= 0 && st) (refs.push([index, 1, so, st.samples.length]), regionsInBatch++);
        const sweep = { ...s, response: EMPTY };
        if (st) sweep.stimulus = { ...st, samples: EMPTY };
        return { ...event, sweep };
      }
      stats.ringFallbacks++;
    }
    return detachForTransfer(event, transfer);
  };

  const shouldShed = (kind: SheddableKind, event: RigEvent): boolean => {
    const pipette = 'pipetteId' in event && event.pipetteId !== null ? event.pipetteId : '';
    const key = `${kind}\0${pipette}`;
    const n = shedCount.get(key) ?? 0;
    shedCount.set(key, n + 1);
    return n % keepEvery !== 0; // keep the first of every keepEvery
  };

  worker.on('message', (msg: FromWorker) => {
    switch (msg.type) {
      case 'ready':
        stats.recovered = msg.recovered;
        if (phase === 'starting') phase = 'ready';
        resolveReady();
        if (idle()) setRef(false);
        break;
      case 'open-failed':
        fail(reviveError(msg.error));
        break;
      case 'committed':
        releaseBatches(msg.batches);
        stats.committed += msg.events - msg.rejected.length;
        stats.rejected += msg.rejected.length;
        stats.pendingEvents -= msg.events;
        stats.pendingBytes -= msg.bytes;
        stats.commits++;
        if (msg.checkpointed) stats.checkpoints++;
        if (msg.rejected.length) {
          reportError(new Error(`store rejected ${msg.rejected.length} event(s): ${msg.rejected[0].type}: ${msg.rejected[0].error}`));
        }
        updateShedding();
        if (idle()) setRef(false);
        break;
      case 'failed':
        releaseBatches(msg.batches);
        stats.lost += msg.events;
        stats.pendingEvents -= msg.events;
        stats.pendingBytes -= msg.bytes;
        stats.error = msg.error.message;
        reportError(reviveError(msg.error));
        updateShedding();
        break;
      case 'flushed': {
        const w = flushWaiters.get(msg.id);
        flushWaiters.delete(msg.id);
        w?.resolve();
        if (idle()) setRef(false);
        break;
      }
      case 'closed': {
        phase = 'closed';
        const w = closeWaiter;
        closeWaiter = null;
        if (msg.error) {
          stats.error = msg.error.message;
          w?.reject(reviveError(msg.error));
        } else {
          w?.resolve();
        }
        break;
      }
    }
  });
  worker.on('error', (err) => fail(err instanceof Error ? err : new Error(String(err))));
  worker.on('exit', (code) => {
    if (phase !== 'closed') fail(new Error(`store writer worker exited unexpectedly (code ${code})`));
  });

  return {
    ready,
    write(event) {
      if (phase === 'failed' || phase === 'closed' || phase === 'closing') {
        stats.lost++;
        if (stats.lost === 1 || phase !== 'failed') {
          reportError(new Error(`store writer is ${phase}: ${event.type} event not stored`));
        }
        return;
      }
      stats.received++;
      lastT = event.t;
      const kind = sheddableKind(event);
      updateShedding();
      if (kind !== null && stats.shedding && shouldShed(kind, event)) {
        stats.dropped[kind]++;
        episode[kind]++;
        shed[dropCounterName[kind]]++;
        if (!postScheduled) {
          postScheduled = true;
          queueMicrotask(post);
        }
        return;
      }
      const bytes = eventBytes(event);
      markShed();
      queue.push(toWire(event));
      queueBytes += bytes;
      stats.pendingEvents++;
      stats.pendingBytes += bytes;
      if (stats.pendingBytes > stats.peakPendingBytes) stats.peakPendingBytes = stats.pendingBytes;
      if (stats.pendingEvents > stats.peakPendingEvents) stats.peakPendingEvents = stats.pendingEvents;
      if (classifyEvent(event) === 'critical' && stats.pendingBytes > hardLimitBytes && !criticalWarned) {
        criticalWarned = true;
        backpressure({ kind: 'critical-backlog', t: event.t, pendingBytes: stats.pendingBytes, pendingEvents: stats.pendingEvents });
      }
      if (queueBytes >= postBytes) post();
      else if (!postScheduled) {
        postScheduled = true;
        queueMicrotask(post);
      }
    },
    flush() {
      if (phase === 'failed') return Promise.reject(failure as Error);
      if (phase === 'closed' || phase === 'closing') return Promise.reject(new Error('store writer is closed'));
      post();
      const id = nextId++;
      setRef(true);
      return new Promise<void>((resolve, reject) => {
        flushWaiters.set(id, { resolve, reject });
        worker.postMessage({ type: 'flush', id } satisfies ToWorker);
      });
    },
    async close() {
      if (phase === 'closed') return;
      if (phase === 'failed') {
        await worker.terminate();
        throw failure as Error;
      }
      if (phase === 'closing') throw new Error('store writer is already closing');
      post();
      phase = 'closing';
      const id = nextId++;
      setRef(true);
      const exited = new Promise<void>((res) => worker.once('exit', () => res()));
      const closed = new Promise<void>((resolve, reject) => {
        closeWaiter = { id, resolve, reject };
        worker.postMessage({
          type: 'close',
          id,
          interruptDetail: 'the store writer was closed before the session ended',
        } satisfies ToWorker);
      });
      try {
        await closed;
      } finally {
        await exited;
      }
    },
    stats: () => ({ ...stats, dropped: { ...stats.dropped }, recovered: [...stats.recovered] }),
  };
}

/** createStoreWriter, resolved once the database is open (rejects with its StoreError). */
export async function openStoreWriter(options: StoreWriterOptions = {}): Promise<StoreWriter> {
  const writer = createStoreWriter(options);
  try {
    await writer.ready;
  } catch (err) {
    await writer.close().catch(() => {});
    throw err;
  }
  return writer;
}
