/**
 * Single-exponential fit y[i] ≈ a + b·exp(−k·(i − origin)) over evenly spaced
 * samples i ∈ [start, end), with the asymptote `a` free.
 *
 * Why this way: the control loop fits a test-pulse transient per sweep at up to
 * 100 Hz on 16 pipettes, so the fit must be closed-form and allocation-free.
 *  1. A first estimate of k comes from the integral-equation method (for an
 *     exponential, y − y₀ is linear in x and in the running integral ∫y; one
 *     linear least-squares solve gives k without a starting guess, and it is
 *     far less noise-sensitive than fitting log(y)).
 *  2. With k fixed, a and b are a linear least-squares solve.
 *  3. A few Gauss–Newton steps on (a, b, k) remove the bias of the trapezoidal
 *     integral and of step 1 under noise; a step is kept only if it lowers the
 *     residual, halving it up to 4 times first (long τ against the window
 *     makes full steps overshoot).
 * exp(−k·x) over consecutive samples is a geometric sequence, so each pass
 * costs one Math.exp. Values are shifted and scaled internally so currents
 * (~1e-10 A) and voltages (~1e-2 V) condition the same.
 */
import type { Samples } from './stats.ts';

export interface ExpFit {
  /** false when no decaying exponential fits (k ≤ 1e-9 per sample, < 4 points, flat or singular data) */
  ok: boolean;
  /** asymptote, in y units */
  a: number;
  /** amplitude at `origin` (y(origin) − a), in y units */
  b: number;
  /** decay rate per sample (τ = 1/k samples) */
  k: number;
  /** sum of squared residuals of the exponential, y units² */
  sse: number;
  /** sum of squared residuals of the least-squares straight line over the same points */
  sseLine: number;
  /** points fitted */
  n: number;
  /** standard errors of a, b (at `origin`) and k from the Gauss–Newton covariance σ²·(JᵀJ)⁻¹; NaN if singular */
  seA: number;
  seB: number;
  seK: number;
}

export function createExpFit(): ExpFit {
  return { ok: false, a: NaN, b: NaN, k: NaN, sse: NaN, sseLine: NaN, n: 0, seA: NaN, seB: NaN, seK: NaN };
}

function fail(out: ExpFit, n: number): ExpFit {
  out.ok = false;
  out.a = NaN;
  out.b = NaN;
  out.k = NaN;
  out.sse = NaN;
  out.sseLine = NaN;
  out.n = n;
  out.seA = NaN;
  out.seB = NaN;
  out.seK = NaN;
  return out;
}

/** smallest decay rate per sample treated as an exponential */
const MIN_K = 1e-9;

// Gauss–Newton accumulators, module-level so a fit allocates nothing.
const jtj = new Float64Array(6); // symmetric 3×3: 00 01 02 11 12 22
const jtr = new Float64Array(3);
const solved = new Float64Array(3);
const diag = new Float64Array(3);

/** the window, shifted and scaled once so every pass reads plain doubles */
let ys = new Float64Array(1024);

/** SSE of a + b·r^x over ys[0, n), filling jtj/jtr for a Gauss–Newton step. */
function accumulate(n: number, a: number, b: number, k: number): number {
  const r = Math.exp(-k);
  let th = 1;
  let sse = 0;
  let s00 = 0, s01 = 0, s02 = 0, s11 = 0, s12 = 0, s22 = 0, r0 = 0, r1 = 0, r2 = 0;
  for (let x = 0; x < n; x++) {
    const yy = ys[x];
    const res = yy - (a + b * th);
    sse += res * res;
    const jk = -b * x * th; // ∂f/∂k
    s00 += 1;
    s01 += th;
    s02 += jk;
    s11 += th * th;
    s12 += th * jk;
    s22 += jk * jk;
    r0 += res;
    r1 += th * res;
    r2 += jk * res;
    th *= r;
  }
  jtj[0] = s00; jtj[1] = s01; jtj[2] = s02; jtj[3] = s11; jtj[4] = s12; jtj[5] = s22;
  jtr[0] = r0; jtr[1] = r1; jtr[2] = r2;
  return sse;
}

/**
 * Fit y[start, end) and write the result into `out` (returned). `origin` is the
 * sample index where b is reported (e.g. the step onset, to extrapolate the
 * transient back to it). `iterations` bounds the Gauss–Newton refinement.
 */
export function fitExponential(y: Samples, start: number, end: number, origin: number, out: ExpFit, iterations = 8): ExpFit {
  start = Math.max(0, Math.floor(start));
  end = Math.min(y.length, Math.floor(end));
  const n = end - start;
  if (n < 4) return fail(out, Math.max(0, n));

  // Normalise: shift by the last point (near the asymptote), scale to unit span.
  const shift = y[end - 1];
  let span = 0;
  for (let i = start; i < end; i++) {
    const d = Math.abs(y[i] - shift);
    if (d > span) span = d;
  }
  if (!(span > 0) || !Number.isFinite(span)) return fail(out, n);
  const inv = 1 / span;

  // Pass 1: normalise into ys; integral-equation sums, plus straight-line sums for sseLine.
  if (ys.length < n) ys = new Float64Array(Math.max(n, ys.length * 2));
  const y0 = (y[start] - shift) * inv;
  let prev = y0;
  let S = 0;
  let sxx = 0, sxS = 0, sSS = 0, sxD = 0, sSD = 0;
  let lx = 0, ly = 0, lxx = 0, lxy = 0, lyy = 0;
  for (let x = 0; x < n; x++) {
    const yy = (y[start + x] - shift) * inv;
    ys[x] = yy;
    if (x > 0) S += 0.5 * (yy + prev);
    prev = yy;
    const D = yy - y0;
    sxx += x * x;
    sxS += x * S;
    sSS += S * S;
    sxD += x * D;
    sSD += S * D;
    lx += x;
    ly += yy;
    lxx += x * x;
    lxy += x * yy;
    lyy += yy * yy;
  }
  const lineDen = n * lxx - lx * lx;
  const lineSlope = (n * lxy - lx * ly) / lineDen;
  const lineSse = Math.max(0, lyy - ly * ly / n - lineSlope * (lxy - lx * ly / n));

  const det = sxx * sSS - sxS * sxS;
  let k = -(sxx * sSD - sxS * sxD) / det;
  // k → 0 is a straight line (τ of ~1e9 samples): no decay to report, and [1, θ] would be singular
  if (!(k > MIN_K) || !Number.isFinite(k)) return fail(out, n);

  // Pass 2: a, b for fixed k (linear least squares on [1, θ]).
  const r = Math.exp(-k);
  let th = 1;
  let st = 0, stt = 0, sy = 0, sty = 0;
  for (let x = 0; x < n; x++) {
    const yy = ys[x];
    st += th;
    stt += th * th;
    sy += yy;
    sty += th * yy;
    th *= r;
  }
  const den = n * stt - st * st;
  if (!(Math.abs(den) > 1e-300)) return fail(out, n);
  let b = (n * sty - st * sy) / den;
  let a = (sy - b * st) / n;

  // Gauss–Newton refinement. A full step can overshoot when τ is long against
  // the window, so a rejected step is halved (up to 4 times) before giving up.
  let sse = accumulate(n, a, b, k);
  for (let it = 0; it < iterations; it++) {
    solve3();
    const d0 = solved[0], d1 = solved[1], d2 = solved[2];
    if (!Number.isFinite(d0) || !Number.isFinite(d1) || !Number.isFinite(d2)) break;
    let moved = false;
    for (let lambda = 1; lambda >= 1 / 16; lambda /= 2) {
      const ka = k + lambda * d2;
      if (!(ka > MIN_K)) continue;
      const aa = a + lambda * d0;
      const bb = b + lambda * d1;
      const sseNew = accumulate(n, aa, bb, ka);
      if (sseNew <= sse) {
        const gain = sse - sseNew;
        a = aa;
        b = bb;
        k = ka;
        sse = sseNew;
        // a relative SSE gain of 1e-8 moves the parameters far less than their noise
        moved = gain > sse * 1e-8;
        break;
      }
    }
    if (!moved) break; // converged, or no step lowers the SSE
  }

  // Covariance at the accepted point (the accumulators may hold a rejected step).
  accumulate(n, a, b, k);
  const varScale = sse / Math.max(1, n - 3);
  invDiag3();
  const toOrigin = Math.exp(k * (start - origin));

  out.ok = true;
  out.seA = Math.sqrt(varScale * diag[0]) * span;
  out.seB = Math.sqrt(varScale * diag[1]) * span * toOrigin;
  out.seK = Math.sqrt(varScale * diag[2]);
  out.a = shift + a * span;
  out.b = b * span * toOrigin;
  out.k = k;
  out.sse = sse * span * span;
  out.sseLine = lineSse * span * span;
  out.n = n;
  if (!Number.isFinite(out.b)) return fail(out, n);
  return out;
}

/** Solve jtj·δ = jtr (3×3 symmetric) by Cramer's rule into `solved`; NaN when singular. */
function solve3(): void {
  const a00 = jtj[0], a01 = jtj[1], a02 = jtj[2], a11 = jtj[3], a12 = jtj[4], a22 = jtj[5];
  const c00 = a11 * a22 - a12 * a12;
  const c01 = a02 * a12 - a01 * a22;
  const c02 = a01 * a12 - a02 * a11;
  const det = a00 * c00 + a01 * c01 + a02 * c02;
  if (!(Math.abs(det) > 0)) {
    solved[0] = solved[1] = solved[2] = NaN;
    return;
  }
  const c11 = a00 * a22 - a02 * a02;
  const c12 = a01 * a02 - a00 * a12;
  const c22 = a00 * a11 - a01 * a01;
  const r0 = jtr[0], r1 = jtr[1], r2 = jtr[2];
  solved[0] = (c00 * r0 + c01 * r1 + c02 * r2) / det;
  solved[1] = (c01 * r0 + c11 * r1 + c12 * r2) / det;
  solved[2] = (c02 * r0 + c12 * r1 + c22 * r2) / det;
}

/** Diagonal of jtj⁻¹ into `diag` (NaN when singular). */
function invDiag3(): void {
  const a00 = jtj[0], a01 = jtj[1], a02 = jtj[2], a11 = jtj[3], a12 = jtj[4], a22 = jtj[5];
  const c00 = a11 * a22 - a12 * a12;
  const c01 = a02 * a12 - a01 * a22;
  const c02 = a01 * a12 - a02 * a11;
  const det = a00 * c00 + a01 * c01 + a02 * c02;
  if (!(Math.abs(det) > 0)) {
    diag[0] = diag[1] = diag[2] = NaN;
    return;
  }
  diag[0] = c00 / det;
  diag[1] = (a00 * a22 - a02 * a02) / det;
  diag[2] = (a00 * a11 - a01 * a01) / det;
}

/** Residual standard deviation of the exponential (3 parameters), y units; NaN when the fit failed. */
export function residualSigma(fit: ExpFit): number {
  return fit.ok ? Math.sqrt(fit.sse / Math.max(1, fit.n - 3)) : NaN;
}

/**
 * How far the exponential beats a straight line over the same points, in units
 * of the residual noise: √(SSE_line − SSE_exp)/σ. Pure noise gives ~1–2 (one
 * extra parameter); a real transient grows with its energy. Unlike the ratio
 * SSE_exp/SSE_line it does not shrink when a fast transient sits in a long
 * window. Infinity for a noiseless exact fit.
 */
export function curvatureSnr(fit: ExpFit): number {
  if (!fit.ok) return 0;
  const gain = Math.max(0, fit.sseLine - fit.sse);
  const sigma = residualSigma(fit);
  if (!(sigma > 0)) return gain > 0 ? Infinity : 0;
  return Math.sqrt(gain) / sigma;
}

