/**
 * Small numeric helpers over index ranges of sample arrays. They never
 * allocate per call (the median reuses one module-level scratch buffer), so
 * the control loop can call them at test-pulse rate on every pipette.
 * Ranges are half-open: [start, end).
 */

export type Samples = ArrayLike<number>;

let scratch = new Float64Array(1024);

function clampRange(x: Samples, start: number, end: number): [number, number] {
  const s = Math.max(0, Math.floor(start));
  const e = Math.min(x.length, Math.floor(end));
  return [s, e];
}

/** Arithmetic mean of x[start, end); NaN for an empty range. */
export function mean(x: Samples, start = 0, end = x.length): number {
  const [s, e] = clampRange(x, start, end);
  if (e <= s) return NaN;
  let sum = 0;
  for (let i = s; i < e; i++) sum += x[i];
  return sum / (e - s);
}

/** RMS about the mean (a standard deviation with divisor n, as IPFX's `measure_vm`); NaN for an empty range. */
export function rmsAboutMean(x: Samples, start = 0, end = x.length): number {
  const [s, e] = clampRange(x, start, end);
  if (e <= s) return NaN;
  const m = mean(x, s, e);
  let sum = 0;
  for (let i = s; i < e; i++) {
    const d = x[i] - m;
    sum += d * d;
  }
  return Math.sqrt(sum / (e - s));
}

/** k-th smallest (0-based) of buf[0, n) by quickselect; reorders buf. */
function select(buf: Float64Array, n: number, k: number): number {
  let lo = 0;
  let hi = n - 1;
  while (hi > lo) {
    // median-of-three pivot keeps sorted and reverse-sorted input linear
    const mid = (lo + hi) >> 1;
    const a = buf[lo];
    const b = buf[mid];
    const c = buf[hi];
    const pivot = a < b ? (b < c ? b : a < c ? c : a) : a < c ? a : b < c ? c : b;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (buf[i] < pivot) i++;
      while (buf[j] > pivot) j--;
      if (i <= j) {
        const t = buf[i];
        buf[i] = buf[j];
        buf[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return buf[k];
  }
  return buf[k];
}

/** Median of x[start, end) (mean of the two middle values for even counts); NaN for an empty range. */
export function median(x: Samples, start = 0, end = x.length): number {
  const [s, e] = clampRange(x, start, end);
  const n = e - s;
  if (n <= 0) return NaN;
  if (scratch.length < n) scratch = new Float64Array(Math.max(n, scratch.length * 2));
  for (let i = 0; i < n; i++) scratch[i] = x[s + i];
  const k = n >> 1;
  const upper = select(scratch, n, k);
  if (n % 2 === 1) return upper;
  // after selecting k, everything below index k is ≤ the k-th value
  let lower = -Infinity;
  for (let i = 0; i < k; i++) if (scratch[i] > lower) lower = scratch[i];
  return (lower + upper) / 2;
}

/** Index of the minimum of x[start, end) (first one on ties); -1 for an empty range. */
export function argMin(x: Samples, start = 0, end = x.length): number {
  const [s, e] = clampRange(x, start, end);
  let best = -1;
  let v = Infinity;
  for (let i = s; i < e; i++) {
    if (x[i] < v) {
      v = x[i];
      best = i;
    }
  }
  return best;
}

/** Index of the maximum of x[start, end) (first one on ties); -1 for an empty range. */
export function argMax(x: Samples, start = 0, end = x.length): number {
  const [s, e] = clampRange(x, start, end);
  let best = -1;
  let v = -Infinity;
  for (let i = s; i < e; i++) {
    if (x[i] > v) {
      v = x[i];
      best = i;
    }
  }
  return best;
}

/** Least-squares line y = intercept + slope·x; null with fewer than two distinct x. */
export function linearFit(x: Samples, y: Samples): { slope: number; intercept: number } | null {
  const n = Math.min(x.length, y.length);
  if (n < 2) return null;
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    mx += x[i];
    my += y[i];
  }
  mx /= n;
  my /= n;
  let sxx = 0;
  let sxy = 0;
  for (let i = 0; i < n; i++) {
    const dx = x[i] - mx;
    sxx += dx * dx;
    sxy += dx * (y[i] - my);
  }
  if (!(sxx > 0)) return null;
  const slope = sxy / sxx;
  return { slope, intercept: my - slope * mx };
}

/** NaN/±Infinity → null, so features never leak non-finite numbers into records or JSON. */
export function finiteOrNull(x: number | null | undefined): number | null {
  return x === null || x === undefined || !Number.isFinite(x) ? null : x;
}
