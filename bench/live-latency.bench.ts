/**
 * Event-to-browser latency of the live dashboard, end to end, on the real
 * emulated rig: the simulated lab of `autopatch run` (emulators, drivers,
 * control core, supervisor) in real time, with 4 pipettes on the in-vivo
 * preset, serving the real server (createServer) on a local port. The load is
 * what the supervisor really produces: a live trace of every test pulse
 * (30 Hz per pipette), the test-pulse readings, positions while stages move,
 * pressure, holding, state and health changes, logs. 8 s of warm-up (the
 * session starts, pipettes check in the bath and descend), then 20 s counted.
 *
 * Latency runs from the moment the rig hands an event to its listeners (the
 * bench's listener is subscribed before the server's, so it runs just before
 * hub.push) to the moment the dashboard page in a real Chromium has it — when
 * the UI's WebSocket handler has decoded it and applied it to its model, and
 * when the next animation frame (after the UI's redraw) runs.
 *
 * Matching: JSON events by (type, pipette, epochMs) — the rig's wall-time
 * stamp, a float, unique in practice; trace frames by (pipette index, sweep
 * seq). Of several traces of one pipette in one flush the hub sends only the
 * newest (the others would be drawn over unseen): those are counted apart,
 * not as lost.
 */
import { performance } from 'node:perf_hooks';
import type { RigEvent } from '../src/control/events.ts';
import { createRealClock } from '../src/clock/index.ts';
import { createSimulatedLab } from '../src/cli/simulated-lab.ts';
import { createServer, dashboardUrl } from '../src/server/index.ts';
import { createFakeArchive } from '../tests/server/fake-archive.ts';
import { nowEpochMs, openProbe, type Arrival } from './support/live-latency-probe.ts';

const PIPETTES = 4;
const WARMUP_S = 8;
const MEASURE_S = 20;
const GOAL_P99_MS = 50;
const TOKEN = 'bench-live-latency-token';

interface Emitted {
  kind: string;
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
  const lab = await createSimulatedLab({ clock, seed: 1, pipettes: PIPETTES, preset: 'in-vivo-blind', durationMin: null });
  // the bench's listeners first, so they stamp each event just before the server's hub.push
  const emitted = new Map<string, Emitted>();
  let counting = false;
  let pipetteIndex = new Map<string, number>();
  const note = (kind: string, key: string): void => {
    emitted.set(key, { kind, at: nowEpochMs(), counted: counting });
  };
  lab.sink.subscribe((e: RigEvent) => {
    if (e.type === 'sweep') {
      // stored test pulses are not sent (the live trace already was); stimulus sweeps are
      if (e.sweep.kind === 'stimulus') note('stimulus', `sweep|${pipetteIndex.get(e.pipetteId)}|${e.sweep.seq}`);
      return;
    }
    note(e.type, `${e.type}|${'pipetteId' in e ? (e.pipetteId ?? '') : ''}|${e.epochMs}`);
  });
  lab.traces.subscribe((t) => note('trace', `sweep|${pipetteIndex.get(t.pipetteId)}|${t.sweep.seq}`));
  const app = createServer({ rig: lab.host, archive: createFakeArchive(), token: TOKEN, port: 0, clock });
  const base = await app.autopatch.listen();
  await lab.startSession({ operator: 'bench' });
  pipetteIndex = new Map(lab.host.snapshot().pipettes.map((p, i) => [p.pipetteId, i]));

  const probe = await openProbe(dashboardUrl(base, TOKEN)).catch(async (err: unknown) => {
    await app.close();
    await lab.close();
    throw err;
  });
  try {
    console.log(`receiver: ${probe.label}`);
    console.log(`load: the emulated rig of \`autopatch run\` in real time, ${PIPETTES} pipettes, in-vivo-blind (test pulse ${lab.preset.test_pulse.rate_Hz} Hz); ${WARMUP_S} s warm-up + ${MEASURE_S} s counted`);
    const offset = await probe.clockOffset();
    console.log(
      `clock check: receiver − bench = ${offset.offsetMs >= 0 ? '+' : ''}${offset.offsetMs.toFixed(3)} ms (± ${offset.boundMs.toFixed(3)} ms); latencies are not corrected for it`,
    );
    const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
    await sleep(WARMUP_S * 1000);
    const supersededBefore = app.autopatch.hub.stats().tracesSuperseded;

    // CPU figures cover the counted part only
    counting = true;
    const cpuAtCount = process.cpuUsage();
    const wallAtCount = performance.now();
    const busy0 = await probe.busySeconds();
    await sleep(MEASURE_S * 1000);
    counting = false;
    const cpu = process.cpuUsage(cpuAtCount);
    const wall = performance.now() - wallAtCount;
    const busy1 = await probe.busySeconds();

    // let the last frames land, then read what the receiver saw
    await sleep(500);
    const hubStats = app.autopatch.hub.stats();
    const superseded = hubStats.tracesSuperseded - supersededBefore;
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
    const perKind = new Map<string, { emitted: number; missing: number; recv: number[] }>();
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
      console.log(`  ${kind.padEnd(18)} n ${String(s.n).padStart(5)}  p50 ${ms(s.p50)}  p99 ${ms(s.p99)}  max ${ms(s.max)}`);
    }
    if (probe.isBrowser) {
      const f = summary(frame);
      console.log(
        `event → next animation frame (after the UI's redraw): p50 ${ms(f.p50)}  p99 ${ms(f.p99)}  max ${ms(f.max)}   (a 60 Hz frame adds up to 16.7 ms; ${framesMissing} without a frame)`,
      );
    }
    const missing = [...perKind.entries()].map(([kind, k]) => `${kind} ${k.missing}/${k.emitted}`).join(', ');
    const client = hubStats.perClient[0];
    console.log(`traces not sent because a newer one of the same pipette was in the same flush: ${superseded} (counted as missing above)`);
    console.log(
      `missing: ${missing}${unknown ? `; ${unknown} unmatched arrivals` : ''}` +
        (client ? `   (server: dropped ${client.dropped}, coalesced ${client.coalesced}, inbox dropped ${hubStats.inboxDropped}${client.closedTooSlow ? ', CLIENT CLOSED TOO SLOW' : ''})` : '   (no client left on the server)'),
    );
    const nodeCpu = (cpu.user + cpu.system) / 1000 / wall;
    const busy = busy0 !== null && busy1 !== null ? (busy1 - busy0) * 1000 / wall : null;
    console.log(
      `CPU over the counted run: bench process (emulated rig + server${probe.isBrowser ? ' + browser driver' : ''}) ${(nodeCpu * 100).toFixed(1)} % of one core` +
        (busy !== null ? `; page renderer main thread busy ${(busy * 100).toFixed(1)} %` : ''),
    );
    const errors = probe.errors();
    if (errors.length) console.log(`receiver errors (${errors.length}): ${errors.slice(0, 3).join(' | ')}`);
  } finally {
    await probe.close();
    await lab.host.emergencyStop('bench end').catch(() => {});
    await app.close();
    await lab.close();
  }
}
