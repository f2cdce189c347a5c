/**
 * `autopatch db migrate`: bring an older store to the current schema, after a
 * backup copy. Reading commands (`report`, `export`, the dashboard) open a
 * store read-only and refuse an older schema, so nothing migrates a file as a
 * side effect of looking at it.
 */
import { existsSync } from 'node:fs';
import Database from 'better-sqlite3';
import { StoreError } from './errors.ts';
import { inspectStore, openDatabase, type OpenOptions } from './migrations.ts';

export interface MigrationResult {
  from: number;
  to: number;
  /** the copy made before migrating; null when the store was already current */
  backup: string | null;
  /** sessions whose writer had died, marked interrupted */
  recovered: string[];
}

/** `<db>.v<from>-backup-<UTC stamp>`, e.g. autopatch.sqlite.v1-backup-20261202T161724Z */
export function backupPath(path: string, version: number, epochMs: number): string {
  const stamp = new Date(epochMs).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `${path}.v${version}-backup-${stamp}`;
}

/**
 * Checks the store (as an open does), copies it with SQLite's online backup
 * (a consistent snapshot, WAL included), checks the copy, then migrates the
 * store and marks sessions of dead writers interrupted. A current store is
 * left alone.
 */
export async function migrateWithBackup(
  path: string,
  epochMs: number,
  options: Pick<OpenOptions, 'migrations'> = {},
): Promise<MigrationResult> {
  const { version, latest } = inspectStore(path, options);
  if (version === latest) return { from: version, to: latest, backup: null, recovered: [] };
  const backup = backupPath(path, version, epochMs);
  if (existsSync(backup)) throw new StoreError(backup, 'io', 'a backup of that name exists already; try again in a second');
  const source = new Database(path, { readonly: true, fileMustExist: true });
  try {
    await source.backup(backup);
    // a copy to keep is one self-contained file: out of WAL mode, it never grows a -wal or -shm when read
    const copy = new Database(backup, { fileMustExist: true });
    copy.pragma('journal_mode = DELETE');
    copy.close();
  } catch (err) {
    throw new StoreError(path, 'io', `cannot write the backup copy ${backup} (${(err as Error).message}); nothing was migrated`, { cause: err });
  } finally {
    source.close();
  }
  const copied = inspectStore(backup, { ...options, verify: 'full' });
  if (copied.version !== version) throw new StoreError(backup, 'io', `the backup copy has schema ${copied.version}, not ${version}; nothing was migrated`);
  let recovered: string[] = [];
  openDatabase(path, { ...options, onRecovered: (ids) => (recovered = ids) }).close();
  return { from: version, to: latest, backup, recovered };
}
