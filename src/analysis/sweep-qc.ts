/**
 * Per-sweep QC for current-clamp stimulus sweeps, after the Allen Institute
 * (IPFX `qc_features` / MIES) criteria in efeatures-nwb.md:
 *   pre-stimulus noise, fast:  RMS over 1.5 ms at the start of the sweep   ≤ 0.07 mV
 *   pre-stimulus noise, slow:  RMS over the 500 ms before the stimulus     ≤ 0.5 mV
 *   post-stimulus noise, fast: RMS over the last 1.5 ms of the sweep       ≤ 0.07 mV
 *   Vm drift: |mean of the 500 ms before the stimulus − mean of the last
 *             500 ms of the sweep|                                          ≤ 1 mV
 *   leak / bias current                                                     within ±100 pA
 * RMS is about the window mean (IPFX `measure_vm`). A window the sweep is too
 * short for shrinks to what is there (drift, fast noise) or, for the slow noise
 * whose point is the 500 ms span, is skipped: its figure and check are null and
 * it does not count against the sweep. Units are SI (V, A, s).
 */
import type { Sweep } from '../../drivers/types.ts';
import { mean, rmsAboutMean } from './stats.ts';

export interface SweepQcThresholds {
  /** fast-noise window, s */
  fastNoiseWindowS: number;
  maxFastNoiseV: number;
  /** slow-noise window before the stimulus, s */
  slowNoiseWindowS: number;
  maxSlowNoiseV: number;
  /** windows averaged for the pre/post membrane potential, s */
  vmWindowS: number;
  maxDriftV: number;
  /** |bias (leak) current| allowed, A */
  maxBiasA: number;
}

export const DEFAULT_SWEEP_QC: Readonly<SweepQcThresholds> = Object.freeze({
  fastNoiseWindowS: 1.5e-3,
  maxFastNoiseV: 0.07e-3,
  slowNoiseWindowS: 0.5,
  maxSlowNoiseV: 0.5e-3,
  vmWindowS: 0.5,
  maxDriftV: 1e-3,
  maxBiasA: 100e-12,
});

export interface SweepQcInput {
  /** membrane potential, V */
  v: ArrayLike<number>;
  /** sample rate, Hz */
  fs: number;
  /** stimulus onset and length, samples */
  onsetIndex: number;
  lengthSamples: number;
  /** bias (holding) current during the sweep, A */
  biasCurrentA: number;
}

export type SweepQcCheck = 'preNoiseFast' | 'preNoiseSlow' | 'postNoiseFast' | 'drift' | 'bias';

export interface SweepQcResult {
  /** V RMS; null when the sweep has no room for the window */
  preNoiseFast: number | null;
  preNoiseSlow: number | null;
  postNoiseFast: number | null;
  /** mean V before the stimulus and at the end of the sweep */
  preVm: number | null;
  postVm: number | null;
  /** |preVm − postVm|, V */
  drift: number | null;
  biasCurrent: number;
  /** pass/fail per criterion; null = not evaluated */
  checks: Record<SweepQcCheck, boolean | null>;
  /** every evaluated criterion passed */
  passed: boolean;
  /** names of the failed criteria */
  failed: SweepQcCheck[];
}

export function sweepQc(input: SweepQcInput, thresholds: Partial<SweepQcThresholds> = {}): SweepQcResult {
  const t = { ...DEFAULT_SWEEP_QC, ...thresholds };
  const { v, fs } = input;
  const n = v.length;
  const onset = Math.max(0, Math.min(n, Math.floor(input.onsetIndex)));
  const stimEnd = Math.max(onset, Math.min(n, onset + Math.floor(input.lengthSamples)));
  const fastN = Math.max(2, Math.round(t.fastNoiseWindowS * fs));
  const slowN = Math.round(t.slowNoiseWindowS * fs);
  const vmN = Math.max(1, Math.round(t.vmWindowS * fs));
  const postLen = n - stimEnd;

  const preNoiseFast = onset >= 2 ? rmsAboutMean(v, 0, Math.min(onset, fastN)) : null;
  const preNoiseSlow = onset >= slowN && slowN >= 2 ? rmsAboutMean(v, onset - slowN, onset) : null;
  const postNoiseFast = postLen >= 2 ? rmsAboutMean(v, n - Math.min(postLen, fastN), n) : null;
  const preVm = onset >= 1 ? mean(v, Math.max(0, onset - vmN), onset) : null;
  const postVm = postLen >= 1 ? mean(v, n - Math.min(postLen, vmN), n) : null;
  const drift = preVm !== null && postVm !== null ? Math.abs(preVm - postVm) : null;
  const bias = input.biasCurrentA;

  const checks: Record<SweepQcCheck, boolean | null> = {
    preNoiseFast: preNoiseFast === null ? null : preNoiseFast <= t.maxFastNoiseV,
    preNoiseSlow: preNoiseSlow === null ? null : preNoiseSlow <= t.maxSlowNoiseV,
    postNoiseFast: postNoiseFast === null ? null : postNoiseFast <= t.maxFastNoiseV,
    drift: drift === null ? null : drift <= t.maxDriftV,
    bias: Number.isFinite(bias) ? Math.abs(bias) <= t.maxBiasA : false,
  };
  const failed = (Object.keys(checks) as SweepQcCheck[]).filter((k) => checks[k] === false);
  return {
    preNoiseFast,
    preNoiseSlow,
    postNoiseFast,
    preVm,
    postVm,
    drift,
    biasCurrent: bias,
    checks,
    passed: failed.length === 0,
    failed,
  };
}

/**
 * QC of a recorded stimulus sweep. The bias current is the holding current plus
 * the stimulus level before onset (a stimulus with a DC offset leaks too).
 * Throws for a sweep without a stimulus window (test pulses are not QC'd here).
 */
export function sweepQcFromSweep(sweep: Sweep, thresholds: Partial<SweepQcThresholds> = {}): SweepQcResult {
  const stim = sweep.stimulus;
  if (!stim || stim.onsetIndex === undefined || stim.lengthSamples === undefined) {
    throw new RangeError(`sweep ${sweep.seq} has no stimulus window to QC`);
  }
  const pre = stim.onsetIndex > 0 ? mean(stim.samples, 0, stim.onsetIndex) : 0;
  return sweepQc(
    {
      v: sweep.response,
      fs: sweep.sampleRateHz,
      onsetIndex: stim.onsetIndex,
      lengthSamples: stim.lengthSamples,
      biasCurrentA: sweep.holding + pre,
    },
    thresholds,
  );
}

/** Flat figures for the `sweep` event's `qc` field (nulls omitted). */
export function sweepQcRecord(qc: SweepQcResult): Record<string, number | boolean> {
  const out: Record<string, number | boolean> = { passed: qc.passed, biasCurrent: qc.biasCurrent };
  const figures = ['preNoiseFast', 'preNoiseSlow', 'postNoiseFast', 'preVm', 'postVm', 'drift'] as const;
  for (const k of figures) {
    const x = qc[k];
    if (x !== null) out[k] = x;
  }
  for (const [k, ok] of Object.entries(qc.checks)) if (ok !== null) out[`${k}Ok`] = ok;
  return out;
}
