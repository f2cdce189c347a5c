/**
 * better-sqlite3 builds SQLite with URI filenames off unless SQLITE_USE_URI=1
 * is in the process environment when its addon first loads (once per
 * process, at the first `new Database`). The store needs one URI parameter,
 * `immutable=1`, to look at a file without creating its -wal and -shm
 * (migrations.ts), so this module turns URIs on. It is imported before
 * anything opens a database. Only the main thread can change the environment
 * the addon reads; every entry point (CLI, tests, benches) starts there, and
 * the writer's worker thread is started from it. Where URIs stay off, the
 * check falls back to a plain read-only connection.
 */
import { isMainThread } from 'node:worker_threads';

if (isMainThread && process.env.SQLITE_USE_URI === undefined) process.env.SQLITE_USE_URI = '1';
