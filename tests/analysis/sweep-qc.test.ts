import { describe, expect, it } from 'vitest';
import type { Sweep } from '../../drivers/types.ts';
import { sweepQc, sweepQcFromSweep, sweepQcRecord } from '../../src/analysis/sweep-qc.ts';
import { gaussian } from './synth.ts';
import { QC } from './preset-analysis.ts';

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
    const qc = sweepQc(ccSweep(), QC);
    expect(qc.passed).toBe(true);
    expect(qc.failed).toEqual([]);
    expect(qc.preNoiseFast!).toBeGreaterThan(0.01e-3);
    expect(qc.preNoiseFast!).toBeLessThan(0.03e-3);
    expect(qc.preNoiseSlow!).toBeCloseTo(0.02e-3, 5);
    expect(qc.postNoiseFast!).toBeLessThan(0.03e-3);
    expect(qc.preVm!).toBeCloseTo(-0.07, 5);
    expect(qc.drift!).toBeLessThan(0.01e-3);
    expect(qc.checks).toEqual({ preNoiseFast: true, preNoiseSlow: true, postNoiseFast: true, drift: true, bias: true, leak: null });
  });

  it('fails fast noise above 0.07 mV RMS', () => {
    const qc = sweepQc(ccSweep({ noise: 0.15e-3 }), QC);
    expect(qc.checks.preNoiseFast).toBe(false);
    expect(qc.checks.postNoiseFast).toBe(false);
    expect(qc.checks.preNoiseSlow).toBe(true); // 0.15 mV is within the 0.5 mV slow limit
    expect(qc.passed).toBe(false);
    expect(qc.failed).toContain('preNoiseFast');
  });

  it('fails slow noise (a 2 Hz, 1 mV wobble) that the 1.5 ms window cannot see', () => {
    const qc = sweepQc(ccSweep({ extra: (t) => 1e-3 * Math.sin(2 * Math.PI * 2 * t) }), QC);
    expect(qc.checks.preNoiseFast).toBe(true);
    expect(qc.checks.preNoiseSlow).toBe(false);
    expect(qc.preNoiseSlow!).toBeGreaterThan(0.5e-3);
  });

  it('fails a 2 mV drift between the baselines before and after the stimulus', () => {
    const qc = sweepQc(ccSweep({ postOffset: 2e-3 }), QC);
    expect(qc.drift!).toBeCloseTo(2e-3, 5);
    expect(qc.checks.drift).toBe(false);
    expect(qc.failed).toEqual(['drift']);
  });

  it('checks the bias current against ±100 pA', () => {
    expect(sweepQc({ ...ccSweep(), biasCurrentA: 150e-12 }, QC).checks.bias).toBe(false);
    expect(sweepQc({ ...ccSweep(), biasCurrentA: -99e-12 }, QC).checks.bias).toBe(true);
    expect(sweepQc({ ...ccSweep(), biasCurrentA: NaN }, QC).checks.bias).toBe(false);
  });

  it('skips the 500 ms noise check when the pre-stimulus window is shorter, without failing the sweep', () => {
    const qc = sweepQc(ccSweep({ preS: 0.2 }), QC);
    expect(qc.preNoiseSlow).toBeNull();
    expect(qc.checks.preNoiseSlow).toBeNull();
    expect(qc.preVm).not.toBeNull(); // the drift uses the 200 ms that are there
    expect(qc.passed).toBe(true);
  });

  it('takes thresholds from the caller (the shipped preset holds IPFX\'s)', () => {
    expect(QC.maxFastNoiseV).toBeCloseTo(0.07e-3, 12);
    expect(QC.maxLeakA).toBeCloseTo(100e-12, 20);
    const qc = sweepQc(ccSweep(), { ...QC, maxFastNoiseV: 0.005e-3, maxLeakA: 10e-12 });
    expect(qc.checks.preNoiseFast).toBe(false);
    expect(qc.checks.bias).toBe(false);
  });

  it('checks the voltage-clamp holding current measured before the switch as leak, when there is one', () => {
    expect(sweepQc(ccSweep(), QC).checks.leak).toBeNull();
    const leaky = sweepQc({ ...ccSweep(), leakCurrentA: -140e-12 }, QC);
    expect(leaky.leakCurrent).toBe(-140e-12);
    expect(leaky.checks.leak).toBe(false);
    expect(leaky.failed).toEqual(['leak']);
    expect(sweepQc({ ...ccSweep(), leakCurrentA: 60e-12 }, QC).checks.leak).toBe(true);
    expect(sweepQc({ ...ccSweep(), leakCurrentA: NaN }, QC).checks.leak).toBe(false);
  });

  it('does not check a ramp after its stimulus (IPFX): the drift and post-noise figures are kept, their checks are not evaluated', () => {
    const drifting = ccSweep({ postOffset: 5e-3, noise: 0.02e-3 });
    const asSquare = sweepQc(drifting, QC);
    expect(asSquare.failed).toEqual(['drift']);
    const asRamp = sweepQc({ ...drifting, ramp: true }, QC);
    expect(asRamp.drift!).toBeCloseTo(5e-3, 5);
    expect(asRamp.checks.drift).toBeNull();
    expect(asRamp.checks.postNoiseFast).toBeNull();
    expect(asRamp.passed).toBe(true);
    // what is before the stimulus still counts on a ramp
    expect(sweepQc({ ...ccSweep({ noise: 0.15e-3 }), ramp: true }, QC).checks.preNoiseFast).toBe(false);
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

  const context = { leakCurrentA: null, ramp: false };

  it('takes the bias actually applied: the holding the amplifier reports plus a pre-onset stimulus offset', () => {
    const qc = sweepQcFromSweep(sweep, QC, context);
    expect(qc.biasCurrent).toBeCloseTo(-110e-12, 18);
    expect(qc.checks.bias).toBe(false);
    expect(qc.checks.drift).toBe(true);
    // the same sweep with the bias held by the amplifier only
    const held = sweepQcFromSweep({ ...sweep, holding: -40e-12, stimulus: { ...sweep.stimulus!, samples: new Float32Array(base.v.length) } }, QC, context);
    expect(held.biasCurrent).toBeCloseTo(-40e-12, 18);
    expect(held.checks.bias).toBe(true);
  });

  it('passes the leak measured before the switch and the ramp flag through', () => {
    const qc = sweepQcFromSweep(sweep, QC, { leakCurrentA: 130e-12, ramp: true });
    expect(qc.checks.leak).toBe(false);
    expect(qc.checks.drift).toBeNull();
  });

  it('refuses a sweep without a stimulus window', () => {
    expect(() => sweepQcFromSweep({ ...sweep, stimulus: undefined }, QC, context)).toThrow(RangeError);
  });

  it('flattens to the sweep event qc record without nulls', () => {
    const short = sweepQc(ccSweep({ preS: 0.2 }), QC);
    const rec = sweepQcRecord(short);
    expect(rec.passed).toBe(true);
    expect('preNoiseSlow' in rec).toBe(false);
    expect('preNoiseSlowOk' in rec).toBe(false);
    expect(rec.driftOk).toBe(true);
    expect(typeof rec.preNoiseFast).toBe('number');
  });
});
