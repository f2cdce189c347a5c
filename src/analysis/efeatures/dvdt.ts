/**
 * dV/dt for spike detection, as IPFX computes it: the voltage is low-passed
 * with a 4-pole Bessel filter (default 10 kHz) run forward and backward (zero
 * phase, so thresholds are not delayed), then differentiated by forward
 * difference: dvdt[i] = (v[i+1] − v[i])·fs, in V/s (= mV/ms). Only dV/dt is
 * filtered; voltages of features are read from the raw trace.
 *
 * The digital filter is the bilinear transform (with frequency prewarping) of
 * the analog Bessel prototype normalised so its phase midpoint is at the cutoff
 * (scipy's norm='phase', which IPFX uses), as two cascaded biquads.
 */

/**
 * Poles of the 4th-order Bessel prototype, phase-normalised: the roots of
 * s⁴ + 10s³ + 45s² + 105s + 105 scaled by 105^(−1/4). One of each conjugate pair.
 */
const BESSEL4_POLES: ReadonlyArray<readonly [number, number]> = [
  [-0.6572111716718829, 0.8301614350048734],
  [-0.9047587967882449, 0.2709187330038746],
];

/** Biquad coefficients, normalised so a0 = 1: y = b0·x + b1·x₋₁ + b2·x₋₂ − a1·y₋₁ − a2·y₋₂ */
export interface Biquad {
  b0: number;
  b1: number;
  b2: number;
  a1: number;
  a2: number;
}

/** 4-pole Bessel low-pass at cutoffHz for sample rate fs, as two biquads. Requires cutoffHz < fs/2. */
export function besselLowpass4(cutoffHz: number, fs: number): Biquad[] {
  if (!(cutoffHz > 0 && cutoffHz < fs / 2)) {
    throw new RangeError(`Bessel cutoff ${cutoffHz} Hz needs a sample rate above ${2 * cutoffHz} Hz (got ${fs} Hz)`);
  }
  const k = 2 * fs;
  const wc = k * Math.tan((Math.PI * cutoffHz) / fs); // prewarped analog cutoff, rad/s
  return BESSEL4_POLES.map(([re, im]) => {
    // analog section |p|²/(s² − 2·Re(p)·s + |p|²) with p scaled to wc, then s = k(1 − z⁻¹)/(1 + z⁻¹)
    const pr = re * wc;
    const p2 = (re * re + im * im) * wc * wc;
    const a0 = k * k - 2 * pr * k + p2;
    return {
      b0: p2 / a0,
      b1: (2 * p2) / a0,
      b2: p2 / a0,
      a1: (2 * p2 - 2 * k * k) / a0,
      a2: (k * k + 2 * pr * k + p2) / a0,
    };
  });
}

/** Run one biquad over buf[0, n) in place, direction +1 or −1, starting in steady state at the first input. */
function runBiquad(buf: Float64Array, n: number, q: Biquad, forward: boolean): void {
  const first = forward ? 0 : n - 1;
  const x0 = buf[first];
  // transposed direct form II; state for a constant input x0 (DC gain 1 → output x0)
  let z1 = (q.b1 + q.b2 - q.a1 - q.a2) * x0;
  let z2 = (q.b2 - q.a2) * x0;
  const step = forward ? 1 : -1;
  for (let c = 0, i = first; c < n; c++, i += step) {
    const x = buf[i];
    const y = q.b0 * x + z1;
    z1 = q.b1 * x - q.a1 * y + z2;
    z2 = q.b2 * x - q.a2 * y;
    buf[i] = y;
  }
}

/**
 * Zero-phase filtered copy of v (forward then backward through the biquads).
 * The ends are padded by odd reflection (as filtfilt does) so the filter does
 * not ring at the sweep edges. `out` is reused if it is long enough.
 */
export function filtfilt(v: ArrayLike<number>, sections: Biquad[], out?: Float64Array): Float64Array {
  const n = v.length;
  const res = out && out.length >= n ? out : new Float64Array(n);
  if (n === 0) return res;
  const pad = Math.min(n - 1, 64);
  const total = n + 2 * pad;
  const buf = new Float64Array(total);
  for (let i = 0; i < n; i++) buf[pad + i] = v[i];
  for (let i = 1; i <= pad; i++) {
    buf[pad - i] = 2 * v[0] - v[i];
    buf[pad + n - 1 + i] = 2 * v[n - 1] - v[n - 1 - i];
  }
  for (const q of sections) runBiquad(buf, total, q, true);
  for (const q of sections) runBiquad(buf, total, q, false);
  for (let i = 0; i < n; i++) res[i] = buf[pad + i];
  return res;
}

/**
 * dV/dt (V/s) of v sampled at fs, after the zero-phase Bessel low-pass at
 * filterHz (null: no filtering). dvdt[i] is the slope from sample i to i+1;
 * the last entry repeats the one before so the array matches v's length.
 */
export function dvdt(v: ArrayLike<number>, fs: number, filterHz: number | null = 10e3): Float64Array {
  const n = v.length;
  const out = new Float64Array(n);
  if (n < 2) return out;
  const src: ArrayLike<number> = filterHz === null ? v : filtfilt(v, besselLowpass4(filterHz, fs));
  for (let i = 0; i < n - 1; i++) out[i] = (src[i + 1] - src[i]) * fs;
  out[n - 1] = out[n - 2];
  return out;
}
