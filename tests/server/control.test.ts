import { afterEach, describe, expect, it } from 'vitest';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { createServer } from '../../src/server/server.ts';
import { createFakeArchive } from './fake-archive.ts';
import { createFakeRig, type FakeRig } from './fake-rig.ts';

const TOKEN = 'tok-0123456789';
let app: FastifyInstance | null = null;

async function start(rig: FakeRig = createFakeRig()) {
  app = createServer({ rig, archive: createFakeArchive(), token: TOKEN });
  await app.ready();
  return rig;
}

afterEach(async () => {
  await app?.close();
  app = null;
});

const post = (url: string, body?: unknown, headers: Record<string, string> = { authorization: `Bearer ${TOKEN}` }) =>
  app!.inject({ method: 'POST', url, headers, ...(body === undefined ? {} : { payload: body as InjectOptions['payload'] }) });

/** Every control route, with a valid body. */
const ROUTES: Array<[string, unknown]> = [
  ['/api/session/start', { preset: 'acute-slice', operator: 'ada' }],
  ['/api/session/pause', undefined],
  ['/api/session/resume', undefined],
  ['/api/session/abort', undefined],
  ['/api/estop', undefined],
  ['/api/pipettes/p1/skip', undefined],
  ['/api/pipettes/p1/retry', undefined],
  ['/api/pipettes/p1/abort', undefined],
  ['/api/pipettes/p1/clean', undefined],
  ['/api/pipettes/p1/replaced', undefined],
  ['/api/pipettes/p1/pressure', { mbar: -30 }],
  ['/api/pipettes/p1/holding', { mV: -70 }],
];

describe('control routes: token', () => {
  it.each(ROUTES)('%s without a token → 401, with a wrong one → 403; the rig sees no call', async (url, body) => {
    const rig = await start();
    const none = await post(url, body, {});
    expect(none.statusCode).toBe(401);
    expect(none.json()).toMatchObject({ ok: false, error: expect.stringMatching(/token required/) });
    const wrong = await post(url, body, { authorization: 'Bearer not-the-token' });
    expect(wrong.statusCode).toBe(403);
    const wrongHeader = await post(url, body, { 'x-autopatch-token': 'nope' });
    expect(wrongHeader.statusCode).toBe(403);
    expect(rig.calls).toEqual([]);
  });

  it('the token is refused before the body is looked at (no validation hint to a stranger)', async () => {
    const rig = await start();
    const res = await post('/api/pipettes/p1/pressure', { mbar: 'lots' }, {});
    expect(res.statusCode).toBe(401);
    expect(rig.calls).toEqual([]);
  });

  it('accepts the token as x-autopatch-token too', async () => {
    const rig = await start();
    const res = await post('/api/estop', undefined, { 'x-autopatch-token': TOKEN });
    expect(res.statusCode).toBe(200);
    expect(rig.calls.map((c) => c.method)).toEqual(['emergencyStop']);
  });
});

describe('control routes: calls', () => {
  it('each route makes exactly the matching call with its arguments', async () => {
    const rig = await start();
    const expected = [
      ['start', [{ preset: 'acute-slice', operator: 'ada' }, 'dashboard:ada']],
      ['pause', ['dashboard:ada']],
      ['resume', ['dashboard:ada']],
      ['abort', ['dashboard:ada']],
      ['emergencyStop', ['dashboard:ada']],
      ['pipette', ['p1', { action: 'skip' }, 'dashboard:ada']],
      ['pipette', ['p1', { action: 'retry' }, 'dashboard:ada']],
      ['pipette', ['p1', { action: 'abort' }, 'dashboard:ada']],
      ['pipette', ['p1', { action: 'clean' }, 'dashboard:ada']],
      ['pipette', ['p1', { action: 'replaced' }, 'dashboard:ada']],
      ['pipette', ['p1', { action: 'pressure', mbar: -30 }, 'dashboard:ada']],
      ['pipette', ['p1', { action: 'holding', mV: -70 }, 'dashboard:ada']],
    ];
    rig.result = { ok: true }; // answer everything, whatever the phase
    for (const [url, body] of ROUTES) {
      const res = await post(url, body, { authorization: `Bearer ${TOKEN}`, 'x-autopatch-operator': 'ada' });
      expect(res.statusCode, url).toBe(200);
      expect(res.json()).toEqual({ ok: true });
    }
    expect(rig.calls.map((c) => [c.method, c.args])).toEqual(expected);
  });

  it('null releases an override; durationMin is passed on', async () => {
    const rig = await start();
    expect((await post('/api/pipettes/p2/pressure', { mbar: null })).statusCode).toBe(200);
    expect((await post('/api/pipettes/p2/holding', { mV: null })).statusCode).toBe(200);
    expect((await post('/api/session/start', { preset: 'x', operator: 'y', durationMin: 90 })).statusCode).toBe(200);
    expect(rig.calls.map((c) => c.args[0])).toEqual(['p2', 'p2', { preset: 'x', operator: 'y', durationMin: 90 }]);
    // without an operator header, a start is recorded under the operator it names
    expect(rig.calls[2].args[1]).toBe('dashboard:y');
  });

  it('a refusal by the rig is 409 with its reason; an unknown pipette is 404 and never reaches the rig', async () => {
    const rig = await start();
    const res = await post('/api/session/pause');
    expect(res.statusCode).toBe(409);
    expect(res.json()).toEqual({ ok: false, error: 'cannot pause while idle' });
    const unknown = await post('/api/pipettes/p9/skip');
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().error).toBe("pipette 'p9' not found");
    expect(rig.calls.map((c) => c.method)).toEqual(['pause']);
  });

  it('a rig that throws gives 500 with the message and the server keeps serving', async () => {
    const rig = await start();
    rig.failWith = new Error('serial port gone');
    const res = await post('/api/estop');
    expect(res.statusCode).toBe(500);
    expect(res.json().error).toMatch(/serial port gone/);
    rig.failWith = null;
    expect((await post('/api/estop')).statusCode).toBe(200);
  });
});

describe('control routes: validation', () => {
  const cases: Array<[string, unknown, RegExp]> = [
    ['/api/pipettes/p1/pressure', { mbar: '-30' }, /body\/mbar must be number,null/],
    ['/api/pipettes/p1/pressure', {}, /must have required property 'mbar'/],
    ['/api/pipettes/p1/pressure', { mbar: -30, source: 'atmosphere' }, /must NOT have additional properties/],
    ['/api/pipettes/p1/holding', { mv: -70 }, /mV/],
    ['/api/pipettes/p1/holding', [-70], /body must be object/],
    ['/api/session/start', { preset: '', operator: 'a' }, /preset must NOT have fewer than 1 characters/],
    ['/api/session/start', { preset: 'x', operator: 'a', durationMin: 0 }, /durationMin must be > 0/],
    ['/api/session/start', { preset: 'x' }, /operator/],
    ['/api/pipettes/p1/launch', undefined, /action must be equal to one of the allowed values/],
  ];
  it.each(cases)('%s %j → 400 with the message, no call', async (url, body, message) => {
    const rig = await start();
    const res = await post(url, body);
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ ok: false, error: expect.stringMatching(message) });
    expect(rig.calls).toEqual([]);
  });

  const NO_ARGUMENTS = ROUTES.filter(([, body]) => body === undefined).map(([url]) => url);
  it.each(NO_ARGUMENTS)('%s takes no arguments: {} or no body runs it, anything else is 400 and no call', async (url) => {
    const rig = await start();
    rig.result = { ok: true };
    for (const body of [{ please: true }, { pipetteId: 'p2' }, []]) {
      const res = await post(url, body);
      expect(res.statusCode, JSON.stringify(body)).toBe(400);
      expect(res.json()).toMatchObject({ ok: false, error: expect.stringMatching(/body must (NOT have additional properties|be object)/) });
    }
    expect((await post(url, 'now')).statusCode).toBe(415); // not JSON at all
    const asNull = await app!.inject({ method: 'POST', url, headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, payload: 'null' });
    expect(asNull.statusCode).toBe(400);
    expect(rig.calls).toEqual([]);
    expect((await post(url, {})).statusCode).toBe(200);
    expect((await post(url)).statusCode).toBe(200);
    expect(rig.calls).toHaveLength(2);
  });

  it('malformed JSON and oversized bodies are refused without crashing', async () => {
    const rig = await start();
    const broken = await app!.inject({
      method: 'POST',
      url: '/api/pipettes/p1/pressure',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      payload: '{"mbar": -3',
    });
    expect(broken.statusCode).toBe(400);
    expect(broken.json().ok).toBe(false);
    const huge = await post('/api/session/start', { preset: 'x'.repeat(20_000), operator: 'a' });
    expect(huge.statusCode).toBe(413);
    expect(rig.calls).toEqual([]);
    expect((await post('/api/estop')).statusCode).toBe(200);
  });
});

describe('read routes', () => {
  it('the token check route answers 200 with the token, 401/403 without (the page shows whether it is armed)', async () => {
    await start();
    expect((await app!.inject({ method: 'GET', url: '/api/auth', headers: { authorization: `Bearer ${TOKEN}` } })).json()).toEqual({ ok: true });
    expect((await app!.inject({ method: 'GET', url: '/api/auth' })).statusCode).toBe(401);
    expect((await app!.inject({ method: 'GET', url: '/api/auth', headers: { authorization: 'Bearer wrong-wrong' } })).statusCode).toBe(403);
  });

  it('snapshot and presets (the rig’s runnable ones) are open from this machine, need the token from elsewhere', async () => {
    const rig = createFakeRig({ presets: ['acute-slice', 'culture'] });
    app = createServer({ rig, archive: createFakeArchive(), token: TOKEN });
    await app.ready();
    const local = await app.inject({ method: 'GET', url: '/api/snapshot' });
    expect(local.statusCode).toBe(200);
    expect(local.json().pipettes).toHaveLength(4);
    expect((await app.inject({ method: 'GET', url: '/api/presets' })).json()).toEqual({ presets: ['acute-slice', 'culture'] });

    const remote = await app.inject({ method: 'GET', url: '/api/snapshot', remoteAddress: '10.0.0.7' });
    expect(remote.statusCode).toBe(401);
    const remoteOk = await app.inject({ method: 'GET', url: '/api/snapshot', remoteAddress: '10.0.0.7', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(remoteOk.statusCode).toBe(200);
    const v6 = await app.inject({ method: 'GET', url: '/api/snapshot', remoteAddress: '::1' });
    expect(v6.statusCode).toBe(200);
  });

  it('refuses to start with a missing or trivial token', () => {
    const rig = createFakeRig();
    expect(() => createServer({ rig, archive: createFakeArchive(), token: '' })).toThrow(/token/);
    expect(() => createServer({ rig, archive: createFakeArchive(), token: 'short' })).toThrow(/token/);
  });

  it('unknown routes are 404 JSON naming the route', async () => {
    await start();
    const res = await app!.inject({ method: 'GET', url: '/api/nothing?x=1' });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({ ok: false, error: 'not found: GET /api/nothing' });
  });
});
