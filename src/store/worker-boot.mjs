// Entry of the store's worker threads, in plain JS: Node 20 cannot load
// TypeScript by itself, and a worker does not reliably inherit the parent's
// tsx loader (`--import tsx` in a worker's execArgv is ignored on Node 20), so
// register tsx here, in the worker, then load the real worker module, which
// `workerData.entry` names relative to this folder (writer-worker.ts,
// archive-worker.ts). Works the same under vitest, under `tsx`, and under
// `node --import tsx`.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(new URL(workerData.entry, import.meta.url).href);
