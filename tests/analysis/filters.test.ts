import { describe, expect, it } from 'vitest';
import { createEma, createRangeTracker, createRiseCounter, createSlope } from '../../src/analysis/filters.ts';
import { gaussian, rng } from './synth.ts';

/** Reading times (ms) from 0 to endMs at a nominal rate with ±40 % seeded jitter per interval. */
function readingTimes(rateHz: number, endMs: number, seed: number): number[] {
  const u = rng(seed);
  const period = 1000 / rateHz;
  const out: number[] = [];
  for (let t = 0; t <= endMs; t += period * (0.6 + 0.8 * u())) out.push(t);
  return out;
}

const RATES = [6, 30, 100];

describe('createEma', () => {
  it('is exact for irregular steps: a unit step reads 1 − exp(−Δt/τ) since the last reading before it', () => {
    for (const rate of RATES) {
      const tau = 1; // s
      const ema = createEma(tau);
      const times = readingTimes(rate, 10_000, rate);
      const stepAt = 4000;
      let lastBefore = 0;
      for (const t of times) {
        const x = t < stepAt ? 0 : 1;
        const y = ema.update(x, t);
        if (t < stepAt) {
          lastBefore = t;
          expect(y).toBe(0);
        } else {
          // zero-order hold: the new level is taken to have held since the previous reading
          expect(y).toBeCloseTo(1 - Math.exp(-(t - lastBefore) / 1000 / tau), 12);
        }
      }
    }
  });

  it('has the same time behaviour at 6, 30 and 100 Hz: 63 % at τ, 86 % at 2τ, within one reading interval', () => {
    const tau = 0.5;
    const stepAt = 3000;
    for (const rate of RATES) {
      const ema = createEma(tau);
      const times = readingTimes(rate, 8000, 100 + rate);
      let crossing: number | null = null;
      let at2tau: number | null = null;
      let maxGap = 0;
      for (let i = 0; i < times.length; i++) {
        const t = times[i];
        if (i > 0) maxGap = Math.max(maxGap, t - times[i - 1]);
        const y = ema.update(t < stepAt ? 0 : 1, t);
        if (crossing === null && y >= 1 - Math.exp(-1)) crossing = t;
        if (t <= stepAt + 2 * tau * 1000) at2tau = y;
      }
      expect(Math.abs(crossing! - stepAt - tau * 1000)).toBeLessThanOrEqual(maxGap);
      expect(Math.abs(at2tau! - (1 - Math.exp(-2)))).toBeLessThan(0.04);
    }
  });

  it('averages reading noise over τ of time: output variance σ²·α/(2 − α), lower at higher rates', () => {
    // More readings per τ means more averaging; the response to a real change
    // (tests above) is what stays rate-independent.
    for (const rate of [30, 100]) {
      const ema = createEma(1);
      const g = gaussian(rate);
      const ys: number[] = [];
      for (let i = 0; i < rate * 600; i++) {
        const y = ema.update(10 + g(), (i * 1000) / rate);
        if (i > rate * 10) ys.push(y);
      }
      const m = ys.reduce((a, b) => a + b, 0) / ys.length;
      const v = ys.reduce((a, b) => a + (b - m) ** 2, 0) / ys.length;
      const alpha = 1 - Math.exp(-1 / rate);
      expect(m).toBeCloseTo(10, 1);
      expect(v / (alpha / (2 - alpha))).toBeGreaterThan(0.7);
      expect(v / (alpha / (2 - alpha))).toBeLessThan(1.3);
    }
  });

  it('starts at the first reading, ignores readings without elapsed time, passes through with τ = 0, resets', () => {
    const ema = createEma(2);
    expect(ema.value).toBeNull();
    expect(ema.update(5, 100)).toBe(5);
    expect(ema.update(100, 100)).toBe(5); // same timestamp: no time has passed
    expect(ema.update(100, 50)).toBe(5); // earlier timestamp
    expect(ema.lastT).toBe(100);
    const y = ema.update(7, 2100);
    expect(y).toBeCloseTo(5 + 2 * (1 - Math.exp(-1)), 12);
    ema.reset();
    expect(ema.value).toBeNull();
    expect(ema.update(3, 0)).toBe(3);
    const raw = createEma(0);
    raw.update(1, 0);
    expect(raw.update(9, 10)).toBe(9);
    expect(() => createEma(-1)).toThrow(RangeError);
  });
});

describe('createSlope', () => {
  it('measures a ramp exactly at every rate, and forgets an old slope one window after it ends', () => {
    const windowS = 1;
    for (const rate of RATES) {
      const slope = createSlope(windowS);
      const times = readingTimes(rate, 20_000, 7 * rate);
      const bend = 10_000; // ramp of 2 MΩ/s until here, flat after
      const r = (t: number): number => 10e6 + 2e6 * (Math.min(t, bend) / 1000);
      for (const t of times) {
        const s = slope.update(r(t), t);
        if (t > windowS * 1000 && t <= bend) expect(s! / 2e6).toBeCloseTo(1, 9);
        if (t >= bend + windowS * 1000) expect(Math.abs(s!)).toBeLessThan(1e-3);
        if (t > windowS * 1000) {
          expect(slope.spanS).toBeLessThanOrEqual(windowS);
          expect(slope.count).toBeGreaterThanOrEqual(Math.floor(windowS * rate * 0.6));
        }
      }
    }
  });

  it('keeps its precision late in a long session and with many readings in the window', () => {
    const slope = createSlope(2); // 2 s at 500 Hz: 1000 readings, beyond the initial buffer
    const t0 = 10 * 3600 * 1000; // 10 h in
    let s: number | null = null;
    for (let i = 0; i < 2000; i++) s = slope.update(5 + 0.25 * (i / 500), t0 + i * 2);
    expect(s!).toBeCloseTo(0.25, 9);
    expect(slope.count).toBe(1001);
  });

  it('returns null until two readings span some time, ignores out-of-order readings, resets', () => {
    const slope = createSlope(1);
    expect(slope.update(1, 0)).toBeNull();
    expect(slope.update(2, 0)).toBeNull(); // no time span
    expect(slope.update(3, 500)).toBeCloseTo(3, 12); // least squares over (0 s,1) (0 s,2) (0.5 s,3)
    expect(slope.update(100, 400)).toBeCloseTo(3, 12); // out of order: ignored
    slope.reset();
    expect(slope.slope).toBeNull();
    expect(slope.count).toBe(0);
    const strict = createSlope(1, { minReadings: 3 });
    strict.update(0, 0);
    expect(strict.update(1, 100)).toBeNull();
    expect(strict.update(2, 200)).toBeCloseTo(10, 12);
  });
});

describe('createRiseCounter', () => {
  it('counts consecutive rises and restarts on any non-rise', () => {
    const rc = createRiseCounter();
    const counts = [5, 6, 7, 8, 8, 9, 10, 9, 10].map((x) => rc.update(x));
    expect(counts).toEqual([0, 1, 2, 3, 0, 1, 2, 0, 1]);
  });

  it('ignores rises no larger than minStep', () => {
    const rc = createRiseCounter({ minStep: 0.05e6 });
    const counts = [10e6, 10.03e6, 10.1e6, 10.2e6, 10.3e6].map((x) => rc.update(x));
    expect(counts).toEqual([0, 0, 1, 2, 3]);
    rc.reset();
    expect(rc.count).toBe(0);
    expect(rc.update(11e6)).toBe(0);
  });
});

describe('createRangeTracker', () => {
  it('reports max − min over the last n readings once n have arrived', () => {
    const rt = createRangeTracker(3);
    expect(rt.update(5)).toBeNull();
    expect(rt.update(1)).toBeNull();
    expect(rt.full).toBe(false);
    expect(rt.update(4)).toBe(4); // 5 1 4
    expect(rt.update(3)).toBe(3); // 1 4 3
    expect(rt.update(3.5)).toBe(1); // 4 3 3.5
    expect(rt.min).toBe(3);
    expect(rt.max).toBe(4);
    rt.reset();
    expect(rt.range).toBeNull();
    expect(() => createRangeTracker(0)).toThrow(RangeError);
  });

  it('detects a dead electrode (range < 25 kΩ over 40 readings) and not a live one', () => {
    const g = gaussian(3);
    const dead = createRangeTracker(40);
    const live = createRangeTracker(40);
    let d: number | null = null;
    let l: number | null = null;
    for (let i = 0; i < 60; i++) {
      d = dead.update(6e6 + 2e3 * g());
      l = live.update(6e6 + 50e3 * g());
    }
    expect(d!).toBeLessThan(25e3);
    expect(l!).toBeGreaterThan(25e3);
  });
});
