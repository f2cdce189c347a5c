/**
 * Opening a store: check the file, migrate it forward, recover crashed sessions.
 *
 * A file we cannot use (not SQLite, corrupt, another application's database,
 * or written by a newer autopatch) is refused with a StoreError before any
 * write. The checks run on a connection that can change nothing and creates
 * nothing next to the file (`immutable=1` when no other connection has it
 * open, else read-only), and include an integrity check (see `verify`).
 * Nothing that changes the file (WAL mode, migrations, recovery) happens
 * until they pass. Migrations run in one IMMEDIATE transaction, so a failing
 * step leaves the file as it was.
 */
import './sqlite-uri.ts';
import { closeSync, existsSync, mkdirSync, openSync, readSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import { StoreError } from './errors.ts';
import { APPLICATION_ID, MIGRATIONS, type Migration } from './schema.ts';
import { removeStaleWriterLocks, writerMayBeAlive } from './writer-identity.ts';

export interface OpenOptions {
  /** create the file when it does not exist (default true) */
  create?: boolean;
  /** mark sessions whose writer has died as interrupted (default true) */
  recover?: boolean;
  /** WAL + NORMAL survives a killed process; FULL also survives power loss, at an fsync per commit */
  synchronous?: 'NORMAL' | 'FULL';
  /**
   * page size of a new file (default 16 KiB: sample BLOBs span fewer overflow
   * pages — ~30 % faster ingest than 4 KiB here — while small commits stay small)
   */
  pageSize?: number;
  /** ms to wait for another connection's lock (default 5000) */
  busyTimeoutMs?: number;
  /**
   * integrity check before anything is written (default 'auto'):
   *  - 'full': `PRAGMA quick_check` of the whole file;
   *  - 'bounded': every b-tree page and the freelist, but not the pages that
   *    only hold sweep samples (overflow pages of sweeps.response/stimulus);
   *  - 'auto': 'full' up to `fullCheckMaxBytes`, 'bounded' above.
   * A damaged page makes the open fail with problem 'corrupt', file untouched.
   */
  verify?: 'auto' | 'full' | 'bounded';
  /**
   * largest file (main + WAL) 'auto' checks in full. Default 512 MiB: on the
   * 2-core dev machine quick_check of a 2 GB store took 0.55 s from the page
   * cache and 3.5 s cold (~570 MB/s), so ≤ 0.15 s warm and ≤ 1 s cold here;
   * the bounded check of the same 2 GB file took 60 ms warm, 310 ms cold
   * (`npm run bench -- store` prints the warm figures).
   */
  fullCheckMaxBytes?: number;
  /**
   * open read-only: no file is created, nothing is migrated or recovered. A
   * store with an older schema is refused (problem 'older-version') with how to
   * migrate it (`autopatch db migrate`).
   */
  readonly?: boolean;
  /** replaces the built-in list (tests of the migration machinery) */
  migrations?: readonly Migration[];
  /** called with the ids of sessions marked interrupted by this open */
  onRecovered?: (sessionIds: string[]) => void;
}

const SQLITE_MAGIC = Buffer.from('SQLite format 3\0', 'latin1');

const UNCHANGED = "the file was not changed: restore it from a backup, or copy out what can be read with the sqlite3 tool's .recover";

interface SqliteLikeError {
  code?: string;
  message?: string;
}

function classify(path: string, err: unknown, doing: string): StoreError {
  if (err instanceof StoreError) return err;
  const e = err as SqliteLikeError;
  const code = e?.code ?? '';
  const message = e?.message ?? String(err);
  if (code === 'SQLITE_NOTADB') return new StoreError(path, 'not-sqlite', `not an SQLite database (${message})`, { cause: err });
  if (code.startsWith('SQLITE_CORRUPT')) {
    const advice = doing === 'checking the file' ? `; ${UNCHANGED}` : '';
    return new StoreError(path, 'corrupt', `database is corrupt, found while ${doing} (${message})${advice}`, { cause: err });
  }
  return new StoreError(path, 'io', `cannot use the database while ${doing} (${code || 'error'}: ${message})`, { cause: err });
}

/** Reads the first bytes without SQLite, so a non-database file is refused untouched. */
function checkHeader(path: string): 'missing' | 'empty' | 'sqlite' {
  if (!existsSync(path)) return 'missing';
  let st;
  try {
    st = statSync(path);
  } catch (err) {
    throw new StoreError(path, 'io', `cannot stat the file (${(err as Error).message})`, { cause: err });
  }
  if (!st.isFile()) throw new StoreError(path, 'io', 'not a regular file');
  if (st.size === 0) return 'empty';
  const head = Buffer.alloc(SQLITE_MAGIC.length);
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const n = readSync(fd, head, 0, head.length, 0);
    if (n < head.length || !head.equals(SQLITE_MAGIC)) {
      throw new StoreError(path, 'not-sqlite', 'not an SQLite database (bad header)');
    }
  } catch (err) {
    if (err instanceof StoreError) throw err;
    throw new StoreError(path, 'io', `cannot read the file (${(err as Error).message})`, { cause: err });
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  return 'sqlite';
}

interface FileFacts {
  version: number;
  applicationId: number;
  tables: number;
}

function readFacts(db: Database.Database): FileFacts {
  const version = db.pragma('user_version', { simple: true }) as number;
  const applicationId = db.pragma('application_id', { simple: true }) as number;
  // parsing the schema is what detects most corruption of the first pages
  const tables = (db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE type = 'table'").get() as { n: number }).n;
  return { version, applicationId, tables };
}

function refuseUnusable(path: string, facts: FileFacts, latest: number): void {
  const ours = facts.applicationId === APPLICATION_ID;
  const blank = facts.applicationId === 0 && facts.version === 0 && facts.tables === 0;
  if (!ours && !blank) {
    throw new StoreError(
      path,
      'foreign-database',
      `an SQLite database not created by autopatch (application_id ${facts.applicationId}, user_version ${facts.version}, ${facts.tables} tables)`,
    );
  }
  if (facts.version > latest) {
    throw new StoreError(
      path,
      'newer-version',
      `schema version ${facts.version} is newer than this autopatch supports (${latest}); upgrade autopatch to open it`,
    );
  }
}

/** Bytes a full check would read: the file and its WAL. */
function storeBytes(path: string): number {
  const size = (p: string): number => (existsSync(p) ? statSync(p).size : 0);
  return size(path) + size(`${path}-wal`);
}

/**
 * A connection that can look at the file without changing or creating
 * anything. When neither -wal nor -shm exists no connection has the file open
 * and the main file is the whole database: `immutable=1` reads it without
 * locks and without creating the -shm/-wal a read-only WAL connection would
 * leave behind. Otherwise a read-only connection uses the -shm and -wal that
 * are there (it sees a live writer's commits, and a crashed one's WAL).
 */
function openForCheck(path: string): Database.Database {
  const idle = !existsSync(`${path}-wal`) && !existsSync(`${path}-shm`);
  if (idle) {
    try {
      return new Database(`${pathToFileURL(resolve(path)).href}?immutable=1`, { readonly: true, fileMustExist: true });
    } catch (err) {
      // URI names off in this process (see sqlite-uri.ts): the name was taken literally
      if ((err as SqliteLikeError).code !== 'SQLITE_CANTOPEN') throw err;
    }
  }
  return new Database(path, { readonly: true, fileMustExist: true });
}

type IntegrityRow = { quick_check: string };
/** quick_check's findings, each on one line */
const problemsOf = (rows: IntegrityRow[]): string[] =>
  rows.map((r) => r.quick_check).filter((m) => m !== 'ok').map((m) => m.replace(/\s*\n\s*/g, ' '));

/**
 * Every b-tree page and the freelist, but not the pages that only carry sweep
 * samples: quick_check of sqlite_schema (which also walks the freelist) and of
 * every table but `sweeps`; for `sweeps`, a scan of its rows that reads blob
 * lengths from the row headers (no overflow pages) and a walk of its indexes.
 * These are the pages a write reads or changes.
 */
function boundedCheck(db: Database.Database): string[] {
  const problems = problemsOf(db.pragma('quick_check(sqlite_schema)') as IntegrityRow[]);
  const tables = db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").pluck().all() as string[];
  for (const t of tables) {
    if (t === 'sweeps') continue;
    problems.push(...problemsOf(db.pragma(`quick_check("${t.replaceAll('"', '""')}")`) as IntegrityRow[]));
  }
  if (tables.includes('sweeps')) {
    db.prepare('SELECT count(*), sum(length(response)), sum(length(stimulus)) FROM sweeps NOT INDEXED').get();
    const indexes = db.prepare("SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'sweeps'").pluck().all() as string[];
    for (const ix of indexes) db.prepare('SELECT count(*) FROM dbstat WHERE name = ?').get(ix);
  }
  return problems;
}

/**
 * Look at an existing file before anything could write to it: refuses it if
 * it is not ours, newer, or damaged. Creates and changes nothing.
 */
function precheck(path: string, latest: number, options: OpenOptions): FileFacts {
  let db: Database.Database | undefined;
  try {
    db = openForCheck(path);
    const facts = readFacts(db);
    refuseUnusable(path, facts, latest);
    const bytes = storeBytes(path);
    const mode = options.verify ?? 'auto';
    const full = mode === 'full' || (mode === 'auto' && bytes <= (options.fullCheckMaxBytes ?? 512 * 1024 * 1024));
    const problems = full ? problemsOf(db.pragma('quick_check') as IntegrityRow[]) : boundedCheck(db);
    if (problems.length) {
      const more = problems.length > 3 ? ` (and ${problems.length - 3} more)` : '';
      throw new StoreError(
        path,
        'corrupt',
        `database is corrupt (${full ? 'quick_check' : 'check of every b-tree page'}: ${problems.slice(0, 3).join('; ')}${more}); ${UNCHANGED}`,
      );
    }
    return facts;
  } catch (err) {
    throw classify(path, err, 'checking the file');
  } finally {
    db?.close();
  }
}

function migrate(path: string, db: Database.Database, migrations: readonly Migration[], latest: number): void {
  db.exec('BEGIN IMMEDIATE');
  try {
    // re-read under the lock: another process may have migrated meanwhile
    const facts = readFacts(db);
    refuseUnusable(path, facts, latest);
    for (const m of migrations) {
      if (m.version <= facts.version) continue;
      try {
        m.up(db);
      } catch (err) {
        throw new StoreError(path, 'migration-failed', `migration ${m.version} (${m.description}) failed: ${(err as Error).message}`, { cause: err });
      }
      db.pragma(`user_version = ${m.version}`);
    }
    if (facts.applicationId !== APPLICATION_ID) db.pragma(`application_id = ${APPLICATION_ID}`);
    db.exec('COMMIT');
  } catch (err) {
    if (db.inTransaction) db.exec('ROLLBACK');
    throw classify(path, err, 'migrating');
  }
}

interface RunningSession {
  id: string;
  writer_host: string | null;
  writer_boot: string | null;
  writer_pid: number | null;
  /** absent before schema 2 */
  writer_token?: string | null;
}

function deadWriterSessions(db: Database.Database, dbPath: string): RunningSession[] {
  // SELECT *: the migration machinery's tests recover stores of other schemas
  const running = db.prepare("SELECT * FROM sessions WHERE status = 'running'").all() as RunningSession[];
  return running.filter(
    (s) => !writerMayBeAlive({ host: s.writer_host, boot: s.writer_boot, pid: s.writer_pid, token: s.writer_token ?? null }, dbPath),
  );
}

/** Sessions still marked `running` whose writer is gone (read-only: changes nothing). */
export function sessionsWithDeadWriters(db: Database.Database, dbPath: string): string[] {
  return deadWriterSessions(db, dbPath).map((s) => s.id);
}

/**
 * Sessions still `running` whose writer is gone were cut short (crash, kill,
 * power loss): mark them interrupted, ending at their last committed row, and
 * delete the lock files dead writers left.
 */
export function recoverInterruptedSessions(db: Database.Database, dbPath: string): string[] {
  const dead = deadWriterSessions(db, dbPath);
  removeStaleWriterLocks(dbPath);
  if (dead.length === 0) return [];
  const mark = db.prepare(
    `UPDATE sessions SET status = 'interrupted', end_t = last_t, end_epoch = last_epoch,
       end_reason = 'interrupted', end_detail = ?
     WHERE id = ? AND status = 'running'`,
  );
  db.transaction(() => {
    for (const s of dead) {
      mark.run(
        `writer pid ${s.writer_pid ?? '?'} on ${s.writer_host ?? '?'} stopped without ending the session; end = last committed row`,
        s.id,
      );
    }
  })();
  return dead.map((s) => s.id);
}

/**
 * The schema version of an existing store and the one this build writes,
 * after the same checks (integrity included) an open runs. Changes nothing.
 */
export function inspectStore(path: string, options: Pick<OpenOptions, 'verify' | 'fullCheckMaxBytes' | 'migrations'> = {}): { version: number; latest: number } {
  const migrations = options.migrations ?? MIGRATIONS;
  const latest = migrations.length ? migrations[migrations.length - 1].version : 0;
  const state = checkHeader(path);
  if (state !== 'sqlite') throw new StoreError(path, 'io', state === 'missing' ? 'no such database file' : 'the file is empty: no store yet');
  return { version: precheck(path, latest, options).version, latest };
}

/**
 * Opens (creating if needed) an autopatch store at `path`, migrated to the
 * current schema, WAL mode, foreign keys on. Throws StoreError for unusable files.
 * With `readonly`, opens an existing, current store for reading only.
 */
export function openDatabase(path: string, options: OpenOptions = {}): Database.Database {
  const migrations = options.migrations ?? MIGRATIONS;
  const latest = migrations.length ? migrations[migrations.length - 1].version : 0;
  const state = checkHeader(path);
  let facts: FileFacts | null = null;
  if (options.readonly) {
    if (state !== 'sqlite') throw new StoreError(path, 'io', state === 'missing' ? 'no such database file' : 'the file is empty: no store yet');
    facts = precheck(path, latest, options);
    if (facts.version < latest) {
      throw new StoreError(
        path,
        'older-version',
        `schema version ${facts.version} is older than this autopatch's (${latest}); it is read only after migrating: ` +
          `autopatch db migrate --db ${path}  (a backup copy is made first)`,
      );
    }
    try {
      return new Database(path, { readonly: true, fileMustExist: true, timeout: options.busyTimeoutMs ?? 5000 });
    } catch (err) {
      throw classify(path, err, 'opening');
    }
  }
  if (state === 'missing') {
    if (options.create === false) throw new StoreError(path, 'io', 'no such database file');
    try {
      mkdirSync(dirname(path), { recursive: true });
    } catch (err) {
      throw new StoreError(path, 'io', `cannot create its folder (${(err as Error).message})`, { cause: err });
    }
  } else if (state === 'sqlite') {
    facts = precheck(path, latest, options);
  }

  let db: Database.Database;
  try {
    db = new Database(path, { timeout: options.busyTimeoutMs ?? 5000 });
  } catch (err) {
    throw classify(path, err, 'opening');
  }
  try {
    if (state !== 'sqlite') db.pragma(`page_size = ${options.pageSize ?? 16384}`); // only takes effect on a new file
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${options.synchronous ?? 'NORMAL'}`);
    db.pragma('foreign_keys = ON');
    // an up-to-date store is not locked for writing at all (a live writer may be busy with it)
    const current = facts !== null && facts.version === latest && facts.applicationId === APPLICATION_ID;
    if (!current) migrate(path, db, migrations, latest);
    if (options.recover !== false) {
      const recovered = recoverInterruptedSessions(db, path);
      if (recovered.length) options.onRecovered?.(recovered);
    }
  } catch (err) {
    db.close();
    throw classify(path, err, 'opening');
  }
  return db;
}

/** `PRAGMA integrity_check` problems; empty when the file is sound. */
export function integrityProblems(db: Database.Database): string[] {
  const rows = db.pragma('integrity_check') as Array<{ integrity_check: string }>;
  return rows.map((r) => r.integrity_check).filter((m) => m !== 'ok');
}
