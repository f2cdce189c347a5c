/**
 * The archive's worker thread: its own read-only connection answers the
 * dashboard's archive questions (reports, timelines, sweeps), so none of that
 * SQLite work (or the report arithmetic) runs on the control loop's thread.
 * One request at a time, in arrival order; sample arrays are transferred.
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { createArchiveReader, type ArchiveReader } from './archive.ts';
import { openDatabase } from './migrations.ts';
import { serializeError } from './worker-errors.ts';
import type { ArchiveRequest, ArchiveResponse } from './archive-protocol.ts';

if (!parentPort) throw new Error('archive-worker.ts must run in a worker thread');
const port: MessagePort = parentPort;
const { path } = (workerData as { config: { path: string } }).config;

function transferables(result: unknown): ArrayBuffer[] {
  if (result === null || typeof result !== 'object' || !('response' in result)) return [];
  const { response, stimulus } = result as { response: Float32Array; stimulus: Float32Array | null };
  return [response.buffer as ArrayBuffer, ...(stimulus ? [stimulus.buffer as ArrayBuffer] : [])];
}

let reader: ArchiveReader | null = null;
try {
  reader = createArchiveReader(openDatabase(path, { readonly: true }));
  port.postMessage({ type: 'ready' } satisfies ArchiveResponse);
} catch (err) {
  port.postMessage({ type: 'open-failed', error: serializeError(err) } satisfies ArchiveResponse);
  port.close();
}

port.on('message', (msg: ArchiveRequest) => {
  try {
    if (reader === null) throw new Error('the archive is not open');
    const result: unknown = (reader[msg.method] as (...a: unknown[]) => unknown)(...msg.args);
    port.postMessage({ type: 'result', id: msg.id, result } satisfies ArchiveResponse, transferables(result));
  } catch (err) {
    port.postMessage({ type: 'error', id: msg.id, error: serializeError(err) } satisfies ArchiveResponse);
  }
});
