import { afterAll, describe, expect, it } from 'vitest';
import { copyFileSync, existsSync, openSync, readFileSync, writeFileSync, writeSync, closeSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { openDatabase, integrityProblems } from '../../src/store/migrations.ts';
import { StoreError } from '../../src/store/errors.ts';
import { APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION, type Migration } from '../../src/store/schema.ts';
import { createIngestor } from '../../src/store/ingest.ts';
import { getSession } from '../../src/store/queries.ts';
import { openStoreWriter } from '../../src/store/writer.ts';
import { reportFixtureEvents } from './fixtures/report-sessions.ts';
import { folderSnapshot, isolatedPath, ramp, sessionStarted, stimSweep, sweepEvent, tempDir, tpEvent } from './helpers.ts';

const tmp = tempDir();
afterAll(() => tmp.cleanup());
let n = 0;
/** each store in a folder of its own, so a folder snapshot covers its -wal/-shm too */
const fresh = (): string => isolatedPath(tmp.dir, `db-${++n}`);

/** The store's folder, every file and its bytes, is the same after `fn` (which must throw a StoreError). */
function expectUntouched(path: string, fn: () => void): void {
  const before = folderSnapshot(dirname(path));
  fn();
  expect(folderSnapshot(dirname(path))).toEqual(before);
}

/** A store file closed cleanly (WAL checkpointed into the main file). */
function makeStore(path: string, migrations: readonly Migration[] = MIGRATIONS): void {
  openDatabase(path, { migrations }).close();
}

function expectStoreError(fn: () => unknown, problem: StoreError['problem'], file: string, text: RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(StoreError);
  const e = caught as StoreError;
  expect(e.problem).toBe(problem);
  expect(e.file).toBe(file);
  expect(e.message).toContain(file);
  expect(e.message).toMatch(text);
}

describe('openDatabase', () => {
  it('creates a new store at the current schema version, in WAL mode with foreign keys on', () => {
    const path = fresh();
    const db = openDatabase(path);
    expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    expect(db.pragma('application_id', { simple: true })).toBe(APPLICATION_ID);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(db.pragma('page_size', { simple: true })).toBe(16384);
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all();
    for (const t of ['rigs', 'sessions', 'pipettes', 'attempts', 'state_transitions', 'testpulse_readings', 'sweeps', 'cell_features', 'faults', 'logs', 'session_stats']) {
      expect(tables).toContain(t);
    }
    // foreign keys are enforced: a feature row for a missing attempt is refused
    expect(() => db.prepare('INSERT INTO cell_features (attempt, name, value) VALUES (999, ?, 1)').run('x')).toThrow(/FOREIGN KEY/);
    db.close();
  });

  it('reopens an up-to-date store without changing it', () => {
    const path = fresh();
    makeStore(path);
    const before = readFileSync(path);
    makeStore(path);
    expect(readFileSync(path).equals(before)).toBe(true);
  });

  it('initialises an empty (0-byte) file', () => {
    const path = fresh();
    writeFileSync(path, '');
    const db = openDatabase(path);
    expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    db.close();
  });

  it('refuses to create a missing file when create is false', () => {
    const path = fresh();
    expectStoreError(() => openDatabase(path, { create: false }), 'io', path, /no such database/);
    expect(existsSync(path)).toBe(false);
  });

  it('migrates an older store forward in one transaction, keeping its data', () => {
    const path = fresh();
    const v1 = MIGRATIONS.slice(0, 1);
    const db1 = openDatabase(path, { migrations: v1 });
    // a session as the version-1 writer stored it
    db1.prepare(
      `INSERT INTO sessions (id, preset, operator, rig, virtual, pipettes, start_t, start_epoch, status, last_t, last_epoch)
       VALUES ('old-session', 'slice-test', 'tester', 'rig', 1, '["p1"]', 0, 0, 'completed', 10, 10)`,
    ).run();
    db1.close();
    const v2: Migration[] = [
      ...v1,
      {
        version: 2,
        description: 'add notes',
        up: (db) => {
          db.exec('CREATE TABLE notes (session_id TEXT REFERENCES sessions(id), text TEXT)');
          db.exec("INSERT INTO notes SELECT id, 'migrated' FROM sessions");
        },
      },
    ];
    const db2 = openDatabase(path, { migrations: v2 });
    expect(db2.pragma('user_version', { simple: true })).toBe(2);
    expect(db2.prepare('SELECT text FROM notes WHERE session_id = ?').pluck().get('old-session')).toBe('migrated');
    expect(getSession(db2, 'old-session')?.preset).toBe('slice-test');
    db2.close();
  });

  it('rolls a failing migration back entirely and says which one failed', () => {
    const path = fresh();
    const v1 = MIGRATIONS.slice(0, 1);
    makeStore(path, v1);
    const broken: Migration[] = [
      ...v1,
      { version: 2, description: 'fine step', up: (db) => db.exec('CREATE TABLE half_done (x)') },
      {
        version: 3,
        description: 'broken step',
        up: () => {
          throw new Error('boom');
        },
      },
    ];
    expectStoreError(() => openDatabase(path, { migrations: broken }), 'migration-failed', path, /migration 3 \(broken step\) failed: boom/);
    const db = new Database(path, { readonly: true });
    expect(db.pragma('user_version', { simple: true })).toBe(1);
    expect(db.prepare("SELECT count(*) FROM sqlite_master WHERE name = 'half_done'").pluck().get()).toBe(0);
    db.close();
  });

  it('refuses a store written by a newer version, leaving the file byte-for-byte untouched', () => {
    const path = fresh();
    makeStore(path);
    const raw = new Database(path);
    raw.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    raw.close();
    expectUntouched(path, () => {
      expectStoreError(() => openDatabase(path), 'newer-version', path, new RegExp(`schema version ${SCHEMA_VERSION + 1} is newer`));
      expectStoreError(() => openDatabase(path, { readonly: true }), 'newer-version', path, /is newer/);
    });
  });

  it('refuses a file that is not SQLite, untouched', () => {
    const path = fresh();
    const junk = Buffer.from('session,preset\nS1,slice\n'.repeat(50));
    writeFileSync(path, junk);
    expectUntouched(path, () => expectStoreError(() => openDatabase(path), 'not-sqlite', path, /not an SQLite database/));
    expect(readFileSync(path).equals(junk)).toBe(true);
  });

  it('refuses a corrupt SQLite file (damaged schema page, or truncated), untouched', () => {
    const good = fresh();
    makeStore(good);
    const bytes = readFileSync(good);
    const damaged = Buffer.from(bytes);
    for (let i = 100; i < 4096; i++) damaged[i] = (i * 7) & 0xff; // page 1 after the header: sqlite_master
    const truncated = bytes.subarray(0, 6000);
    for (const broken of [damaged, truncated]) {
      const path = fresh();
      writeFileSync(path, broken);
      expectUntouched(path, () => expectStoreError(() => openDatabase(path), 'corrupt', path, /corrupt/));
      expect(readFileSync(path).equals(broken)).toBe(true);
    }
  });

  it("refuses another application's SQLite database, untouched", () => {
    const path = fresh();
    const other = new Database(path);
    other.exec('CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)');
    other.close();
    expectUntouched(path, () => expectStoreError(() => openDatabase(path), 'foreign-database', path, /not created by autopatch/));
  });

  it('refuses a real store with a damaged page in the middle before recovery or any other write, and creates nothing', async () => {
    // a store as a session leaves it: the report fixture, sweeps with samples, and a session whose writer died
    const pristine = fresh();
    const db = openDatabase(pristine);
    const events = reportFixtureEvents();
    for (let i = 0; i < 60; i++) events.push(sweepEvent('p1', 'd1', stimSweep(i, ramp(4000, 1e-3, i), ramp(4000, 1e-12)), 1_000_000 + i));
    createIngestor(db, { writer: { host: 'crashed-host', boot: null, pid: 9, token: null } }).applyBatch([...events, sessionStarted('crashed', 2_000_000, { epochMs: 2e12 })]);
    db.close();
    const pageSize = 16384;
    const pages = readFileSync(pristine).length / pageSize;
    expect(pages).toBeGreaterThan(20);
    /** overwrite one page as a bad disk sector would */
    const damage = (file: string, page: number): void => {
      const fd = openSync(file, 'r+');
      writeSync(fd, Buffer.alloc(pageSize, 0xa5), 0, pageSize, (page - 1) * pageSize);
      closeSync(fd);
    };

    // a page in the middle of the file (here one holding sweep samples)
    const path = fresh();
    copyFileSync(pristine, path);
    damage(path, Math.floor(pages / 2));
    expectUntouched(path, () => {
      expectStoreError(() => openDatabase(path), 'corrupt', path, /database is corrupt.*; the file was not changed/);
      expectStoreError(() => openDatabase(path, { readonly: true }), 'corrupt', path, /corrupt/);
    });
    // the writer refuses it the same way
    const before = folderSnapshot(dirname(path));
    await expect(openStoreWriter({ path })).rejects.toMatchObject({ problem: 'corrupt', file: path });
    expect(folderSnapshot(dirname(path))).toEqual(before);

    // above the full-check budget the bounded check still reads every b-tree page: a damaged leaf of state_transitions is found
    const scratch = fresh();
    copyFileSync(pristine, scratch);
    const look = new Database(scratch, { readonly: true });
    const leaf = look.prepare("SELECT pageno FROM dbstat WHERE name = 'state_transitions' AND pagetype = 'leaf' ORDER BY pageno").pluck().all() as number[];
    look.close();
    expect(leaf.length).toBeGreaterThan(0);
    const bounded = fresh();
    copyFileSync(pristine, bounded);
    damage(bounded, leaf[Math.floor(leaf.length / 2)]);
    expectUntouched(bounded, () => {
      expectStoreError(() => openDatabase(bounded, { fullCheckMaxBytes: 0 }), 'corrupt', bounded, /corrupt/);
      expectStoreError(() => openDatabase(bounded, { verify: 'bounded' }), 'corrupt', bounded, /corrupt/);
    });
    // and the undamaged store opens and is recovered as usual
    let recovered: string[] = [];
    openDatabase(pristine, { fullCheckMaxBytes: 0, onRecovered: (ids) => (recovered = ids) }).close();
    expect(recovered).toEqual(['crashed']);
  });

  it('marks sessions whose writer is gone as interrupted at their last committed row, and leaves live ones alone', () => {
    const path = fresh();
    const db = openDatabase(path);
    const deadWriter = { host: 'another-host', boot: null, pid: 1, token: null };
    createIngestor(db, { writer: deadWriter }).applyBatch([sessionStarted('crashed', 0), tpEvent('p1', 1500, 5e6)]);
    createIngestor(db).applyBatch([sessionStarted('live', 2000, { epochMs: 1e12 })]);
    db.close();
    let recovered: string[] = [];
    const again = openDatabase(path, { onRecovered: (ids) => (recovered = ids) });
    expect(recovered).toEqual(['crashed']);
    const crashed = getSession(again, 'crashed');
    expect(crashed?.status).toBe('interrupted');
    expect(crashed?.endT).toBe(1500);
    expect(crashed?.endEpochMs).toBe(crashed?.lastEpochMs);
    expect(crashed?.endReason).toBe('interrupted');
    expect(getSession(again, 'live')?.status).toBe('running'); // this process wrote it and is alive
    expect(integrityProblems(again)).toEqual([]);
    again.close();
  });
});
