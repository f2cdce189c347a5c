import { describe, expect, it } from 'vitest';
import { createExpFit, curvatureSnr, fitExponential, residualSigma } from '../../src/analysis/expfit.ts';
import { argMax, argMin, finiteOrNull, linearFit, mean, median, rmsAboutMean } from '../../src/analysis/stats.ts';
import { gaussian, rng } from './synth.ts';

describe('stats', () => {
  it('median matches a full sort for odd and even counts, on sub-ranges, without touching the input', () => {
    const u = rng(11);
    for (const n of [1, 2, 3, 10, 71, 200, 2000]) {
      const x = Float32Array.from({ length: n }, () => Math.round(u() * 50) - 25); // many ties
      const copy = Float32Array.from(x);
      const sorted = Array.from(x).sort((a, b) => a - b);
      const expected = n % 2 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
      expect(median(x)).toBe(expected);
      expect(x).toEqual(copy);
    }
    const y = [9, 1, 5, 3, 7, 100];
    expect(median(y, 1, 5)).toBe(4); // 1 3 5 7
    expect(Number.isNaN(median(y, 3, 3))).toBe(true);
  });

  it('mean, RMS about the mean, argmin/argmax and line fits', () => {
    const x = [1, 2, 3, 4];
    expect(mean(x)).toBe(2.5);
    expect(rmsAboutMean(x)).toBeCloseTo(Math.sqrt(1.25), 12);
    expect(argMin([3, 1, 1, 2])).toBe(1);
    expect(argMax([3, 5, 5, 2], 2)).toBe(2);
    expect(linearFit([0, 1, 2], [1, 3, 5])).toEqual({ slope: 2, intercept: 1 });
    expect(linearFit([1, 1], [2, 3])).toBeNull();
    expect(finiteOrNull(NaN)).toBeNull();
    expect(finiteOrNull(-Infinity)).toBeNull();
    expect(finiteOrNull(0)).toBe(0);
  });
});

describe('fitExponential', () => {
  const make = (n: number, a: number, b: number, tau: number, noise = 0, seed = 1): Float64Array => {
    const g = gaussian(seed);
    return Float64Array.from({ length: n }, (_, i) => a + b * Math.exp(-i / tau) + noise * g());
  };

  it('recovers a, b and τ exactly from noiseless data, for fast and slow decays and either sign', () => {
    const fit = createExpFit();
    for (const [a, b, tau] of [
      [1e-10, 5e-10, 3],
      [-2e-10, 8e-10, 40],
      [-0.07, -0.01, 400], // τ longer than the window: only the start of the curve is seen
      [0.5, 2, 0.7],
    ]) {
      const y = make(200, a, b, tau);
      fitExponential(y, 5, 200, 0, fit);
      expect(fit.ok).toBe(true);
      expect(1 / fit.k).toBeCloseTo(tau, 6);
      expect(fit.a / a).toBeCloseTo(1, 6);
      expect(fit.b / b).toBeCloseTo(1, 6); // extrapolated back to the origin (index 0)
      expect(curvatureSnr(fit)).toBeGreaterThan(100);
    }
  });

  it('with seeded noise, τ is right within a few % and the residual σ matches the noise', () => {
    const fit = createExpFit();
    for (let seed = 1; seed <= 20; seed++) {
      const y = make(400, 0, 1, 30, 0.01, seed);
      fitExponential(y, 0, 400, 0, fit);
      expect(fit.ok).toBe(true);
      expect(Math.abs(1 / fit.k / 30 - 1)).toBeLessThan(0.05);
      expect(residualSigma(fit)).toBeGreaterThan(0.008);
      expect(residualSigma(fit)).toBeLessThan(0.012);
      // the covariance estimate is in the right range for the actual error
      expect(Math.abs(fit.a)).toBeLessThan(5 * fit.seA);
    }
  });

  it('refuses flat and rising-line data, and finds no meaningful curvature in pure noise', () => {
    const fit = createExpFit();
    fitExponential(new Float64Array(100).fill(3), 0, 100, 0, fit);
    expect(fit.ok).toBe(false);
    fitExponential(Float64Array.from({ length: 100 }, (_, i) => i), 0, 100, 0, fit);
    expect(fit.ok).toBe(false);
    const g = gaussian(5);
    let worst = 0;
    for (let s = 0; s < 50; s++) {
      const y = Float64Array.from({ length: 200 }, () => g());
      fitExponential(y, 0, 200, 0, fit);
      if (fit.ok) worst = Math.max(worst, curvatureSnr(fit));
    }
    expect(worst).toBeLessThan(4);
  });

  it('needs at least 4 points', () => {
    const fit = createExpFit();
    fitExponential([3, 2, 1.5], 0, 3, 0, fit);
    expect(fit.ok).toBe(false);
    expect(fit.n).toBe(3);
  });
});
