/**
 * `openArchiveWorker(path)`: the dashboard's SessionArchive, answered by a
 * worker thread with its own read-only connection (archive-worker.ts). The
 * caller's thread (the control loop's, in `autopatch run`) only posts the
 * question and receives the answer; sample arrays arrive transferred, not
 * copied. The thread keeps the process alive only while answers are due.
 */
import { Worker } from 'node:worker_threads';
import type { SessionArchive } from '../server/archive-types.ts';
import type { ArchiveMethod, ArchiveRequest, ArchiveResponse } from './archive-protocol.ts';
import { reviveError } from './worker-errors.ts';

export interface ArchiveWorker extends SessionArchive {
  /** ends the thread; questions still waiting are refused */
  close(): Promise<void>;
}

const WORKER_URL = new URL('./worker-boot.mjs', import.meta.url);

/** Resolves once the store is open for reading (rejects with its StoreError, e.g. an older schema). */
export function openArchiveWorker(path: string): Promise<ArchiveWorker> {
  const worker = new Worker(WORKER_URL, { workerData: { entry: './archive-worker.ts', config: { path } } });
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  let stopped: Error | null = null;

  const stop = (err: Error): void => {
    if (stopped) return;
    stopped = err;
    for (const p of pending.values()) p.reject(err);
    pending.clear();
  };

  const ask = <T>(method: ArchiveMethod, args: unknown[]): Promise<T> => {
    if (stopped) return Promise.reject(stopped);
    const id = nextId++;
    if (pending.size === 0) worker.ref();
    worker.postMessage({ id, method, args } satisfies ArchiveRequest);
    return new Promise<T>((resolve, reject) => pending.set(id, { resolve: resolve as (v: unknown) => void, reject }));
  };

  const archive: ArchiveWorker = {
    listSessions: (options) => ask('listSessions', [options]),
    sessionReport: (sessionId) => ask('sessionReport', [sessionId]),
    attempts: (sessionId) => ask('attempts', [sessionId]),
    sweepsOfAttempt: (attemptId) => ask('sweepsOfAttempt', [attemptId]),
    sweep: (sweepId) => ask('sweep', [sweepId]),
    async close() {
      stop(new Error('the archive reader is closed'));
      await worker.terminate();
    },
  };

  return new Promise<ArchiveWorker>((resolveOpen, rejectOpen) => {
    worker.on('message', (msg: ArchiveResponse) => {
      switch (msg.type) {
        case 'ready':
          worker.unref();
          resolveOpen(archive);
          break;
        case 'open-failed': {
          const err = reviveError(msg.error);
          stop(err);
          void worker.terminate();
          rejectOpen(err);
          break;
        }
        case 'result':
        case 'error': {
          const p = pending.get(msg.id);
          pending.delete(msg.id);
          if (pending.size === 0) worker.unref();
          if (msg.type === 'result') p?.resolve(msg.result);
          else p?.reject(reviveError(msg.error));
          break;
        }
      }
    });
    worker.on('error', (err) => {
      stop(err);
      rejectOpen(err);
    });
    worker.on('exit', (code) => {
      const err = new Error(`the archive reader thread ended (code ${code})`);
      stop(err);
      rejectOpen(err);
    });
  });
}
