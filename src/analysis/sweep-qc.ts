/**
 * Per-sweep QC for current-clamp stimulus sweeps, after the Allen Institute
 * (IPFX `qc_features` / MIES) criteria in efeatures-nwb.md; the thresholds come
 * from the preset (`record.sweep_qc`, src/protocol/record-params.ts):
 *   pre-stimulus noise, fast:  RMS over the fast window at the start of the sweep
 *   pre-stimulus noise, slow:  RMS over the slow window before the stimulus
 *   post-stimulus noise, fast: RMS over the fast window at the end of the sweep
 *   Vm drift: |mean of the Vm window before the stimulus − mean of the last
 *             Vm window of the sweep|
 *   bias: the bias current actually applied in current clamp (the amplifier's
 *         holding plus the stimulus level before onset); IPFX's `leak_pa` is
 *         this figure, the sweep's `bias_current`
 *   leak: the current the cell needed in voltage clamp at the holding
 *         potential right before the switch to current clamp (what a MIES
 *         auto-bias would inject to hold it there); null when not measured
 * Ramps are not checked after the stimulus (post noise, drift), as IPFX does:
 * a ramp drives the cell far above rheobase and it has not recovered when the
 * sweep ends. RMS is about the window mean (IPFX `measure_vm`). A window the
 * sweep is too short for shrinks to what is there (drift, fast noise) or, for
 * the slow noise whose point is its span, is skipped: its figure and check are
 * null and it does not count against the sweep. Units are SI (V, A, s).
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
  /** |bias| and |leak| current allowed, A */
  maxLeakA: number;
}

export interface SweepQcInput {
  /** membrane potential, V */
  v: ArrayLike<number>;
  /** sample rate, Hz */
  fs: number;
  /** stimulus onset and length, samples */
  onsetIndex: number;
  lengthSamples: number;
  /** bias current applied during the sweep, A */
  biasCurrentA: number;
  /** voltage-clamp holding current before the switch to current clamp, A; null = not measured */
  leakCurrentA?: number | null;
  /** a ramp: nothing after the stimulus is checked */
  ramp?: boolean;
}

export type SweepQcCheck = 'preNoiseFast' | 'preNoiseSlow' | 'postNoiseFast' | 'drift' | 'bias' | 'leak';

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
  leakCurrent: number | null;
  /** pass/fail per criterion; null = not evaluated */
  checks: Record<SweepQcCheck, boolean | null>;
  /** every evaluated criterion passed */
  passed: boolean;
  /** names of the failed criteria */
  failed: SweepQcCheck[];
}

export function sweepQc(input: SweepQcInput, t: SweepQcThresholds): SweepQcResult {
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
  const leak = input.leakCurrentA ?? null;
  const after = input.ramp !== true;

  const checks: Record<SweepQcCheck, boolean | null> = {
    preNoiseFast: preNoiseFast === null ? null : preNoiseFast <= t.maxFastNoiseV,
    preNoiseSlow: preNoiseSlow === null ? null : preNoiseSlow <= t.maxSlowNoiseV,
    postNoiseFast: postNoiseFast === null || !after ? null : postNoiseFast <= t.maxFastNoiseV,
    drift: drift === null || !after ? null : drift <= t.maxDriftV,
    bias: Number.isFinite(bias) ? Math.abs(bias) <= t.maxLeakA : false,
    leak: leak === null ? null : Number.isFinite(leak) ? Math.abs(leak) <= t.maxLeakA : false,
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
    leakCurrent: leak,
    checks,
    passed: failed.length === 0,
    failed,
  };
}

/** What the recorder knows about a sweep beyond its samples. */
export interface SweepQcContext {
  /** voltage-clamp holding current before the switch to current clamp, A */
  leakCurrentA: number | null;
  ramp: boolean;
}

/**
 * QC of a recorded stimulus sweep. The bias current is the holding current the
 * amplifier reports for the sweep plus the stimulus level before onset (a
 * stimulus with a DC offset biases the cell too).
 * Throws for a sweep without a stimulus window (test pulses are not QC'd here).
 */
export function sweepQcFromSweep(sweep: Sweep, thresholds: SweepQcThresholds, context: SweepQcContext): SweepQcResult {
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
      leakCurrentA: context.leakCurrentA,
      ramp: context.ramp,
    },
    thresholds,
  );
}

/** Flat figures for the `sweep` event's `qc` field (nulls omitted). */
export function sweepQcRecord(qc: SweepQcResult): Record<string, number | boolean> {
  const out: Record<string, number | boolean> = { passed: qc.passed, biasCurrent: qc.biasCurrent };
  if (qc.leakCurrent !== null) out.leakCurrent = qc.leakCurrent;
  const figures = ['preNoiseFast', 'preNoiseSlow', 'postNoiseFast', 'preVm', 'postVm', 'drift'] as const;
  for (const k of figures) {
    const x = qc[k];
    if (x !== null) out[k] = x;
  }
  for (const [k, ok] of Object.entries(qc.checks)) if (ok !== null) out[`${k}Ok`] = ok;
  return out;
}
