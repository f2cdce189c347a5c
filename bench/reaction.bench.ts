/**
 * Reaction latency: from a test-pulse sweep's last bytes arriving on the
 * amplifier's port to the bytes of the device command the control loop sends
 * because of it, whenever they go out — frame decoding, analysis, the
 * machine's transition and any wait in a device's command queue included.
 *
 * A full session runs on the emulated rig on real timers (not virtual time).
 * On a rig the devices are hardware with their own processors; here their
 * emulators and the physics run in a thread of their own (support/
 * device-thread.ts, reached through a serialport binding that passes bytes
 * between threads), so the controller's event loop carries what it would on a
 * rig: drivers, analysis, machines, supervisor, dashboard. Reactions are a few
 * per attempt and an attempt takes minutes, so the rig clock runs `speed`
 * times faster than the wall: every timer, sweep and byte arrives that much
 * more often, a heavier load per real second than a rig's (conservative).
 * A last stress run puts the emulators back on the controller's own loop at
 * ten times a rig's pace, to show what a loaded loop does to the figures.
 *
 * How it is measured:
 *  - arrival: the amplifier ports' bytes are tapped as they reach the
 *    controller's thread (the device thread's message, or in the stress run
 *    the byte log); the chunk carrying the last frame of a test-pulse sweep
 *    (channel, sequence number) stamps t0 — before the stream, the frame
 *    decoder or the driver have seen it;
 *  - the reaction: the driver's sweep listener runs inside an AsyncLocalStorage
 *    context, so the driver calls the pipette makes from that sweep's own chain
 *    of work (the synchronous analysis and transition and the promise jobs they
 *    start, up to the end of that turn) are told apart from a timer that fires
 *    in the same turn; the first such call is the reaction;
 *  - the command leaving: the binding's host-write tap. A command written at
 *    once is written inside that context. One that waits behind other commands
 *    on a shared port goes out later, when the line is free: every driver call
 *    on every port is recorded in order, and each write that is not in a
 *    reaction's own context goes to the oldest call on that port not yet
 *    written (the link sends one command at a time, in order; urgent stops
 *    skip the queue and are written in their caller's context). The
 *    bookkeeping starts afresh whenever every call on a port has completed.
 * Reported: p50/p99/max of sweep bytes in → driver call and → command bytes
 * out, with 4 pipettes (rig clock ×3) and 16 (×1, so the device thread keeps
 * up with 16 pipettes' sweeps), and with 4 pipettes while 10 dashboard clients
 * (in another process, like browsers; one of them stalled, reading nothing)
 * receive the live stream; the event-loop delay p99 beside them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { AsyncLocalStorage } from 'node:async_hooks';
import { monitorEventLoopDelay, performance, PerformanceObserver } from 'node:perf_hooks';
import { createScaledClock } from '../src/clock/index.ts';
import { createSimulatedLab } from '../src/cli/simulated-lab.ts';
import { createLab, type Lab } from '../src/cli/lab.ts';
import { openRig } from '../src/rig/open-rig.ts';
import type { RigConfig } from '../src/rig/config.ts';
import { startDeviceThread } from './support/thread-binding.ts';
import type { EmulatorBinding } from '../drivers/core/emulator-binding.ts';
import { createServer } from '../src/server/index.ts';
import { createFakeArchive } from '../tests/server/fake-archive.ts';
import type { PipetteHardware } from '../drivers/types.ts';
import { FRAME_TYPE, HDR, HEADER_BYTES, SYNC0, SYNC1, frameBytes } from '../drivers/amplifiers/amp-bridge/protocol.ts';

const RUN_S = Number(process.env.AUTOPATCH_BENCH_REACTION_S ?? 60);
const GOAL_P99_MS = 2;

interface Reaction {
  pipetteId: string;
  call: string;
  port: string;
  /** performance.now() of the sweep's last bytes on the amplifier port */
  t0: number;
  callAt: number;
  wroteAt: number | null;
  /** written later than its own turn: it waited behind other commands on the port */
  queued: boolean;
}

interface Window {
  pipetteId: string;
  t0: number;
  closed: boolean;
  reaction: Reaction | null;
}

/** One driver call on a port, in submission order, until it has been written and completed. */
interface CallRecord {
  written: boolean;
  settled: boolean;
  reaction: Reaction | null;
}

const reactionContext = new AsyncLocalStorage<Window>();

const URGENT = new Set(['stop']);

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

/** The (channel, seq) of a test-pulse sweep whose last frame this record carries, if any. */
function sweepEnd(bytes: Buffer): { channel: number; seq: number } | null {
  if (bytes.length < HEADER_BYTES || bytes[0] !== SYNC0 || bytes[1] !== SYNC1 || bytes[HDR.type] !== FRAME_TYPE.testpulse) return null;
  const total = bytes.readUInt32LE(HDR.total);
  const offset = bytes.readUInt32LE(HDR.offset);
  const count = bytes.readUInt16LE(HDR.count);
  return offset + count === total ? { channel: bytes[HDR.channel], seq: bytes.readUInt32LE(HDR.seq) } : null;
}

/** K WebSocket clients in a child process (as browsers would be); client 0 stalls (never reads). */
function startClients(url: string, k: number): Promise<{ child: ChildProcess; stop(): Promise<{ messages: number; bytes: number }> }> {
  const script = `
    import WebSocket from 'ws';
    const k = ${k};
    let messages = 0, bytes = 0, open = 0;
    const sockets = [];
    for (let i = 0; i < k; i++) {
      const ws = new WebSocket(${JSON.stringify(url)});
      ws.on('open', () => {
        // a stalled browser tab: the socket stops reading, so the server's buffers for it fill up
        if (i === 0) ws._socket.pause();
        if (++open === k) process.send('ready');
      });
      ws.on('message', (d) => { messages++; bytes += d.length; });
      ws.on('error', (e) => { if (i !== 0) console.error('client', i, e.message); });
      sockets.push(ws);
    }
    process.on('message', (m) => {
      if (m !== 'stop') return;
      for (const ws of sockets) ws.terminate();
      process.send(JSON.stringify({ messages, bytes }));
      setTimeout(() => process.exit(0), 50);
    });
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    cwd: process.cwd(),
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`ws clients exited early (${code})`)));
    child.once('message', (m) => {
      if (m !== 'ready') return reject(new Error(`unexpected message from clients: ${String(m)}`));
      child.removeAllListeners('exit');
      resolve({
        child,
        stop: () =>
          new Promise((res) => {
            child.once('message', (r) => res(JSON.parse(String(r))));
            child.send('stop');
          }),
      });
    });
  });
}

interface RunResult {
  pipettes: number;
  seconds: number;
  devices: DeviceSide;
  speed: number;
  clients: number;
  sweeps: number;
  reactions: Reaction[];
  gcPauses: Array<[number, number]>;
  loopP99Ms: number;
  clientMessages: number;
  clientBytes: number;
  attempts: number;
}

/** Where the emulators run: on the controller's event loop, or in their own thread as hardware would. */
export type DeviceSide = 'same-thread' | 'own-thread';

interface BenchRig {
  lab: Lab;
  config: RigConfig;
  /** device bytes as they reach the controller's thread, host writes as the host makes them */
  taps: Pick<EmulatorBinding, 'onDeviceBytes' | 'onHostWrite'>;
  close(): Promise<void>;
}

async function benchRig(pipettes: number, speed: number, devices: DeviceSide): Promise<BenchRig> {
  const clock = createScaledClock(speed);
  if (devices === 'same-thread') {
    const lab = await createSimulatedLab({ clock, seed: 21, pipettes, preset: 'in-vivo-blind', durationMin: null });
    return {
      lab,
      config: lab.sim.config,
      taps: lab.sim.binding,
      close: () => lab.close(),
    };
  }
  const binding = await startDeviceThread({ seed: 21, pipettes, speed, preset: 'in-vivo-blind' });
  const rig = await openRig(binding.config, binding, clock);
  const lab = createLab({ clock, config: binding.config, rig, preset: 'in-vivo-blind', seed: 21, durationMin: null });
  return {
    lab,
    config: binding.config,
    taps: binding,
    async close() {
      await lab.close();
      await binding.stop();
    },
  };
}

/** Every test-pulse sweep end in a chunk of amplifier bytes (a chunk may hold several frames). */
function sweepEnds(bytes: Buffer): Array<{ channel: number; seq: number }> {
  const ends: Array<{ channel: number; seq: number }> = [];
  let i = 0;
  while (i + HEADER_BYTES <= bytes.length) {
    if (bytes[i] !== SYNC0 || bytes[i + 1] !== SYNC1) {
      i++;
      continue;
    }
    const frame = bytes.subarray(i);
    const end = sweepEnd(frame);
    if (end) ends.push(end);
    i += frameBytes(frame.readUInt16LE(HDR.count));
  }
  return ends;
}

export async function run(pipettes: number, clients: number, speed: number, seconds = RUN_S, devices: DeviceSide = 'same-thread'): Promise<RunResult> {
  const bench = await benchRig(pipettes, speed, devices);
  const { lab, config } = bench;
  const clock = lab.clock;
  const reactions: Reaction[] = [];

  // ---- arrivals: the amplifier ports' bytes, as they reach the controller's thread
  /** latest sweep end per amplifier channel: `${path}#${channel}` → its seq and arrival */
  const arrivals = new Map<string, { seq: number; t0: number }>();
  const ampPath = new Map<string, { path: string; channel: number }>();
  for (const p of config.pipettes) {
    const amp = config.amplifiers.find((a) => a.id === p.amplifier.bridge)!;
    ampPath.set(p.id, { path: amp.path, channel: p.amplifier.channel });
  }
  const ampPaths = new Set(config.amplifiers.map((a) => a.path));
  bench.taps.onDeviceBytes((path, bytes) => {
    if (!ampPaths.has(path)) return;
    const t0 = performance.now();
    for (const end of sweepEnds(bytes)) arrivals.set(`${path}#${end.channel}`, { seq: end.seq, t0 });
  });

  // ---- every driver call, per port, in order
  const calls = new Map<string, CallRecord[]>();
  const portsOf = new Map<string, { manipulator: string; pressure: string; amplifier: string }>();
  for (const p of config.pipettes) {
    const box = config.pressureBoxes.find((b) => b.id === p.pressure.box)!;
    portsOf.set(p.id, { manipulator: p.manipulator.path, pressure: box.path, amplifier: ampPath.get(p.id)!.path });
  }
  const instrument = (hw: PipetteHardware): void => {
    const id = hw.pipetteId;
    const ports = portsOf.get(id)!;
    const onSweep = hw.amplifier.onSweep.bind(hw.amplifier);
    hw.amplifier.onSweep = (listener) =>
      onSweep((sweep) => {
        const amp = ampPath.get(id)!;
        const arrived = arrivals.get(`${amp.path}#${sweep.channel}`);
        if (!arrived || arrived.seq !== sweep.seq || sweep.kind !== 'testpulse') return listener(sweep);
        const t0 = arrived.t0;
        const w: Window = { pipetteId: id, t0, closed: false, reaction: null };
        // after this turn's synchronous work and promise jobs the sweep's own chain is over
        setImmediate(() => (w.closed = true));
        reactionContext.run(w, () => listener(sweep));
      });
    const devices: Array<[keyof typeof ports, object]> = [
      ['manipulator', hw.manipulator],
      ['pressure', hw.pressure],
      ['amplifier', hw.amplifier],
    ];
    for (const [kind, dev] of devices) {
      const port = ports[kind];
      const d = dev as Record<string, unknown>;
      for (const name of Object.keys(d)) {
        const f = d[name];
        if (typeof f !== 'function' || name.startsWith('on')) continue;
        d[name] = function (...args: unknown[]) {
          const w = reactionContext.getStore();
          let reaction: Reaction | null = null;
          if (w && !w.closed && w.pipetteId === id && w.reaction === null) {
            reaction = { pipetteId: id, call: `${kind}.${name}`, port, t0: w.t0, callAt: performance.now(), wroteAt: null, queued: false };
            w.reaction = reaction;
            reactions.push(reaction);
          }
          const rec: CallRecord = { written: false, settled: false, reaction };
          if (!URGENT.has(name)) {
            const list = calls.get(port) ?? [];
            list.push(rec);
            calls.set(port, list);
          }
          const result = (f as (...a: unknown[]) => unknown).apply(dev, args);
          const done = (): void => {
            rec.settled = true;
            const list = calls.get(port);
            // every call on the port has completed: start the bookkeeping afresh
            if (list && list.every((c) => c.settled)) calls.set(port, []);
          };
          if (result instanceof Promise) result.then(done, done);
          else done();
          return result;
        };
      }
    }
  };
  for (const hw of lab.rig.hardware) instrument(hw);
  const offTap = bench.taps.onHostWrite((path) => {
    const now = performance.now();
    const w = reactionContext.getStore();
    const own = w?.reaction;
    if (own && own.port === path && own.wroteAt === null) {
      // written in the reaction's own context: the command went out at once
      own.wroteAt = now;
      const rec = calls.get(path)?.find((c) => c.reaction === own);
      if (rec) rec.written = true;
      return;
    }
    const next = calls.get(path)?.find((c) => !c.written);
    if (!next) return;
    next.written = true;
    if (next.reaction && next.reaction.wroteAt === null) {
      next.reaction.wroteAt = now;
      next.reaction.queued = true;
    }
  });
  let sweeps = 0;
  for (const hw of lab.rig.hardware) hw.amplifier.onSweep(() => sweeps++);
  let attempts = 0;
  lab.sink.subscribe((e) => {
    if (e.type === 'attempt.ended') attempts++;
  });

  let server: ReturnType<typeof createServer> | null = null;
  let clientProc: Awaited<ReturnType<typeof startClients>> | null = null;
  if (clients > 0) {
    server = createServer({ rig: lab.host, archive: createFakeArchive(), token: 'bench-token-0123', port: 0, clock });
    const base = await server.autopatch.listen();
    clientProc = await startClients(base.replace(/^http/, 'ws') + 'ws', clients);
  }

  const loop = monitorEventLoopDelay({ resolution: 1 });
  const supervisor = await lab.startSession();
  loop.enable();
  // Garbage-collection pauses, to tell which slow reactions waited for one.
  const gcPauses: Array<[start: number, end: number]> = [];
  const gcObserver = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gcPauses.push([e.startTime, e.startTime + e.duration]);
  });
  gcObserver.observe({ entryTypes: ['gc'] });
  await new Promise((r) => setTimeout(r, seconds * 1000));
  loop.disable();
  gcObserver.disconnect();
  offTap();
  await supervisor.abort('bench');
  await Promise.race([supervisor.done, new Promise((r) => setTimeout(r, 10_000))]);
  let clientStats = { messages: 0, bytes: 0 };
  if (clientProc) clientStats = await clientProc.stop();
  if (server) await server.close();
  await bench.close();
  return {
    pipettes,
    seconds,
    devices,
    speed,
    clients,
    sweeps,
    reactions,
    gcPauses,
    loopP99Ms: loop.percentile(99) / 1e6,
    clientMessages: clientStats.messages,
    clientBytes: clientStats.bytes,
    attempts,
  };
}

export function report(r: RunResult): { wireP50: number; wireP99: number } {
  const call = r.reactions.map((x) => x.callAt - x.t0).sort((a, b) => a - b);
  const wired = r.reactions.filter((x) => x.wroteAt !== null);
  const wire = wired.map((x) => x.wroteAt! - x.t0).sort((a, b) => a - b);
  const queued = wired.filter((x) => x.queued);
  const kinds = new Map<string, number>();
  for (const x of r.reactions) kinds.set(x.call, (kinds.get(x.call) ?? 0) + 1);
  const f = (x: number) => x.toFixed(3);
  console.log(
    `${r.pipettes} pipettes${r.clients ? `, ${r.clients} dashboard clients (1 stalled)` : ''}, rig clock ×${r.speed}: ${r.sweeps} sweeps in ${r.seconds} s, ` +
      `${r.reactions.length} reactions (${r.attempts} attempts ended)`,
  );
  console.log(`  sweep bytes in → driver call     p50 ${f(quantile(call, 0.5))} ms  p99 ${f(quantile(call, 0.99))} ms  max ${f(call.at(-1) ?? NaN)} ms`);
  console.log(
    `  sweep bytes in → command bytes out p50 ${f(quantile(wire, 0.5))} ms  p99 ${f(quantile(wire, 0.99))} ms  max ${f(wire.at(-1) ?? NaN)} ms ` +
      `(goal p99 ≤ ${GOAL_P99_MS} ms → ratio ${(quantile(wire, 0.99) / GOAL_P99_MS).toFixed(2)}); ` +
      `${queued.length} of them waited behind other commands (p99 of those ${f(quantile(queued.map((x) => x.wroteAt! - x.t0).sort((a, b) => a - b), 0.99))} ms); ` +
      `${r.reactions.length - wired.length} wrote nothing`,
  );
  console.log(`  event-loop delay p99 ${r.loopP99Ms.toFixed(2)} ms; reactions: ${[...kinds].map(([k, n]) => `${k} ×${n}`).join(', ')}`);
  const slowOnes = wired.filter((x) => x.wroteAt! - x.t0 > 1);
  const hitByGc = slowOnes.filter((x) => r.gcPauses.some(([a, b]) => a < x.wroteAt! && b > x.t0)).length;
  const gcMs = r.gcPauses.map(([a, b]) => b - a).sort((a, b) => a - b);
  console.log(`  GC: ${gcMs.length} pauses, longest ${f(gcMs.at(-1) ?? 0)} ms; reactions over 1 ms: ${slowOnes.length}, of which ${hitByGc} overlapped a GC pause`);
  if (r.clients) console.log(`  clients received ${r.clientMessages} messages, ${(r.clientBytes / 1e6).toFixed(1)} MB`);
  return { wireP50: quantile(wire, 0.5), wireP99: quantile(wire, 0.99) };
}

export async function bench(): Promise<void> {
  console.log(`sessions on the emulated rig on real timers, ${RUN_S} s each (AUTOPATCH_BENCH_REACTION_S to change)`);
  console.log('devices in their own thread (emulators and physics on another event loop, as a rig\'s devices are):');
  await run(4, 0, 3, 3, 'own-thread'); // warm-up (JIT), not reported
  const four = report(await run(4, 0, 3, RUN_S, 'own-thread'));
  report(await run(16, 0, 1, RUN_S, 'own-thread'));
  const withClients = report(await run(4, 10, 3, RUN_S, 'own-thread'));
  console.log(
    `10 dashboard clients (1 stalled) vs none, 4 pipettes: sweep → command bytes p50 ${withClients.wireP50.toFixed(3)} vs ${four.wireP50.toFixed(3)} ms, ` +
      `p99 ${withClients.wireP99.toFixed(3)} vs ${four.wireP99.toFixed(3)} ms (ratio ${(withClients.wireP99 / four.wireP99).toFixed(2)})`,
  );
  console.log('stress: the emulators and physics on the controller\'s own event loop, rig clock ×10 (ten times a rig\'s load of sweeps):');
  report(await run(4, 0, 10, Math.min(RUN_S, 30), 'same-thread'));
}
