import { describe, expect, it } from 'vitest';
import { loadStimulusSet } from '../../src/protocol/load.ts';
import { expandStimulusSet, sweepAmplitudes_pA, sweepCount, sweepDurationMs } from '../../src/protocol/stimulus.ts';
import type { StimulusSet } from '../../src/protocol/types.ts';

const f32 = (pA: number): number => Math.fround(pA * 1e-12);

function countEqual(samples: Float32Array, value: number, from = 0, to = samples.length): number {
  let n = 0;
  for (let i = from; i < to; i++) if (samples[i] === value) n++;
  return n;
}

describe('expandStimulusSet: long squares', () => {
  const set = loadStimulusSet('long-square');
  const sweeps = expandStimulusSet(set);

  it('gives one current-clamp sweep per amplitude, ascending, named by amplitude', () => {
    expect(sweeps).toHaveLength(16);
    expect(sweepCount(set)).toBe(16);
    expect(sweeps.map((w) => w.name)).toEqual([
      'long-square -100pA', 'long-square -80pA', 'long-square -60pA', 'long-square -40pA', 'long-square -20pA',
      'long-square 0pA', 'long-square +20pA', 'long-square +40pA', 'long-square +60pA', 'long-square +80pA',
      'long-square +100pA', 'long-square +120pA', 'long-square +140pA', 'long-square +160pA', 'long-square +180pA',
      'long-square +200pA',
    ]);
    for (const w of sweeps) {
      expect(w.mode).toBe('IC');
      expect(w.sampleRateHz).toBe(50_000);
      expect(w.samples).toBeInstanceOf(Float32Array);
    }
  });

  it('is sample-exact: 1 s baseline, 1 s step, 3 s baseline at 50 kHz', () => {
    expect(sweepDurationMs(set)).toBe(5000);
    sweeps.forEach((w, i) => {
      const pA = -100 + 20 * i;
      expect(w.samples.length).toBe(250_000);
      expect(w.onsetIndex).toBe(50_000);
      expect(w.lengthSamples).toBe(50_000);
      expect(w.amplitude).toBeCloseTo(pA * 1e-12, 20);
      const s = w.samples;
      if (pA !== 0) {
        expect(s[49_999]).toBe(0);
        expect(s[50_000]).toBe(f32(pA));
        expect(s[99_999]).toBe(f32(pA));
        expect(s[100_000]).toBe(0);
        expect(countEqual(s, f32(pA))).toBe(50_000);
      }
      expect(countEqual(s, 0, 0, 50_000)).toBe(50_000);
      expect(countEqual(s, 0, 100_000)).toBe(150_000);
    });
  });

  it('leaves the bias out of the samples (the amplifier holds it), so a biased set plays the same waveforms', () => {
    const biased: StimulusSet = { ...set, bias_pA: -30 };
    const ws = expandStimulusSet(biased);
    const w = ws[7]; // +40 pA
    expect(w.name).toBe('long-square +40pA');
    expect(w.amplitude).toBeCloseTo(40e-12, 20);
    expect(w.samples[0]).toBe(0);
    expect(w.samples[50_000]).toBe(f32(40));
    expect(w.samples[249_999]).toBe(0);
    expect(countEqual(w.samples, 0)).toBe(200_000);
    expect(countEqual(w.samples, f32(40))).toBe(50_000);
    expect(ws.map((x) => Array.from(x.samples))).toEqual(expandStimulusSet(set).map((x) => Array.from(x.samples)));
  });

  it('follows the sample rate and baselines given', () => {
    const custom: StimulusSet = {
      ...set,
      sample_rate_kHz: 20,
      pre_ms: 150,
      post_ms: 250,
      family: { type: 'long-square', from_pA: 10, to_pA: 30, step_pA: 10, duration_ms: 400 },
    };
    const ws = expandStimulusSet(custom);
    expect(ws.map((w) => w.samples.length)).toEqual([16_000, 16_000, 16_000]);
    expect(ws.map((w) => w.onsetIndex)).toEqual([3000, 3000, 3000]);
    expect(ws.map((w) => w.lengthSamples)).toEqual([8000, 8000, 8000]);
    expect(ws.map((w) => w.sampleRateHz)).toEqual([20_000, 20_000, 20_000]);
    expect(ws[2].samples[2999]).toBe(0);
    expect(ws[2].samples[3000]).toBe(f32(30));
    expect(ws[2].samples[10_999]).toBe(f32(30));
    expect(ws[2].samples[11_000]).toBe(0);
  });
});

describe('expandStimulusSet: short squares and ramp', () => {
  it('short square: 3 ms is 150 samples at 50 kHz', () => {
    const set = loadStimulusSet('short-square');
    const ws = expandStimulusSet(set);
    expect(ws).toHaveLength(sweepAmplitudes_pA(set.family).length);
    expect(ws[0].name).toBe('short-square +100pA');
    for (const w of ws) {
      expect(w.lengthSamples).toBe(150);
      expect(w.onsetIndex).toBe(50_000);
      expect(w.samples.length).toBe(100_150);
      expect(countEqual(w.samples, Math.fround(w.amplitude!))).toBe(150);
      expect(w.samples[50_000 + 150]).toBe(0);
    }
  });

  it('ramp: one sweep rising by slope/fs per sample from the onset to exactly max_pA', () => {
    const set = loadStimulusSet('ramp');
    const [w, ...rest] = expandStimulusSet(set);
    expect(rest).toHaveLength(0);
    expect(w.name).toBe('ramp 25pA/s to 500pA');
    expect(w.mode).toBe('IC');
    expect(w.amplitude).toBeUndefined();
    const n = 20 * 50_000; // 500 pA / 25 pA/s = 20 s
    expect(w.lengthSamples).toBe(n);
    expect(w.onsetIndex).toBe(50_000);
    expect(w.samples.length).toBe(50_000 + n + 50_000);
    expect(w.samples[49_999]).toBe(0);
    expect(w.samples[50_000]).toBe(f32(25 / 50_000));
    expect(w.samples[50_000 + n / 2 - 1]).toBe(f32(250));
    expect(w.samples[50_000 + n - 1]).toBe(f32(500));
    expect(w.samples[50_000 + n]).toBe(0);
    let rising = true;
    for (let i = 50_001; i < 50_000 + n; i++) if (!(w.samples[i] >= w.samples[i - 1])) rising = false;
    expect(rising).toBe(true);
  });

  it('a ramp with bias starts from 0 in its samples too', () => {
    const set: StimulusSet = { ...loadStimulusSet('ramp'), bias_pA: 50 };
    const [w] = expandStimulusSet(set);
    expect(w.samples[0]).toBe(0);
    expect(w.samples[50_000 + 20 * 50_000 - 1]).toBe(f32(500));
    expect(w.samples[w.samples.length - 1]).toBe(0);
  });
});
