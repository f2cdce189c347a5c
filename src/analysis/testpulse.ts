/**
 * Test-pulse analysis: resistance, access, membrane resistance and capacitance
 * from one test-pulse sweep (efeatures-nwb.md, "Test-pulse analysis").
 *
 * Voltage clamp (step ΔV, response in A):
 *   baseline I_base = median of the pre-step samples (robust to a stray spike);
 *   steady state    = mean of the last `steadyFraction` of the step (≤ `steadyMaxS`);
 *   peak            = extreme within `peakWindowS` of onset;
 *   transient       = I(t) ≈ I_ss + b·exp(−t/τ), fitted from `fitStartS` after onset
 *                     (skips the pipette-capacitance spike and amplifier filter)
 *                     to the end of the step, extrapolated back to onset: I₀ = I_ss + b;
 *   R_ss = ΔV/(I_ss − I_base)   R_a = ΔV/(I₀ − I_base)   R_m = R_ss − R_a
 *   C_m  = τ·(1/R_a + 1/R_m)    I_hold = I_base.
 * When the exponential is accepted, I_ss is the fitted asymptote (the window mean
 * still holds the tail of a slow transient: with τ ≈ 1.9 ms on a 10 ms step it reads
 * R ~12 % low); `iss` always reports the window mean.
 * fitQuality = score(transient at the fit start / residual σ) × score(√(SSE_line −
 * SSE_exp)/σ) × score(fitted step response / its standard error), each score 0 at
 * `snrFloor` and 1 at `snrFull` (the last one because the steady state is
 * extrapolated: with τ near the step length it is poorly known, and R and R_m
 * with it); it is 0 when the
 * transient has the wrong sign, is under `minTransientRatio` of the step response,
 * or τ exceeds `maxTauSteps` step lengths. The fit is used at ≥ `minFitQuality`.
 * Without a credible transient (bath, seal) only Ohm's law is used: ra/rm/cm null.
 * They are also null when the fitted values contradict each other (R_a ≤ 0 or
 * R_a ≥ R_ss); fitQuality still scores the exponential itself.
 *
 * A transient too slow for the step (τ near or beyond the step length) cannot
 * be fitted, but its charge still proves a capacitance: cmLowerBound =
 * ∫(I − I_ss) dt / ΔV from the fit start to the step end. With the steady-state
 * window still on the decaying tail this undercounts the charge, and the charge
 * itself is ΔV·C_m·(R_m/(R_a+R_m))², so it is a lower bound on C_m whatever τ
 * is. `transient` tells the three cases apart: 'fitted', 'slow' (not fitted,
 * but a charge of at least `snrFull` noise σ: the decay outlasts the window),
 * 'none' (bath, seal).
 *
 * Current clamp (step ΔI, response in V): R_in = ΔV_ss/ΔI, τ from the same fit,
 * the instantaneous jump at onset is the bridge-balance residual (reported as ra,
 * ~0 when the bridge is balanced), R_m = R_in − ra and C_m = τ/R_m (= τ/R_in with
 * a balanced bridge). I0 injects no current, so there is nothing to measure a
 * resistance with: r = 0, ra/rm/cm null, and only `baseline` (membrane potential)
 * is meaningful.
 *
 * Before fitting, a bound on what any exponential could explain beyond a
 * straight line (exp-bound.ts) is checked against what acceptance needs: the
 * curvature score must reach `minFitQuality`, i.e. √gain/σ ≥ s* with
 * s* = snrFloor + minFitQuality·(snrFull − snrFloor) and σ² = (SSE_line − gain)/(n − 3).
 * When even the bound (with a factor-2 margin) falls short, as in the bath or a
 * seal where the window holds only noise, the fit is skipped: fitQuality 0 and
 * samples.fit 0, the Ohm's-law reading as for any rejected fit. That is where
 * the fit was slowest (Gauss–Newton wandering on noise).
 *
 * Pure, synchronous and allocation-light: one result object per call; the fit,
 * the bound and the median reuse module-level scratch.
 */
import type { Sweep } from '../../drivers/types.ts';
import type { TestPulseReading } from '../control/events.ts';
import { createExpFit, curvatureSnr, fitExponential, residualSigma } from './expfit.ts';
import { createLineExcess, lineExcess } from './exp-bound.ts';
import { mean, median, rmsAboutMean } from './stats.ts';

export interface TestPulseOptions {
  /** fraction of the step, at its end, averaged for the steady state */
  steadyFraction: number;
  /** cap on that window, s */
  steadyMaxS: number;
  /** window after onset searched for the instantaneous peak, s */
  peakWindowS: number;
  /** the exponential is fitted from this long after onset, s */
  fitStartS: number;
  /** most Gauss–Newton refinements after the closed-form start (it stops early once converged) */
  fitIterations: number;
  /** resistances above this (or non-positive ones) are reported as this value with overLimit, Ω */
  maxResistance: number;
  /** fits below this quality are not used (ra/rm/cm null) */
  minFitQuality: number;
  /** the transient at the fit start must be at least this fraction of the steady-state step response */
  minTransientRatio: number;
  /**
   * Signal-to-noise (in residual σ) that scores 0 … (`snrFloor`) and 1 (`snrFull`),
   * applied to both the transient amplitude at the fit start and the gain of the
   * exponential over a straight line (see expfit.curvatureSnr).
   */
  snrFloor: number;
  snrFull: number;
  /** τ longer than this many step lengths is not a credible fit */
  maxTauSteps: number;
  /** use the fitted asymptote (not the window mean) for R_ss when the fit is accepted */
  useFittedSteadyState: boolean;
}

export const DEFAULT_TESTPULSE_OPTIONS: Readonly<TestPulseOptions> = Object.freeze({
  steadyFraction: 0.2,
  steadyMaxS: 5e-3,
  peakWindowS: 0.25e-3,
  fitStartS: 150e-6,
  fitIterations: 8,
  maxResistance: 10e9,
  minFitQuality: 0.5,
  minTransientRatio: 0.05,
  snrFloor: 3,
  snrFull: 10,
  maxTauSteps: 3,
  useFittedSteadyState: true,
});

export type TransientKind = 'fitted' | 'slow' | 'none';

export interface TestPulseAnalysis extends TestPulseReading {
  /** VC: capacitance the transient's charge proves at least (fitted or not), F; null in IC/I0 */
  cmLowerBound: number | null;
  /** fitted exponential, a charge too slow to fit in the step, or no transient */
  transient: TransientKind;
  /** R_ss exceeded `maxResistance` or was not positive (r then equals maxResistance) */
  overLimit: boolean;
  /** pre-step level: A in VC, V in IC */
  baseline: number;
  /** mean of the steady-state window (response unit) */
  iss: number;
  /** fitted asymptote of the exponential, null when the fit was rejected (response unit) */
  issFit: number | null;
  /** extreme response within peakWindowS of onset (response unit) */
  ipeak: number;
  /** s, null when the fit was rejected */
  tau: number | null;
  /** VC: crude ΔV/(I_peak − I_base), Ω (sample-rate dependent); null in IC or when not positive */
  raPeak: number | null;
  /** RMS about the mean of the pre-step samples (response unit) */
  noise: number;
  /** samples used by each measurement */
  samples: { baseline: number; steady: number; peak: number; fit: number };
}

const fit = createExpFit();
const excess = createLineExcess();

/** the bound's allowance for a transient between its τ grid points (and for the fit's own optimum) */
const BOUND_MARGIN = 2;

/**
 * False when no exponential over y[start, end) could reach the curvature score the
 * fit needs to be accepted, so fitting it would be wasted (see the header).
 */
function transientMayFit(y: Sweep['response'], start: number, end: number, len: number, o: Readonly<TestPulseOptions>): boolean {
  if (!(o.minFitQuality > 0) || !(o.snrFull > o.snrFloor)) return true;
  const n = end - start;
  const s = o.snrFloor + Math.min(1, o.minFitQuality) * (o.snrFull - o.snrFloor);
  // gain ≥ s²·σ² with σ² = (SSE_line − gain)/(n − 3)  ⇔  gain ≥ s²·SSE_line/(n − 3 + s²)
  const neededFraction = (s * s) / (Math.max(1, n - 3) + s * s);
  lineExcess(y, start, end, o.maxTauSteps * len, excess, neededFraction / BOUND_MARGIN);
  return excess.gainBound * BOUND_MARGIN >= neededFraction * excess.sseLine;
}

function clamp01(x: number): number {
  return x < 0 ? 0 : x > 1 ? 1 : Number.isFinite(x) ? x : 0;
}

/** signal-to-noise → 0…1 between snrFloor and snrFull */
function snrScore(snr: number, o: Readonly<TestPulseOptions>): number {
  return snr === Infinity ? 1 : clamp01((snr - o.snrFloor) / (o.snrFull - o.snrFloor));
}

/**
 * Analyse one test-pulse sweep. Throws a RangeError if the sweep has no usable
 * `step` (no pre-step baseline, or a step shorter than 3 samples).
 */
export function analyzeTestPulse(sweep: Sweep, options?: Partial<TestPulseOptions>): TestPulseAnalysis {
  const o: Readonly<TestPulseOptions> = options ? { ...DEFAULT_TESTPULSE_OPTIONS, ...options } : DEFAULT_TESTPULSE_OPTIONS;
  const step = sweep.step;
  if (!step) throw new RangeError(`sweep ${sweep.seq} on channel ${sweep.channel} has no test-pulse step`);
  const y = sweep.response;
  const fs = sweep.sampleRateHz;
  const onset = Math.floor(step.onsetIndex);
  const end = Math.min(y.length, onset + Math.floor(step.lengthSamples));
  const len = end - onset;
  if (onset < 1 || len < 3) {
    throw new RangeError(`test-pulse step [${onset}, ${onset + step.lengthSamples}) leaves no baseline or step in ${y.length} samples`);
  }
  const vc = sweep.mode === 'VC';
  const amp = step.amplitude;
  if (sweep.mode === 'I0') return currentZero(sweep, onset, len);

  const baseline = median(y, 0, onset);
  const noise = rmsAboutMean(y, 0, onset);

  const nSteady = Math.max(1, Math.min(Math.round(o.steadyFraction * len), Math.round(o.steadyMaxS * fs)));
  const iss = mean(y, end - nSteady, end);

  // Peak in the direction of the response (sign of the step response, else of the command).
  const dir = Math.sign(iss - baseline) || Math.sign(amp) || 1;
  const nPeak = Math.max(1, Math.min(len, Math.ceil(o.peakWindowS * fs)));
  let ipeak = y[onset];
  for (let i = onset + 1; i < onset + nPeak; i++) if ((y[i] - ipeak) * dir > 0) ipeak = y[i];

  // Exponential transient.
  const fitStart = onset + Math.max(1, Math.round(o.fitStartS * fs));
  let quality = 0;
  let accepted = false;
  let nFit = 0;
  if (end - fitStart >= 6 && transientMayFit(y, fitStart, end, len, o)) {
    fitExponential(y, fitStart, end, onset, fit, o.fitIterations);
    nFit = fit.n;
    if (fit.ok) {
      const tauSamples = 1 / fit.k;
      const amp0 = Math.abs(fit.b) * Math.exp(-fit.k * (fitStart - onset));
      const sigma = residualSigma(fit);
      const ampScore = snrScore(sigma > 0 ? amp0 / sigma : Infinity, o);
      const curveScore = snrScore(curvatureSnr(fit), o);
      // VC: the capacitive overshoot has the sign of ΔV; IC: V approaches its asymptote from the onset side.
      const rightSign = vc ? fit.b * amp > 0 : fit.b * amp < 0;
      const bigEnough = amp0 >= o.minTransientRatio * Math.abs(iss - baseline);
      const plausibleTau = tauSamples <= o.maxTauSteps * len;
      // the steady state is extrapolated: it must be known to about a tenth of the step response
      const asymptoteScore = snrScore(fit.seA > 0 ? Math.abs(fit.a - baseline) / fit.seA : Infinity, o);
      if (rightSign && bigEnough && plausibleTau) quality = ampScore * curveScore * asymptoteScore;
      accepted = quality >= o.minFitQuality;
    }
  }

  let ra: number | null = null;
  let rm: number | null = null;
  let cm: number | null = null;
  let tau: number | null = null;
  if (accepted) {
    const tauS = 1 / (fit.k * fs);
    const dOnset = fit.a + fit.b - baseline; // transient extrapolated back to the step onset
    const dFit = (o.useFittedSteadyState ? fit.a : iss) - baseline;
    if (vc) {
      const rss = amp / dFit;
      const raV = amp / dOnset;
      if (raV > 0 && rss > raV) {
        ra = raV;
        rm = rss - raV;
        cm = tauS * (1 / ra + 1 / rm);
        tau = tauS;
      }
    } else {
      const rin = dFit / amp;
      const raI = dOnset / amp; // bridge residual; slightly negative if over-balanced
      if (rin > 0 && rin > raI) {
        ra = raI;
        rm = rin - raI;
        cm = tauS / rm;
        tau = tauS;
      }
    }
    // values that contradict each other mean the fit is not to be trusted, asymptote included
    if (tau === null) accepted = false;
  }

  // Charge of the transient after the fit start (the pipette-capacitance spike excluded), against the window mean.
  let cmLowerBound: number | null = null;
  let transient: TransientKind = accepted ? 'fitted' : 'none';
  if (vc && end - fitStart >= 1) {
    let q = 0;
    for (let i = fitStart; i < end; i++) q += y[i] - iss;
    const charge = (q / fs) * Math.sign(amp); // C, positive for a capacitive transient
    cmLowerBound = Math.max(0, charge / Math.abs(amp));
    // σ of that sum from the baseline noise (white): the window's own samples cancel, the
    // others add in quadrature, and each carries the error of the window mean.
    const outside = Math.max(0, end - fitStart - nSteady);
    const chargeSigma = (noise * Math.sqrt(outside + (outside * outside) / nSteady)) / fs / Math.abs(amp);
    if (!accepted && cmLowerBound > o.snrFull * chargeSigma) transient = 'slow';
  }

  const ss = accepted && o.useFittedSteadyState ? fit.a : iss;
  const dSs = ss - baseline;
  // Ohm's law: R = command / response in VC, response / command in IC.
  let r = vc ? amp / dSs : dSs / amp;
  let overLimit = false;
  if (!(r > 0) || r > o.maxResistance) {
    overLimit = true;
    r = o.maxResistance;
  }

  const dPeak = ipeak - baseline;
  const raPeakV = vc ? amp / dPeak : NaN;
  return {
    r,
    ra,
    cm,
    rm,
    ihold: vc ? baseline : sweep.holding,
    fitQuality: quality,
    mode: sweep.mode,
    cmLowerBound,
    transient,
    overLimit,
    baseline,
    iss,
    issFit: accepted ? fit.a : null,
    ipeak,
    tau,
    raPeak: raPeakV > 0 && Number.isFinite(raPeakV) ? raPeakV : null,
    noise,
    samples: { baseline: onset, steady: nSteady, peak: nPeak, fit: nFit },
  };
}

/** I0 sweep: membrane potential only. */
function currentZero(sweep: Sweep, onset: number, len: number): TestPulseAnalysis {
  const y = sweep.response;
  const baseline = median(y, 0, onset);
  const level = mean(y, onset, onset + len);
  return {
    r: 0,
    ra: null,
    cm: null,
    rm: null,
    ihold: 0,
    fitQuality: 0,
    mode: 'I0',
    cmLowerBound: null,
    transient: 'none',
    overLimit: false,
    baseline,
    iss: level,
    issFit: null,
    ipeak: level,
    tau: null,
    raPeak: null,
    noise: rmsAboutMean(y, 0, onset),
    samples: { baseline: onset, steady: len, peak: 0, fit: 0 },
  };
}
