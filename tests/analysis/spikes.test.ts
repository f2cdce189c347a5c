import { describe, expect, it } from 'vitest';
import { besselLowpass4, dvdt, filtfilt } from '../../src/analysis/efeatures/dvdt.ts';
import { detectSpikes } from '../../src/analysis/efeatures/spikes.ts';
import { trainFeatures } from '../../src/analysis/efeatures/train.ts';
import { apTruth, DEFAULT_AP, spikeTrain, type ApShape } from './synth.ts';
import { SPIKES } from './preset-analysis.ts';

const mul = (x: number[], y: number[]): number[] => {
  const r = new Array<number>(x.length + y.length - 1).fill(0);
  x.forEach((a, i) => y.forEach((b, j) => (r[i + j] += a * b)));
  return r;
};

describe('Bessel low-pass and dV/dt', () => {
  it('matches the reference 4-pole Bessel (scipy.signal.bessel(4, 10 kHz at 50 kHz), norm "phase")', () => {
    const [p, q] = besselLowpass4(10e3, 50e3);
    const b = mul([p.b0, p.b1, p.b2], [q.b0, q.b1, q.b2]);
    const a = mul([1, p.a1, p.a2], [1, q.a1, q.a2]);
    const refB = [0.03927764, 0.15711057, 0.23566585, 0.15711057, 0.03927764];
    const refA = [1, -0.70050306, 0.42789776, -0.11296969, 0.01401725];
    b.forEach((x, i) => expect(x).toBeCloseTo(refB[i], 7));
    a.forEach((x, i) => expect(x).toBeCloseTo(refA[i], 7));
  });

  it('passes DC and ramps unchanged and does not shift a slow sine (zero phase)', () => {
    const fs = 50e3;
    const q = besselLowpass4(10e3, fs);
    const ramp = Float64Array.from({ length: 1000 }, (_, i) => -0.07 + i * 1e-5);
    const fr = filtfilt(ramp, q);
    for (let i = 0; i < 1000; i++) expect(fr[i]).toBeCloseTo(ramp[i], 9);
    const sine = Float64Array.from({ length: 5000 }, (_, i) => Math.sin((2 * Math.PI * 500 * i) / fs));
    const fsn = filtfilt(sine, q);
    let peakIn = 1000;
    let peakOut = 1000;
    for (let i = 1000; i < 1100; i++) {
      if (sine[i] > sine[peakIn]) peakIn = i;
      if (fsn[i] > fsn[peakOut]) peakOut = i;
    }
    expect(peakOut).toBe(peakIn);
    expect(fsn[peakOut]).toBeGreaterThan(0.99);
  });

  it('attenuates at the cutoff as the reference does: |H| = 0.418 per pass (phase norm), squared by filtfilt', () => {
    const fs = 100e3;
    // a cosine sampled 10× per period hits its crest exactly, and zero phase keeps it there
    const x = Float64Array.from({ length: 20000 }, (_, i) => Math.cos((2 * Math.PI * 10e3 * i) / fs));
    const y = filtfilt(x, besselLowpass4(10e3, fs));
    let m = 0;
    for (let i = 5000; i < 15000; i++) m = Math.max(m, Math.abs(y[i]));
    expect(m).toBeCloseTo(0.41792143 ** 2, 3);
  });

  it('dV/dt of a ramp is its slope in V/s; refuses a 10 kHz filter at 20 kHz unless filtering is off', () => {
    const ramp = Float32Array.from({ length: 500 }, (_, i) => i * 2e-5); // 2e-5 V per sample at 50 kHz = 1 V/s
    const d = dvdt(ramp, 50e3);
    expect(d[250]).toBeCloseTo(1, 2);
    expect(() => dvdt(ramp, 20e3)).toThrow(RangeError);
    expect(dvdt(ramp, 20e3, null)[10]).toBeCloseTo(0.4, 3);
  });
});

describe('detectSpikes (IPFX definitions)', () => {
  const feet = [0.1, 0.13, 0.17, 0.22];

  for (const fs of [50e3, 100e3]) {
    it(`finds every spike at ${fs / 1000} kHz with threshold, amplitude, width, up/downstroke of the known shape`, () => {
      const v = spikeTrain({ fs, durationS: 0.3, vrest: -0.065, feet });
      const spikes = detectSpikes(v, fs, SPIKES);
      const truth = apTruth(DEFAULT_AP);
      expect(spikes).toHaveLength(feet.length);
      spikes.forEach((s, k) => {
        expect(Math.abs(s.thresholdT - (feet[k] + truth.thresholdDelay))).toBeLessThan(50e-6);
        expect(Math.abs(s.thresholdV - truth.thresholdV)).toBeLessThan(0.3e-3);
        expect(s.peakV).toBeCloseTo(DEFAULT_AP.vpk, 4);
        expect(Math.abs(s.peakT - (feet[k] + DEFAULT_AP.rise))).toBeLessThan(1 / fs + 1e-9);
        expect(Math.abs(s.amplitude - truth.amplitude)).toBeLessThan(0.3e-3);
        expect(Math.abs(s.width! / truth.width - 1)).toBeLessThan(0.01);
        expect(Math.abs(s.upstroke / truth.upstroke - 1)).toBeLessThan(0.05);
        expect(Math.abs(s.downstroke! / truth.downstroke - 1)).toBeLessThan(0.05);
        expect(s.upDownRatio!).toBeCloseTo(s.upstroke / -s.downstroke!, 12);
        expect(s.troughV!).toBeCloseTo(DEFAULT_AP.vtr, 4);
        expect(s.fastTroughV!).toBeCloseTo(DEFAULT_AP.vtr, 4);
        expect(s.clipped).toBe(false);
      });
    });
  }

  it('a narrower, smaller spike gives the narrower width and smaller amplitude it was built with', () => {
    const fs = 50e3;
    const ap: ApShape = { vth: -0.04, vpk: 0.01, vtr: -0.068, rise: 0.3e-3, fall: 0.4e-3, recoveryTau: 3e-3 };
    const spikes = detectSpikes(spikeTrain({ fs, durationS: 0.1, vrest: -0.065, feet: [0.05], ap }), fs, SPIKES);
    const truth = apTruth(ap);
    expect(spikes).toHaveLength(1);
    expect(Math.abs(spikes[0].width! / truth.width - 1)).toBeLessThan(0.03);
    expect(Math.abs(spikes[0].amplitude - truth.amplitude)).toBeLessThan(0.5e-3);
    expect(Math.abs(spikes[0].thresholdV - truth.thresholdV)).toBeLessThan(0.5e-3);
  });

  it('keeps thresholds and widths within tolerance under 0.1 mV seeded noise', () => {
    const fs = 50e3;
    const truth = apTruth(DEFAULT_AP);
    for (let seed = 1; seed <= 10; seed++) {
      const v = spikeTrain({ fs, durationS: 0.3, vrest: -0.065, feet, noise: 0.1e-3, seed });
      const spikes = detectSpikes(v, fs, SPIKES);
      expect(spikes).toHaveLength(feet.length);
      for (const s of spikes) {
        expect(Math.abs(s.thresholdV - truth.thresholdV)).toBeLessThan(1e-3);
        expect(Math.abs(s.width! / truth.width - 1)).toBeLessThan(0.05);
      }
    }
  });

  it('ignores events that are too small or peak below −30 mV, and fast noise-free subthreshold bumps', () => {
    const fs = 50e3;
    const low: ApShape = { ...DEFAULT_AP, vpk: -0.035 }; // fast, but peaks below −30 mV
    const vLow = spikeTrain({ fs, durationS: 0.1, vrest: -0.065, feet: [0.05], ap: low });
    expect(detectSpikes(vLow, fs, SPIKES)).toHaveLength(0);
    expect(detectSpikes(vLow, fs, { ...SPIKES, minPeakV: -0.04 })).toHaveLength(1); // it is the peak level that rejects it
    // 1.8 mV tall and just fast enough (filtered dV/dt ≈ 21 V/s) to be a putative spike
    const tiny: ApShape = { ...DEFAULT_AP, vth: -0.0315, vpk: -0.0297, vtr: -0.066, rise: 0.08e-3, fall: 0.3e-3 };
    const vTiny = spikeTrain({ fs, durationS: 0.1, vrest: -0.065, feet: [0.05], ap: tiny });
    expect(detectSpikes(vTiny, fs, SPIKES)).toHaveLength(0);
    expect(detectSpikes(vTiny, fs, { ...SPIKES, minHeightV: 1e-3 })).toHaveLength(1); // … and the height here
    expect(detectSpikes(new Float32Array(5000).fill(-0.07), fs, SPIKES)).toHaveLength(0);
  });

  it('drops an event whose peak comes more than 5 ms after its threshold', () => {
    const fs = 50e3;
    // a fast 5 mV step-up (≈ 40 V/s) followed by an 8 ms slow climb to +10 mV, then back down
    const v = Float32Array.from({ length: 0.1 * fs }, (_, i) => {
      const t = i / fs - 0.05;
      if (t < 0) return -0.05;
      if (t < 0.2e-3) return -0.05 + 0.005 * (1 - Math.cos((Math.PI * t) / 0.2e-3)) / 2;
      if (t < 8.2e-3) return -0.045 + 0.055 * (1 - Math.cos((Math.PI * (t - 0.2e-3)) / 8e-3)) / 2;
      return -0.05 + 0.06 * Math.exp(-(t - 8.2e-3) / 2e-3);
    });
    expect(detectSpikes(v, fs, SPIKES)).toHaveLength(0);
    expect(detectSpikes(v, fs, { ...SPIKES, maxThresholdToPeakS: 20e-3 })).toHaveLength(1); // it is the 5 ms rule
  });

  it('marks a spike cut off by the end of the window as clipped, without trough or width', () => {
    const fs = 50e3;
    const v = spikeTrain({ fs, durationS: 0.3, vrest: -0.065, feet: [0.1, 0.2] });
    const end = Math.round((0.2 + DEFAULT_AP.rise + 0.2e-3) * fs); // just after the second peak
    const spikes = detectSpikes(v, fs, { ...SPIKES, end });
    expect(spikes).toHaveLength(2);
    expect(spikes[0].clipped).toBe(false);
    expect(spikes[1].clipped).toBe(true);
    expect(spikes[1].width).toBeNull();
    expect(spikes[1].troughV).toBeNull();
    expect(spikes[1].downstroke).toBeNull();
  });

  it('only looks inside the analysis window', () => {
    const fs = 50e3;
    const v = spikeTrain({ fs, durationS: 0.3, vrest: -0.065, feet });
    const spikes = detectSpikes(v, fs, { ...SPIKES, start: Math.round(0.12 * fs), end: Math.round(0.2 * fs) });
    expect(spikes.map((s) => Math.round(s.thresholdT * 100) / 100)).toEqual([0.13, 0.17]);
  });
});

describe('trainFeatures', () => {
  const fs = 50e3;
  const feet = [0.1, 0.13, 0.17, 0.22];
  const v = spikeTrain({ fs, durationS: 0.3, vrest: -0.065, feet });
  const spikes = detectSpikes(v, fs, SPIKES);

  it('computes rate, latency and ISI statistics from the thresholds', () => {
    const start = Math.round(0.05 * fs);
    const f = trainFeatures(spikes, fs, start, Math.round(0.3 * fs));
    const isis = [0.03, 0.04, 0.05];
    const m = 0.04;
    const sd = Math.sqrt(isis.reduce((a, x) => a + (x - m) ** 2, 0) / 3);
    expect(f.spikeCount).toBe(4);
    expect(f.avgRate).toBeCloseTo(4 / 0.25, 9);
    expect(Math.abs(f.latency! - (0.1 - 0.05))).toBeLessThan(50e-6);
    expect(f.firstIsi!).toBeCloseTo(0.03, 6);
    expect(f.meanIsi!).toBeCloseTo(m, 6);
    expect(f.isiCv!).toBeCloseTo(sd / m, 4);
    expect(f.adaptation!).toBeCloseTo((0.01 / 0.07 + 0.01 / 0.09) / 2, 4);
  });

  it('gives nulls, not NaN, when there are too few spikes', () => {
    const none = trainFeatures([], fs, 0, fs);
    expect(none).toEqual({ spikeCount: 0, avgRate: 0, latency: null, firstIsi: null, meanIsi: null, isiCv: null, adaptation: null });
    const one = trainFeatures(spikes.slice(0, 1), fs, 0, fs);
    expect(one.latency).not.toBeNull();
    expect(one.firstIsi).toBeNull();
    const two = trainFeatures(spikes.slice(0, 2), fs, 0, fs);
    expect(two.isiCv).toBe(0);
    expect(two.adaptation).toBeNull();
  });

  it('counts only spikes whose threshold falls within the stimulus', () => {
    const f = trainFeatures(spikes, fs, Math.round(0.12 * fs), Math.round(0.2 * fs));
    expect(f.spikeCount).toBe(2);
    expect(f.avgRate).toBeCloseTo(2 / 0.08, 9);
  });
});
