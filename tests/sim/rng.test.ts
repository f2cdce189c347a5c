import { describe, expect, it } from 'vitest';
import { addGaussianNoise, createHazard, createRng, hazardFires } from '../../src/sim/rng.ts';
import { mean, sd } from './helpers.ts';

describe('seeded randomness', () => {
  it('same seed → same stream; different seeds → different streams', () => {
    const a = createRng(42);
    const b = createRng(42);
    const c = createRng(43);
    const xa = Array.from({ length: 20 }, () => a.next());
    const xb = Array.from({ length: 20 }, () => b.next());
    const xc = Array.from({ length: 20 }, () => c.next());
    expect(xa).toEqual(xb);
    expect(xa).not.toEqual(xc);
    for (const x of xa) expect(x >= 0 && x < 1).toBe(true);
  });

  it('a fork depends only on its name, not on what the parent has drawn', () => {
    const a = createRng(7);
    const b = createRng(7);
    for (let i = 0; i < 100; i++) b.next();
    expect(a.fork('cell').fork(12).next()).toBe(b.fork('cell').fork(12).next());
    expect(a.fork('cell').fork(12).next()).not.toBe(a.fork('cell').fork(13).next());
    expect(a.fork('x').next()).not.toBe(a.fork('y').next());
  });

  it('neighbouring seeds give unrelated streams (every key word depends on the whole seed)', () => {
    const k1 = createRng(1).fork('pipette:p').fork(1).key;
    const k2 = createRng(2).fork('pipette:p').fork(1).key;
    for (let i = 0; i < 4; i++) expect(k1[i]).not.toBe(k2[i]);
    // the same draw position across consecutive seeds is uniform, in small blocks of seeds too
    for (let k = 0; k < 8; k++) {
      const blocks: number[] = [];
      for (let b = 0; b < 100; b++) {
        let low = 0;
        for (let seed = b * 20 + 1; seed <= b * 20 + 20; seed++) {
          const r = createRng(seed).fork('x').fork(1).fork('y');
          for (let i = 0; i < k; i++) r.next();
          if (r.next() < 0.2) low++;
        }
        blocks.push(low);
      }
      // binomial(20, 0.2): mean 4, SD ≈ 1.8
      expect(mean(blocks)).toBeGreaterThan(3.5);
      expect(mean(blocks)).toBeLessThan(4.5);
      expect(sd(blocks)).toBeGreaterThan(1.3);
      expect(sd(blocks)).toBeLessThan(2.3);
    }
  });

  it('draws have the intended distributions', () => {
    const r = createRng(1);
    const u = Array.from({ length: 20000 }, () => r.uniform(2, 4));
    expect(mean(u)).toBeCloseTo(3, 1);
    const n = Array.from({ length: 20000 }, () => r.normal(1, 2));
    expect(mean(n)).toBeCloseTo(1, 1);
    expect(sd(n)).toBeCloseTo(2, 1);
    const e = Array.from({ length: 20000 }, () => r.exponential(5));
    expect(mean(e)).toBeGreaterThan(4.8);
    expect(mean(e)).toBeLessThan(5.2);
    const p = Array.from({ length: 5000 }, () => r.poisson(3.5));
    expect(mean(p)).toBeGreaterThan(3.35);
    expect(mean(p)).toBeLessThan(3.65);
    const l = Array.from({ length: 20000 }, () => Math.log10(r.logUniform(1, 1000)));
    expect(mean(l)).toBeCloseTo(1.5, 1);
  });

  it('table noise is zero-mean with the requested SD', () => {
    const r = createRng(3);
    const out = new Float32Array(100001);
    addGaussianNoise(r, out, 2e-12);
    const xs = Array.from(out);
    expect(Math.abs(mean(xs))).toBeLessThan(0.05e-12);
    expect(sd(xs) / 2e-12).toBeGreaterThan(0.98);
    expect(sd(xs) / 2e-12).toBeLessThan(1.02);
  });

  it('a hazard fires at its rate however time is sliced', () => {
    // rate 0.5/s for 4 s: P(fire) = 1 − e^−2 ≈ 0.865, whether in 1 or 400 steps
    const trial = (steps: number): number => {
      let fired = 0;
      for (let k = 0; k < 4000; k++) {
        const h = createHazard(createRng(1000 + k));
        let f = false;
        for (let i = 0; i < steps && !f; i++) f = hazardFires(h, (0.5 * 4) / steps);
        if (f) fired++;
      }
      return fired / 4000;
    };
    const coarse = trial(1);
    const fine = trial(400);
    expect(coarse).toBeCloseTo(1 - Math.exp(-2), 1);
    expect(coarse).toBe(fine);
  });
});
