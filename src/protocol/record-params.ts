/**
 * The preset's `record.sweep_qc` and `record.analysis` (preset units: ms, mV,
 * pA, kHz) as the SI options the analysis functions take. The analysis layer
 * has no thresholds of its own: these are its only source.
 */
import type { SweepQcThresholds } from '../analysis/sweep-qc.ts';
import type { SpikeDetectionOptions } from '../analysis/efeatures/spikes.ts';
import type { CellFeatureOptions } from '../analysis/efeatures/cell.ts';
import type { AnalysisParams, RecordParams, SpikeDetectionParams, SweepQcParams } from './types.ts';

const MS = 1e-3;
const MV = 1e-3;
const PA = 1e-12;

export function sweepQcThresholds(q: SweepQcParams): SweepQcThresholds {
  return {
    fastNoiseWindowS: q.fast_noise_window_ms * MS,
    maxFastNoiseV: q.max_fast_noise_mV * MV,
    slowNoiseWindowS: q.slow_noise_window_ms * MS,
    maxSlowNoiseV: q.max_slow_noise_mV * MV,
    vmWindowS: q.vm_window_ms * MS,
    maxDriftV: q.max_drift_mV * MV,
    maxLeakA: q.max_leak_pA * PA,
  };
}

export function spikeDetectionOptions(s: SpikeDetectionParams): SpikeDetectionOptions {
  return {
    filterHz: s.filter_kHz * 1e3,
    // 1 mV/ms = 1 V/s
    dvdtThreshold: s.dvdt_threshold_mV_per_ms,
    thresholdFraction: s.threshold_fraction,
    maxThresholdToPeakS: s.max_threshold_to_peak_ms * MS,
    minHeightV: s.min_height_mV * MV,
    minPeakV: s.min_peak_mV * MV,
    fastTroughWindowS: s.fast_trough_window_ms * MS,
    clipToleranceV: s.clip_tolerance_mV * MV,
  };
}

export function cellFeatureOptions(a: AnalysisParams): CellFeatureOptions {
  return {
    spike: spikeDetectionOptions(a.spike_detection),
    baselineWindowS: a.baseline_window_ms * MS,
    subthresholdAboveA: a.subthreshold_above_pA * PA,
    subthresholdBelowA: a.subthreshold_below_pA * PA,
    tauFraction: a.tau_fraction,
    tauMinSnr: a.tau_min_snr,
    tauMaxRmseV: a.tau_max_rmse_mV * MV,
    sagTargetV: a.sag_target_mV * MV,
    sagPeakWidthS: a.sag_peak_width_ms * MS,
    sagSteadyWindowS: a.sag_steady_window_ms * MS,
    heroMinOffsetA: a.hero_above_rheobase_min_pA * PA,
    heroMaxOffsetA: a.hero_above_rheobase_max_pA * PA,
  };
}

/** Everything the recorder hands to QC and the e-features, from a preset's `record` section. */
export interface RecordAnalysis {
  qc: SweepQcThresholds;
  spikes: SpikeDetectionOptions;
  cell: CellFeatureOptions;
}

export function recordAnalysis(r: RecordParams): RecordAnalysis {
  const cell = cellFeatureOptions(r.analysis);
  return { qc: sweepQcThresholds(r.sweep_qc), spikes: cell.spike, cell };
}
