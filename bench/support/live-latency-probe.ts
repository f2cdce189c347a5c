/**
 * The receiving end of the live-latency benchmark: something connected to the
 * dashboard's /ws that notes, for every message, when it arrived and which
 * rig event it was.
 *
 * Preferred: the real dashboard page in Debian's Chromium, with WebSocket's
 * `onmessage` wrapped by an init script, so the figures include the UI's own
 * decode and model update (and, via requestAnimationFrame, its redraw).
 * Fallback when Chromium is missing (or AUTOPATCH_BENCH_CLIENT=ws): a `ws`
 * client in a child node process — a different, lighter receiver, which the
 * bench says loudly.
 *
 * Times are `performance.timeOrigin + performance.now()` on both sides: wall
 * time at the process's origin plus a monotonic offset, so the bench process
 * and the browser (or child) agree to within the resolution of their origins
 * (sub-millisecond on one machine). `clockOffset` checks that with round trips.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { CDPSession } from 'playwright-core';
import { CHROMIUM_PATH, launchBrowser, type BrowserSession } from '../../tests/browser/helpers.ts';

/** One message as the receiver saw it. */
export interface Arrival {
  /** `${type}|${pipetteId}|${epochMs}` for JSON events, `sweep|${pipetteIndex}|${seq}` for trace frames */
  key: string;
  /** the receiver's handler started (message event dispatched) */
  arrived: number;
  /** the receiver's handler returned: decoded and, in the page, applied to the UI model */
  applied: number;
  /** the page's next animation frame after the message, i.e. after its redraw; null without a browser */
  framed: number | null;
}

export interface ProbeResult {
  arrivals: Arrival[];
  /** snapshot, clock and other non-event messages */
  others: number;
}

export interface LatencyProbe {
  /** what measured, for the report */
  readonly label: string;
  readonly isBrowser: boolean;
  /** peer clock − this process's clock (ms), best of several round trips, with its ± bound */
  clockOffset(): Promise<{ offsetMs: number; boundMs: number }>;
  /** busy time of the receiver's main thread so far (s), where it can be had */
  busySeconds(): Promise<number | null>;
  collect(): Promise<ProbeResult>;
  /** uncaught page errors and console errors */
  errors(): string[];
  close(): Promise<void>;
}

export const nowEpochMs = (): number => performance.timeOrigin + performance.now();

async function bestOffset(readPeer: () => Promise<number>, rounds = 25): Promise<{ offsetMs: number; boundMs: number }> {
  let best = { offsetMs: 0, boundMs: Infinity };
  for (let i = 0; i < rounds; i++) {
    const a = nowEpochMs();
    const peer = await readPeer();
    const b = nowEpochMs();
    // the peer read its clock somewhere in [a, b]: the shortest round trip bounds the error best
    if ((b - a) / 2 < best.boundMs) best = { offsetMs: peer - (a + b) / 2, boundMs: (b - a) / 2 };
  }
  return best;
}

export async function openProbe(url: string): Promise<LatencyProbe> {
  const forced = process.env.AUTOPATCH_BENCH_CLIENT;
  if (forced !== 'ws' && existsSync(CHROMIUM_PATH)) return openBrowserProbe(url);
  const why = forced === 'ws' ? 'AUTOPATCH_BENCH_CLIENT=ws' : `${CHROMIUM_PATH} not found`;
  return openWsProbe(url, why);
}

// ------------------------------------------------------------------- browser

interface PageProbeState {
  records: Arrival[];
  others: number;
  snapshots: number;
}

/**
 * Runs in the page before its scripts. Wraps the `onmessage` setter of
 * WebSocket.prototype (the UI assigns `socket.onmessage`), so the UI's
 * handler runs inside ours: stamp, UI decodes and applies, stamp, then read
 * enough of the message to name it. Our animation-frame callback is requested
 * after the UI's (the UI schedules its render inside its handler), so it runs
 * after the redraw in the same frame.
 */
function installPageProbe(): void {
  const now = (): number => performance.timeOrigin + performance.now();
  const state: PageProbeState = { records: [], others: 0, snapshots: 0 };
  (window as unknown as { __apLatency: PageProbeState }).__apLatency = state;
  let waiting: Arrival[] = [];
  let frameArmed = false;
  const onFrame = (): void => {
    frameArmed = false;
    const t = now();
    for (const r of waiting) r.framed = t;
    waiting = [];
  };
  const keyOf = (data: unknown): string | null => {
    if (typeof data === 'string') {
      const msg = JSON.parse(data) as { type: string; event?: { type: string; pipetteId?: string; epochMs: number } };
      if (msg.type === 'snapshot') state.snapshots++;
      if (msg.type !== 'event' || !msg.event) return null;
      return `${msg.event.type}|${msg.event.pipetteId ?? ''}|${msg.event.epochMs}`;
    }
    if (data instanceof ArrayBuffer && data.byteLength >= 12) {
      const v = new DataView(data);
      return `sweep|${v.getUint16(4, true)}|${v.getUint32(8, true)}`;
    }
    return null;
  };
  const proto = WebSocket.prototype;
  const native = Object.getOwnPropertyDescriptor(proto, 'onmessage');
  if (!native?.set || !native.get) return;
  const nativeSet = native.set;
  const nativeGet = native.get;
  Object.defineProperty(proto, 'onmessage', {
    configurable: true,
    enumerable: native.enumerable,
    get(this: WebSocket) {
      return nativeGet.call(this) as unknown;
    },
    set(this: WebSocket, handler: ((this: WebSocket, e: MessageEvent) => unknown) | null) {
      if (typeof handler !== 'function') {
        nativeSet.call(this, handler);
        return;
      }
      nativeSet.call(this, function (this: WebSocket, e: MessageEvent) {
        const arrived = now();
        try {
          return handler.call(this, e);
        } finally {
          const applied = now();
          const key = keyOf(e.data);
          if (key === null) state.others++;
          else {
            const r: Arrival = { key, arrived, applied, framed: null };
            state.records.push(r);
            waiting.push(r);
            if (!frameArmed) {
              frameArmed = true;
              requestAnimationFrame(onFrame);
            }
          }
        }
      });
    },
  });
}

async function openBrowserProbe(url: string): Promise<LatencyProbe> {
  const session: BrowserSession = await launchBrowser();
  try {
    const { page } = session;
    // tsx compiles with esbuild's keepNames, which wraps inner functions in
    // __name(); the page has no such helper, so the script brings a no-op one
    await page.addInitScript({ content: `(() => { const __name = (f) => f; (${installPageProbe.toString()})(); })();` });
    await page.goto(url, { waitUntil: 'load' });
    // ready once the page's socket has its snapshot: only events pushed after it come through
    await page.waitForFunction(
      () => ((window as unknown as { __apLatency?: PageProbeState }).__apLatency?.snapshots ?? 0) > 0,
      undefined,
      { timeout: 15_000 },
    );
    const version = await page.evaluate(() => navigator.userAgent.match(/Chrom\w*\/([\d.]+)/)?.[1] ?? 'unknown');
    // the renderer's main-thread busy time, from the DevTools protocol's Performance domain
    const cdp: CDPSession = await session.context.newCDPSession(page);
    await cdp.send('Performance.enable');
    return {
      label: `Chromium ${version}, real dashboard page (headless)`,
      isBrowser: true,
      clockOffset: () => bestOffset(() => page.evaluate(() => performance.timeOrigin + performance.now())),
      async busySeconds() {
        const { metrics } = await cdp.send('Performance.getMetrics');
        return metrics.find((m) => m.name === 'TaskDuration')?.value ?? null;
      },
      async collect() {
        return page.evaluate(() => {
          const s = (window as unknown as { __apLatency: PageProbeState }).__apLatency;
          return { arrivals: s.records, others: s.others };
        });
      },
      errors: () => [...session.errors],
      close: () => session.close(),
    };
  } catch (err) {
    await session.close();
    throw err;
  }
}

// ----------------------------------------------------------- ws child process

/**
 * The child: connects, stamps each message after decoding it (JSON.parse, or
 * the trace frame's header), answers `clock` on stdin with its time, and on
 * `done` prints everything as one JSON line and exits.
 */
const WS_CHILD = `
import WebSocket from 'ws';
import { createInterface } from 'node:readline';
const now = () => performance.timeOrigin + performance.now();
const records = [];
let others = 0;
const ws = new WebSocket(process.argv[1]);
let ready = false;
ws.on('message', (data, isBinary) => {
  const arrived = now();
  let key = null;
  if (isBinary) {
    key = 'sweep|' + data.readUInt16LE(4) + '|' + data.readUInt32LE(8);
  } else {
    const msg = JSON.parse(data.toString());
    if (msg.type === 'event') key = msg.event.type + '|' + (msg.event.pipetteId ?? '') + '|' + msg.event.epochMs;
    else if (msg.type === 'snapshot' && !ready) { ready = true; process.stdout.write('ready\\n'); }
  }
  const applied = now();
  if (key === null) others++;
  else records.push({ key, arrived, applied, framed: null });
});
ws.on('error', (err) => { process.stderr.write(String(err) + '\\n'); process.exit(2); });
createInterface({ input: process.stdin }).on('line', (line) => {
  if (line === 'clock') process.stdout.write('clock ' + now() + '\\n');
  else if (line === 'done') {
    ws.close();
    process.stdout.write('result ' + JSON.stringify({ arrivals: records, others }) + '\\n', () => process.exit(0));
  }
});
`;

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

async function openWsProbe(url: string, why: string): Promise<LatencyProbe> {
  const wsUrl = new URL('ws', url);
  wsUrl.protocol = 'ws:';
  // run from the repository so the child's `import 'ws'` resolves to node_modules
  const child: ChildProcessWithoutNullStreams = spawn(process.execPath, ['--input-type=module', '-e', WS_CHILD, wsUrl.toString()], {
    cwd: REPO,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const stderr: string[] = [];
  child.stderr.on('data', (d: Buffer) => stderr.push(d.toString()));
  const lines = createInterface({ input: child.stdout });
  const waiters: Array<{ prefix: string; resolve: (rest: string) => void }> = [];
  lines.on('line', (line) => {
    const i = waiters.findIndex((w) => line.startsWith(w.prefix));
    if (i < 0) return;
    const [w] = waiters.splice(i, 1);
    w.resolve(line.slice(w.prefix.length));
  });
  const next = (prefix: string, timeoutMs = 15_000): Promise<string> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`ws client: no "${prefix}" line (stderr: ${stderr.join('').trim()})`)), timeoutMs);
      waiters.push({
        prefix,
        resolve: (rest) => {
          clearTimeout(timer);
          resolve(rest.replace(/^ /, ''));
        },
      });
    });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    await next('ready');
  } catch (err) {
    child.kill();
    throw err;
  }
  return {
    label: `ws client in a child node process — NOT the browser (${why}); no UI decode/redraw measured`,
    isBrowser: false,
    clockOffset: () =>
      bestOffset(() => {
        const reply = next('clock');
        child.stdin.write('clock\n');
        return reply.then(Number);
      }),
    busySeconds: async () => null,
    async collect() {
      const reply = next('result', 30_000);
      child.stdin.write('done\n');
      return JSON.parse(await reply) as ProbeResult;
    },
    errors: () => (stderr.length ? [stderr.join('').trim()] : []),
    async close() {
      if (child.exitCode === null) {
        child.stdin.end();
        child.kill();
      }
      await exited;
    },
  };
}
