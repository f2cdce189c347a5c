import { afterEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { createVirtualClock } from '../../src/clock/index.ts';
import type { SessionSnapshot } from '../../src/control/api.ts';
import { createServer, type ServerOptions } from '../../src/server/server.ts';
import { decodeTraceFrame } from '../../src/server/trace-frame.ts';
import { createFakeArchive } from './fake-archive.ts';
import { createFakeRig, reading, testPulseSweep, type FakeRig } from './fake-rig.ts';
import { openProbe, settle, type WsProbe } from './ws-probe.ts';

const TOKEN = 'correct-horse-battery';
let app: FastifyInstance | null = null;
const probes: WsProbe[] = [];

async function start(over: Partial<ServerOptions> = {}, rig: FakeRig = createFakeRig()) {
  app = createServer({ rig, archive: createFakeArchive(), token: TOKEN, ...over });
  await app.ready();
  return { rig, app };
}
async function probe(opts: Parameters<typeof openProbe>[1] = {}) {
  const p = await openProbe(app!, opts);
  probes.push(p);
  return p;
}

afterEach(async () => {
  for (const p of probes.splice(0)) p.close();
  await app?.close();
  app = null;
});

describe('/ws live stream', () => {
  it('sends the full current snapshot on connect, so a reloaded page restores everything', async () => {
    const { rig } = await start();
    await rig.start({ preset: 'acute-slice', operator: 'ada' }, 'test');
    rig.emit({ ...rig.stamp(), type: 'pipette.state', pipetteId: 'p3', attemptId: 'a7', from: 'seal', to: 'cellAttached', reason: 'gigaseal' });
    rig.emit({ ...rig.stamp(), type: 'pipette.testpulse', pipetteId: 'p3', attemptId: 'a7', reading: reading(1.4e9) });

    const p = await probe();
    const msg = await p.waitForText('snapshot');
    const snap = msg.snapshot as SessionSnapshot;
    expect(snap.phase).toBe('running');
    expect(snap.preset).toBe('acute-slice');
    expect(snap.pipettes.map((x) => x.pipetteId)).toEqual(['p1', 'p2', 'p3', 'p4']);
    const p3 = snap.pipettes[2];
    expect(p3).toMatchObject({ state: 'cellAttached', lastReason: 'gigaseal', attemptId: 'a7' });
    expect(p3.history.at(-1)?.[1]).toBe(1.4e9);
    expect(snap.thresholds).toEqual(rig.state.thresholds);
    // the very first message is the snapshot
    expect(p.received[0]).toMatchObject({ kind: 'text', value: { type: 'snapshot' } });
  });

  it('streams events as JSON text frames and traces as binary frames that decode', async () => {
    const { rig } = await start({ live: { maxPoints: 500, encoding: 'int16' } });
    const p = await probe();
    await p.waitForText('snapshot');

    rig.emit({ ...rig.stamp(), type: 'pipette.state', pipetteId: 'p2', attemptId: 'a1', from: 'descent', to: 'hunt', reason: 'region reached' });
    const sweep = testPulseSweep({ channel: 1, seq: 42, startTime: 1234, samples: 8000, r: 8e6 });
    rig.emitTrace({ t: rig.stamp().t, pipetteId: 'p2', attemptId: 'a1', sweep });
    rig.emit({ ...rig.stamp(), type: 'fault', pipetteId: 'p2', device: 'mp285', kind: 'timeout', message: 'no reply' });

    const fault = await p.waitForText('event', (v) => (v.event as { type: string }).type === 'fault');
    expect(fault.event).toMatchObject({ pipetteId: 'p2', device: 'mp285', kind: 'timeout' });
    const state = p.texts('event').map((m) => (m.event as { type: string }).type);
    expect(state).toEqual(['pipette.state', 'fault']);

    const bin = await p.waitFor((m) => m.kind === 'binary', 'a trace frame');
    const frame = decodeTraceFrame(bin.value as Buffer);
    expect(frame).toMatchObject({ pipetteIndex: 1, kind: 'testpulse', unit: 'A', mode: 'VC', seq: 42, startTime: 1234, originalLength: 8000, encoding: 'int16' });
    expect(frame.samples.length).toBeLessThanOrEqual(500);
    // the steady-state current of the step (10 mV / 8 MΩ) is still there after decimation and int16
    const steady = 0.01 / 8e6;
    expect(frame.samples.some((v) => Math.abs(v - steady) < steady * 0.02)).toBe(true);
  });

  it('sends a fresh snapshot to every client when a session starts', async () => {
    const { rig } = await start();
    const a = await probe();
    const b = await probe();
    await rig.start({ preset: 'culture', operator: 'bo' }, 'test');
    for (const p of [a, b]) {
      const snaps = await p.waitForText('snapshot', (v) => (v.snapshot as SessionSnapshot).phase === 'running');
      expect((snaps.snapshot as SessionSnapshot).preset).toBe('culture');
    }
  });

  it('answers resync with a snapshot and ping with pong', async () => {
    await start();
    const p = await probe();
    await p.waitForText('snapshot');
    p.send({ type: 'ping', id: 7 });
    expect(await p.waitForText('pong')).toEqual({ type: 'pong', id: 7 });
    p.send({ type: 'resync' });
    await p.waitFor((m) => m.kind === 'text' && m.value.type === 'snapshot' && p.texts('snapshot').length === 2, 'second snapshot');
  });

  it('streams the rig clock as heartbeats when given a clock', async () => {
    const clock = createVirtualClock();
    const { rig } = await start({ clock, heartbeatMs: 500 }, createFakeRig({ clock }));
    const p = await probe();
    await p.waitForText('snapshot');
    await clock.runFor(2000);
    await settle();
    const beat = await p.waitForText('clock');
    expect(beat.t).toBeGreaterThanOrEqual(500);
    expect(beat.t).toBeLessThanOrEqual(2000);
    expect(beat.epochMs).toBe(clock.epochMs() - (clock.now() - (beat.t as number)));
    expect(rig.listenerCount()).toBe(1);
  });

  it('unsubscribes from the rig and stops the heartbeat when the server closes', async () => {
    const clock = createVirtualClock();
    const { rig } = await start({ clock }, createFakeRig({ clock }));
    expect(rig.listenerCount()).toBe(1);
    expect(clock.pendingTimers()).toBe(1);
    await app!.close();
    app = null;
    expect(rig.listenerCount()).toBe(0);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('is open for reading from this machine, needs the token from elsewhere', async () => {
    await start();
    await expect(openProbe(app!, { remoteAddress: '192.168.1.20' })).rejects.toThrow(/401/);
    await expect(openProbe(app!, { remoteAddress: '192.168.1.20', path: '/ws?token=nope-nope' })).rejects.toThrow(/403/);
    const p = await probe({ remoteAddress: '192.168.1.20', path: `/ws?token=${TOKEN}` });
    await p.waitForText('snapshot');
  });

  it('listening on another address than loopback, reading needs the token from this machine too', async () => {
    await start({ host: '0.0.0.0' });
    await expect(openProbe(app!, { remoteAddress: '127.0.0.1' })).rejects.toThrow(/401/);
    expect((await app!.inject({ method: 'GET', url: '/api/snapshot', remoteAddress: '127.0.0.1' })).statusCode).toBe(401);
    const p = await probe({ remoteAddress: '127.0.0.1', path: `/ws?token=${TOKEN}` });
    await p.waitForText('snapshot');
  });
});

describe('/ws commands', () => {
  it('refuses a command without the token, and the rig sees nothing', async () => {
    const { rig } = await start();
    const p = await probe();
    p.send({ type: 'command', id: 1, request: { action: 'estop' } });
    const err = await p.waitForText('error');
    expect(err).toMatchObject({ id: 1, error: expect.stringMatching(/token required/) });
    expect(rig.calls).toEqual([]);
  });

  it('runs a command once the socket is authorised (auth message or ?token=)', async () => {
    const { rig } = await start();
    const p = await probe();
    p.send({ type: 'auth', id: 'a', token: 'wrong-token' });
    expect(await p.waitForText('error', (v) => v.id === 'a')).toMatchObject({ error: 'wrong token' });
    p.send({ type: 'auth', id: 'b', token: TOKEN });
    expect(await p.waitForText('reply', (v) => v.id === 'b')).toMatchObject({ ok: true });
    p.send({ type: 'command', id: 2, request: { action: 'pipette', pipetteId: 'p2', command: { action: 'pressure', mbar: -25 } } });
    expect(await p.waitForText('reply', (v) => v.id === 2)).toMatchObject({ ok: true, status: 200 });
    expect(rig.calls).toEqual([{ method: 'pipette', args: ['p2', { action: 'pressure', mbar: -25 }, 'dashboard'] }]);

    const q = await probe({ path: `/ws?token=${TOKEN}` });
    q.send({ type: 'command', id: 3, request: { action: 'estop' } });
    expect(await q.waitForText('reply', (v) => v.id === 3)).toMatchObject({ ok: true });
    expect(rig.calls.at(-1)?.method).toBe('emergencyStop');
  });

  it('passes the rig refusal back with 409 and its reason', async () => {
    const { rig } = await start();
    const p = await probe({ path: `/ws?token=${TOKEN}` });
    p.send({ type: 'command', id: 1, request: { action: 'resume' } });
    expect(await p.waitForText('reply', (v) => v.id === 1)).toMatchObject({ ok: false, status: 409, error: 'cannot resume while idle' });
    expect(rig.calls.map((c) => c.method)).toEqual(['resume']);
  });

  it('answers malformed messages with an error and changes nothing', async () => {
    const { rig } = await start();
    const p = await probe({ path: `/ws?token=${TOKEN}` });
    await p.waitForText('snapshot');
    const bad: Array<[unknown, RegExp]> = [
      ['{not json', /not valid JSON/],
      [[1, 2], /JSON object/],
      [{ type: 'launch' }, /type must be one of/],
      [{ type: 'command', id: 5, request: { action: 'pipette', pipetteId: 'p1', command: { action: 'pressure', mbar: '-300' } } }, /mbar must be number,null/],
      [{ type: 'command', request: { action: 'start', preset: 'x' } }, /operator/],
      [{ type: 'command', request: { action: 'estop', please: true } }, /additional properties/],
      [{ type: 'command', request: { action: 'selfDestruct' } }, /action/],
    ];
    for (const [msg, pattern] of bad) p.send(typeof msg === 'string' ? msg : JSON.stringify(msg));
    p.ws.send(Buffer.from([1, 2, 3]), { binary: true });
    await p.waitFor(() => p.texts('error').length === bad.length + 1, 'all errors');
    const errors = p.texts('error').map((e) => e.error as string);
    bad.forEach(([, pattern], i) => expect(errors[i]).toMatch(pattern));
    expect(errors[bad.length]).toMatch(/binary/);
    expect(p.texts('error')[3]).toMatchObject({ id: 5 });
    expect(rig.calls).toEqual([]);
    // the socket is still alive and useful
    p.send({ type: 'ping', id: 'still-there' });
    await p.waitForText('pong');
  });
});
