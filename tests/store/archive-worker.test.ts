import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/store/migrations.ts';
import { createIngestor } from '../../src/store/ingest.ts';
import { createSqliteArchive } from '../../src/store/archive.ts';
import { openArchiveWorker, type ArchiveWorker } from '../../src/store/archive-thread.ts';
import { MIGRATIONS } from '../../src/store/schema.ts';
import { createServer } from '../../src/server/server.ts';
import { createFakeRig } from '../server/fake-rig.ts';
import { reportFixtureEvents } from './fixtures/report-sessions.ts';
import { isolatedPath, ramp, stimSweep, sweepEvent, tempDir } from './helpers.ts';

const tmp = tempDir();
const path = isolatedPath(tmp.dir, 'archive');
let archive: ArchiveWorker;
const samples = ramp(5000, 1e-3, 3);
samples[17] = NaN;

beforeAll(async () => {
  const db = openDatabase(path);
  const events = reportFixtureEvents();
  events.splice(events.findIndex((e) => e.type === 'session.ended'), 0, sweepEvent('p1', 'a1', stimSweep(1, samples, ramp(5000, 1e-12)), 420_000));
  createIngestor(db).applyBatch(events);
  db.close();
  archive = await openArchiveWorker(path);
});
afterAll(async () => {
  await archive.close();
  tmp.cleanup();
});

describe('the archive in its worker thread', () => {
  it('answers every question as the same reader on this thread does', async () => {
    const db = openDatabase(path, { readonly: true });
    const here = createSqliteArchive(db);
    for (const [ask, label] of [
      [(a: typeof here) => a.listSessions({ limit: 10 }), 'listSessions'],
      [(a: typeof here) => a.sessionReport('A'), 'sessionReport A'],
      [(a: typeof here) => a.sessionReport('nope'), 'sessionReport nope'],
      [(a: typeof here) => a.attempts('B'), 'attempts B'],
      [(a: typeof here) => a.sweepsOfAttempt('a1'), 'sweepsOfAttempt a1'],
      [(a: typeof here) => a.sweepsOfAttempt('zz'), 'sweepsOfAttempt zz'],
    ] as const) {
      expect(await ask(archive), label).toEqual(await ask(here));
    }
    db.close();
  });

  it('hands sweeps over bit-exact, and several questions at once come back to their askers', async () => {
    const [sweepId] = (await archive.sweepsOfAttempt('a1'))!.map((s) => s.sweepId);
    const [sweep, report, list, none] = await Promise.all([archive.sweep(sweepId), archive.sessionReport('B'), archive.listSessions({ limit: 1 }), archive.sweep(99_999)]);
    expect(new Uint32Array(sweep!.response.buffer)).toEqual(new Uint32Array(samples.buffer));
    expect(sweep!.stimulus).toEqual(ramp(5000, 1e-12));
    expect(report!.session.sessionId).toBe('B');
    expect(list.map((s) => s.sessionId)).toEqual(['B']);
    expect(none).toBeNull();
  });

  it('caps a session list at 1000', async () => {
    expect(await archive.listSessions({ limit: 1e9 })).toHaveLength(2);
  });

  it('serves the dashboard routes', async () => {
    const app = createServer({ rig: createFakeRig(), archive, token: 'archive-test-token' });
    await app.ready();
    const res = await app.inject({ method: 'GET', url: '/api/sessions/A/report' });
    expect(res.statusCode).toBe(200);
    expect(res.json().funnel).toEqual({ attempts: 7, unfinished: 0, approached: 7, detected: 6, sealed: 4, wholeCell: 4, recorded: 3 });
    expect((await app.inject({ method: 'GET', url: '/api/sessions/zz/attempts' })).statusCode).toBe(404);
    await app.close();
  });

  it('refuses an older store with how to migrate it, and a closed archive refuses questions', async () => {
    const old = isolatedPath(tmp.dir, 'old');
    openDatabase(old, { migrations: MIGRATIONS.slice(0, 1) }).close();
    await expect(openArchiveWorker(old)).rejects.toMatchObject({ problem: 'older-version', file: old, message: expect.stringMatching(/autopatch db migrate --db/) });
    const another = await openArchiveWorker(path);
    const inFlight = expect(another.sessionReport('A')).rejects.toThrow(/closed/);
    await another.close();
    await inFlight;
    await expect(another.listSessions({ limit: 1 })).rejects.toThrow(/closed/);
  });
});
