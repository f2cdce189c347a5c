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
 *
 * Dashboard archive: the worst stall of the main thread while a client (in a
 * thread of its own) hammers the archive routes with reports and sweeps,
 * with the archive on the main thread (as before) and in its worker thread.
 * Goal: ≤ 5 ms with the worker. And the cost of the integrity check every
 * open runs (migrations.ts), full and bounded, from the page cache.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { setImmediate as turn, setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import Fastify from 'fastify';
import type { RigEvent } from '../src/control/events.ts';
import type { Sweep } from '../drivers/types.ts';
import { createStoreWriter, type StoreWriter } from '../src/store/writer.ts';
import { openDatabase } from '../src/store/migrations.ts';
import { createIngestor } from '../src/store/ingest.ts';
import { createSqliteArchive } from '../src/store/archive.ts';
import { openArchiveWorker } from '../src/store/archive-thread.ts';
import { archivePlugin } from '../src/server/archive.ts';
import type { SessionArchive } from '../src/server/archive-types.ts';

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

/** The integrity check each open runs, on a store of stimulus sweeps: full quick_check and the bounded check. */
function integrityCheckCost(path: string): void {
  const bytes = readFileSync(path).length;
  const time = (verify: 'full' | 'bounded'): number => {
    openDatabase(path, { readonly: true, verify }).close(); // warm the page cache
    const t0 = performance.now();
    openDatabase(path, { readonly: true, verify }).close();
    return performance.now() - t0;
  };
  const full = time('full');
  const bounded = time('bounded');
  console.log(
    `integrity check on open, ${(bytes / 1e6).toFixed(0)} MB store from the page cache: full quick_check ${full.toFixed(0)} ms ` +
      `(${(bytes / 1e6 / (full / 1000)).toFixed(0)} MB/s), bounded (b-trees and freelist, no sample pages) ${bounded.toFixed(1)} ms`,
  );
}

/** A long session for the archive: 8 pipettes × 250 attempts with their transitions, and 200 long stimulus sweeps. */
function archiveStore(path: string): number[] {
  const db = openDatabase(path);
  const ingest = createIngestor(db);
  const pipettes = ['p1', 'p2', 'p3', 'p4', 'p5', 'p6', 'p7', 'p8'];
  ingest.applyBatch([started('big')]); // p1 … p8
  const states = ['descent', 'hunt', 'confirmHit', 'seal', 'cellAttached', 'breakIn', 'wholeCell', 'record', 'retract', 'clean', 'idle'] as const;
  const events: RigEvent[] = [];
  for (const [pi, pipetteId] of pipettes.entries()) {
    for (let k = 0; k < 250; k++) {
      const attemptId = `${pipetteId}-${k}`;
      const t0 = k * 60_000 + pi * 7_000;
      events.push({ type: 'attempt.started', t: t0, epochMs: EPOCH + t0, pipetteId, attemptId, target: null, targetCellId: null });
      let from: (typeof states)[number] | 'idle' = 'idle';
      states.forEach((to, i) => {
        const t = t0 + i * 5_000;
        events.push({ type: 'pipette.state', t, epochMs: EPOCH + t, pipetteId, attemptId, from, to, reason: 'bench' });
        from = to;
      });
      const end = t0 + 55_000;
      events.push({
        type: 'attempt.ended', t: end, epochMs: EPOCH + end,
        record: {
          attemptId, pipetteId, target: null, targetCellId: null, startEpochMs: EPOCH + t0, endEpochMs: EPOCH + end, startT: t0, endT: end,
          stageReached: k % 3 === 0 ? 'recorded' : 'sealed', outcome: k % 3 === 0 ? 'recorded' : 'failed', failureReason: k % 3 === 0 ? null : 'qc-failed',
          failedIn: k % 3 === 0 ? null : 'wholeCell', r0: 6e6, cleanCount: 1, peakSeal: 2e9 + k, timeToSeal: 10 + (k % 7), breakInAttempts: 2,
          spontaneousBreakIn: k % 11 === 0, ra: 15e6, rm: 300e6, cm: 25e-12, ihold: -40e-12, vrest: -0.065, recordingDuration: 20, sweepsRecorded: 1, stateDurations: {},
        },
      });
    }
  }
  events.sort((a, b) => a.t - b.t);
  ingest.applyBatch(events);
  const big = sweep(0, 200_000, 'stimulus');
  for (let i = 0; i < 200; i += 10) ingest.applyBatch(Array.from({ length: 10 }, (_, k) => sweepEvent(`p${((i + k) % 8) + 1}`, { ...big, seq: i + k }, (i + k) * 1000)));
  const ids = db.prepare("SELECT id FROM sweeps WHERE kind = 'stimulus' ORDER BY id").pluck().all() as number[];
  db.close();
  return ids;
}

/** A client in a thread of its own: `clients` loops of report, binary sweep (as the sweep viewer asks) and JSON sweep requests. */
const CLIENT = `
const { parentPort, workerData } = require('node:worker_threads');
const { base, sweepIds, clients, seconds, token } = workerData;
const until = Date.now() + seconds * 1000;
let done = 0;
async function loop(k) {
  for (let i = k; Date.now() < until; i++) {
    const id = sweepIds[i % sweepIds.length];
    const url = ['/api/sessions/big/report', '/api/sweeps/' + id + '?format=bin&maxPoints=4000', '/api/sweeps/' + id, '/api/sessions?limit=500'][i % 4];
    // a bare fastify with the archive plugin alone: reads need the token (no server says they are open locally)
    const res = await fetch(base + url, { headers: { authorization: 'Bearer ' + token } });
    await res.arrayBuffer();
    if (!res.ok) throw new Error(url + ' ' + res.status);
    done++;
  }
}
Promise.all(Array.from({ length: clients }, (_, k) => loop(k))).then(() => parentPort.postMessage({ done }), (e) => parentPort.postMessage({ error: String(e) }));
`;

async function hammer(archive: SessionArchive, sweepIds: number[], seconds: number): Promise<{ stalls: StallReport; requests: number }> {
  const app = Fastify();
  const token = 'bench-token-0123';
  await app.register(archivePlugin, { archive, token });
  const base = await app.listen({ host: '127.0.0.1', port: 0 });
  const probe = probeStalls();
  const client = new Worker(CLIENT, { eval: true, workerData: { base, sweepIds, clients: 4, seconds, token } });
  const result = await new Promise<{ done?: number; error?: string }>((resolve) => client.once('message', resolve));
  const stalls = probe.stop();
  await client.terminate();
  await app.close();
  if (result.error) throw new Error(`archive client: ${result.error}`);
  return { stalls, requests: result.done ?? 0 };
}

async function archiveReads(path: string, seconds: number): Promise<void> {
  const sweepIds = archiveStore(path);
  const db = openDatabase(path, { readonly: true });
  const before = await hammer(createSqliteArchive(db), sweepIds, seconds);
  db.close();
  const worker = await openArchiveWorker(path);
  const after = await hammer(worker, sweepIds, seconds);
  await worker.close();
  console.log(`dashboard archive reads (2000-attempt session, 4 s sweeps; 4 clients looping report / bin sweep / JSON sweep / list, ${seconds} s):`);
  console.log(`  archive on the main thread (before): ${(before.requests / seconds).toFixed(0)} req/s, ${stallLine(before.stalls)}`);
  console.log(`  archive in its worker thread (after): ${(after.requests / seconds).toFixed(0)} req/s, ${stallLine(after.stalls)}`);
}

export async function bench(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'autopatch-store-bench-'));
  try {
    await maxIngest(join(dir, 'max.sqlite'), 400);
    integrityCheckCost(join(dir, 'max.sqlite'));
    await rigLike(join(dir, 'rig.sqlite'), 5);
    sameThread(join(dir, 'direct.sqlite'), 200);
    await archiveReads(join(dir, 'archive.sqlite'), 5);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
