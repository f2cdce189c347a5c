/**
 * Store benchmark: how fast float32 samples reach the database through the
 * writer, and how long the writing thread's event loop is ever held up
 * meanwhile (it is the control loop's thread on a rig).
 *
 * Goals: ingest ≥ 50 MB/s of samples; worst event-loop stall ≤ 5 ms.
 * Stall = worst lateness of a 1 ms interval timer, cross-checked with
 * perf_hooks.monitorEventLoopDelay (1 ms resolution).
 * For contrast it also times the same inserts done on the calling thread,
 * which is what the worker thread is there to avoid.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { setImmediate as turn, setTimeout as sleep } from 'node:timers/promises';
import type { RigEvent } from '../src/control/events.ts';
import type { Sweep } from '../drivers/types.ts';
import { createStoreWriter, type StoreWriter } from '../src/store/writer.ts';
import { openDatabase } from '../src/store/migrations.ts';
import { createIngestor } from '../src/store/ingest.ts';

const GOAL_MBPS = 50;
const GOAL_STALL_MS = 5;
const EPOCH = Date.UTC(2026, 0, 1);

interface StallReport {
  worstLateMs: number;
  /** of the worst stall, ms the thread was runnable but waiting for a CPU (Linux schedstat; NaN elsewhere) */
  worstWaitMs: number;
  histMaxMs: number;
  p99Ms: number;
}

/** This thread's [ns on CPU, ns waiting on the run queue] (Linux), to tell CPU contention from our own work. */
function schedstat(): [number, number] {
  try {
    const [cpu, wait] = readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ').map(Number);
    return [cpu, wait];
  } catch {
    return [NaN, NaN];
  }
}

function probeStalls(): { stop(): StallReport } {
  const hist = monitorEventLoopDelay({ resolution: 1 });
  hist.enable();
  let last = performance.now();
  let [, lastWait] = schedstat();
  let worst = 0;
  let worstWait = NaN;
  const timer = setInterval(() => {
    const now = performance.now();
    const [, wait] = schedstat();
    const late = now - last - 1;
    if (late > worst) {
      worst = late;
      worstWait = (wait - lastWait) / 1e6;
    }
    last = now;
    lastWait = wait;
  }, 1);
  return {
    stop() {
      clearInterval(timer);
      hist.disable();
      return { worstLateMs: worst, worstWaitMs: worstWait, histMaxMs: hist.max / 1e6, p99Ms: hist.percentile(99) / 1e6 };
    },
  };
}

const stallLine = (s: StallReport): string =>
  `worst event-loop stall ${s.worstLateMs.toFixed(2)} ms (goal ≤ ${GOAL_STALL_MS}) → ${(s.worstLateMs / GOAL_STALL_MS).toFixed(2)}× budget` +
  (Number.isNaN(s.worstWaitMs) ? '' : `, of which ${s.worstWaitMs.toFixed(1)} ms waiting for a CPU`) +
  `; monitorEventLoopDelay max ${s.histMaxMs.toFixed(2)} ms, p99 ${s.p99Ms.toFixed(2)} ms`;

function sweep(seq: number, n: number, kind: 'testpulse' | 'stimulus', channel = 0): Sweep {
  const response = new Float32Array(n);
  for (let i = 0; i < n; i += 97) response[i] = Math.sin(seq + i) * 1e-10;
  const s: Sweep = { channel, seq, kind, mode: kind === 'stimulus' ? 'IC' : 'VC', startTime: seq, sampleRateHz: 50_000, response, responseUnit: kind === 'stimulus' ? 'V' : 'A', holding: -0.07 };
  if (kind === 'stimulus') s.stimulus = { name: 'bench', mode: 'IC', sampleRateHz: 50_000, samples: new Float32Array(n) };
  return s;
}

const sweepEvent = (pipetteId: string, s: Sweep, t: number): RigEvent => ({ type: 'sweep', t, epochMs: EPOCH + t, pipetteId, attemptId: 'a', sweep: s });
const started = (id: string): RigEvent => ({ type: 'session.started', t: 0, epochMs: EPOCH, sessionId: id, preset: 'bench', pipettes: ['p1', 'p2', 'p3', 'p4', 'p5', 'p6', 'p7', 'p8'], seed: 1, rig: 'bench', operator: 'bench', virtual: true, limits: { durationMs: null, maxAttempts: null } });

async function drainWhileOver(writer: StoreWriter, bytes: number): Promise<void> {
  while (writer.stats().pendingBytes > bytes) await sleep(1);
}

/** Times every write() call: the writer's own synchronous cost on the caller's thread. */
function timed(writer: StoreWriter): { write: (e: RigEvent) => void; longestMs: () => number } {
  let longest = 0;
  return {
    write(e) {
      const t0 = performance.now();
      writer.write(e);
      longest = Math.max(longest, performance.now() - t0);
    },
    longestMs: () => longest,
  };
}

/** The same producer loop with no writer: how much this machine stalls on its own right now. */
async function baselineStall(turns: number): Promise<StallReport> {
  const pool = Array.from({ length: 16 }, (_, k) => sweep(k, 50_000, 'stimulus', k % 8));
  const made: Sweep[] = [];
  const probe = probeStalls();
  for (let i = 0; i < turns; i++) {
    made[i % 4] = { ...pool[i % 16], seq: i };
    await turn();
    if (i % 20 === 19) await sleep(1);
  }
  return probe.stop();
}

/** Max-rate ingest of large stimulus sweeps (response + stimulus both stored). */
async function maxIngest(path: string, totalMB: number): Promise<void> {
  const base = await baselineStall(2000);
  console.log(`machine (load average ${loadavg()[0].toFixed(1)} on ${cpus().length} cores), producer loop alone: ${stallLine(base)}`);
  const writer = createStoreWriter({ path });
  await writer.ready;
  writer.write(started('max'));
  await writer.flush();
  const w = timed(writer);
  const n = 50_000; // 1 s at 50 kHz: 2 × 200 kB per sweep
  const perSweep = 2 * n * 4;
  const count = Math.ceil((totalMB * 1e6) / perSweep);
  // the acquisition side reuses its buffers, so allocations measured here are the writer's own
  const pool = Array.from({ length: 16 }, (_, k) => sweep(k, n, 'stimulus', k % 8));
  const probe = probeStalls();
  const t0 = performance.now();
  for (let i = 0; i < count; i++) {
    w.write(sweepEvent(`p${(i % 8) + 1}`, { ...pool[i % 16], seq: i }, i));
    await turn(); // one sweep per event-loop turn, like a live acquisition
    await drainWhileOver(writer, 32e6);
  }
  await writer.flush();
  const seconds = (performance.now() - t0) / 1000;
  const stalls = probe.stop();
  const s = writer.stats();
  await writer.close();
  const mb = (count * perSweep) / 1e6;
  const mbps = mb / seconds;
  console.log(`max-rate ingest: ${count} stimulus sweeps, ${mb.toFixed(0)} MB of float32 samples in ${seconds.toFixed(2)} s`);
  console.log(`  throughput ${mbps.toFixed(1)} MB/s (goal ≥ ${GOAL_MBPS}) → ${(mbps / GOAL_MBPS).toFixed(2)}× goal`);
  console.log(`  commits ${s.commits}, checkpoints ${s.checkpoints}, peak backlog ${(s.peakPendingBytes / 1e6).toFixed(1)} MB, ring fallbacks ${s.ringFallbacks}, dropped ${JSON.stringify(s.dropped)}`);
  console.log(`  longest single write() call ${w.longestMs().toFixed(3)} ms (the writer's own cost on this thread)`);
  console.log(`  ${stallLine(stalls)}`);
}

/** A busy rig in real time: 8 pipettes, 100 Hz test pulses + readings, a 1 s stimulus sweep per pipette every 2 s. */
async function rigLoop(seconds: number, write: (e: RigEvent) => void): Promise<StallReport> {
  const tpPool = Array.from({ length: 32 }, (_, k) => sweep(k, 340, 'testpulse', k % 8));
  const stimPool = Array.from({ length: 8 }, (_, k) => sweep(k, 50_000, 'stimulus', k));
  const probe = probeStalls();
  const t0 = performance.now();
  let seq = 0;
  let tick = 0;
  while (performance.now() - t0 < seconds * 1000) {
    const t = performance.now() - t0;
    for (let p = 1; p <= 8; p++) {
      write(sweepEvent(`p${p}`, { ...tpPool[seq % 32], seq: seq++ }, t));
      write({ type: 'pipette.testpulse', t, epochMs: EPOCH + t, pipetteId: `p${p}`, attemptId: 'a', reading: { r: 1e9 + (seq % 7) * 1e6, ra: null, cm: null, rm: null, ihold: -1e-11, fitQuality: 0.9, mode: 'VC' } });
      if (tick % 200 === (p - 1) * 25) write(sweepEvent(`p${p}`, { ...stimPool[p - 1], seq: seq++ }, t));
    }
    tick++;
    await sleep(10);
  }
  return probe.stop();
}

async function rigLike(path: string, seconds: number): Promise<void> {
  const alone = await rigLoop(seconds, () => {});
  const writer = createStoreWriter({ path });
  await writer.ready;
  writer.write(started('rig'));
  await writer.flush();
  const w = timed(writer);
  const stalls = await rigLoop(seconds, w.write);
  await writer.flush();
  const s = writer.stats();
  await writer.close();
  console.log(`rig-like load (8 pipettes, ${seconds} s real time): ${s.committed} events committed, dropped ${JSON.stringify(s.dropped)}`);
  console.log(`  longest single write() call ${w.longestMs().toFixed(3)} ms`);
  console.log(`  ${stallLine(stalls)}`);
  console.log(`  the same loop without a writer: ${stallLine(alone)}`);
}

/** The same inserts on the calling thread, for contrast (not a goal). */
function sameThread(path: string, totalMB: number): void {
  const db = openDatabase(path);
  const ingest = createIngestor(db);
  ingest.applyBatch([started('direct')]);
  const n = 50_000;
  const perSweep = 2 * n * 4;
  const count = Math.ceil((totalMB * 1e6) / perSweep);
  let worst = 0;
  const t0 = performance.now();
  for (let i = 0; i < count; i += 8) {
    const batch: RigEvent[] = [];
    for (let k = 0; k < 8; k++) batch.push(sweepEvent(`p${k + 1}`, sweep(i + k, n, 'stimulus', k), i + k));
    const b0 = performance.now();
    ingest.applyBatch(batch);
    if ((i / 8) % 10 === 9) db.pragma('wal_checkpoint(PASSIVE)');
    worst = Math.max(worst, performance.now() - b0);
  }
  const seconds = (performance.now() - t0) / 1000;
  db.close();
  console.log(
    `for contrast, same-thread inserts: ${((count * perSweep) / 1e6 / seconds).toFixed(1)} MB/s, ` +
      `but each 3.2 MB transaction (+ checkpoints) holds the thread up to ${worst.toFixed(1)} ms`,
  );
}

export async function bench(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'autopatch-store-bench-'));
  try {
    await maxIngest(join(dir, 'max.sqlite'), 400);
    await rigLike(join(dir, 'rig.sqlite'), 5);
    sameThread(join(dir, 'direct.sqlite'), 200);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
