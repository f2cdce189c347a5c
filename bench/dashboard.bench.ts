/**
 * Dashboard fan-out cost. The rig's event listener (hub.push) runs inside the
 * control loop, so it must stay tiny whatever the clients do; the deferred
 * flush does the encoding and must keep up with a busy 8-pipette rig.
 *
 * Load: 8 pipettes × 50 test-pulse readings/s + 8 × 10 traces/s of 2000
 * samples (a 20 kHz, 100 ms test pulse), to 4 clients of which one is stalled.
 */
import { performance } from 'node:perf_hooks';
import type { RigEvent } from '../src/control/events.ts';
import { createHub } from '../src/server/hub.ts';
import { DEFAULT_LIVE } from '../src/server/server.ts';
import { createFakeRig, reading, testPulseSweep } from '../tests/server/fake-rig.ts';

const PIPETTES = 8;
const READING_HZ = 50;
const TRACE_HZ = 10;
const SECONDS = 20;

function stub(buffered: number) {
  return { readyState: 1, bufferedAmount: buffered, bytes: 0, send(d: string | Buffer) { this.bytes += d.length; }, close() {} };
}

export async function bench(): Promise<void> {
  const rig = createFakeRig({ pipettes: PIPETTES });
  const hub = createHub({
    snapshot: () => rig.snapshot(),
    limits: { highWaterBytes: DEFAULT_LIVE.highWaterBytes, maxBufferedBytes: Number.MAX_SAFE_INTEGER },
    maxInbox: DEFAULT_LIVE.maxInbox,
    maxPoints: DEFAULT_LIVE.maxPoints,
    encoding: DEFAULT_LIVE.encoding,
    defer: () => {}, // flushed by hand below, once per simulated 10 ms
  });
  const clients = [stub(0), stub(0), stub(0), stub(10 * DEFAULT_LIVE.highWaterBytes)];
  for (const c of clients) hub.addClient(c);

  // one simulated second of events, reused
  const second: RigEvent[][] = [];
  const sweep = testPulseSweep({ seq: 1, startTime: 0, samples: 2000 });
  for (let tick = 0; tick < 100; tick++) {
    const batch: RigEvent[] = [];
    for (let p = 0; p < PIPETTES; p++) {
      const id = `p${p + 1}`;
      if (tick % (100 / READING_HZ) === 0) batch.push({ t: tick * 10, epochMs: 0, type: 'pipette.testpulse', pipetteId: id, attemptId: null, reading: reading(5e6 + tick) });
      if (tick % (100 / TRACE_HZ) === 0) batch.push({ t: tick * 10, epochMs: 0, type: 'sweep', pipetteId: id, attemptId: null, sweep });
      if (tick % 20 === 0) batch.push({ t: tick * 10, epochMs: 0, type: 'pipette.pressure', pipetteId: id, mbar: tick, source: 'regulator' });
    }
    second.push(batch);
  }

  // warm-up second (JIT), not counted
  for (const batch of second) {
    for (const e of batch) hub.push(e);
    hub.flush();
  }
  for (const c of clients) c.bytes = 0;

  let pushNs = 0;
  let pushes = 0;
  let flushMs = 0;
  const flushTimes: number[] = [];
  for (let s = 0; s < SECONDS; s++) {
    for (const batch of second) {
      const t0 = performance.now();
      for (const e of batch) hub.push(e);
      pushNs += (performance.now() - t0) * 1e6;
      pushes += batch.length;
      const t1 = performance.now();
      hub.flush();
      const dt = performance.now() - t1;
      flushMs += dt;
      flushTimes.push(dt);
    }
  }
  flushTimes.sort((a, b) => a - b);
  const p99 = flushTimes[Math.floor(flushTimes.length * 0.99)];
  const worstFlushMs = flushTimes[flushTimes.length - 1];
  const perPush = pushNs / pushes;
  const cpuShare = flushMs / (SECONDS * 1000);
  const stalled = hub.stats().perClient[3];
  const mbPerS = clients[0].bytes / SECONDS / 1e6;
  console.log(`events: ${pushes} over ${SECONDS} simulated s (${(pushes / SECONDS).toFixed(0)}/s), 4 clients, one stalled`);
  console.log(`push (rig call path): ${perPush.toFixed(0)} ns/event   goal ≤ 2000 ns   ratio ${(perPush / 2000).toFixed(3)}`);
  console.log(`flush CPU: ${(cpuShare * 100).toFixed(2)} % of one core   goal ≤ 10 %   ratio ${(cpuShare / 0.1).toFixed(3)}`);
  console.log(`flush of 10 ms of events: p99 ${p99.toFixed(2)} ms   goal ≤ 5 ms   ratio ${(p99 / 5).toFixed(3)}; worst ${worstFlushMs.toFixed(2)} ms (GC and other load included)`);
  console.log(`per healthy client: ${mbPerS.toFixed(2)} MB/s; stalled client dropped ${stalled.dropped}, coalesced ${stalled.coalesced}`);
}
