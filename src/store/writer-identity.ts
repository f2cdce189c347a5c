/**
 * Who is writing a session, so that opening the database can tell a session
 * whose writer crashed (mark it interrupted) from one still being written by
 * a live process (leave it alone).
 *
 * A pid is not enough: a restarted container runs node as PID 1 again, so a
 * crashed session's pid can be the opener's own, and a process in another
 * PID namespace sharing the file cannot see the writer's pid at all. So each
 * writer has a random token, recorded with its sessions, and holds a lock
 * named by it for as long as it runs: `<db>-writer-<token>`, an empty SQLite
 * file on which it keeps an EXCLUSIVE lock. The kernel drops that lock when
 * the process dies, however it dies (kill -9 included), and the lock is seen
 * from every process and namespace that shares the file system, the same
 * locks SQLite's WAL mode itself relies on. A session whose token's lock is
 * held is alive; any other token is a dead writer.
 *
 * Never open a lock file with plain fs calls in a process that may hold it:
 * closing any descriptor of a file drops the process's POSIX locks on it.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, realpathSync, unlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import Database from 'better-sqlite3';

export interface WriterIdentity {
  host: string;
  boot: string | null;
  pid: number;
  /** random per writer (per thread that writes); null in stores written before schema 2 */
  token: string | null;
}

let cachedBoot: string | null | undefined;

function bootId(): string | null {
  if (cachedBoot === undefined) {
    try {
      cachedBoot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || null;
    } catch {
      cachedBoot = null; // not Linux
    }
  }
  return cachedBoot;
}

/** this thread's token: module state is per thread, and each writer worker is a thread of its own */
const TOKEN = randomBytes(8).toString('hex');

export function currentWriter(): WriterIdentity {
  return { host: hostname(), boot: bootId(), pid: process.pid, token: TOKEN };
}

const LOCK_INFIX = '-writer-';

/** The lock file of `token`'s writer of the store at `dbPath` (symlinks resolved, so every opener names it alike). */
export function writerLockPath(dbPath: string, token: string): string {
  const abs = resolve(dbPath);
  const real = existsSync(abs) ? realpathSync(abs) : abs;
  return `${real}${LOCK_INFIX}${token}`;
}

export interface WriterLock {
  readonly path: string;
  /** drop the lock and delete its file */
  release(): void;
}

/** Take `token`'s writer lock for the store at `dbPath`, held until release() or the process ends. */
export function holdWriterLock(dbPath: string, token: string): WriterLock {
  const path = writerLockPath(dbPath, token);
  const db = new Database(path);
  try {
    db.pragma('journal_mode = MEMORY'); // an EXCLUSIVE lock without a -journal file
    db.exec('BEGIN EXCLUSIVE');
  } catch (err) {
    db.close();
    throw err;
  }
  let held = true;
  return {
    path,
    release() {
      if (!held) return;
      held = false;
      db.exec('ROLLBACK');
      db.close();
      try {
        unlinkSync(path);
      } catch {
        // already removed by someone cleaning up: nothing to do
      }
    },
  };
}

/** true while some process holds the lock; false when the file is missing or free. Creates nothing. */
export function writerLockHeld(lockPath: string): boolean {
  if (!existsSync(lockPath)) return false;
  let db: Database.Database | undefined;
  try {
    db = new Database(lockPath, { readonly: true, fileMustExist: true, timeout: 0 });
    db.prepare('SELECT count(*) FROM sqlite_schema').get(); // needs a SHARED lock: refused while a writer holds EXCLUSIVE
    return false;
  } catch (err) {
    return (err as { code?: string }).code === 'SQLITE_BUSY';
  } finally {
    db?.close();
  }
}

/** Delete lock files of the store at `dbPath` whose writers are gone (left by crashes). */
export function removeStaleWriterLocks(dbPath: string): void {
  const prefix = basename(writerLockPath(dbPath, ''));
  const dir = dirname(writerLockPath(dbPath, ''));
  for (const name of readdirSync(dir)) {
    if (!name.startsWith(prefix) || name.length === prefix.length) continue;
    const path = join(dir, name);
    if (writerLockHeld(path)) continue;
    try {
      unlinkSync(path);
    } catch {
      // gone meanwhile
    }
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Could this writer still be running? Other hosts and other boots are dead
 * (WAL cannot span hosts). With a token: alive if it is this thread's, or if
 * its lock is held. Without one (a store from before tokens), the pid decides;
 * this process always writes tokens, so its own pid there is an earlier process.
 */
export function writerMayBeAlive(
  writer: { host: string | null; boot: string | null; pid: number | null; token: string | null },
  dbPath: string,
): boolean {
  const me = currentWriter();
  if (writer.host === null || writer.pid === null || writer.host !== me.host) return false;
  if (writer.boot !== null && me.boot !== null && writer.boot !== me.boot) return false;
  if (writer.token !== null) return writer.token === me.token || writerLockHeld(writerLockPath(dbPath, writer.token));
  if (writer.pid === me.pid) return false;
  return pidAlive(writer.pid);
}
