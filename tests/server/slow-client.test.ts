/**
 * A client that stops reading, over a real TCP WebSocket against the real
 * server (not a stub socket): once its backlog passes the high-water mark the
 * hub drops its lossy frames (traces, readings) and counts them, keeps every
 * critical event for it, and when even those pile past the limit closes it
 * (1013, it reconnects to a snapshot: the documented policy). A client that
 * reads meanwhile receives everything.
 */
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { FastifyInstance } from 'fastify';
import type { RigEvent } from '../../src/control/events.ts';
import { createServer } from '../../src/server/server.ts';
import { createFakeArchive } from './fake-archive.ts';
import { createFakeRig, reading, testPulseSweep, type FakeRig } from './fake-rig.ts';

const TOKEN = 'slow-client-token-1';
let app: FastifyInstance | null = null;
const sockets: WebSocket[] = [];

afterEach(async () => {
  for (const s of sockets.splice(0)) s.terminate();
  await app?.close();
  app = null;
});

interface Client {
  ws: WebSocket;
  texts: Array<{ type: string; event?: RigEvent }>;
  binaries: number;
  closed: Promise<number>;
}

async function connect(base: string): Promise<Client> {
  const ws = new WebSocket(`${base.replace('http', 'ws')}ws`);
  sockets.push(ws);
  const client: Client = { ws, texts: [], binaries: 0, closed: new Promise((r) => ws.once('close', (code) => r(code))) };
  ws.on('message', (data, isBinary) => {
    if (isBinary) client.binaries++;
    else client.texts.push(JSON.parse(data.toString()) as Client['texts'][number]);
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  while (client.texts.length === 0) await turn();
  return client;
}

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));
const criticalSeqs = (c: Client): number[] =>
  c.texts.filter((m) => m.event?.type === 'log' && m.event.level === 'warn').map((m) => Number((m.event as { message: string }).message.split(' ')[0]));

describe('a client that stops reading, on a real socket', () => {
  it('loses only lossy frames (counted), keeps every critical event, then is closed 1013; a reading client gets everything', async () => {
    const rig: FakeRig = createFakeRig({ pipettes: 4 });
    app = createServer({
      rig,
      archive: createFakeArchive(),
      token: TOKEN,
      port: 0,
      live: { highWaterBytes: 64 * 1024, maxBufferedBytes: 4 * 1024 * 1024, maxPoints: 8000, encoding: 'float32' },
    });
    const base = await app.autopatch.listen();
    const reader = await connect(base);
    const stalled = await connect(base);
    stalled.ws.pause(); // stops reading from its TCP socket: the server's send buffer fills

    const stats = () => app!.autopatch.hub.stats();
    const stalledStats = () => stats().perClient.find((c) => c.id === 2);
    let critical = 0;
    let traces = 0;
    let readings = 0;
    const round = (): void => {
      for (let p = 1; p <= 4; p++) {
        const sweep = testPulseSweep({ seq: ++traces, startTime: traces, samples: 8000 });
        rig.emitTrace({ t: rig.stamp().t, pipetteId: `p${p}`, attemptId: null, sweep });
        rig.emit({ ...rig.stamp(), type: 'pipette.testpulse', pipetteId: `p${p}`, attemptId: null, reading: reading(5e6) });
        readings++;
      }
      rig.emit({ ...rig.stamp(), type: 'log', level: 'warn', pipetteId: null, message: `${++critical} critical` });
    };

    // 1. past the high-water mark: lossy frames dropped for it, counted; still connected
    for (let i = 0; i < 5000 && !(stalledStats()?.dropped ?? 0); i++) {
      round();
      await turn();
    }
    const dropping = stalledStats()!;
    expect(dropping.dropped).toBeGreaterThan(0);
    expect(dropping.closedTooSlow).toBe(false);
    for (let i = 0; i < 50; i++) {
      round();
      await turn();
    }
    expect(stalledStats()!.dropped).toBeGreaterThan(dropping.dropped);
    const criticalSoFar = critical;

    // 2. critical events keep coming (bigger ones, as a fault storm would): past the limit it is closed
    for (let i = 0; i < 20_000 && stalledStats(); i++) {
      rig.emit({ ...rig.stamp(), type: 'log', level: 'warn', pipetteId: null, message: `${++critical} critical ${'x'.repeat(16_000)}` });
      if (i % 10 === 0) await turn();
    }
    expect(stalledStats()).toBeUndefined(); // removed from the hub
    expect(stats().clients).toBe(1);

    // the reader has received everything: every critical event in order, every reading, every trace not superseded
    for (let i = 0; i < 200 && criticalSeqs(reader).length < critical; i++) await new Promise((r) => setTimeout(r, 10));
    expect(criticalSeqs(reader)).toEqual(Array.from({ length: critical }, (_, i) => i + 1));
    expect(reader.texts.filter((m) => m.event?.type === 'pipette.testpulse')).toHaveLength(readings);
    expect(reader.binaries + stats().tracesSuperseded).toBe(traces);
    expect(stats().perClient[0].dropped).toBe(0);

    // the stalled one, reading again: what it got holds every critical event up to where it was closed,
    // none missing in between, fewer traces than were sent, and then the close 1013
    stalled.ws.resume();
    expect(await stalled.closed).toBe(1013);
    const got = criticalSeqs(stalled);
    expect(got.length).toBeGreaterThanOrEqual(criticalSoFar);
    expect(got).toEqual(Array.from({ length: got.length }, (_, i) => i + 1));
    expect(stalled.binaries).toBeLessThan(traces - stats().tracesSuperseded);
  }, 120_000);
});
