/**
 * Exact distances between pipette shafts, still or moving, for the
 * coordinator's path reservations.
 *
 * A shaft is a segment from the tip back along the axis. A shaft whose tip
 * moves in a straight line sweeps a parallelogram: tip(s) − t·L·axis with
 * s, t ∈ [0, 1] (a still shaft is the degenerate one with no move). The
 * smallest distance between two such regions is a convex quadratic in
 * (s, t, p, q) over the unit box, so its minimum lies at the critical point of
 * one face of the box: each variable at 0, at 1 or free (3⁴ = 81 faces, each a
 * linear solve of at most 4×4). Faces whose system is singular are skipped —
 * their minimum is also reached on a face of lower dimension, which is tried
 * too — so the result is exact, not sampled: a check every 100 µm along a move
 * could miss a shaft passing up to 50 µm inside the clearance between samples.
 */
import { dot, sub, scale, type Vec3 } from '../geometry.ts';

/** The points origin + s·u + t·v for s, t ∈ [0, 1]. */
export interface Parallelogram {
  origin: Vec3;
  u: Vec3;
  v: Vec3;
}

/** Region swept by a shaft of `length` µm (back from the tip along `axis`) while its tip goes from → to. */
export function sweptShaft(from: Vec3, to: Vec3, axis: Vec3, length: number): Parallelogram {
  return { origin: from, u: sub(to, from), v: scale(axis, -length) };
}

/** A still shaft (tip at `tip`). */
export function stillShaft(tip: Vec3, axis: Vec3, length: number): Parallelogram {
  return sweptShaft(tip, tip, axis, length);
}

// scratch for the face solves
const G = new Float64Array(16);
const rhs = new Float64Array(4);
const x = new Float64Array(4);
const sys = new Float64Array(20);

/** Shortest distance between two parallelograms (0 if they meet). */
export function parallelogramDistance(a: Parallelogram, b: Parallelogram): number {
  // d(x) = c + M·x with columns M = [a.u, a.v, −b.u, −b.v]
  const cols: Vec3[] = [a.u, a.v, scale(b.u, -1), scale(b.v, -1)];
  const c = sub(a.origin, b.origin);
  for (let i = 0; i < 4; i++) {
    for (let j = 0; j < 4; j++) G[i * 4 + j] = dot(cols[i], cols[j]);
    rhs[i] = -dot(cols[i], c);
  }
  const scaleG = Math.max(G[0], G[5], G[10], G[15], 1e-300);
  let best = Infinity;
  const evaluate = (): void => {
    const d: [number, number, number] = [c[0], c[1], c[2]];
    for (let i = 0; i < 4; i++) {
      d[0] += cols[i][0] * x[i];
      d[1] += cols[i][1] * x[i];
      d[2] += cols[i][2] * x[i];
    }
    const f = d[0] * d[0] + d[1] * d[1] + d[2] * d[2];
    if (f < best) best = f;
  };
  // face code: each variable 0 → fixed at 0, 1 → fixed at 1, 2 → free
  for (let code = 0; code < 81; code++) {
    const free: number[] = [];
    let k = code;
    for (let i = 0; i < 4; i++) {
      const st = k % 3;
      k = (k - st) / 3;
      if (st === 2) free.push(i);
      else x[i] = st;
    }
    if (free.length > 0 && !solveFree(free, scaleG)) continue;
    let inside = true;
    for (const i of free) if (x[i] < -1e-12 || x[i] > 1 + 1e-12) inside = false;
    if (inside) evaluate();
  }
  return Math.sqrt(Math.max(0, best));
}

/**
 * Solve G_FF·x_F = rhs_F − G_F,fixed·x_fixed for the free variables (Gaussian
 * elimination with partial pivoting); false when singular.
 */
function solveFree(free: number[], scaleG: number): boolean {
  const n = free.length;
  const w = n + 1;
  for (let r = 0; r < n; r++) {
    const i = free[r];
    let b = rhs[i];
    for (let j = 0; j < 4; j++) if (!free.includes(j)) b -= G[i * 4 + j] * x[j];
    for (let cI = 0; cI < n; cI++) sys[r * w + cI] = G[i * 4 + free[cI]];
    sys[r * w + n] = b;
  }
  for (let col = 0; col < n; col++) {
    let pivot = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(sys[r * w + col]) > Math.abs(sys[pivot * w + col])) pivot = r;
    if (Math.abs(sys[pivot * w + col]) <= 1e-12 * scaleG) return false;
    if (pivot !== col) {
      for (let cI = 0; cI < w; cI++) {
        const tmp = sys[col * w + cI];
        sys[col * w + cI] = sys[pivot * w + cI];
        sys[pivot * w + cI] = tmp;
      }
    }
    for (let r = col + 1; r < n; r++) {
      const f = sys[r * w + col] / sys[col * w + col];
      for (let cI = col; cI < w; cI++) sys[r * w + cI] -= f * sys[col * w + cI];
    }
  }
  for (let r = n - 1; r >= 0; r--) {
    let v = sys[r * w + n];
    for (let cI = r + 1; cI < n; cI++) v -= sys[r * w + cI] * x[free[cI]];
    x[free[r]] = v / sys[r * w + r];
  }
  return true;
}
