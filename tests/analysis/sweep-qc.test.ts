import { describe, expect, it } from 'vitest';
import type { Sweep } from '../../drivers/types.ts';
import { DEFAULT_SWEEP_QC, sweepQc, sweepQcFromSweep, sweepQcRecord } from '../../src/analysis/sweep-qc.ts';
import { gaussian } from './synth.ts';

const FS = 50e3;

/** 1 s baseline, 1 s stimulus (a 10 mV step), 1 s after; white noise of `noise` V RMS. */
function ccSweep(opts: { noise?: number; preS?: number; postOffset?: number; extra?: (t: number) => number; seed?: number } = {}) {
  const pre = Math.round((opts.preS ?? 1) * FS);
  const len = FS;
  const post = FS;
  const g = gaussian(opts.seed ?? 9);
  const v = new Float32Array(pre + len + post);
  for (let i = 0; i < v.length; i++) {
    let x = -0.07;
    if (i >= pre && i < pre + len) x += 0.01;
    if (i >= pre + len) x += opts.postOffset ?? 0;
    x += (opts.noise ?? 0.02e-3) * g();
    if (opts.extra) x += opts.extra(i / FS);
    v[i] = x;
  }
  return { v, fs: FS, onsetIndex: pre, lengthSamples: len, biasCurrentA: -30e-12 };
}

describe('sweepQc', () => {
  it('passes a quiet, stable sweep and reports its figures', () => {
    const qc = sweepQc(ccSweep());
    expect(qc.passed).toBe(true);
    expect(qc.failed).toEqual([]);
    expect(qc.preNoiseFast!).toBeGreaterThan(0.01e-3);
    expect(qc.preNoiseFast!).toBeLessThan(0.03e-3);
    expect(qc.preNoiseSlow!).toBeCloseTo(0.02e-3, 5);
    expect(qc.postNoiseFast!).toBeLessThan(0.03e-3);
    expect(qc.preVm!).toBeCloseTo(-0.07, 5);
    expect(qc.drift!).toBeLessThan(0.01e-3);
    expect(qc.checks).toEqual({ preNoiseFast: true, preNoiseSlow: true, postNoiseFast: true, drift: true, bias: true });
  });

  it('fails fast noise above 0.07 mV RMS', () => {
    const qc = sweepQc(ccSweep({ noise: 0.15e-3 }));
    expect(qc.checks.preNoiseFast).toBe(false);
    expect(qc.checks.postNoiseFast).toBe(false);
    expect(qc.checks.preNoiseSlow).toBe(true); // 0.15 mV is within the 0.5 mV slow limit
    expect(qc.passed).toBe(false);
    expect(qc.failed).toContain('preNoiseFast');
  });

  it('fails slow noise (a 2 Hz, 1 mV wobble) that the 1.5 ms window cannot see', () => {
    const qc = sweepQc(ccSweep({ extra: (t) => 1e-3 * Math.sin(2 * Math.PI * 2 * t) }));
    expect(qc.checks.preNoiseFast).toBe(true);
    expect(qc.checks.preNoiseSlow).toBe(false);
    expect(qc.preNoiseSlow!).toBeGreaterThan(0.5e-3);
  });

  it('fails a 2 mV drift between the baselines before and after the stimulus', () => {
    const qc = sweepQc(ccSweep({ postOffset: 2e-3 }));
    expect(qc.drift!).toBeCloseTo(2e-3, 5);
    expect(qc.checks.drift).toBe(false);
    expect(qc.failed).toEqual(['drift']);
  });

  it('checks the bias current against ±100 pA', () => {
    expect(sweepQc({ ...ccSweep(), biasCurrentA: 150e-12 }).checks.bias).toBe(false);
    expect(sweepQc({ ...ccSweep(), biasCurrentA: -99e-12 }).checks.bias).toBe(true);
    expect(sweepQc({ ...ccSweep(), biasCurrentA: NaN }).checks.bias).toBe(false);
  });

  it('skips the 500 ms noise check when the pre-stimulus window is shorter, without failing the sweep', () => {
    const qc = sweepQc(ccSweep({ preS: 0.2 }));
    expect(qc.preNoiseSlow).toBeNull();
    expect(qc.checks.preNoiseSlow).toBeNull();
    expect(qc.preVm).not.toBeNull(); // the drift uses the 200 ms that are there
    expect(qc.passed).toBe(true);
  });

  it('takes thresholds from the caller', () => {
    expect(DEFAULT_SWEEP_QC.maxFastNoiseV).toBe(0.07e-3);
    const qc = sweepQc(ccSweep(), { maxFastNoiseV: 0.005e-3, maxBiasA: 10e-12 });
    expect(qc.checks.preNoiseFast).toBe(false);
    expect(qc.checks.bias).toBe(false);
  });
});

describe('sweepQcFromSweep', () => {
  const base = ccSweep();
  const sweep: Sweep = {
    channel: 0,
    seq: 3,
    kind: 'stimulus',
    mode: 'IC',
    startTime: 0,
    sampleRateHz: FS,
    response: base.v,
    responseUnit: 'V',
    holding: -30e-12,
    stimulus: {
      name: 'long square +20 pA',
      mode: 'IC',
      sampleRateHz: FS,
      samples: new Float32Array(base.v.length).fill(-80e-12),
      onsetIndex: base.onsetIndex,
      lengthSamples: base.lengthSamples,
      amplitude: 20e-12,
    },
  };

  it('adds a pre-onset stimulus offset to the holding current as leak', () => {
    const qc = sweepQcFromSweep(sweep);
    expect(qc.biasCurrent).toBeCloseTo(-110e-12, 18);
    expect(qc.checks.bias).toBe(false);
    expect(qc.checks.drift).toBe(true);
  });

  it('refuses a sweep without a stimulus window', () => {
    expect(() => sweepQcFromSweep({ ...sweep, stimulus: undefined })).toThrow(RangeError);
  });

  it('flattens to the sweep event qc record without nulls', () => {
    const short = sweepQc(ccSweep({ preS: 0.2 }));
    const rec = sweepQcRecord(short);
    expect(rec.passed).toBe(true);
    expect('preNoiseSlow' in rec).toBe(false);
    expect('preNoiseSlowOk' in rec).toBe(false);
    expect(rec.driftOk).toBe(true);
    expect(typeof rec.preNoiseFast).toBe('number');
  });
});
