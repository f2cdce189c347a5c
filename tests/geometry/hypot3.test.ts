import { describe, expect, it } from 'vitest';
import { createRng } from '../../src/sim/rng.ts';
import { distance, hypot3, norm } from '../../src/geometry.ts';

describe('hypot3', () => {
  it('is the Euclidean length: exact cases, signs, zero', () => {
    expect(hypot3(3, 4, 12)).toBe(13);
    expect(hypot3(-3, 4, -12)).toBe(13);
    expect(hypot3(0, 0, 0)).toBe(0);
    expect(hypot3(0, -2.5, 0)).toBe(2.5);
    expect(norm([1, 2, 2])).toBe(3);
    expect(distance([1, 1, 1], [2, 3, 3])).toBe(3);
  });

  it('agrees with Math.hypot to a few ulps over the rig-scale range (nm to m in µm)', () => {
    const r = createRng(4);
    for (let i = 0; i < 20_000; i++) {
      const scale = 10 ** r.uniform(-3, 6);
      const [x, y, z] = [r.uniform(-1, 1) * scale, r.uniform(-1, 1) * scale, r.uniform(-1, 1) * scale];
      const ref = Math.hypot(x, y, z);
      expect(Math.abs(hypot3(x, y, z) - ref)).toBeLessThanOrEqual(4 * Number.EPSILON * ref);
    }
  });

  it('passes NaN through', () => {
    expect(hypot3(NaN, 1, 1)).toBeNaN();
  });
});
