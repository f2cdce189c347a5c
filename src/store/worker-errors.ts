/** Errors across the store's worker threads: a StoreError keeps its file and problem. */
import { StoreError, type StoreProblem } from './errors.ts';

export interface SerializedError {
  name: string;
  message: string;
  problem?: StoreProblem;
  file?: string;
}

export function serializeError(err: unknown): SerializedError {
  if (err instanceof StoreError) return { name: err.name, message: err.message, problem: err.problem, file: err.file };
  const e = err as Error;
  return { name: e?.name ?? 'Error', message: e?.message ?? String(err) };
}

export function reviveError(e: SerializedError): Error {
  if (e.problem && e.file !== undefined) {
    const prefix = `${e.file}: `;
    return new StoreError(e.file, e.problem, e.message.startsWith(prefix) ? e.message.slice(prefix.length) : e.message);
  }
  const err = new Error(e.message);
  err.name = e.name;
  return err;
}
