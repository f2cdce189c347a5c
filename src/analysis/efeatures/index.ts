/**
 * Electrophysiological features from current-clamp sweeps, using the IPFX
 * (Allen Institute) definitions — not eFEL's. The two libraries name similar
 * ideas differently and disagree numerically unless definitions are mapped
 * (efeatures-nwb.md). Closest correspondences, for anyone comparing:
 *
 * | autopatch (SI)            | IPFX                      | closest eFEL                     | differs in                                   |
 * |---------------------------|---------------------------|----------------------------------|----------------------------------------------|
 * | Spike.thresholdV          | threshold_v               | AP_begin_voltage                 | eFEL uses a fixed dV/dt level, not 5 % of upstroke |
 * | Spike.amplitude           | peak_v − threshold_v      | AP_amplitude                     | follows from the threshold definition        |
 * | Spike.width               | width                     | AP_duration_half_width           | half level: peak↔trough here, peak↔AP begin in eFEL |
 * | Spike.upstroke/downstroke | upstroke / downstroke     | AP_peak_upstroke / AP_peak_downstroke | dV/dt filtering                         |
 * | Spike.upDownRatio         | upstroke_downstroke_ratio | —                                |                                              |
 * | TrainFeatures.spikeCount  | (len of spikes)           | Spikecount                       |                                              |
 * | TrainFeatures.avgRate     | avg_rate                  | mean_frequency                   | per stimulus duration vs up to the last spike |
 * | TrainFeatures.latency     | latency                   | time_to_first_spike              | threshold vs peak/crossing time              |
 * | TrainFeatures.firstIsi    | first_isi                 | inv_first_ISI (inverse)          |                                              |
 * | TrainFeatures.meanIsi     | mean_isi                  | ISI_values (mean)                | eFEL may skip the first ISI                  |
 * | TrainFeatures.isiCv       | isi_cv                    | ISI_CV                           | std divisor                                  |
 * | TrainFeatures.adaptation  | adapt                     | adaptation_index / adaptation_index2 | which ISIs are included                  |
 * | CellFeatures.vBaseline    | v_baseline                | voltage_base                     | window before the stimulus                   |
 * | CellFeatures.inputResistance | input_resistance       | ohmic_input_resistance           | slope over sweeps vs one sweep's ΔV/I         |
 * | CellFeatures.tau          | tau                       | time_constant                    | fit window and acceptance                    |
 * | CellFeatures.sag          | sag                       | sag_ratio1                       | peak averaged over 5 ms vs the minimum       |
 * | CellFeatures.rheobaseA    | rheobase_i                | — (threshold current)            |                                              |
 * | CellFeatures.fiSlope      | fi_fit_slope              | —                                |                                              |
 */
export { dvdt, besselLowpass4, filtfilt, type Biquad } from './dvdt.ts';
export { detectSpikes, type Spike, type SpikeDetectionOptions, type SpikeWindow } from './spikes.ts';
export { trainFeatures, type TrainFeatures } from './train.ts';
export {
  cellFeatures,
  cellFeaturesRecord,
  type ApFeatures,
  type CellFeatureOptions,
  type CellFeatures,
  type HeroFeatures,
  type LongSquareSweep,
  type SweepSummary,
} from './cell.ts';
