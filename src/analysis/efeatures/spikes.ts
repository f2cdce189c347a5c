/**
 * Action-potential detection and per-spike features, IPFX definitions
 * (Allen Institute `spike_detector` / `SpikeFeatureExtractor`, summarised in
 * efeatures-nwb.md). SI units throughout: V, s, V/s (1 V/s = 1 mV/ms). The
 * numbers below are IPFX's defaults; the values used come from the preset
 * (`record.analysis.spike_detection`, src/protocol/record-params.ts).
 *
 * Detection:
 *  1. dV/dt from the 10 kHz zero-phase Bessel-filtered trace (needs fs > 20 kHz;
 *     pass filterHz: null to skip the filter).
 *  2. Putative spikes: upward crossings of dV/dt ≥ 20 V/s; a later crossing only
 *     counts if dV/dt went negative since the previous one.
 *  3. Peak: highest V between a putative spike and the next (or the window end).
 *     Neighbours with no negative dV/dt between a peak and the next crossing are
 *     one event; events whose peak is < −30 mV or less than 2 mV above the
 *     crossing point are dropped.
 *  4. Upstroke: max dV/dt between crossing and peak. Threshold: going back from
 *     the upstroke (no further than the previous spike's upstroke), the first
 *     point where dV/dt ≤ 5 % of the mean upstroke of all spikes.
 *  5. A spike whose peak is ≥ 5 ms after its threshold gets its threshold looked
 *     for again within the 5 ms before the peak; if none, it is dropped. Spikes
 *     with peak − threshold < 2 mV are dropped.
 * Per spike: threshold (t, V), peak (t, V), trough = lowest V between the peak
 * and the next threshold (or window end), fast trough = lowest V within 5 ms of
 * the peak (and before the next threshold), upstroke, downstroke = min dV/dt
 * between peak and trough, upstroke/downstroke ratio = upstroke/−downstroke,
 * amplitude = peak − threshold, width = full width at the level halfway from
 * peak to trough (or halfway from peak to threshold if that level lies below
 * threshold), crossings linearly interpolated between samples.
 * The last spike is `clipped` when V never comes back to within 1 mV of its
 * threshold before the window ends; its trough, downstroke and width are null.
 */
import { dvdt as computeDvdt } from './dvdt.ts';

export interface SpikeDetectionOptions {
  /** Bessel low-pass for dV/dt, Hz; null = none */
  filterHz: number | null;
  /** dV/dt that starts a putative spike, V/s */
  dvdtThreshold: number;
  /** threshold = where dV/dt falls to this fraction of the mean upstroke */
  thresholdFraction: number;
  /** longest threshold → peak time, s */
  maxThresholdToPeakS: number;
  /** smallest peak − threshold, V */
  minHeightV: number;
  /** lowest acceptable peak, V */
  minPeakV: number;
  /** fast-trough window after the peak, s */
  fastTroughWindowS: number;
  /** a spike is clipped if V does not come back within this of threshold, V */
  clipToleranceV: number;
}

/** Where to look, and a dV/dt already computed. */
export interface SpikeWindow {
  /** analysis window, samples [start, end); default the whole trace */
  start?: number;
  end?: number;
  /** precomputed dV/dt (V/s, same length as v) to skip the filter */
  dvdt?: Float64Array;
}

export interface Spike {
  thresholdIndex: number;
  /** s from the start of the trace */
  thresholdT: number;
  thresholdV: number;
  peakIndex: number;
  peakT: number;
  peakV: number;
  /** max dV/dt threshold → peak, V/s, and when */
  upstroke: number;
  upstrokeT: number;
  troughIndex: number | null;
  troughT: number | null;
  troughV: number | null;
  fastTroughIndex: number | null;
  fastTroughT: number | null;
  fastTroughV: number | null;
  /** min dV/dt peak → trough, V/s (negative) */
  downstroke: number | null;
  downstrokeT: number | null;
  /** upstroke / −downstroke */
  upDownRatio: number | null;
  /** peak − threshold, V */
  amplitude: number;
  /** s */
  width: number | null;
  clipped: boolean;
}

/** Time where v crosses `level` between samples i and i+1, in samples (linear interpolation). */
function crossing(v: ArrayLike<number>, i: number, level: number): number {
  const a = v[i];
  const b = v[i + 1];
  return b === a ? i : i + (level - a) / (b - a);
}

/** Spike candidates as parallel index arrays: threshold (or dV/dt crossing), peak, upstroke. */
interface Candidates {
  thr: number[];
  peaks: number[];
  ups: number[];
}

function anyNegative(dv: ArrayLike<number>, from: number, to: number): boolean {
  for (let j = from; j < to; j++) if (dv[j] < 0) return true;
  return false;
}

/** Step 2: upward crossings of the dV/dt cutoff; the index is the last point below it (as IPFX). */
function putativeSpikes(dv: ArrayLike<number>, start: number, end: number, cutoff: number): number[] {
  const out: number[] = [];
  for (let i = start + 1; i < end - 1; i++) {
    if (dv[i] >= cutoff && dv[i - 1] < cutoff) {
      // a second crossing without dV/dt going negative in between is the same event
      if (out.length && !anyNegative(dv, out[out.length - 1], i)) continue;
      out.push(i - 1);
    }
  }
  return out;
}

/** Step 3: peaks, merging events that never repolarised, then the height and peak-level filters. */
function pairPeaks(v: ArrayLike<number>, dv: ArrayLike<number>, putative: number[], end: number, o: SpikeDetectionOptions): Candidates {
  const peaksAll = putative.map((s, k) => argMaxRange(v, s, k + 1 < putative.length ? putative[k + 1] : end));
  // no dV/dt < 0 between a peak and the next crossing: drop that peak and that crossing
  const spk: number[] = [putative[0]];
  const peaks: number[] = [];
  for (let k = 0; k + 1 < putative.length; k++) {
    if (anyNegative(dv, peaksAll[k], putative[k + 1])) {
      peaks.push(peaksAll[k]);
      spk.push(putative[k + 1]);
    }
  }
  peaks.push(peaksAll[peaksAll.length - 1]);
  const out: Candidates = { thr: [], peaks: [], ups: [] };
  for (let k = 0; k < spk.length; k++) {
    if (v[peaks[k]] >= o.minPeakV && v[peaks[k]] - v[spk[k]] >= o.minHeightV) {
      out.thr.push(spk[k]);
      out.peaks.push(peaks[k]);
      out.ups.push(argMaxRange(dv, spk[k], Math.max(spk[k] + 1, peaks[k])));
    }
  }
  return out;
}

/** Step 4: threshold = going back from the upstroke (not past the previous one), the first dV/dt ≤ target. */
function refineThresholds(dv: ArrayLike<number>, c: Candidates, start: number, target: number): void {
  c.thr = c.ups.map((u, k) => {
    const floor = k === 0 ? start : c.ups[k - 1];
    for (let j = u; j > floor; j--) if (dv[j] <= target) return j;
    return floor;
  });
}

/** Step 5a: a threshold not after the previous peak is the same spike: earlier threshold, later peak and upstroke. */
function mergeOverlaps(c: Candidates): Candidates {
  const out: Candidates = { thr: [c.thr[0]], peaks: [], ups: [] };
  let peak = c.peaks[0];
  let up = c.ups[0];
  for (let k = 1; k < c.thr.length; k++) {
    if (c.thr[k] > c.peaks[k - 1] + 1) {
      out.peaks.push(peak);
      out.ups.push(up);
      out.thr.push(c.thr[k]);
    }
    peak = c.peaks[k];
    up = c.ups[k];
  }
  out.peaks.push(peak);
  out.ups.push(up);
  return out;
}

/** Step 5b: peaks too long after threshold get the threshold looked for within the allowed time; then the height check. */
function enforceThresholdToPeak(
  v: ArrayLike<number>,
  dv: ArrayLike<number>,
  c: Candidates,
  start: number,
  target: number,
  maxGap: number,
  minHeight: number,
): Candidates {
  const out: Candidates = { thr: [], peaks: [], ups: [] };
  for (let k = 0; k < c.thr.length; k++) {
    let t = c.thr[k];
    if (c.peaks[k] - t >= maxGap) {
      const lo = Math.max(start, Math.ceil(c.peaks[k] - maxGap));
      t = -1;
      for (let j = c.ups[k]; j > lo; j--) {
        if (dv[j] <= target) {
          t = j;
          break;
        }
      }
      if (t < 0) continue;
    }
    if (v[c.peaks[k]] - v[t] < minHeight) continue;
    out.thr.push(t);
    out.peaks.push(c.peaks[k]);
    out.ups.push(c.ups[k]);
  }
  return out;
}

/** Detect spikes in v (V) sampled at fs (Hz) and measure each one. */
export function detectSpikes(v: ArrayLike<number>, fs: number, o: SpikeDetectionOptions & SpikeWindow): Spike[] {
  const n = v.length;
  const start = Math.max(0, Math.floor(o.start ?? 0));
  const end = Math.min(n, Math.floor(o.end ?? n));
  if (end - start < 3) return [];
  const dv = o.dvdt ?? computeDvdt(v, fs, o.filterHz);

  const putative = putativeSpikes(dv, start, end, o.dvdtThreshold);
  if (putative.length === 0) return [];
  let c = pairPeaks(v, dv, putative, end, o);
  if (c.thr.length === 0) return [];
  let meanUp = 0;
  for (const u of c.ups) meanUp += dv[u];
  const target = (meanUp / c.ups.length) * o.thresholdFraction;
  refineThresholds(dv, c, start, target);
  c = mergeOverlaps(c);
  c = enforceThresholdToPeak(v, dv, c, start, target, o.maxThresholdToPeakS * fs, o.minHeightV);
  const { thr, peaks, ups } = c;
  if (thr.length === 0) return [];

  // clipped last spike: V never returns near threshold before the window ends
  const last = thr.length - 1;
  let clipped = true;
  for (let j = peaks[last]; j < end; j++) {
    if (v[j] <= v[thr[last]] + o.clipToleranceV) {
      clipped = false;
      break;
    }
  }

  const fastWin = Math.round(o.fastTroughWindowS * fs);
  const spikes: Spike[] = [];
  for (let k = 0; k < thr.length; k++) {
    const t = thr[k];
    const p = peaks[k];
    const u = ups[k];
    const isClipped = k === last && clipped;
    const nextThr = k + 1 < thr.length ? thr[k + 1] : end;
    const trough = isClipped ? -1 : argMinRange(v, p, nextThr);
    const fastTrough = isClipped ? -1 : argMinRange(v, p, Math.min(nextThr, p + fastWin + 1));
    let down: number | null = null;
    let downT: number | null = null;
    if (trough > p) {
      const d = argMinRange(dv, p, trough);
      down = dv[d];
      downT = d / fs;
    }
    const peakV = v[p];
    const thrV = v[t];
    const width = trough > p ? halfWidth(v, t, p, trough, fs) : null;
    spikes.push({
      thresholdIndex: t,
      thresholdT: t / fs,
      thresholdV: thrV,
      peakIndex: p,
      peakT: p / fs,
      peakV,
      upstroke: dv[u],
      upstrokeT: u / fs,
      troughIndex: trough >= 0 ? trough : null,
      troughT: trough >= 0 ? trough / fs : null,
      troughV: trough >= 0 ? v[trough] : null,
      fastTroughIndex: fastTrough >= 0 ? fastTrough : null,
      fastTroughT: fastTrough >= 0 ? fastTrough / fs : null,
      fastTroughV: fastTrough >= 0 ? v[fastTrough] : null,
      downstroke: down,
      downstrokeT: downT,
      upDownRatio: down !== null && down < 0 ? dv[u] / -down : null,
      amplitude: peakV - thrV,
      width,
      clipped: isClipped,
    });
  }
  return spikes;
}

/**
 * Full width at the level halfway from peak to trough, or halfway from peak to
 * threshold when that level would lie below threshold; s, null if not found.
 */
function halfWidth(v: ArrayLike<number>, t: number, p: number, trough: number, fs: number): number | null {
  const peakV = v[p];
  let level = peakV - (peakV - v[trough]) / 2;
  if (level < v[t]) level = peakV - (peakV - v[t]) / 2;
  // rising edge: walk back from the peak to the first sample below the level
  let i = p;
  while (i > t && v[i - 1] >= level) i--;
  const rise = i > t ? crossing(v, i - 1, level) : t;
  // falling edge: walk on from the peak to the last sample above the level
  let j = p;
  while (j < trough && v[j + 1] > level) j++;
  if (j >= trough) return null;
  const w = (crossing(v, j, level) - rise) / fs;
  return w > 0 ? w : null;
}

function argMaxRange(x: ArrayLike<number>, from: number, to: number): number {
  let best = from;
  for (let i = from + 1; i < to; i++) if (x[i] > x[best]) best = i;
  return best;
}

function argMinRange(x: ArrayLike<number>, from: number, to: number): number {
  let best = from;
  for (let i = from + 1; i < to; i++) if (x[i] < x[best]) best = i;
  return best;
}
