import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { openDatabase, integrityProblems } from '../../src/store/migrations.ts';
import { StoreError } from '../../src/store/errors.ts';
import { APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION, type Migration } from '../../src/store/schema.ts';
import { createIngestor } from '../../src/store/ingest.ts';
import { getSession } from '../../src/store/queries.ts';
import { sessionStarted, tempDir, tpEvent } from './helpers.ts';

const tmp = tempDir();
afterAll(() => tmp.cleanup());
let n = 0;
const fresh = (): string => tmp.file(`db-${++n}.sqlite`);

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
    createIngestor(db1).applyBatch([sessionStarted('old-session'), tpEvent('p1', 10, 5e6)]);
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
    const before = readFileSync(path);
    expectStoreError(() => openDatabase(path), 'newer-version', path, new RegExp(`schema version ${SCHEMA_VERSION + 1} is newer`));
    expect(readFileSync(path).equals(before)).toBe(true);
  });

  it('refuses a file that is not SQLite, untouched', () => {
    const path = fresh();
    const junk = Buffer.from('session,preset\nS1,slice\n'.repeat(50));
    writeFileSync(path, junk);
    expectStoreError(() => openDatabase(path), 'not-sqlite', path, /not an SQLite database/);
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
      expectStoreError(() => openDatabase(path), 'corrupt', path, /corrupt/);
      expect(readFileSync(path).equals(broken)).toBe(true);
    }
  });

  it("refuses another application's SQLite database, untouched", () => {
    const path = fresh();
    const other = new Database(path);
    other.exec('CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)');
    other.close();
    const before = readFileSync(path);
    expectStoreError(() => openDatabase(path), 'foreign-database', path, /not created by autopatch/);
    expect(readFileSync(path).equals(before)).toBe(true);
  });

  it('marks sessions whose writer is gone as interrupted at their last committed row, and leaves live ones alone', () => {
    const path = fresh();
    const db = openDatabase(path);
    const deadWriter = { host: 'another-host', boot: null, pid: 1 };
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
