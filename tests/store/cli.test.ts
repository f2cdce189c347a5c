import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CliIO } from '../../src/cli/io.ts';
import { reportCommand } from '../../src/cli/commands/report.ts';
import { exportCommand } from '../../src/cli/commands/export.ts';
import { dbCommand } from '../../src/cli/commands/db.ts';
import Database from 'better-sqlite3';
import { readdirSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { MIGRATIONS, SCHEMA_VERSION } from '../../src/store/schema.ts';
import { getSession } from '../../src/store/queries.ts';
import { openDatabase } from '../../src/store/migrations.ts';
import { createIngestor } from '../../src/store/ingest.ts';
import { float32Text, registerExportFormat } from '../../src/store/export-formats.ts';
import { reportFixtureEvents } from './fixtures/report-sessions.ts';
import { EPOCH0, folderSnapshot, isolatedPath, sessionStarted, stimSweep, sweepEvent, tempDir, tpSweep } from './helpers.ts';

const tmp = tempDir();
const dbPath = tmp.file('cli.sqlite');
const response = new Float32Array([0.1, -0.25, 1e-12, NaN, -0, 3.4028234663852886e38]);
const stimulus = new Float32Array([0, 0, 5e-11, 5e-11, 0, 0]);

beforeAll(() => {
  const db = openDatabase(dbPath);
  const events = reportFixtureEvents();
  // two sweeps in session A, attempt a1 (inserted before A ends)
  const endA = events.findIndex((e) => e.type === 'session.ended');
  events.splice(endA, 0,
    sweepEvent('p1', 'a1', stimSweep(1, response, stimulus), 420_000),
    { ...sweepEvent('p1', 'a1', tpSweep(2, new Float32Array([1, 2, 3])), 421_000), epochMs: EPOCH0 + 421_000 },
  );
  createIngestor(db).applyBatch(events);
  db.close();
});
afterAll(() => tmp.cleanup());

async function run(cmd: typeof reportCommand, argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CliIO = { stdout: (t) => (out += t), stderr: (t) => (err += t) };
  const code = await cmd(argv, io);
  return { code, out, err };
}

describe('report command', () => {
  it('prints the last session as a table by default', async () => {
    const { code, out, err } = await run(reportCommand, ['--db', dbPath]);
    expect(err).toBe('');
    expect(code).toBe(0);
    expect(out).toMatch(/autopatch report — 1 session\n/);
    expect(out).toMatch(/^B\s+vivo-test\s+hand\s+7\s+aborted\s+2026-01-02 00:00\s+30m00s\s+2\s+2\+1\s+1\s+2\.00\s+0\.0%/m);
    expect(out).toMatch(/^approached\s+1\s+50\.0%\s+50\.0%$/m);
    expect(out).toMatch(/^pipette-broken\s+1\s+100\.0%\s+descent 1$/m);
    expect(out).toMatch(/^needsPipette\s+25m00s\s+41\.7%\s+1$/m); // 1500 s of 3600 pipette-seconds
    expect(out).toContain('Cells per hour: 2.00 (1 recorded in 0.50 h of session time)');
    expect(out).toMatch(/^peak seal \(GΩ\)\s+1\s+1\.80/m);
  });

  it('reports every session as JSON', async () => {
    const { code, out } = await run(reportCommand, ['--all', '--format', 'json', '--db', dbPath]);
    expect(code).toBe(0);
    const r = JSON.parse(out);
    expect(r.sessionIds).toEqual(['A', 'B']);
    expect(r.funnel.counts).toEqual({ approached: 8, detected: 7, sealed: 5, wholeCell: 5, recorded: 4 });
    expect(r.simultaneous.successes).toBe(1);
    expect(r.sessions.map((s: { id: string; recorded: number }) => [s.id, s.recorded])).toEqual([['A', 3], ['B', 1]]);
  });

  it('writes long-form CSV for chosen sessions', async () => {
    const { code, out } = await run(reportCommand, ['--session', 'A', '--session=B', '--format=csv', '--db', dbPath]);
    expect(code).toBe(0);
    const lines = out.trim().split('\n');
    expect(lines[0]).toBe('section,group,name,value');
    expect(lines).toContain('funnel,all,recorded_count,4');
    expect(lines).toContain('funnel_by_preset,slice-test,sealed_count,4');
    expect(lines).toContain('time_per_state,idle,seconds,7300');
    expect(lines).toContain('failure_reasons,seal-stalled,count,2');
    expect(lines).toContain('simultaneous,all,trials,3');
    expect(lines).toContain('quality,ra,median,25000000');
    expect(lines).toContain('sessions,A,status,completed');
    expect(lines.every((l) => l.split(',').length >= 4)).toBe(true);
  });

  it('says what is wrong: bad options, unknown session, missing or foreign file', async () => {
    let r = await run(reportCommand, ['--format', 'xml', '--db', dbPath]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--format must be one of table, json, csv/);
    r = await run(reportCommand, ['--last', '--all', '--db', dbPath]);
    expect(r.code).toBe(2);
    r = await run(reportCommand, ['--sesion', 'A']);
    expect(r.err).toMatch(/unknown option --sesion/);
    r = await run(reportCommand, ['--session', 'Z', '--db', dbPath]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/no session "Z"/);
    const missing = tmp.file('missing.sqlite');
    r = await run(reportCommand, ['--db', missing]);
    expect(r.code).toBe(1);
    expect(r.err).toContain(missing);
    expect(existsSync(missing)).toBe(false);
    const junk = tmp.file('junk.sqlite');
    writeFileSync(junk, 'hello');
    r = await run(reportCommand, ['--db', junk]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/junk\.sqlite: not an SQLite database/);
    const empty = tmp.file('empty.sqlite');
    openDatabase(empty).close();
    r = await run(reportCommand, ['--db', empty]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/no sessions/);
  });
});

/** A version-1 store with one session, as the first autopatch wrote it. */
function oldStore(name: string): string {
  const path = isolatedPath(tmp.dir, name);
  const db = openDatabase(path, { migrations: MIGRATIONS.slice(0, 1) });
  db.prepare(
    `INSERT INTO sessions (id, preset, operator, rig, virtual, pipettes, start_t, start_epoch, status, last_t, last_epoch, end_t, end_epoch, end_reason)
     VALUES ('old', 'slice-test', 'tester', 'rig', 1, '["p1"]', 0, ${EPOCH0}, 'completed', 60000, ${EPOCH0 + 60000}, 60000, ${EPOCH0 + 60000}, 'completed')`,
  ).run();
  db.close();
  return path;
}

describe('reading commands open the store read-only', () => {
  it('report and export refuse an older schema, say how to migrate, and change nothing', async () => {
    const path = oldStore('old-refused');
    const before = folderSnapshot(dirname(path));
    for (const [cmd, argv] of [[reportCommand, ['--db', path]], [exportCommand, ['--session', 'old', '--format', 'csv', '--out', tmp.file('never'), '--db', path]]] as const) {
      const r = await run(cmd, [...argv]);
      expect(r.code).toBe(1);
      expect(r.err).toContain(`${path}: schema version 1 is older than this autopatch's (${SCHEMA_VERSION})`);
      expect(r.err).toContain(`autopatch db migrate --db ${path}`);
    }
    expect(folderSnapshot(dirname(path))).toEqual(before);
    expect(existsSync(tmp.file('never'))).toBe(false);
  });

  it('report leaves a crashed session for a writer to recover, and says so', async () => {
    const path = isolatedPath(tmp.dir, 'crashed');
    const db = openDatabase(path);
    createIngestor(db, { writer: { host: 'gone-host', boot: null, pid: 3, token: 'feedfacecafebeef' } }).applyBatch([sessionStarted('crashed', 0)]);
    db.close();
    const main = (): Buffer => readFileSync(path);
    const before = main();
    const r = await run(reportCommand, ['--db', path]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^crashed\s+slice-test\s+tester\s+42\s+running\s/m);
    expect(r.err).toContain('report: note: session crashed is still marked running but its writer has stopped; the next `autopatch run` or `autopatch db migrate` marks it interrupted');
    expect(main().equals(before)).toBe(true);
    const check = openDatabase(path, { readonly: true });
    expect(getSession(check, 'crashed')?.status).toBe('running');
    check.close();
  });
});

describe('db migrate', () => {
  it('copies an older store aside, then migrates it; a current store is left alone', async () => {
    const path = oldStore('old-migrated');
    const r = await run(dbCommand, ['migrate', '--db', path]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const backups = readdirSync(dirname(path)).filter((f) => f.startsWith(`${basename(path)}.v1-backup-`));
    expect(backups).toHaveLength(1);
    expect(backups[0]).toMatch(/^store\.sqlite\.v1-backup-\d{8}T\d{6}Z$/);
    const backup = `${dirname(path)}/${backups[0]}`;
    expect(r.out).toBe(`${path}: migrated from schema 1 to ${SCHEMA_VERSION}; the version-1 copy is ${backup}\n`);
    const copy = new Database(backup, { readonly: true });
    expect(copy.pragma('user_version', { simple: true })).toBe(1);
    expect(copy.prepare('SELECT id, status FROM sessions').all()).toEqual([{ id: 'old', status: 'completed' }]);
    copy.close();
    // the store itself is current and reads as before
    const report = await run(reportCommand, ['--db', path, '--format', 'json']);
    expect(report.code).toBe(0);
    expect(JSON.parse(report.out).sessions.map((x: { id: string; status: string }) => [x.id, x.status])).toEqual([['old', 'completed']]);
    const again = await run(dbCommand, ['migrate', '--db', path]);
    expect(again.out).toBe(`${path}: already at schema ${SCHEMA_VERSION}; nothing to do\n`);
    expect(readdirSync(dirname(path)).filter((f) => f.includes('-backup-'))).toHaveLength(1);
  });

  it('says what is wrong: no action, unknown action, a file that is not a store', async () => {
    expect((await run(dbCommand, [])).code).toBe(2);
    expect((await run(dbCommand, ['vacuum'])).err).toMatch(/unknown action "vacuum"/);
    const junk = isolatedPath(tmp.dir, 'junk-migrate');
    writeFileSync(junk, 'not a database');
    const r = await run(dbCommand, ['migrate', '--db', junk]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/not an SQLite database/);
    expect(readdirSync(dirname(junk))).toEqual(['store.sqlite']);
  });
});

describe('export command', () => {
  it('exports a session as CSV: tables plus one samples file per sweep that reads back to the same float32', async () => {
    const out = tmp.file('export-csv');
    const r = await run(exportCommand, ['--session', 'A', '--format', 'csv', '--out', out, '--db', dbPath]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/exported session A as csv/);
    expect(r.out).toContain(`  ${join(out, 'attempts.csv')}\n`);
    expect(r.out).toContain(`2 sweep sample files in ${join(out, 'sweeps')}`);
    const attempts = readFileSync(join(out, 'attempts.csv'), 'utf8').trim().split('\n');
    expect(attempts).toHaveLength(1 + 7);
    expect(attempts[0].split(',').slice(0, 3)).toEqual(['attemptId', 'pipetteId', 'status']);
    expect(attempts.find((l) => l.startsWith('b2,'))).toMatch(/seal-stalled/);
    const index = readFileSync(join(out, 'sweeps.csv'), 'utf8').trim().split('\n');
    expect(index).toHaveLength(3);
    const stimFile = index[1].split(',').pop()!;
    const samples = readFileSync(join(out, stimFile), 'utf8').trim().split('\n');
    expect(samples[0]).toBe('time_s,response_V,stimulus_A');
    const rows = samples.slice(1).map((l) => l.split(','));
    expect(rows).toHaveLength(response.length);
    rows.forEach(([t, v, s], i) => {
      expect(Math.fround(Number(t))).toBe(Math.fround(i / 50_000));
      if (Number.isNaN(response[i])) expect(v).toBe('NaN');
      else expect(Object.is(Math.fround(Number(v)), response[i])).toBe(true);
      expect(Math.fround(Number(s))).toBe(stimulus[i]);
    });
    expect(rows[0][1]).toBe('0.1'); // shortest text for float32(0.1)
    expect(readFileSync(join(out, 'transitions.csv'), 'utf8').trim().split('\n')).toHaveLength(1 + (8 + 4) + (8 + 5 + 5) + (7 + 8)); // header + transitions of a1 a2, b1 b2 b3, c1 c2
  });

  it('exports a session as JSON', async () => {
    const out = tmp.file('export-json');
    const r = await run(exportCommand, ['--session', 'A', '--format', 'json', '--out', out, '--db', dbPath]);
    expect(r.code).toBe(0);
    const session = JSON.parse(readFileSync(join(out, 'session.json'), 'utf8'));
    expect(session).toMatchObject({ id: 'A', preset: 'slice-test', status: 'completed' });
    const attempts = JSON.parse(readFileSync(join(out, 'attempts.json'), 'utf8'));
    expect(attempts.map((a: { attemptId: string }) => a.attemptId)).toEqual(['a1', 'b1', 'c1', 'c2', 'a2', 'b2', 'b3']);
    const index = JSON.parse(readFileSync(join(out, 'sweeps.json'), 'utf8'));
    expect(index.map((m: { kind: string; seq: number }) => [m.kind, m.seq])).toEqual([['stimulus', 1], ['testpulse', 2]]);
    const sweep = JSON.parse(readFileSync(join(out, index[0].file), 'utf8'));
    expect(sweep.response).toHaveLength(response.length);
    sweep.response.forEach((v: number | null, i: number) => {
      if (v === null) expect(Number.isFinite(response[i])).toBe(false);
      else expect(Math.fround(v) === response[i]).toBe(true); // JSON cannot carry −0
    });
    expect(sweep.stimulus.map((v: number) => Math.fround(v))).toEqual(Array.from(stimulus));
  });

  it('has a registry: unknown formats are refused with the list, nwb is built in, a registered format is used', async () => {
    let r = await run(exportCommand, ['--session', 'A', '--format', 'parquet', '--db', dbPath]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/unknown format "parquet" \(available: csv, json, nwb\)/);
    const seen: string[] = [];
    registerExportFormat({
      name: 'parquet',
      description: 'test stand-in',
      run: async ({ sessionId, outDir }) => {
        seen.push(`${sessionId}@${outDir}`);
        return [join(outDir, 'session.parquet')];
      },
    });
    const out = tmp.file('parquet-out');
    r = await run(exportCommand, ['--session', 'A', '--format', 'parquet', '--db', dbPath, '--out', out]);
    expect(r.code).toBe(0);
    expect(seen).toEqual([`A@${out}`]);
    expect(r.out).toContain(join(out, 'session.parquet'));
  });

  it('refuses a missing session or missing options', async () => {
    let r = await run(exportCommand, ['--session', 'Q', '--format', 'csv', '--db', dbPath, '--out', tmp.file('q')]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/no session "Q"/);
    r = await run(exportCommand, ['--format', 'csv', '--db', dbPath]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--session is required/);
  });
});

describe('float32Text', () => {
  it('gives the shortest text that reads back to the same float32', () => {
    for (const x of [0.1, 1 / 3, 1e-12, 3.4028234663852886e38, 1.401298464324817e-45, -2.5, 0]) {
      const f = Math.fround(x);
      const s = float32Text(f);
      expect(Math.fround(Number(s))).toBe(f);
      if (s.length > 1 && !s.includes('e')) expect(Math.fround(Number(s.slice(0, -1)))).not.toBe(f);
    }
    expect(float32Text(Math.fround(0.1))).toBe('0.1');
  });
});
