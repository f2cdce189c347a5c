/**
 * How much could any single exponential explain beyond a straight line?
 *
 * An exponential fit a + b·θˣ lies in span{1, θˣ} ⊂ span{1, x, θˣ}, so it
 * lowers the straight line's SSE by at most the squared projection of the
 * data on the part of θˣ orthogonal to 1 and x. The largest such projection
 * over θ (τ = −1/ln θ from 0 to `tauMax` samples) bounds the fit's gain over
 * the line from above before any fit is run: when even that bound is too
 * small for the fit to be accepted, the (iterative, and on pure noise
 * slowest) fit can be skipped.
 *
 * τ is scanned on a factor-2 grid (and τ → 0, a lone first sample): neighbouring
 * unit vectors correlate ≥ ~0.94, so a transient between grid points still
 * shows ≥ ~0.89 of its gain; callers leave a margin for that.
 *
 * The orthonormalised vectors depend only on the window length and tauMax,
 * which stay the same from sweep to sweep: they are built once and kept.
 */
import type { Samples } from './stats.ts';

export interface LineExcess {
  /** SSE of the least-squares straight line over the window, y units² */
  sseLine: number;
  /**
   * upper bound (on the τ grid) of SSE_line − SSE_exp for any decaying exponential,
   * y units²; once it reaches the caller's `stopFraction`·sseLine the scan stops,
   * so it may then be below the full bound (but at least that much)
   */
  gainBound: number;
}

let cached: { n: number; tauMax: number; vectors: Float64Array[] } | null = null;
/** the window, shifted, as plain doubles (the dot products then run on one array type) */
let zs = new Float64Array(1024);

/** unit vectors ⟂ {1, x} along θˣ on the τ grid, for a window of n points */
function basis(n: number, tauMax: number): Float64Array[] {
  if (cached && cached.n === n && cached.tauMax === tauMax) return cached.vectors;
  // τ → 0 (the first sample alone), then 1, 2, 4 … samples up to tauMax (τ = ½ is within 0.99 of both ends).
  // Beyond ~64 windows θˣ is a line plus a vanishing quadratic, all of one direction: the grid stops there.
  const top = Math.min(tauMax, 64 * n);
  const taus = [0];
  for (let t = 1; t < top; t *= 2) taus.push(t);
  taus.push(top);
  const xm = (n - 1) / 2;
  let sxx = 0;
  for (let x = 0; x < n; x++) sxx += (x - xm) * (x - xm);
  const vectors: Float64Array[] = [];
  for (const tau of taus) {
    const v = new Float64Array(n);
    if (tau === 0) v[0] = 1;
    else {
      const r = Math.exp(-1 / tau);
      let th = 1;
      for (let x = 0; x < n; x++, th *= r) v[x] = th;
    }
    let s1 = 0;
    let sx = 0;
    let before = 0;
    for (let x = 0; x < n; x++) {
      s1 += v[x];
      sx += v[x] * (x - xm);
      before += v[x] * v[x];
    }
    let norm = 0;
    for (let x = 0; x < n; x++) {
      v[x] -= s1 / n + (sx / sxx) * (x - xm);
      norm += v[x] * v[x];
    }
    // a τ so long that θˣ is a line to double precision adds nothing the line has not
    if (!(norm > 1e-20 * before)) continue;
    const inv = 1 / Math.sqrt(norm);
    for (let x = 0; x < n; x++) v[x] *= inv;
    vectors.push(v);
  }
  // longest τ first: a cell's transient (tens to hundreds of samples) usually settles the question at once
  vectors.reverse();
  cached = { n, tauMax, vectors };
  return vectors;
}

/** ⟨a, b⟩ over [0, n), four partial sums (the adds do not wait on one another) */
function dot(a: Float64Array, b: Float64Array, n: number): number {
  let p0 = 0;
  let p1 = 0;
  let p2 = 0;
  let p3 = 0;
  let x = 0;
  for (; x + 3 < n; x += 4) {
    p0 += a[x] * b[x];
    p1 += a[x + 1] * b[x + 1];
    p2 += a[x + 2] * b[x + 2];
    p3 += a[x + 3] * b[x + 3];
  }
  for (; x < n; x++) p0 += a[x] * b[x];
  return p0 + p1 + (p2 + p3);
}

export function createLineExcess(): LineExcess {
  return { sseLine: NaN, gainBound: NaN };
}

/**
 * Line SSE and the exponential-gain bound over y[start, end) (at least 3 points),
 * τ up to `tauMax` samples, into `out`; the scan stops early once the bound
 * reaches `stopFraction` × the line SSE (Infinity: never).
 */
export function lineExcess(y: Samples, start: number, end: number, tauMax: number, out: LineExcess, stopFraction = Infinity): LineExcess {
  const n = end - start;
  const vectors = basis(n, tauMax);
  if (zs.length < n) zs = new Float64Array(Math.max(n, zs.length * 2));
  // shifted by the last point: the vectors are ⟂ 1, so the shift changes nothing but rounding
  const shift = y[end - 1];
  const xm = (n - 1) / 2;
  let s = 0;
  let ss = 0;
  let sx = 0;
  let sxx = 0;
  for (let x = 0; x < n; x++) {
    const z = y[start + x] - shift;
    zs[x] = z;
    s += z;
    ss += z * z;
    sx += z * (x - xm);
    sxx += (x - xm) * (x - xm);
  }
  const sseLine = Math.max(0, ss - (s * s) / n - (sx * sx) / sxx);
  const enough = stopFraction * sseLine;
  let gainBound = 0;
  for (const v of vectors) {
    const p = dot(zs, v, n);
    if (p * p > gainBound) gainBound = p * p;
    if (gainBound >= enough) break;
  }
  out.sseLine = sseLine;
  out.gainBound = gainBound;
  return out;
}
