/** Messages between the store writer (caller thread) and its worker thread. */
import type { RigEvent } from '../control/events.ts';
import type { PositionDecimation, ReadingDecimation } from './decimation.ts';
import type { BatchCounters } from './ingest.ts';
import type { SerializedError } from './worker-errors.ts';

export interface WorkerConfig {
  path: string;
  synchronous: 'NORMAL' | 'FULL';
  /** run a PASSIVE checkpoint once this many bytes were committed since the last one */
  checkpointBytes: number;
  /**
   * …or once this many transactions were committed: small commits write whole
   * pages each (indexes, counters), so the WAL grows far faster than the bytes
   * of events suggest, and would grow without bound in a slow session.
   */
  checkpointCommits: number;
  /** largest transaction, in bytes of events, before the worker commits and goes on */
  maxTransactionBytes: number;
  readings: ReadingDecimation;
  positions: PositionDecimation;
  /** Linux: nice value of the worker thread (storage yields the CPU to the control loop); 0 = unchanged */
  nice: number;
  /** shared memory sample arrays arrive in (sample-ring.ts); null = arrays travel in the message */
  ring: SharedArrayBuffer | null;
}

/**
 * Where a sweep's samples are in the ring: [event index in the batch, which
 * array (0 = response, 1 = stimulus), byte offset, length in samples].
 */
export type RingRef = [index: number, field: 0 | 1, offset: number, length: number];


export type ToWorker =
  | { type: 'batch'; events: RigEvent[]; refs: RingRef[]; bytes: number; counters: BatchCounters }
  | { type: 'flush'; id: number }
  | { type: 'close'; id: number; interruptDetail: string };

export type FromWorker =
  | { type: 'ready'; recovered: string[] }
  | { type: 'open-failed'; error: SerializedError }
  | {
      type: 'committed';
      /** whole batches covered (their ring regions may be reused) */
      batches: number;
      events: number;
      bytes: number;
      rejected: Array<{ type: string; error: string }>;
      checkpointed: boolean;
    }
  /** a transaction failed as a whole (disk full, I/O error): these events are lost */
  | { type: 'failed'; batches: number; events: number; bytes: number; error: SerializedError }
  | { type: 'flushed'; id: number }
  | { type: 'closed'; id: number; interrupted: string[]; error?: SerializedError };
