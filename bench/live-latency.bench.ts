/**
 * Event-to-browser latency of the live dashboard, end to end: from the moment
 * the rig emits an event (its onEvent listener, i.e. the server's hub.push,
 * runs) to the moment the dashboard page in a real Chromium has it — when the
 * UI's WebSocket handler has decoded it and applied it to its model, and when
 * the next animation frame (after the UI's redraw) runs.
 *
 * Load: 4 pipettes, each with a test-pulse reading and a test-pulse trace
 * (50 kHz × 20 ms, 10 ms step) at 30 Hz, pressure at 2 Hz and a state change
 * every 3 s, emitted through the fake rig by real-time timers into the real
 * server (createServer) on a local port. 2 s of warm-up, then 20 s counted.
 *
 * Matching: JSON events carry `epochMs`, which the bench sets to the emit
 * time (timeOrigin + now, float ms), so the page can name them; trace frames
 * are named by (pipette index, seq). Every emitted event is kept in a map,
 * so anything that never arrives is counted.
 */
import { performance } from 'node:perf_hooks';
import type { PipetteStateName, RigEvent } from '../src/control/events.ts';
import { createRealClock } from '../src/clock/index.ts';
import { createServer, dashboardUrl } from '../src/server/index.ts';
import { createFakeArchive } from '../tests/server/fake-archive.ts';
import { createFakeRig, reading, testPulseSweep } from '../tests/server/fake-rig.ts';
import { nowEpochMs, openProbe, type Arrival } from './support/live-latency-probe.ts';

const PIPETTES = 4;
const TEST_PULSE_HZ = 30;
/** every Nth test-pulse tick of a pipette also emits a pressure reading (2 Hz) */
const PRESSURE_EVERY = 15;
/** … and a state change (every 3 s) */
const STATE_EVERY = 90;
const WARMUP_S = 2;
const MEASURE_S = 20;
const GOAL_P99_MS = 50;
const TOKEN = 'bench-live-latency-token';
const STATES: PipetteStateName[] = ['descent', 'hunt', 'confirmHit', 'seal', 'cellAttached', 'breakIn', 'wholeCell', 'record'];

type Kind = 'reading' | 'trace' | 'pressure' | 'state';

interface Emitted {
  kind: Kind;
  at: number;
  counted: boolean;
}

function pct(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

function summary(values: number[]): { n: number; p50: number; p99: number; max: number } {
  const s = [...values].sort((a, b) => a - b);
  return { n: s.length, p50: pct(s, 0.5), p99: pct(s, 0.99), max: s[s.length - 1] ?? NaN };
}

const ms = (x: number): string => (Number.isFinite(x) ? `${x.toFixed(x < 10 ? 2 : 1)} ms` : '—');

export async function bench(): Promise<void> {
  const clock = createRealClock();
  const rig = createFakeRig({ pipettes: PIPETTES, clock });
  await rig.start({ preset: 'bench', operator: 'bench' }, 'bench');
  const app = createServer({ rig, archive: createFakeArchive(), token: TOKEN, port: 0, clock });
  const base = await app.autopatch.listen();

  const probe = await openProbe(dashboardUrl(base, TOKEN)).catch(async (err: unknown) => {
    await app.close();
    throw err;
  });
  try {
    console.log(`receiver: ${probe.label}`);
    console.log(
      `load: ${PIPETTES} pipettes × (test-pulse reading + 1000-sample trace) at ${TEST_PULSE_HZ} Hz, pressure ${TEST_PULSE_HZ / PRESSURE_EVERY} Hz, a state change every ${STATE_EVERY / TEST_PULSE_HZ} s; ${WARMUP_S} s warm-up + ${MEASURE_S} s counted`,
    );
    const offset = await probe.clockOffset();
    console.log(
      `clock check: receiver − bench = ${offset.offsetMs >= 0 ? '+' : ''}${offset.offsetMs.toFixed(3)} ms (± ${offset.boundMs.toFixed(3)} ms); latencies are not corrected for it`,
    );

    // ------------------------------------------------------------- emission
    const emitted = new Map<string, Emitted>();
    const lateness: number[] = [];
    const sweepTemplate = testPulseSweep({ seq: 0, startTime: 0, samples: 1000, sampleRateHz: 50_000 });
    const period = 1000 / TEST_PULSE_HZ;
    const t0 = performance.now() + 50;
    const countFrom = t0 + WARMUP_S * 1000;
    const end = countFrom + MEASURE_S * 1000;

    /**
     * The emit moment is stamped right before the fake rig hands the event to
     * its listeners (the server's hub.push); `name` gives the key the
     * receiver will report for it.
     */
    const emit = (kind: Kind, name: (at: number) => string, build: (epochMs: number) => RigEvent, counted: boolean): void => {
      const at = nowEpochMs();
      emitted.set(name(at), { kind, at, counted });
      rig.emit(build(at));
    };
    const jsonKey = (type: string, pipetteId: string) => (at: number) => `${type}|${pipetteId}|${at}`;

    const timers = new Set<NodeJS.Timeout>();
    const later = (fn: () => void, atPerfMs: number): void => {
      const timer = setTimeout(() => {
        timers.delete(timer);
        fn();
      }, Math.max(0, atPerfMs - performance.now()));
      timers.add(timer);
    };

    const runPipette = (p: number): Promise<void> =>
      new Promise((done) => {
        const pipetteId = `p${p + 1}`;
        // pipettes out of phase with one another, as independent acquisition loops would be
        const phase = (p * period) / PIPETTES;
        let k = 0;
        const tick = (): void => {
          const due = t0 + phase + k * period;
          const counted = due >= countFrom;
          if (counted) lateness.push(performance.now() - due);
          const t = clock.now();
          const seq = k + 1;
          // the trace first, then the reading derived from it, as an acquisition loop would
          emit('trace', () => `sweep|${p}|${seq}`, (epochMs) => ({
            t, epochMs, type: 'sweep', pipetteId, attemptId: null,
            sweep: { ...sweepTemplate, channel: p, seq, startTime: t },
          }), counted);
          emit('reading', jsonKey('pipette.testpulse', pipetteId), (epochMs) => ({
            t, epochMs, type: 'pipette.testpulse', pipetteId, attemptId: null, reading: reading(5e6 + 1e3 * (k % 1000)),
          }), counted);
          if (k % PRESSURE_EVERY === p) {
            emit('pressure', jsonKey('pipette.pressure', pipetteId), (epochMs) => ({
              t, epochMs, type: 'pipette.pressure', pipetteId, mbar: 20 + (k % 7), source: 'regulator',
            }), counted);
          }
          if (k % STATE_EVERY === p * 20) {
            const n = Math.floor(k / STATE_EVERY);
            const from = STATES[n % STATES.length];
            const to = STATES[(n + 1) % STATES.length];
            emit('state', jsonKey('pipette.state', pipetteId), (epochMs) => ({
              t, epochMs, type: 'pipette.state', pipetteId, attemptId: null, from, to, reason: 'bench',
            }), counted);
          }
          k++;
          const nextDue = t0 + phase + k * period;
          if (nextDue >= end) done();
          else later(tick, nextDue);
        };
        later(tick, t0 + phase);
      });

    // CPU figures cover the counted part only
    let cpuAtCount = process.cpuUsage();
    let wallAtCount = countFrom;
    let busyAtCount: Promise<number | null> = Promise.resolve(null);
    later(() => {
      cpuAtCount = process.cpuUsage();
      wallAtCount = performance.now();
      busyAtCount = probe.busySeconds();
    }, countFrom);

    await Promise.all(Array.from({ length: PIPETTES }, (_, p) => runPipette(p)));
    const cpu = process.cpuUsage(cpuAtCount);
    const wall = performance.now() - wallAtCount;
    const busy0 = await busyAtCount;
    const busy1 = await probe.busySeconds();
    for (const t of timers) clearTimeout(t);

    // let the last frames land, then read what the receiver saw
    await new Promise((r) => setTimeout(r, 500));
    const hubStats = app.autopatch.hub.stats();
    const { arrivals, others } = await probe.collect();

    // --------------------------------------------------------------- figures
    const byKey = new Map<string, Arrival>();
    let unknown = 0;
    for (const a of arrivals) {
      if (emitted.has(a.key)) byKey.set(a.key, a);
      else unknown++;
    }
    const recv: number[] = [];
    const dispatch: number[] = [];
    const frame: number[] = [];
    const perKind = new Map<Kind, { emitted: number; missing: number; recv: number[] }>();
    let framesMissing = 0;
    for (const [key, e] of emitted) {
      if (!e.counted) continue;
      const k = perKind.get(e.kind) ?? { emitted: 0, missing: 0, recv: [] };
      perKind.set(e.kind, k);
      k.emitted++;
      const a = byKey.get(key);
      if (!a) {
        k.missing++;
        continue;
      }
      dispatch.push(a.arrived - e.at);
      recv.push(a.applied - e.at);
      k.recv.push(a.applied - e.at);
      if (a.framed === null) framesMissing++;
      else frame.push(a.framed - e.at);
    }
    const counted = [...perKind.values()].reduce((s, k) => s + k.emitted, 0);
    const r = summary(recv);
    const d = summary(dispatch);
    console.log(`events counted: ${counted} (${(counted / MEASURE_S).toFixed(0)}/s), received ${r.n}; ${others} other messages (snapshot, clock)`);
    console.log(
      `event → ${probe.isBrowser ? 'page handler done (decoded, applied to the UI model)' : 'ws client (decoded)'}: p50 ${ms(r.p50)}  p99 ${ms(r.p99)}  max ${ms(r.max)}   goal p99 ≤ ${GOAL_P99_MS} ms → ratio ${(r.p99 / GOAL_P99_MS).toFixed(3)}`,
    );
    console.log(`  until the message event was dispatched (queueing before the handler): p50 ${ms(d.p50)}  p99 ${ms(d.p99)}  max ${ms(d.max)}`);
    for (const [kind, k] of perKind) {
      const s = summary(k.recv);
      console.log(`  ${kind.padEnd(8)} n ${String(s.n).padStart(5)}  p50 ${ms(s.p50)}  p99 ${ms(s.p99)}  max ${ms(s.max)}`);
    }
    if (probe.isBrowser) {
      const f = summary(frame);
      console.log(
        `event → next animation frame (after the UI's redraw): p50 ${ms(f.p50)}  p99 ${ms(f.p99)}  max ${ms(f.max)}   (a 60 Hz frame adds up to 16.7 ms; ${framesMissing} without a frame)`,
      );
    }
    const missing = [...perKind.entries()].map(([kind, k]) => `${kind} ${k.missing}/${k.emitted}`).join(', ');
    const client = hubStats.perClient[0];
    console.log(
      `missing: ${missing}${unknown ? `; ${unknown} unmatched arrivals` : ''}` +
        (client ? `   (server: dropped ${client.dropped}, coalesced ${client.coalesced}, inbox dropped ${hubStats.inboxDropped}${client.closedTooSlow ? ', CLIENT CLOSED TOO SLOW' : ''})` : '   (no client left on the server)'),
    );
    const late = summary(lateness);
    const nodeCpu = (cpu.user + cpu.system) / 1000 / wall;
    const busy = busy0 !== null && busy1 !== null ? (busy1 - busy0) * 1000 / wall : null;
    console.log(
      `CPU over the counted run: bench process (server + emitter${probe.isBrowser ? ' + browser driver' : ''}) ${(nodeCpu * 100).toFixed(1)} % of one core` +
        (busy !== null ? `; page renderer main thread busy ${(busy * 100).toFixed(1)} %` : ''),
    );
    console.log(`emitter timer error vs schedule: p50 ${ms(late.p50)}  p99 ${ms(late.p99)}  max ${ms(late.max)} (load generator jitter, not in the latency)`);
    const errors = probe.errors();
    if (errors.length) console.log(`receiver errors (${errors.length}): ${errors.slice(0, 3).join(' | ')}`);
  } finally {
    await probe.close();
    await app.close();
  }
}
