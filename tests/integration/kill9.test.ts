/**
 * kill -9 in the middle of a session: the real CLI runs a virtual-time session
 * writing to SQLite and is SIGKILLed. Just before the kill, a separate
 * read-only connection notes what was committed (rows and largest id of every
 * table); reopening shows at least all of that, the session marked
 * interrupted, a sound file, and a new session runs normally.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { integrityProblems, openDatabase } from '../../src/store/migrations.ts';
import { listSessions } from '../../src/store/queries.ts';
import { listSweeps, readSweep } from '../../src/store/sweeps.ts';

const ROOT = new URL('../..', import.meta.url).pathname;
const CLI = ['--import', 'tsx', join(ROOT, 'src/cli/main.ts')];

function countRows(path: string, table: string): number {
  if (!existsSync(path)) return 0;
  try {
    const db = new Database(path, { readonly: true, fileMustExist: true });
    try {
      return (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
    } finally {
      db.close();
    }
  } catch {
    return 0; // not created yet
  }
}

type Snapshot = Record<string, { rows: number; maxId: number | null }>;

/** Rows and largest rowid of every table, in one read transaction (what is committed at that moment). */
function committedSnapshot(path: string): Snapshot {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    return db.transaction(() => {
      const tables = db.prepare("SELECT name, sql FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").all() as Array<{ name: string; sql: string }>;
      const out: Snapshot = {};
      for (const { name, sql } of tables) {
        const rows = db.prepare(`SELECT count(*) FROM "${name}"`).pluck().get() as number;
        const maxId = /WITHOUT ROWID/i.test(sql) ? null : ((db.prepare(`SELECT max(rowid) FROM "${name}"`).pluck().get() as number | null) ?? null);
        out[name] = { rows, maxId };
      }
      return out;
    })();
  } finally {
    db.close();
  }
}

describe('kill -9 mid-session', () => {
  it('loses nothing committed, marks the session interrupted, and the next session starts normally', async () => {
    const db = join(mkdtempSync(join(tmpdir(), 'ap-kill9-')), 'autopatch.sqlite');
    const child = spawn(process.execPath, [...CLI, 'run', '--virtual', '--duration', '120', '--seed', '2', '--db', db, '--quiet'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    // wait until the session has written a good number of sweeps, then kill it without warning
    const started = Date.now();
    while (countRows(db, 'sweeps') < 200) {
      if (child.exitCode !== null) throw new Error(`the session ended before it could be killed: ${stderr}`);
      if (Date.now() - started > 120_000) throw new Error('no sweeps written within 2 minutes');
      await new Promise((r) => setTimeout(r, 200));
    }
    const exited = new Promise<NodeJS.Signals | null>((r) => child.once('exit', (_code, signal) => r(signal)));
    const committed = committedSnapshot(db);
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    expect(committed.sweeps.rows).toBeGreaterThanOrEqual(200);
    expect(committed.state_transitions.rows).toBeGreaterThan(0);

    const store = openDatabase(db);
    try {
      expect(integrityProblems(store)).toEqual([]);
      const [session] = listSessions(store);
      expect(session.status).toBe('interrupted');
      // everything committed before the kill is there (more may have been committed between the snapshot and the kill)
      const after = committedSnapshot(db);
      for (const [table, before] of Object.entries(committed)) {
        expect(after[table].rows, `${table} rows`).toBeGreaterThanOrEqual(before.rows);
        if (before.maxId !== null) expect(after[table].maxId, `${table} largest id`).toBeGreaterThanOrEqual(before.maxId);
      }
      const sweeps = listSweeps(store, { sessionId: session.id });
      expect(sweeps.length).toBeGreaterThanOrEqual(committed.sweeps.rows);
      // every committed sweep reads back whole
      for (const m of sweeps.slice(-20)) {
        const s = readSweep(store, m.id)!;
        expect(s.sweep.response.length).toBe(m.nSamples);
        expect(s.sweep.response.every((v) => Number.isFinite(v))).toBe(true);
      }
    } finally {
      store.close();
    }

    // the next session on the same file runs to its end
    const next = spawnSync(process.execPath, [...CLI, 'run', '--virtual', '--attempts', '2', '--pipettes', '2', '--preset', 'culture', '--db', db, '--quiet'], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 240_000,
    });
    expect(next.status, next.stderr).toBe(0);
    const after = openDatabase(db);
    try {
      const sessions = listSessions(after);
      expect(sessions).toHaveLength(2);
      expect(sessions.map((s) => s.status).sort()).toEqual(['completed', 'interrupted']);
      expect(integrityProblems(after)).toEqual([]);
    } finally {
      after.close();
    }
  }, 400_000);
});
