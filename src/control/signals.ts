/**
 * Signals the pipette machine decides on, derived from each test-pulse reading
 * by time-based filters (readings arrive at 6–100 Hz, so filters are defined
 * by time constants in seconds, never by sample counts).
 *
 * Units here are the preset's display units (MΩ, pF, pA, mV) so guards compare
 * them directly with preset fields.
 */
import type { AutopatchPreset } from '../protocol/types.ts';
import type { TestPulseReading } from './events.ts';
import { createEma, createSlope, createRiseCounter, createRangeTracker } from '../analysis/filters.ts';
import type { TestPulseAnalysis, TestPulseOptions, TransientKind } from '../analysis/testpulse.ts';

/** The preset's test-pulse analysis settings as analyzeTestPulse options. */
export function testPulseOptions(preset: AutopatchPreset): Partial<TestPulseOptions> {
  const a = preset.test_pulse.analysis;
  return {
    fitStartS: a.fit_start_us * 1e-6,
    steadyFraction: a.steady_fraction,
    steadyMaxS: a.steady_max_ms * 1e-3,
    peakWindowS: a.peak_window_ms * 1e-3,
    maxResistance: a.max_MOhm * 1e6,
    minFitQuality: a.min_fit_quality,
  };
}

/** A reading as the analysis gives it; the transient fields are optional so plain readings also do. */
export type ConditionerInput = TestPulseReading & Partial<Pick<TestPulseAnalysis, 'cmLowerBound' | 'transient'>>;

export interface Signals {
  /** clock ms of the reading */
  t: number;
  /** raw steady-state resistance, MΩ */
  r: number;
  /** short filter (hunt.short_tau_s) */
  rShort: number;
  /** holding-switch filter (seal.holding_tau_s) */
  rHold: number;
  /** gigaseal filter (seal.gigaseal_tau_s) */
  rGiga: number;
  /** slow baseline (hunt.baseline_tau_s), since the last baseline reset; held while frozen */
  baseline: number;
  /** consecutive readings in which rShort rose */
  rising: number;
  /** dR/dt of rShort over the slope window, MΩ/s (null until the window holds two readings) */
  slope: number | null;
  /** max − min over the last hunt.dead_readings readings, kΩ (null until that many) */
  rangeKOhm: number | null;
  /** fitted whole-cell parameters of this reading (null when no transient): MΩ, pF, MΩ */
  ra: number | null;
  cm: number | null;
  rm: number | null;
  /** the capacitance this reading's transient charge proves at least, pF (null: not in VC) */
  cmAtLeast: number | null;
  /** fitted transient, one too slow to fit in the step, or none */
  transient: TransientKind;
  /** holding current, pA */
  ihold: number;
  fitQuality: number;
  /** readings since the window was last reset, and their median / spread (MΩ) */
  windowCount: number;
  windowMedian: number;
  windowSpread: number;
}

export interface SignalConditioner {
  /** feed one reading at clock time t (ms); returns the updated signals */
  update(reading: ConditionerInput, t: number): Signals;
  /** restart the hunt baseline and rise counting from the next reading */
  resetBaseline(): void;
  /**
   * hold the baseline where it is (a possible hit is being confirmed: the rise
   * must be judged against the baseline from before it, not one absorbing it)
   */
  freezeBaseline(): void;
  /** carry on filtering from the held baseline (a false hit); the held time does not count */
  resumeBaseline(): void;
  /** restart the R0 window (pipette check) */
  resetWindow(): void;
  /** stop keeping the R0 window (its median is only needed while checking) */
  closeWindow(): void;
  /** restart the seal filters (holding / gigaseal / slope) */
  resetSeal(): void;
  readonly last: Signals | null;
}

export function createSignalConditioner(preset: AutopatchPreset): SignalConditioner {
  const short = createEma(preset.hunt.short_tau_s);
  const hold = createEma(preset.seal.holding_tau_s);
  const giga = createEma(preset.seal.gigaseal_tau_s);
  const base = createEma(preset.hunt.baseline_tau_s);
  const slope = createSlope(preset.seal.slope_window_s);
  const rise = createRiseCounter();
  const range = createRangeTracker(preset.hunt.dead_readings);
  let window: number[] = [];
  let windowOpen = true;
  let last: Signals | null = null;
  let baselineFrozen = false;
  let resumeAt: number | null = null;

  return {
    get last() {
      return last;
    },
    resetBaseline() {
      base.reset();
      rise.reset();
      range.reset();
      baselineFrozen = false;
      resumeAt = null;
    },
    freezeBaseline() {
      baselineFrozen = true;
    },
    resumeBaseline() {
      if (!baselineFrozen) return;
      baselineFrozen = false;
      resumeAt = last?.t ?? null;
    },
    resetWindow() {
      window = [];
      windowOpen = true;
    },
    closeWindow() {
      window = [];
      windowOpen = false;
    },
    resetSeal() {
      hold.reset();
      giga.reset();
      slope.reset();
    },
    update(reading, t): Signals {
      const r = reading.r / 1e6;
      const rShort = short.update(r, t);
      if (windowOpen) {
        window.push(r);
        if (window.length > preset.pipette_check.readings) window.shift();
      }
      // Median and spread only matter once the window is full (pipette check).
      let median = r;
      let spread = 0;
      if (windowOpen && window.length >= preset.pipette_check.readings) {
        const sorted = Float64Array.from(window).sort();
        const mid = sorted.length >> 1;
        median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
        spread = sorted[sorted.length - 1] - sorted[0];
      }
      const rng = range.update(r);
      if (resumeAt !== null) {
        base.skipTo(resumeAt);
        resumeAt = null;
      }
      const baseline = baselineFrozen && base.value !== null ? base.value : base.update(r, t);
      const next: Signals = {
        t,
        r,
        rShort,
        rHold: hold.update(r, t),
        rGiga: giga.update(r, t),
        baseline,
        rising: rise.update(rShort),
        slope: slope.update(rShort, t),
        rangeKOhm: rng === null ? null : rng * 1000,
        ra: reading.ra === null ? null : reading.ra / 1e6,
        cm: reading.cm === null ? null : reading.cm * 1e12,
        rm: reading.rm === null ? null : reading.rm / 1e6,
        cmAtLeast: reading.cmLowerBound == null ? null : reading.cmLowerBound * 1e12,
        transient: reading.transient ?? (reading.cm === null ? 'none' : 'fitted'),
        ihold: reading.ihold * 1e12,
        fitQuality: reading.fitQuality,
        windowCount: window.length,
        windowMedian: median,
        windowSpread: spread,
      };
      last = next;
      return next;
    },
  };
}
