/**
 * Per-cell features from a current-clamp long-square family, IPFX definitions
 * (`LongSquareAnalysis`, `subthresh_features`, `feature_record`;
 * efeatures-nwb.md). SI units. The numbers quoted are IPFX's defaults; the
 * values used come from the preset (`record.analysis`, record-params.ts).
 *
 *   vBaseline        mean over all sweeps of each sweep's mean V in the 100 ms before the stimulus
 *   rheobaseA        lowest positive stimulus amplitude whose sweep spikes
 *   fiSlope          least-squares slope of avgRate vs amplitude over all spiking sweeps, Hz/A
 *                    (1 Hz/pA = 1e12 Hz/A)
 *   inputResistance  least-squares slope of the peak (most negative) V during the
 *                    stimulus vs amplitude over non-spiking sweeps with −100 pA < I < 0,
 *                    both ends excluded as in IPFX (`stim_amp > subthresh_min_amp` with
 *                    −100 pA, and `< 0`): a −100 pA sweep is not used, though
 *                    efeatures-nwb.md says "−100 to 0 pA" (one such sweep: its baseline at
 *                    0 A is the second point), Ω
 *   tau              mean over those sweeps of a single-exponential fit from where V first
 *                    passes 10 % of the deflection to the median peak time of the set; a
 *                    sweep counts only if |deflection|/baseline noise ≥ 20 and the fit RMSE
 *                    ≤ 1 mV, s
 *   sag              (v_peak − v_steady)/(v_peak − v_baseline) on the non-spiking
 *                    hyperpolarising sweep whose peak is closest to −100 mV; v_peak is the
 *                    mean over 5 ms around the minimum, v_steady the mean of the last 30 ms
 *                    of the stimulus; vmForSag is that sweep's peak V
 *   hero*            the lowest-amplitude spiking sweep strictly between rheobase + 39 pA and
 *                    rheobase + 61 pA ("40–60 pA above rheobase"): its amplitude, spike
 *                    count, adaptation, latency, first ISI, mean ISI, ISI CV and rate; null
 *                    when no sweep is in range (IPFX would fall back to the nearest sweep;
 *                    autopatch reports it missing instead)
 *   ap*              the FIRST spike of the rheobase sweep, as IPFX's cell record
 *                    (`rheobase_sweep.spikes[0]`): threshold V, amplitude (peak − threshold),
 *                    width, upstroke, downstroke and their ratio
 * Every missing value is null, never NaN.
 */
import { finiteOrNull, linearFit, mean, median, rmsAboutMean, argMin } from '../stats.ts';
import { createExpFit, fitExponential } from '../expfit.ts';
import { detectSpikes, type Spike, type SpikeDetectionOptions } from './spikes.ts';
import { trainFeatures, type TrainFeatures } from './train.ts';

export interface LongSquareSweep {
  /** membrane potential, V */
  v: ArrayLike<number>;
  /** sample rate, Hz */
  fs: number;
  /** step amplitude, A */
  stimulusAmplitudeA: number;
  /** stimulus window, samples */
  onsetIndex: number;
  lengthSamples: number;
}

export interface CellFeatureOptions {
  spike: SpikeDetectionOptions;
  /** window before the stimulus for the baseline, s */
  baselineWindowS: number;
  /** amplitude window (both ends excluded) of the sweeps used for input resistance and tau, A */
  subthresholdAboveA: number;
  subthresholdBelowA: number;
  /** tau fit starts where V has moved this fraction of the deflection */
  tauFraction: number;
  tauMinSnr: number;
  tauMaxRmseV: number;
  /** sag is reported on the sweep whose peak is closest to this, V */
  sagTargetV: number;
  sagPeakWidthS: number;
  sagSteadyWindowS: number;
  /** hero sweep amplitude window above rheobase (exclusive), A */
  heroMinOffsetA: number;
  heroMaxOffsetA: number;
}

export interface SweepSummary {
  /** position in the input array */
  index: number;
  amplitudeA: number;
  vBaseline: number | null;
  spikes: Spike[];
  train: TrainFeatures;
  /** most negative V during the stimulus (absolute), V */
  peakDeflectionV: number | null;
  /** non-spiking hyperpolarising sweeps only */
  sag: number | null;
  /** sweeps in the input-resistance/tau set only, s */
  tau: number | null;
}

export interface HeroFeatures {
  amplitudeA: number;
  spikeCount: number;
  adaptation: number | null;
  latency: number | null;
  firstIsi: number | null;
  meanIsi: number | null;
  isiCv: number | null;
  avgRate: number;
}

export interface ApFeatures {
  threshold: number | null;
  amplitude: number | null;
  width: number | null;
  upstroke: number | null;
  downstroke: number | null;
  upDownRatio: number | null;
}

export interface CellFeatures {
  vBaseline: number | null;
  rheobaseA: number | null;
  fiSlope: number | null;
  inputResistance: number | null;
  tau: number | null;
  sag: number | null;
  vmForSag: number | null;
  hero: HeroFeatures | null;
  ap: ApFeatures;
  sweeps: SweepSummary[];
}

const tauFit = createExpFit();

function meanOf(xs: Array<number | null>): number | null {
  const ok = xs.filter((x): x is number => x !== null && Number.isFinite(x));
  return ok.length ? ok.reduce((a, b) => a + b, 0) / ok.length : null;
}

export function cellFeatures(sweeps: readonly LongSquareSweep[], o: CellFeatureOptions): CellFeatures {

  const summaries: SweepSummary[] = sweeps.map((s, index) => {
    const n = s.v.length;
    const onset = Math.max(0, Math.min(n, Math.floor(s.onsetIndex)));
    const end = Math.max(onset, Math.min(n, onset + Math.floor(s.lengthSamples)));
    const baseN = Math.max(1, Math.round(o.baselineWindowS * s.fs));
    const vBaseline = onset > 0 ? mean(s.v, Math.max(0, onset - baseN), onset) : null;
    const spikes = detectSpikes(s.v, s.fs, { ...o.spike, start: onset, end });
    const train = trainFeatures(spikes, s.fs, onset, end);
    const minIdx = end > onset ? argMin(s.v, onset, end) : -1;
    const peakDeflectionV = minIdx >= 0 ? s.v[minIdx] : null;
    let sag: number | null = null;
    if (train.spikeCount === 0 && s.stimulusAmplitudeA < 0 && minIdx >= 0 && vBaseline !== null) {
      const half = Math.round((o.sagPeakWidthS / 2) * s.fs);
      const vPeak = mean(s.v, Math.max(onset, minIdx - half), Math.min(end, minIdx + half + 1));
      const steadyN = Math.max(1, Math.round(o.sagSteadyWindowS * s.fs));
      const vSteady = mean(s.v, end - steadyN, end);
      sag = finiteOrNull((vPeak - vSteady) / (vPeak - vBaseline));
    }
    return { index, amplitudeA: s.stimulusAmplitudeA, vBaseline, spikes, train, peakDeflectionV, sag, tau: null };
  });

  const vBaseline = meanOf(summaries.map((s) => s.vBaseline));

  // ---- suprathreshold
  const spiking = summaries.filter((s) => s.train.spikeCount > 0);
  const positive = spiking.filter((s) => s.amplitudeA > 0);
  let rheo: SweepSummary | null = null;
  for (const s of positive) if (rheo === null || s.amplitudeA < rheo.amplitudeA) rheo = s;
  const rheobaseA = rheo ? rheo.amplitudeA : null;

  const fi = linearFit(spiking.map((s) => s.amplitudeA), spiking.map((s) => s.train.avgRate));
  const fiSlope = fi ? finiteOrNull(fi.slope) : null;

  let hero: HeroFeatures | null = null;
  if (rheobaseA !== null) {
    let best: SweepSummary | null = null;
    for (const s of spiking) {
      const above = s.amplitudeA - rheobaseA;
      if (above > o.heroMinOffsetA && above < o.heroMaxOffsetA && (best === null || s.amplitudeA < best.amplitudeA)) best = s;
    }
    if (best) {
      hero = {
        amplitudeA: best.amplitudeA,
        spikeCount: best.train.spikeCount,
        adaptation: best.train.adaptation,
        latency: best.train.latency,
        firstIsi: best.train.firstIsi,
        meanIsi: best.train.meanIsi,
        isiCv: best.train.isiCv,
        avgRate: best.train.avgRate,
      };
    }
  }

  // IPFX's cell record takes the rheobase sweep's first spike, not a mean over its spikes
  const first = rheo?.spikes[0] ?? null;
  const ap: ApFeatures = {
    threshold: finiteOrNull(first?.thresholdV ?? null),
    amplitude: finiteOrNull(first?.amplitude ?? null),
    width: finiteOrNull(first?.width ?? null),
    upstroke: finiteOrNull(first?.upstroke ?? null),
    downstroke: finiteOrNull(first?.downstroke ?? null),
    upDownRatio: finiteOrNull(first?.upDownRatio ?? null),
  };

  // ---- subthreshold
  const quiet = summaries.filter((s) => s.train.spikeCount === 0);
  let sag: number | null = null;
  let vmForSag: number | null = null;
  {
    let best: SweepSummary | null = null;
    for (const s of quiet) {
      if (s.sag === null || s.peakDeflectionV === null) continue;
      if (best === null || Math.abs(s.peakDeflectionV - o.sagTargetV) < Math.abs(best.peakDeflectionV! - o.sagTargetV)) best = s;
    }
    if (best) {
      sag = best.sag;
      vmForSag = best.peakDeflectionV;
    }
  }

  const membrane = quiet.filter((s) => s.amplitudeA > o.subthresholdAboveA && s.amplitudeA < o.subthresholdBelowA && s.peakDeflectionV !== null);
  let inputResistance: number | null = null;
  if (membrane.length > 0) {
    const xs = membrane.map((s) => s.amplitudeA);
    const ys = membrane.map((s) => s.peakDeflectionV!);
    if (membrane.length === 1 && membrane[0].vBaseline !== null) {
      xs.push(0);
      ys.push(membrane[0].vBaseline);
    }
    const fit = linearFit(xs, ys);
    inputResistance = fit ? finiteOrNull(fit.slope) : null;
  }

  let tau: number | null = null;
  if (membrane.length > 0) {
    // common fit end: the median time of the peak after onset across the set (as IPFX)
    const peakTimes = membrane.map((s) => {
      const sw = sweeps[s.index];
      const onset = Math.floor(sw.onsetIndex);
      return (argMin(sw.v, onset, onset + Math.floor(sw.lengthSamples)) - onset) / sw.fs;
    });
    const fitEndS = median(peakTimes);
    for (const s of membrane) s.tau = sweepTau(sweeps[s.index], s.vBaseline, fitEndS, o);
    tau = meanOf(membrane.map((s) => s.tau));
  }

  return {
    vBaseline,
    rheobaseA,
    fiSlope,
    inputResistance,
    tau,
    sag,
    vmForSag,
    hero,
    ap,
    sweeps: summaries,
  };
}

/** IPFX time_constant on one hyperpolarising sweep; null when the SNR or fit is not good enough. */
function sweepTau(s: LongSquareSweep, vBaseline: number | null, fitEndS: number, o: CellFeatureOptions): number | null {
  if (vBaseline === null) return null;
  const onset = Math.floor(s.onsetIndex);
  const end = Math.min(s.v.length, onset + Math.floor(s.lengthSamples));
  const fitEnd = Math.min(end - 1, onset + Math.round(fitEndS * s.fs));
  if (fitEnd <= onset) return null;
  const vPeak = s.v[fitEnd];
  const baseN = Math.max(2, Math.round(o.baselineWindowS * s.fs));
  const noise = rmsAboutMean(s.v, Math.max(0, onset - baseN), onset);
  const signal = Math.abs(vBaseline - vPeak);
  const snr = noise > 0 ? signal / noise : Infinity;
  if (!(snr >= o.tauMinSnr)) return null;
  const level = vBaseline + o.tauFraction * (vPeak - vBaseline);
  let fitStart = -1;
  for (let i = onset; i < fitEnd; i++) {
    if (s.v[i] <= level) {
      fitStart = i;
      break;
    }
  }
  if (fitStart < 0 || fitEnd - fitStart < 4) return null;
  fitExponential(s.v, fitStart, fitEnd, fitStart, tauFit);
  if (!tauFit.ok) return null;
  const rmse = Math.sqrt(tauFit.sse / tauFit.n);
  if (!(rmse <= o.tauMaxRmseV)) return null;
  return finiteOrNull(1 / (tauFit.k * s.fs));
}

/**
 * Flat name → value map for AttemptRecord.features (SI units, nulls kept).
 * Keys are the CellFeatures names with hero/ap prefixed: heroAmplitudeA, apWidth, ….
 */
export function cellFeaturesRecord(f: CellFeatures): Record<string, number | null> {
  return {
    vBaseline: f.vBaseline,
    rheobaseA: f.rheobaseA,
    fiSlope: f.fiSlope,
    inputResistance: f.inputResistance,
    tau: f.tau,
    sag: f.sag,
    vmForSag: f.vmForSag,
    heroAmplitudeA: f.hero?.amplitudeA ?? null,
    heroSpikeCount: f.hero?.spikeCount ?? null,
    heroAdaptation: f.hero?.adaptation ?? null,
    heroLatency: f.hero?.latency ?? null,
    heroFirstIsi: f.hero?.firstIsi ?? null,
    heroMeanIsi: f.hero?.meanIsi ?? null,
    heroIsiCv: f.hero?.isiCv ?? null,
    heroAvgRate: f.hero?.avgRate ?? null,
    apThreshold: f.ap.threshold,
    apAmplitude: f.ap.amplitude,
    apWidth: f.ap.width,
    apUpstroke: f.ap.upstroke,
    apDownstroke: f.ap.downstroke,
    apUpDownRatio: f.ap.upDownRatio,
  };
}
