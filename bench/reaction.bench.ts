/**
 * Reaction latency: from a test-pulse sweep's arrival at the amplifier driver
 * to the device command the control loop sends because of it.
 *
 * A full session runs on the emulated rig on real timers (not virtual time),
 * so the event loop is shared with everything else the process does — the
 * other pipettes, the emulators, the dashboard. Reactions are a few per
 * attempt and an attempt takes minutes, so the rig clock runs `speed` times
 * faster than the wall: every timer, sweep and byte arrives that much more
 * often, a heavier load per real second than a rig's (conservative). For every sweep the
 * driver delivers, a "reaction window" opens for that pipette and stays open
 * for the rest of that turn of the event loop (the synchronous analysis, the
 * machine's transition and the promise jobs it starts — tracked with
 * AsyncLocalStorage). The first driver call the pipette makes inside the
 * window is the reaction; the first bytes then handed to one of that
 * pipette's ports (EmulatorBinding.onHostWrite) is the command leaving the
 * controller. Commands made later by timers (a hunt step, a pulse train) are
 * not reactions and are not counted.
 *
 * Reported: p50/p99/max of sweep → driver call and sweep → bytes written, with
 * 4 and 16 pipettes, and with 4 pipettes while 10 dashboard clients (in another
 * process, like browsers) receive the live stream. The event-loop delay p99 is
 * printed beside them: it is what a sweep waits before its turn starts (here
 * the emulators and physics share the process; on a rig they are hardware).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { AsyncLocalStorage } from 'node:async_hooks';
import { monitorEventLoopDelay, performance, PerformanceObserver } from 'node:perf_hooks';
import { createScaledClock } from '../src/clock/index.ts';
import { createSimulatedLab, type SimulatedLab } from '../src/cli/simulated-lab.ts';
import { createServer } from '../src/server/index.ts';
import { createFakeArchive } from '../tests/server/fake-archive.ts';
import type { PipetteHardware } from '../drivers/types.ts';

const RUN_S = Number(process.env.AUTOPATCH_BENCH_REACTION_S ?? 30);
const GOAL_P99_MS = 2;

interface Window {
  pipetteId: string;
  t0: number;
  closed: boolean;
  calledAt: number | null;
  call: string | null;
  wiredAt: number | null;
}

interface Reaction {
  pipetteId: string;
  call: string;
  callMs: number;
  /** null: the command waited in the port's queue behind a reply (device time, not controller time) */
  wireMs: number | null;
  /** performance.now() of the sweep's arrival */
  t0: number;
}

/**
 * The window a sweep opened follows its own chain of work only: the listener
 * runs inside an AsyncLocalStorage context that promise jobs inherit, so a
 * timer that happens to fire in the same turn (a hunt step) is not mistaken
 * for a reaction.
 */
const reactionContext = new AsyncLocalStorage<Window>();

function openWindow(): Window | undefined {
  const current = reactionContext.getStore();
  return current && !current.closed ? current : undefined;
}

/** Wrap one pipette's drivers so sweeps open a window and the first driver call inside it is recorded. */
function instrument(hw: PipetteHardware, onClosed: (w: Window) => void): void {
  const id = hw.pipetteId;
  const onSweep = hw.amplifier.onSweep.bind(hw.amplifier);
  hw.amplifier.onSweep = (listener) =>
    onSweep((sweep) => {
      const w: Window = { pipetteId: id, t0: performance.now(), closed: false, calledAt: null, call: null, wiredAt: null };
      // Runs after this turn's synchronous work and promise jobs: the window closes.
      setImmediate(() => {
        w.closed = true;
        onClosed(w);
      });
      reactionContext.run(w, () => listener(sweep));
    });
  const devices: Array<[string, object]> = [
    ['manipulator', hw.manipulator],
    ['pressure', hw.pressure],
    ['amplifier', hw.amplifier],
  ];
  for (const [kind, dev] of devices) {
    const d = dev as Record<string, unknown>;
    for (const name of Object.keys(d)) {
      const f = d[name];
      if (typeof f !== 'function' || name.startsWith('on')) continue;
      d[name] = function (...args: unknown[]) {
        const w = openWindow();
        if (w && w.pipetteId === id && w.calledAt === null) {
          w.calledAt = performance.now();
          w.call = `${kind}.${name}`;
        }
        return (f as (...a: unknown[]) => unknown).apply(dev, args);
      };
    }
  }
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

/** K WebSocket clients in a child process (as browsers would be), counting what they receive. */
function startClients(url: string, k: number): Promise<{ child: ChildProcess; stop(): Promise<{ messages: number; bytes: number }> }> {
  const script = `
    import WebSocket from 'ws';
    const k = ${k};
    let messages = 0, bytes = 0, open = 0;
    const sockets = [];
    for (let i = 0; i < k; i++) {
      const ws = new WebSocket(${JSON.stringify(url)});
      ws.on('open', () => { if (++open === k) process.send('ready'); });
      ws.on('message', (d) => { messages++; bytes += d.length; });
      ws.on('error', (e) => { console.error('client', i, e.message); });
      sockets.push(ws);
    }
    process.on('message', (m) => {
      if (m !== 'stop') return;
      for (const ws of sockets) ws.close();
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

export async function run(pipettes: number, clients: number, speed: number, seconds = RUN_S): Promise<RunResult> {
  const clock = createScaledClock(speed);
  const lab: SimulatedLab = await createSimulatedLab({ clock, seed: 21, pipettes, preset: 'in-vivo-blind', durationMin: null });
  const reactions: Reaction[] = [];
  const onClosed = (w: Window): void => {
    if (w.calledAt === null) return;
    reactions.push({ pipetteId: w.pipetteId, call: w.call!, callMs: w.calledAt - w.t0, wireMs: w.wiredAt === null ? null : w.wiredAt - w.t0, t0: w.t0 });
  };
  for (const hw of lab.rig.hardware) instrument(hw, onClosed);
  const ports = new Set<string>();
  for (const p of lab.sim.config.pipettes) {
    const box = lab.sim.config.pressureBoxes.find((b) => b.id === p.pressure.box);
    const amp = lab.sim.config.amplifiers.find((a) => a.id === p.amplifier.bridge);
    for (const path of [p.manipulator.path, box?.path, amp?.path]) if (path) ports.add(`${p.id} ${path}`);
  }
  let sweeps = 0;
  for (const hw of lab.rig.hardware) hw.amplifier.onSweep(() => sweeps++);
  const offTap = lab.sim.binding.onHostWrite((path) => {
    const w = reactionContext.getStore();
    if (!w || w.closed || w.calledAt === null || w.wiredAt !== null || !ports.has(`${w.pipetteId} ${path}`)) return;
    w.wiredAt = performance.now();
  });
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
  await lab.close();
  return {
    pipettes,
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

export function report(r: RunResult): { callP99: number; wireP99: number } {
  const call = r.reactions.map((x) => x.callMs).sort((a, b) => a - b);
  const wired = r.reactions.filter((x) => x.wireMs !== null);
  const wire = wired.map((x) => x.wireMs!).sort((a, b) => a - b);
  const kinds = new Map<string, number>();
  for (const x of r.reactions) kinds.set(x.call, (kinds.get(x.call) ?? 0) + 1);
  const f = (x: number) => x.toFixed(3);
  console.log(
    `${r.pipettes} pipettes${r.clients ? `, ${r.clients} dashboard clients` : ''}, rig clock ×${r.speed}: ${r.sweeps} sweeps in ${RUN_S} s, ` +
      `${r.reactions.length} reactions (${r.attempts} attempts ended)`,
  );
  console.log(`  sweep → driver call   p50 ${f(quantile(call, 0.5))} ms  p99 ${f(quantile(call, 0.99))} ms  max ${f(call.at(-1) ?? NaN)} ms`);
  console.log(
    `  sweep → bytes written p50 ${f(quantile(wire, 0.5))} ms  p99 ${f(quantile(wire, 0.99))} ms  max ${f(wire.at(-1) ?? NaN)} ms ` +
      `(goal p99 ≤ ${GOAL_P99_MS} ms → ratio ${(quantile(wire, 0.99) / GOAL_P99_MS).toFixed(2)}); ` +
      `${r.reactions.length - wired.length} queued behind a device reply`,
  );
  console.log(`  event-loop delay p99 ${r.loopP99Ms.toFixed(2)} ms; reactions: ${[...kinds].map(([k, n]) => `${k} ×${n}`).join(', ')}`);
  const slowOnes = r.reactions.filter((x) => (x.wireMs ?? x.callMs) > 1);
  const hitByGc = slowOnes.filter((x) => r.gcPauses.some(([a, b]) => a < x.t0 + (x.wireMs ?? x.callMs) && b > x.t0)).length;
  const gcMs = r.gcPauses.map(([a, b]) => b - a).sort((a, b) => a - b);
  console.log(
    `  GC: ${gcMs.length} pauses, longest ${f(gcMs.at(-1) ?? 0)} ms; reactions over 1 ms: ${slowOnes.length}, of which ${hitByGc} overlapped a GC pause`,
  );
  const slowest = [...r.reactions].sort((a, b) => b.callMs - a.callMs).slice(0, 3);
  console.log(`  slowest: ${slowest.map((x) => `${x.pipetteId} ${x.call} ${f(x.callMs)} ms`).join('; ')}`);
  if (r.clients) console.log(`  clients received ${r.clientMessages} messages, ${(r.clientBytes / 1e6).toFixed(1)} MB`);
  return { callP99: quantile(call, 0.99), wireP99: quantile(wire, 0.99) };
}

export async function bench(): Promise<void> {
  console.log(`sessions on the emulated rig on real timers, ${RUN_S} s each (AUTOPATCH_BENCH_REACTION_S to change)`);
  await run(4, 0, 10, 3); // warm-up (JIT), not reported
  const four = report(await run(4, 0, 10));
  report(await run(16, 0, 3));
  const withClients = report(await run(4, 10, 10));
  console.log(
    `10 dashboard clients vs none (4 pipettes): sweep → bytes p99 ${withClients.wireP99.toFixed(3)} vs ${four.wireP99.toFixed(3)} ms ` +
      `(ratio ${(withClients.wireP99 / four.wireP99).toFixed(2)})`,
  );
}
