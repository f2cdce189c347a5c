/**
 * NWB export benchmark: MB/s of float32 samples written by writeNwb for a
 * realistic session, at several gzip levels, with file size and the longest
 * time one sweep held the thread (h5wasm is synchronous: export off the
 * control thread, or when the rig is idle).
 *
 * Session: 2 pipettes × 3 cells; per cell 30 current-clamp long squares (1.5 s
 * at 50 kHz: membrane charging, noise) and 10 voltage-clamp steps (0.5 s),
 * each with its stimulus: 240 sweeps, ~ 120 MB of samples.
 * Goal: ≥ 10 MB/s at the default level (gzip 4) — an afternoon's recordings
 * exported in under a minute.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { writeNwb } from '../src/export/nwb/write.ts';
import type { NwbSessionInput, NwbSweep } from '../src/export/nwb/model.ts';

const GOAL_MBPS = 10;
const RATE = 50_000;

function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Roughly Gaussian noise (sum of uniforms), zero mean, given RMS. */
function noise(rand: () => number, rms: number): number {
  return (rand() + rand() + rand() + rand() - 2) * rms * 1.732;
}

function* session(): Generator<NwbSweep> {
  const rand = prng(2025);
  let sweepNumber = 0;
  let t = 0;
  for (let cell = 0; cell < 3; cell++) {
    for (const [e, electrode] of ['p1', 'p2'].entries()) {
      const name = `${electrode}-c${cell}`;
      for (let k = 0; k < 30; k++) {
        const n = 1.5 * RATE;
        const amp = (k - 10) * 10e-12;
        const stim = new Float32Array(n);
        const resp = new Float32Array(n);
        const on = 0.2 * RATE;
        const off = 1.2 * RATE;
        for (let i = 0; i < n; i++) {
          const inStep = i >= on && i < off;
          stim[i] = inStep ? amp : 0;
          const dv = inStep ? amp * 150e6 * (1 - Math.exp(-(i - on) / (0.02 * RATE))) : i >= off ? amp * 150e6 * Math.exp(-(i - off) / (0.02 * RATE)) : 0;
          resp[i] = -0.07 + dv + noise(rand, 50e-6);
        }
        yield { electrode: name, sweepNumber: sweepNumber++, mode: 'IC', response: resp, responseUnit: 'volts', stimulus: stim, stimulusUnit: 'amperes', sampleRateHz: RATE, startingTime: t + e * 1e-4, stimulusDescription: `long-square ${Math.round(amp * 1e12)}pA`, gain: 10 };
      }
      for (let k = 0; k < 10; k++) {
        const n = 0.5 * RATE;
        const stim = new Float32Array(n).fill(-0.07);
        const resp = new Float32Array(n);
        for (let i = 0; i < n; i++) {
          const inStep = i >= 0.1 * RATE && i < 0.4 * RATE;
          if (inStep) stim[i] = -0.07 + (k - 5) * 0.01;
          resp[i] = (inStep ? ((k - 5) * 0.01) / 150e6 : 0) + noise(rand, 5e-12);
        }
        yield { electrode: name, sweepNumber: sweepNumber++, mode: 'VC', response: resp, responseUnit: 'amperes', stimulus: stim, stimulusUnit: 'volts', sampleRateHz: RATE, startingTime: t + e * 1e-4 + 50, stimulusDescription: `vc-step ${(k - 5) * 10}mV`, gain: 5e8 };
      }
    }
    t += 600;
  }
}

function input(sweeps: Iterable<NwbSweep>): NwbSessionInput {
  const cells = [0, 1, 2].flatMap((c) => ['p1', 'p2'].map((p) => `${p}-c${c}`));
  return {
    session: { identifier: 'bench-nwb', sessionId: 'bench', description: 'benchmark session', startTime: '2026-01-01T09:00:00Z', fileCreateDate: '2026-01-01T18:00:00Z', rig: 'bench', preset: 'bench', seed: 2025, virtual: true },
    subject: { subjectId: 'bench-mouse' },
    devices: [
      { name: 'amp-1', description: 'amplifier channel 1', manufacturer: 'emulated' },
      { name: 'amp-2', description: 'amplifier channel 2', manufacturer: 'emulated' },
    ],
    electrodes: cells.map((name) => ({ name, device: name.startsWith('p1') ? 'amp-1' : 'amp-2', description: 'whole-cell' })),
    sweeps,
  };
}

/** Hands sweeps to the writer and times how long it kept each one (time between pulls). */
function timed(source: readonly NwbSweep[]): { sweeps: Generator<NwbSweep>; worst: { ms: number } } {
  const worst = { ms: 0 };
  function* sweeps(): Generator<NwbSweep> {
    for (const s of source) {
      const t0 = performance.now();
      yield s;
      worst.ms = Math.max(worst.ms, performance.now() - t0);
    }
  }
  return { sweeps: sweeps(), worst };
}

export async function bench(): Promise<void> {
  // generate once so the timings measure writing, not signal synthesis
  const sweeps = [...session()];
  const bytes = sweeps.reduce((n, s) => n + s.response.byteLength + (s.stimulus?.byteLength ?? 0), 0);
  console.log(`session: ${sweeps.length} sweeps, ${(bytes / 1e6).toFixed(1)} MB of float32 samples`);
  const dir = mkdtempSync(join(tmpdir(), 'nwb-bench-'));
  try {
    for (const gzipLevel of [0, 1, 4, 6]) {
      const t = timed(sweeps);
      const t0 = performance.now();
      const r = await writeNwb(join(dir, `bench-${gzipLevel}.nwb`), input(t.sweeps), { gzipLevel });
      const s = (performance.now() - t0) / 1000;
      const mbps = r.sampleBytes / 1e6 / s;
      const goal = gzipLevel === 4 ? `  goal ≥ ${GOAL_MBPS} MB/s: ${mbps >= GOAL_MBPS ? 'met' : 'NOT met'}` : '';
      console.log(
        `gzip ${gzipLevel}: ${mbps.toFixed(1)} MB/s (${s.toFixed(2)} s), file ${(r.fileBytes / 1e6).toFixed(1)} MB ` +
          `(${((100 * r.fileBytes) / r.sampleBytes).toFixed(0)} % of raw), longest sweep ${t.worst.ms.toFixed(1)} ms, wasm heap ${(r.wasmHeapBytes / 2 ** 20).toFixed(0)} MiB${goal}`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
