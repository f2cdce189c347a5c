/** Messages between `openArchiveWorker` (caller thread) and archive-worker.ts. */
import type { ArchiveReader } from './archive.ts';
import type { SerializedError } from './worker-errors.ts';

export type ArchiveMethod = keyof ArchiveReader;

export interface ArchiveRequest {
  id: number;
  method: ArchiveMethod;
  args: unknown[];
}

export type ArchiveResponse =
  | { type: 'ready' }
  | { type: 'open-failed'; error: SerializedError }
  | { type: 'result'; id: number; result: unknown }
  | { type: 'error'; id: number; error: SerializedError };
