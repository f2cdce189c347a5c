/**
 * Signal-analysis cost: test-pulse analysis runs per sweep in the control loop
 * (the preset's rate, faster at break-in, × up to 16 pipettes) on the preset's
 * real sweep; spike features once per stimulus sweep.
 */
import { analyzeTestPulse } from '../src/analysis/testpulse.ts';
import { detectSpikes } from '../src/analysis/efeatures/spikes.ts';
import { trainFeatures } from '../src/analysis/efeatures/train.ts';
import { cellFeatures, type LongSquareSweep } from '../src/analysis/efeatures/cell.ts';
import { createEma, createSlope } from '../src/analysis/filters.ts';
import { passiveSweep, spikeTrain, vcPulse } from '../tests/analysis/synth.ts';
import { CELL, SPIKES } from '../tests/analysis/preset-analysis.ts';
import { oneCell, pulseIn, sealCell, touch } from '../tests/sim/helpers.ts';
import { physicsSweep } from '../tests/analysis/physics-sweep.ts';
import type { Sweep } from '../drivers/types.ts';
import { loadPreset } from '../src/protocol/load.ts';
import type { AutopatchPreset } from '../src/protocol/types.ts';
import { testPulseOptions } from '../src/control/signals.ts';

const TP_GOAL_US = 50;

/**
 * Mean µs of CPU (user + system) per call after a warm-up, over at least
 * `minMs` of wall time. CPU time rather than wall time so other processes
 * sharing the machine do not inflate the figure.
 */
function time(fn: () => void, minMs = 500): number {
  const w0 = performance.now();
  for (let i = 0; i < 2000 && performance.now() - w0 < 300; i++) fn(); // warm-up: let the JIT settle
  let n = 0;
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const batch = performance.now() - w0 > 100 ? 1 : 100; // slow calls: check the clock after each
  while (performance.now() - t0 < minMs) {
    for (let i = 0; i < batch; i++) fn();
    n += batch;
  }
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / n;
}

/** A test-pulse sweep from the physics model (src/sim): a cell the model itself drove into whole cell. */
function wholeCellSweep(preset: AutopatchPreset, seed: number): Sweep {
  const c = oneCell({ seed, preparation: preset.preparation });
  touch(c);
  sealCell(c);
  pulseIn(c, -300, 500, 5);
  c.p.wait(1000);
  return physicsSweep(c, preset);
}

export async function bench(): Promise<void> {
  // The sweep the control loop really analyses: the preset's step and sample rate
  // (in-vivo-blind: 10 ms, 35 % baseline each side, 50 kHz = 850 samples), analysed
  // with the preset's options.
  const preset = loadPreset('in-vivo-blind');
  const tp = preset.test_pulse;
  const tpFs = tp.sample_rate_kHz * 1000;
  const options = testPulseOptions(preset);
  const at = { fs: tpFs, widthMs: tp.width_ms, dv: tp.amplitude_mV / 1000 };
  const noise = 8e-12; // the model's 5 pA at 20 kHz, ∝ √fs
  const sweeps: Record<string, Sweep> = {
    'physics model: in vivo whole cell (seed 7, τ ≈ 7 ms)': wholeCellSweep(preset, 7),
    'physics model: in vivo whole cell (seed 1, τ ≈ 2 ms)': wholeCellSweep(preset, 1),
    'whole cell (Ra 60 MΩ, Rm 150 MΩ, Cm 150 pF: τ 6.4 ms)': vcPulse({ ...at, circuit: { kind: 'wholeCell', ra: 60e6, rm: 150e6, cm: 150e-12 }, noise, seed: 20 }),
    'whole cell (Ra 20 MΩ, Cm 100 pF)': vcPulse({ ...at, circuit: { kind: 'wholeCell', ra: 20e6, rm: 300e6, cm: 100e-12 }, noise, seed: 1 }),
    'bath (5 MΩ)': vcPulse({ ...at, circuit: { kind: 'resistor', r: 5e6 }, noise, seed: 1 }),
    'gigaseal (2 GΩ)': vcPulse({ ...at, circuit: { kind: 'resistor', r: 2e9 }, noise, seed: 1 }),
  };
  const samples = sweeps['bath (5 MΩ)'].response.length;
  console.log(`test pulse analysis at the ${preset.name} settings (${tp.width_ms} ms step, ${tp.sample_rate_kHz} kHz: ${samples}-sample sweeps), CPU time (goal ≤ ${TP_GOAL_US} µs):`);
  let worst = 0;
  for (const [name, sweep] of Object.entries(sweeps)) {
    const us = time(() => analyzeTestPulse(sweep, options));
    worst = Math.max(worst, us);
    console.log(`  ${name.padEnd(56)} ${us.toFixed(2).padStart(7)} µs  (${(us / TP_GOAL_US).toFixed(2)} × goal)`);
  }
  const load = (worst * tp.break_in_rate_Hz * 16) / 1e4; // % of one core
  console.log(`  worst case with 16 pipettes all at the break-in rate (${tp.break_in_rate_Hz} Hz): ${load.toFixed(2)} % of one core`);

  const ema = createEma(1);
  const slope = createSlope(1);
  let t = 0;
  const usEma = time(() => ema.update(5e6, (t += 10)));
  const usSlope = time(() => slope.update(5e6 + t, (t += 10)));
  console.log(`filters: EMA update ${(usEma * 1000).toFixed(0)} ns, 1 s slope at 100 Hz ${(usSlope * 1000).toFixed(0)} ns`);

  // 1 s at 50 kHz with 20 spikes
  const fs = 50e3;
  const feet = Array.from({ length: 20 }, (_, k) => 0.1 + k * 0.04);
  const v = spikeTrain({ fs, durationS: 1, vrest: -0.065, feet, noise: 0.05e-3, seed: 2 });
  let found = 0;
  const msSpikes =
    time(() => {
      const spikes = detectSpikes(v, fs, SPIKES);
      found = spikes.length;
      trainFeatures(spikes, fs, Math.round(0.05 * fs), v.length);
    }, 1000) / 1000;
  console.log(`spike features, 1 s at 50 kHz (${found} spikes: filter, detection, per-spike and train features): ${msSpikes.toFixed(2)} ms`);

  // a long-square family: 6 hyperpolarising + 6 spiking sweeps of 1.5 s at 50 kHz
  const family: LongSquareSweep[] = [];
  for (const pA of [-150, -110, -70, -50, -30, -10]) {
    family.push(passiveSweep({ fs, vrest: -0.07, amp: pA * 1e-12, rin: 200e6, tau: 0.02, sagR: 30e6, sagTau: 0.1, noise: 0.05e-3, seed: -pA }));
  }
  for (let k = 1; k <= 6; k++) {
    const train = Array.from({ length: 2 * k }, (_, j) => 0.22 + (j * 0.95) / (2 * k));
    family.push({ v: spikeTrain({ fs, durationS: 1.5, vrest: -0.07, feet: train, noise: 0.05e-3, seed: k }), fs, stimulusAmplitudeA: (30 + 10 * k) * 1e-12, onsetIndex: 0.2 * fs, lengthSamples: fs });
  }
  const msCell = time(() => cellFeatures(family, CELL), 2000) / 1000;
  console.log(`cell features, 12-sweep long-square family (18 s of 50 kHz data): ${msCell.toFixed(1)} ms`);
}
