/**
 * The bound on an exponential's gain over a straight line (src/analysis/exp-bound.ts)
 * that lets test-pulse analysis skip fitting a window of noise.
 */
import { describe, expect, it } from 'vitest';
import { createLineExcess, lineExcess } from '../../src/analysis/exp-bound.ts';
import { createExpFit, fitExponential } from '../../src/analysis/expfit.ts';
import { gaussian } from './synth.ts';

const N = 490;
const TAU_MAX = 1500;

function window(tau: number, amp: number, noise: number, seed: number, slope = 0): Float32Array {
  const g = gaussian(seed);
  return Float32Array.from({ length: N }, (_, x) => 1e-9 + slope * x + (tau > 0 ? amp * Math.exp(-x / tau) : 0) + noise * g());
}

describe('exponential gain bound', () => {
  it('is at least ~0.89 of what the fitted exponential gains over the line, for τ on and between its grid points', () => {
    const out = createLineExcess();
    const fit = createExpFit();
    let fitted = 0;
    for (const tau of [0.3, 1, 1.5, 3, 6, 11, 23, 45, 90, 181, 362, 700, 1400]) {
      for (let seed = 1; seed <= 5; seed++) {
        const y = window(tau, 50e-12, 2e-12, seed);
        lineExcess(y, 0, N, TAU_MAX, out);
        fitExponential(y, 0, N, 0, fit);
        if (!fit.ok) continue; // nothing fitted: nothing to bound
        fitted++;
        const gain = fit.sseLine - fit.sse;
        expect(out.gainBound).toBeGreaterThanOrEqual(0.89 * gain);
        // and it is a bound on the line's own misfit, never more
        expect(out.gainBound).toBeLessThanOrEqual(out.sseLine * (1 + 1e-9));
        expect(out.sseLine / fit.sseLine).toBeCloseTo(1, 6);
      }
    }
    expect(fitted).toBeGreaterThan(55);
  });

  it('stays at the noise level for a line plus white noise, whatever its slope and offset', () => {
    const out = createLineExcess();
    const sigma = 5e-12;
    let worst = 0;
    for (let seed = 1; seed <= 200; seed++) {
      const y = window(0, 0, sigma, seed, (seed % 7) * 1e-14);
      lineExcess(y, 0, N, TAU_MAX, out);
      worst = Math.max(worst, out.gainBound / (sigma * sigma));
      expect(out.sseLine / ((N - 2) * sigma * sigma)).toBeGreaterThan(0.8);
      expect(out.sseLine / ((N - 2) * sigma * sigma)).toBeLessThan(1.2);
    }
    // a dozen unit projections of white noise: χ²(1) maxima, far under the ~45 σ² a fit needs
    expect(worst).toBeLessThan(20);
  });

  it('stops scanning once the bound reaches the asked fraction of the line SSE', () => {
    const y = window(200, 100e-12, 1e-12, 3);
    const full = lineExcess(y, 0, N, TAU_MAX, createLineExcess());
    const early = lineExcess(y, 0, N, TAU_MAX, createLineExcess(), 0.01);
    expect(early.sseLine).toBe(full.sseLine);
    expect(early.gainBound).toBeGreaterThanOrEqual(0.01 * early.sseLine);
    expect(early.gainBound).toBeLessThanOrEqual(full.gainBound);
  });

  it('takes an unbounded τ range (no fit limit) as its longest grid point', () => {
    const y = window(5000, 30e-12, 1e-12, 4);
    const a = lineExcess(y, 0, N, Infinity, createLineExcess());
    const b = lineExcess(y, 0, N, 64 * N, createLineExcess());
    expect(a).toEqual(b);
    expect(a.gainBound).toBeGreaterThan(0);
  });

  it('works on a sub-range and is unchanged by a constant offset', () => {
    const y = window(40, 30e-12, 2e-12, 9);
    const padded = new Float32Array(N + 20);
    padded.set(y, 10);
    const a = lineExcess(y, 0, N, TAU_MAX, createLineExcess());
    const b = lineExcess(padded, 10, N + 10, TAU_MAX, createLineExcess());
    expect(b).toEqual(a);
    const shifted = Float64Array.from(y, (v) => v + 3e-9);
    const c = lineExcess(shifted, 0, N, TAU_MAX, createLineExcess());
    expect(c.gainBound / a.gainBound).toBeCloseTo(1, 4);
  });
});
