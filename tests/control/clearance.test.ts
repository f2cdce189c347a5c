/**
 * Exact shaft-to-shaft distances (clearance.ts) against geometry worked out
 * by hand and against brute force over dense grids of both regions.
 */
import { describe, expect, it } from 'vitest';
import { parallelogramDistance, stillShaft, sweptShaft, type Parallelogram } from '../../src/control/clearance.ts';
import { segmentDistance, type Vec3 } from '../../src/geometry.ts';
import { rng } from '../analysis/synth.ts';

const at = (p: Parallelogram, s: number, t: number): Vec3 => [
  p.origin[0] + s * p.u[0] + t * p.v[0],
  p.origin[1] + s * p.u[1] + t * p.v[1],
  p.origin[2] + s * p.u[2] + t * p.v[2],
];
const len = (v: Vec3): number => Math.hypot(v[0], v[1], v[2]);

/** min over an N×N grid on each region: an upper bound, within the grid spacing of the truth */
function bruteForce(a: Parallelogram, b: Parallelogram, n: number): number {
  const pa: Vec3[] = [];
  const pb: Vec3[] = [];
  for (let i = 0; i <= n; i++) for (let j = 0; j <= n; j++) {
    pa.push(at(a, i / n, j / n));
    pb.push(at(b, i / n, j / n));
  }
  let best = Infinity;
  for (const p of pa) for (const q of pb) best = Math.min(best, Math.hypot(p[0] - q[0], p[1] - q[1], p[2] - q[2]));
  return best;
}

describe('parallelogramDistance', () => {
  it('still shafts: the same as the segment distance', () => {
    const u = rng(3);
    for (let k = 0; k < 200; k++) {
      const r = (): Vec3 => [u() * 2000 - 1000, u() * 2000 - 1000, u() * 2000 - 1000];
      const axA = r();
      const axB = r();
      const a = stillShaft(r(), scaleTo(axA, 1), 1500);
      const b = stillShaft(r(), scaleTo(axB, 1), 2500);
      const expected = segmentDistance(a.origin, at(a, 0, 1), b.origin, at(b, 0, 1));
      expect(parallelogramDistance(a, b)).toBeCloseTo(expected, 6);
    }
  });

  it('crossing regions are at distance 0; parallel ones at their offset', () => {
    const a = sweptShaft([0, -100, 0], [0, 100, 0], [1, 0, 0], 1000); // a shaft along x swept along y
    const b = stillShaft([-500, 0, 0], [0, 0, 1], 1000); // a vertical shaft through the middle of it
    expect(parallelogramDistance(a, b)).toBeCloseTo(0, 9);
    const c = sweptShaft([0, 0, 50], [0, 300, 50], [1, 0, 0], 1000); // the same sweep 50 µm lower
    expect(parallelogramDistance(sweptShaft([0, 0, 0], [0, 300, 0], [1, 0, 0], 1000), c)).toBeCloseTo(50, 9);
  });

  it('a move passing between the points a 100 µm sampling checks is caught', () => {
    // The other shaft lies along y at z = 0; ours hangs vertically with its tip 90 µm above
    // that line and moves 200 µm along x, from -150 to +50: sampled every 100 µm (at -150,
    // -50 and +50) it never comes closer than √(50² + 90²) = 103 µm, but it passes at 90 µm.
    const other = stillShaft([0, 0, 0], [0, -1, 0], 3000);
    const ours = sweptShaft([-150, 0, -90], [50, 0, -90], [0, 0, 1], 3000);
    const sampled = Math.min(...[-150, -50, 50].map((x) => parallelogramDistance(stillShaft([x, 0, -90], [0, 0, 1], 3000), other)));
    expect(sampled).toBeGreaterThan(100);
    expect(parallelogramDistance(ours, other)).toBeCloseTo(90, 9);
  });

  it('random moving pairs: never above the brute-force minimum, never below it by more than the grid spacing', () => {
    const u = rng(11);
    const n = 24;
    for (let k = 0; k < 60; k++) {
      const r = (s: number): Vec3 => [(u() * 2 - 1) * s, (u() * 2 - 1) * s, (u() * 2 - 1) * s];
      const a = sweptShaft(r(800), r(800), scaleTo(r(1), 1), 600 + 1000 * u());
      const b = k % 3 === 0 ? stillShaft(r(800), scaleTo(r(1), 1), 2000) : sweptShaft(r(800), r(800), scaleTo(r(1), 1), 600 + 1000 * u());
      const exact = parallelogramDistance(a, b);
      const grid = bruteForce(a, b, n);
      const spacing = (len(a.u) + len(a.v) + len(b.u) + len(b.v)) / n / 2;
      expect(exact).toBeLessThanOrEqual(grid + 1e-6);
      expect(exact).toBeGreaterThanOrEqual(grid - spacing);
    }
  });
});

function scaleTo(v: Vec3, l: number): Vec3 {
  const n = len(v) || 1;
  return [(v[0] / n) * l, (v[1] / n) * l, (v[2] / n) * l];
}
