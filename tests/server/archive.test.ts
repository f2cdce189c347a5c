import { afterEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { createServer } from '../../src/server/server.ts';
import { decodeTraceFrames } from '../../src/server/trace-frame.ts';
import { createFakeArchive, type FakeArchive } from './fake-archive.ts';
import { createFakeRig } from './fake-rig.ts';

const TOKEN = 'archive-token-1';
let app: FastifyInstance | null = null;
let archive: FakeArchive;

async function start() {
  archive = createFakeArchive();
  app = createServer({ rig: createFakeRig(), archive, token: TOKEN });
  await app.ready();
}
const get = (url: string, remoteAddress?: string) => app!.inject({ method: 'GET', url, ...(remoteAddress ? { remoteAddress } : {}) });

afterEach(async () => {
  await app?.close();
  app = null;
});

describe('archive routes', () => {
  it('lists sessions with the requested limit (default 200)', async () => {
    await start();
    const res = await get('/api/sessions');
    expect(res.statusCode).toBe(200);
    expect(res.json().map((s: { sessionId: string }) => s.sessionId)).toEqual(['sess-1']);
    await get('/api/sessions?limit=5');
    await get('/api/sessions?limit=1000');
    expect(archive.calls).toEqual(['listSessions:200', 'listSessions:5', 'listSessions:1000']);
    expect((await get('/api/sessions?limit=0')).statusCode).toBe(400);
    expect((await get('/api/sessions?limit=1001')).statusCode).toBe(400); // at most 1000 summaries in one answer
  });

  it('serves a report, attempts with timelines, and the sweeps of an attempt', async () => {
    await start();
    const report = (await get('/api/sessions/sess-1/report')).json();
    expect(report.funnel).toEqual({ attempts: 2, unfinished: 0, approached: 2, detected: 2, sealed: 1, wholeCell: 1, recorded: 1 });
    expect(report.failureReasons[0]).toEqual({ reason: 'seal-stalled', count: 1, fraction: 1, failedIn: [{ state: 'seal', count: 1 }] });
    const attempts = (await get('/api/sessions/sess-1/attempts')).json();
    expect(attempts.map((a: { record: { attemptId: string } }) => a.record.attemptId)).toEqual(['a1', 'a2']);
    expect(attempts[0].transitions.map((t: { to: string }) => t.to)).toContain('wholeCell');
    const sweeps = (await get('/api/attempts/a1/sweeps')).json();
    expect(sweeps.map((s: { sweepId: number; kind: string }) => [s.sweepId, s.kind])).toEqual([
      [1, 'testpulse'],
      [2, 'stimulus'],
    ]);
    expect((await get('/api/attempts/a2/sweeps')).json()).toEqual([]);
  });

  it('404s say what was not found', async () => {
    await start();
    const cases: Array<[string, string]> = [
      ['/api/sessions/nope/report', "session 'nope' not found"],
      ['/api/sessions/nope/attempts', "session 'nope' not found"],
      ['/api/attempts/zz/sweeps', "attempt 'zz' not found"],
      ['/api/sweeps/99', 'sweep 99 not found'],
    ];
    for (const [url, error] of cases) {
      const res = await get(url);
      expect(res.statusCode, url).toBe(404);
      expect(res.json()).toEqual({ ok: false, error });
    }
    expect((await get('/api/sweeps/abc')).statusCode).toBe(400);
  });

  it('a sweep as JSON is exact without maxPoints and decimated with it', async () => {
    await start();
    const full = (await get('/api/sweeps/2')).json();
    const data = archive.sweepsById.get(2)!;
    expect(full.info.stimulusName).toBe('long-square +50pA');
    expect(full.response).toHaveLength(10_000);
    expect(full.response).toEqual(Array.from(data.response));
    expect(full.stimulus).toEqual(Array.from(data.stimulus!));
    expect(full.sampleRateHz).toBe(10_000);
    const small = (await get('/api/sweeps/2?maxPoints=1000')).json();
    expect(small.response.length).toBeLessThanOrEqual(1000);
    expect(small.stimulus.length).toBe(small.response.length);
    expect(small.sampleRateHz).toBeCloseTo((10_000 * small.response.length) / 10_000, 6);
  });

  it('a long sweep as JSON is decimated to at most 20 000 points whatever is asked; as binary it stays exact', async () => {
    await start();
    const n = 200_000; // 4 s at 50 kHz
    const response = new Float32Array(n).map((_, i) => Math.sin(i / 100) * 1e-3);
    const info = { ...archive.sweepsById.get(2)!.info, sweepId: 3, samples: n, sampleRateHz: 50_000 };
    archive.sweepsById.set(3, { info, response, stimulus: null });
    const byDefault = (await get('/api/sweeps/3')).json();
    expect(byDefault.response.length).toBeLessThanOrEqual(20_000);
    expect(byDefault.response.length).toBeGreaterThan(19_000);
    const peak = (xs: ArrayLike<number>): number => {
      let m = -Infinity;
      for (let i = 0; i < xs.length; i++) m = Math.max(m, xs[i]);
      return m;
    };
    expect(peak(byDefault.response)).toBe(peak(response)); // min/max decimation keeps the extremes
    expect((await get('/api/sweeps/3?maxPoints=1000000')).json().response.length).toBe(byDefault.response.length);
    expect((await get('/api/sweeps/3?maxPoints=500')).json().response.length).toBeLessThanOrEqual(500);
    const [frame] = decodeTraceFrames((await get('/api/sweeps/3?format=bin')).rawPayload);
    expect(Buffer.from(frame.samples.buffer, frame.samples.byteOffset, frame.samples.byteLength)).toEqual(Buffer.from(response.buffer));
  });

  it('a sweep as binary is the response frame then the command frame, bit-exact', async () => {
    await start();
    const res = await get('/api/sweeps/2?format=bin');
    expect(res.headers['content-type']).toBe('application/octet-stream');
    const [response, command] = decodeTraceFrames(res.rawPayload);
    const data = archive.sweepsById.get(2)!;
    expect(response).toMatchObject({ kind: 'stimulus', unit: 'V', mode: 'IC', seq: 2, startTime: 120_000, sampleRateHz: 10_000 });
    expect(Buffer.from(response.samples.buffer)).toEqual(Buffer.from(data.response.buffer));
    expect(command).toMatchObject({ kind: 'command', unit: 'A', mode: 'IC' }); // IC commands current
    expect(Buffer.from(command.samples.buffer)).toEqual(Buffer.from(data.stimulus!.buffer));
    // a test pulse has no command frame
    const tp = decodeTraceFrames((await get('/api/sweeps/1?format=bin')).rawPayload);
    expect(tp.map((f) => f.kind)).toEqual(['testpulse']);
  });

  it('reading the archive from another machine needs the token', async () => {
    await start();
    expect((await get('/api/sessions', '10.1.2.3')).statusCode).toBe(401);
    const ok = await app!.inject({ method: 'GET', url: '/api/sessions', remoteAddress: '10.1.2.3', headers: { 'x-autopatch-token': TOKEN } });
    expect(ok.statusCode).toBe(200);
  });

  it('an archive that throws gives a 500 JSON error, not a crash', async () => {
    await start();
    archive.sweep = async () => {
      throw new Error('database is locked');
    };
    const res = await get('/api/sweeps/1');
    expect(res.statusCode).toBe(500);
    expect(res.json().error).toMatch(/database is locked/);
    expect((await get('/api/sessions')).statusCode).toBe(200);
  });
});

describe('static UI', () => {
  it('serves the pages, the modules and uPlot from node_modules', async () => {
    await start();
    const index = await get('/');
    expect(index.statusCode).toBe(200);
    expect(index.headers['content-type']).toMatch(/text\/html/);
    expect(index.body).toContain('id="estop"');
    expect((await get('/sessions.html')).body).toContain('id="sessions"');
    const live = await get('/js/live.js');
    expect(live.statusCode).toBe(200);
    expect(live.headers['content-type']).toMatch(/javascript/);
    const uplot = await get('/vendor/uplot/uPlot.esm.js');
    expect(uplot.statusCode).toBe(200);
    expect(uplot.body).toMatch(/export\s*\{[^}]*as default|export default/);
    expect((await get('/vendor/uplot/uPlot.min.css')).statusCode).toBe(200);
    // only the two files the UI needs are exposed from node_modules
    expect((await get('/vendor/uplot/uPlot.cjs.js')).statusCode).toBe(404);
    expect((await get('/vendor/uplot/../../package.json')).statusCode).toBe(404);
  });

  it('every module the pages import exists (no CDN, no build step)', async () => {
    await start();
    const seen = new Set<string>();
    const queue = ['/js/live.js', '/js/sessions.js'];
    while (queue.length) {
      const path = queue.pop()!;
      if (seen.has(path)) continue;
      seen.add(path);
      const res = await get(path);
      expect(res.statusCode, path).toBe(200);
      for (const m of res.body.matchAll(/^import\s[^'"]*['"]([^'"]+)['"]/gm)) {
        const spec = m[1];
        expect(spec.startsWith('http'), `${path} imports ${spec}`).toBe(false);
        queue.push(new URL(spec, `http://x${path}`).pathname);
      }
    }
    expect(seen).toContain('/vendor/uplot/uPlot.esm.js');
    expect(seen.size).toBeGreaterThan(8);
  });
});
