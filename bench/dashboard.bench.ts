/**
 * Dashboard fan-out cost. The rig's listeners (hub.push, hub.pushTrace) run
 * inside the control loop, so they must stay tiny whatever the clients do;
 * the deferred flush does the encoding and the socket writes and must keep
 * up with a busy 8-pipette rig.
 *
 * Load: 8 pipettes × 50 test pulses/s, each a reading and a live trace of
 * 2000 samples (a 20 kHz, 100 ms test pulse: the runner traces every sweep),
 * and pressure at 5 Hz. Twice: to 4 stub sockets of which one is stalled
 * (the hub alone), then through the real server to 4 real WebSocket clients
 * on loopback of which one has stopped reading (the hub plus ws framing and
 * the kernel's socket writes).
 */
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import type { LiveTrace } from '../src/control/api.ts';
import type { RigEvent } from '../src/control/events.ts';
import { createHub, type LiveHub } from '../src/server/hub.ts';
import { createServer, DEFAULT_LIVE } from '../src/server/server.ts';
import { createFakeArchive } from '../tests/server/fake-archive.ts';
import { createFakeRig, reading, testPulseSweep } from '../tests/server/fake-rig.ts';

const PIPETTES = 8;
const TEST_PULSE_HZ = 50;
const SECONDS = 20;

type Item = { event: RigEvent } | { trace: LiveTrace };

function stub(buffered: number) {
  return { readyState: 1, bufferedAmount: buffered, bytes: 0, send(d: string | Buffer) { this.bytes += d.length; }, close() {} };
}

/** One simulated second of rig output in 10 ms ticks, reused. */
function oneSecond(): Item[][] {
  const second: Item[][] = [];
  const sweep = testPulseSweep({ seq: 1, startTime: 0, samples: 2000 });
  for (let tick = 0; tick < 100; tick++) {
    const batch: Item[] = [];
    for (let p = 0; p < PIPETTES; p++) {
      const pipetteId = `p${p + 1}`;
      if (tick % (100 / TEST_PULSE_HZ) === 0) {
        batch.push({ trace: { t: tick * 10, pipetteId, attemptId: null, sweep: { ...sweep, seq: tick } } });
        batch.push({ event: { t: tick * 10, epochMs: 0, type: 'pipette.testpulse', pipetteId, attemptId: null, reading: reading(5e6 + tick) } });
      }
      if (tick % 20 === 0) batch.push({ event: { t: tick * 10, epochMs: 0, type: 'pipette.pressure', pipetteId, mbar: tick, source: 'regulator' } });
    }
    second.push(batch);
  }
  return second;
}

interface Figures {
  perPushNs: number;
  cpuShare: number;
  p99: number;
  worst: number;
}

/** Feeds the load tick by tick, timing the rig's calls and each flush; `between` lets sockets work. */
async function drive(hub: LiveHub, push: (item: Item) => void, between: () => Promise<void>): Promise<Figures> {
  const second = oneSecond();
  const run = async (seconds: number, time: boolean) => {
    let pushNs = 0;
    let pushes = 0;
    let flushMs = 0;
    const flushTimes: number[] = [];
    for (let s = 0; s < seconds; s++) {
      for (const batch of second) {
        const t0 = performance.now();
        for (const item of batch) push(item);
        const t1 = performance.now();
        hub.flush();
        const t2 = performance.now();
        if (time) {
          pushNs += (t1 - t0) * 1e6;
          pushes += batch.length;
          flushMs += t2 - t1;
          flushTimes.push(t2 - t1);
        }
        await between();
      }
    }
    return { pushNs, pushes, flushMs, flushTimes };
  };
  await run(1, false); // warm-up (JIT), not counted
  const r = await run(SECONDS, true);
  r.flushTimes.sort((a, b) => a - b);
  return {
    perPushNs: r.pushNs / r.pushes,
    cpuShare: r.flushMs / (SECONDS * 1000),
    p99: r.flushTimes[Math.floor(r.flushTimes.length * 0.99)],
    worst: r.flushTimes[r.flushTimes.length - 1],
  };
}

function report(f: Figures): void {
  console.log(`  push (rig call path): ${f.perPushNs.toFixed(0)} ns/event   goal ≤ 2000 ns   ratio ${(f.perPushNs / 2000).toFixed(3)}`);
  console.log(`  flush CPU: ${(f.cpuShare * 100).toFixed(2)} % of one core   goal ≤ 10 %   ratio ${(f.cpuShare / 0.1).toFixed(3)}`);
  console.log(`  flush of 10 ms of events: p99 ${f.p99.toFixed(2)} ms   goal ≤ 5 ms   ratio ${(f.p99 / 5).toFixed(3)}; worst ${f.worst.toFixed(2)} ms (GC and other load included)`);
}

async function stubSockets(): Promise<void> {
  const rig = createFakeRig({ pipettes: PIPETTES });
  const hub = createHub({
    snapshot: () => rig.snapshot(),
    limits: { highWaterBytes: DEFAULT_LIVE.highWaterBytes, maxBufferedBytes: Number.MAX_SAFE_INTEGER },
    maxInbox: DEFAULT_LIVE.maxInbox,
    maxPoints: DEFAULT_LIVE.maxPoints,
    encoding: DEFAULT_LIVE.encoding,
    defer: () => {}, // flushed by hand, once per simulated 10 ms
  });
  const clients = [stub(0), stub(0), stub(0), stub(10 * DEFAULT_LIVE.highWaterBytes)];
  for (const c of clients) hub.addClient(c);
  const f = await drive(hub, (item) => ('trace' in item ? hub.pushTrace(item.trace) : hub.push(item.event)), async () => {});
  const stalled = hub.stats().perClient[3];
  console.log(`stub sockets (the hub alone): ${PIPETTES} pipettes × ${TEST_PULSE_HZ} Hz test pulses (reading + trace) + pressure, 4 clients, one stalled`);
  report(f);
  console.log(`  per healthy client: ${(clients[0].bytes / (SECONDS + 1) / 1e6).toFixed(2)} MB/s; stalled client dropped ${stalled.dropped}, coalesced ${stalled.coalesced}`);
}

async function realSockets(): Promise<void> {
  const rig = createFakeRig({ pipettes: PIPETTES });
  const app = createServer({ rig, archive: createFakeArchive(), token: 'dashboard-bench-token', port: 0 });
  const base = await app.autopatch.listen();
  const hub = app.autopatch.hub;
  const sockets: WebSocket[] = [];
  let received = 0;
  try {
    for (let i = 0; i < 4; i++) {
      const ws = new WebSocket(`${base.replace('http', 'ws')}ws`);
      await new Promise<void>((resolve, reject) => {
        ws.once('message', () => resolve());
        ws.once('error', reject);
      });
      if (i === 3) ws.pause(); // stopped reading: its TCP window closes, the server's buffer fills
      else ws.on('message', (d: Buffer) => (received += d.length));
      sockets.push(ws);
    }
    // the hub's calls as the server's rig listeners make them (the fake rig's own bookkeeping is not the rig's cost)
    const f = await drive(hub, (item) => ('trace' in item ? hub.pushTrace(item.trace) : hub.push(item.event)), () => new Promise((r) => setImmediate(r)));
    const s = hub.stats();
    const stalled = s.perClient.find((c) => c.id === 4);
    console.log(`real sockets (server + ws + loopback TCP): the same load, 4 WebSocket clients, one not reading`);
    report(f);
    console.log(
      `  3 reading clients: ${(received / 3 / (SECONDS + 1) / 1e6).toFixed(2)} MB/s each; stalled client ${stalled ? `dropped ${stalled.dropped}, coalesced ${stalled.coalesced}` : 'closed as too slow'}; traces superseded in a flush ${s.tracesSuperseded}`,
    );
    console.log('  (flush here includes ws framing and the socket writes; the readers run in this process between flushes)');
  } finally {
    for (const ws of sockets) ws.terminate();
    await app.close();
  }
}

export async function bench(): Promise<void> {
  await stubSockets();
  await realSockets();
}
