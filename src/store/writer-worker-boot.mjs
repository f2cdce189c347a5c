// Worker entry in plain JS: Node 20 cannot load TypeScript by itself, and a
// worker does not reliably inherit the parent's tsx loader (`--import tsx` in
// a worker's execArgv is ignored on Node 20), so register tsx here, in the
// worker, then load the real worker module. Works the same under vitest,
// under `tsx`, and under `node --import tsx`.
import { register } from 'tsx/esm/api';

register();
await import('./writer-worker.ts');
