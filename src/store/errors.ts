/**
 * The one error type the store throws for problems with a database file, so
 * callers (CLI, server, supervisor) can tell "this file is unusable" from bugs.
 */
export type StoreProblem =
  | 'not-sqlite' // the file exists but is not an SQLite database
  | 'corrupt' // SQLite reports the file as malformed
  | 'newer-version' // written by a newer autopatch: we must not touch it
  | 'older-version' // an older schema, opened read-only: `autopatch db migrate` first
  | 'foreign-database' // an SQLite database that autopatch did not create
  | 'migration-failed' // a migration step threw; the file was rolled back
  | 'io'; // cannot read or create the file

export class StoreError extends Error {
  readonly file: string;
  readonly problem: StoreProblem;
  constructor(file: string, problem: StoreProblem, detail: string, options?: { cause?: unknown }) {
    super(`${file}: ${detail}`, options);
    this.name = 'StoreError';
    this.file = file;
    this.problem = problem;
  }
}
