import { describe, expect, it } from 'vitest';
import { addGaussianNoise, createHazard, createRng, gaussianTable, hazardFires } from '../../src/sim/rng.ts';
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

  it('fillU32 continues the stream exactly as repeated u32() calls would, whatever the block sizes', () => {
    const a = createRng(99).fork('x');
    const b = createRng(99).fork('x');
    const expected = Array.from({ length: 1000 }, () => a.u32());
    const got: number[] = [];
    for (const size of [1, 0, 7, 256, 3, 733]) {
      const block = new Uint32Array(size);
      b.fillU32(block);
      got.push(...block);
    }
    expect(got).toEqual(expected);
    // and the stream goes on in step afterwards, through the other draws too
    expect(b.next()).toBe(a.next());
    expect(b.normal()).toBe(a.normal());
  });

  it('block-drawn noise equals the per-sample path: word k gives samples 2k (low half) and 2k + 1 (high half)', () => {
    const table = gaussianTable();
    const sdA = 3e-12;
    // lengths around the internal block of 4096 samples, odd and even
    for (const n of [0, 1, 2, 3, 850, 4095, 4096, 4097, 8193, 10_001]) {
      const base = Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 1e-10);
      const got = base.slice();
      addGaussianNoise(createRng(5).fork(n), got, sdA);
      const ref = base.slice();
      const r = createRng(5).fork(n);
      for (let i = 0; i < n; i += 2) {
        const w = r.u32();
        ref[i] += sdA * table[w & 0xffff];
        if (i + 1 < n) ref[i + 1] += sdA * table[w >>> 16];
      }
      expect(got).toEqual(ref);
    }
  });

  it('noise on a sweep cut into even parts is the noise on the whole sweep', () => {
    const whole = new Float32Array(9000);
    addGaussianNoise(createRng(8), whole, 1);
    const parts = new Float32Array(9000);
    const r = createRng(8);
    for (const [from, to] of [
      [0, 850],
      [850, 5000],
      [5000, 9000],
    ])
      addGaussianNoise(r, parts.subarray(from, to), 1);
    expect(parts).toEqual(whole);
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
