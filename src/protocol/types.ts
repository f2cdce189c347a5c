/**
 * Shapes of the declarative protocol files in `protocols/`. Every threshold
 * the pipette machine uses comes from an AutopatchPreset; field names carry
 * their unit (snake_case + unit suffix) so a file is readable on its own.
 * The JSON Schema in schema.ts is the authority on allowed ranges.
 */

export interface TestPulseParams {
  /** VC step amplitude, mV */
  amplitude_mV: number;
  width_ms: number;
  /** sweeps per second in normal operation */
  rate_Hz: number;
  /** faster rate while breaking in (stop suction the moment whole-cell is detected) */
  break_in_rate_Hz: number;
  sample_rate_kHz: number;
  /** how each test-pulse sweep is analysed (src/analysis/testpulse.ts) */
  analysis: TestPulseAnalysisParams;
}

export interface TestPulseAnalysisParams {
  /** the exponential is fitted from this long after the step onset (skips the pipette-capacitance spike), µs */
  fit_start_us: number;
  /** fraction of the step, at its end, averaged for the steady state */
  steady_fraction: number;
  /** cap on that window, ms */
  steady_max_ms: number;
  /** window after onset searched for the instantaneous peak, ms */
  peak_window_ms: number;
  /** resistances above this are reported as this value ("> limit"), MΩ */
  max_MOhm: number;
  /** an exponential fit is used (Ra, Rm, Cm) only at this confidence or above, 0–1 */
  min_fit_quality: number;
}

export interface PipetteCheckParams {
  /** positive pressure while in the bath, mbar */
  pressure_mbar: number;
  /** readings used for R0 (median) */
  readings: number;
  /** largest spread (max − min) of those readings to accept them, MΩ */
  max_spread_MOhm: number;
  min_MOhm: number;
  max_MOhm: number;
  /** give up if the readings never settle, s */
  timeout_s: number;
}

export interface DescentParams {
  /** pressure for the fast regional descent, mbar */
  high_pressure_mbar: number;
  /** pressure once the region is reached, mbar */
  low_pressure_mbar: number;
  /** speed above the surface, µm/s */
  speed_bath_um_per_s: number;
  /** speed inside tissue, µm/s */
  speed_tissue_um_per_s: number;
  /** blind: depth below the surface where the hunt starts, µm */
  region_depth_um: number;
  /** targeted: stop this far (along the axis) before the target, µm */
  stop_before_target_um: number;
  /** broken if R falls this far below R0 during descent, MΩ */
  broken_drop_MOhm: number;
  /** clogged if R rises this far above R0 during descent, MΩ */
  clogged_rise_MOhm: number;
}

export interface HuntParams {
  mode: 'stepwise' | 'continuous';
  pressure_mbar: number;
  step_um: number;
  /** dwell after each step for readings, ms */
  step_dwell_ms: number;
  /** speed of continuous hunting, µm/s */
  speed_um_per_s: number;
  /** time constant of the baseline filter, s */
  baseline_tau_s: number;
  /** time constant of the short filter compared against the baseline, s */
  short_tau_s: number;
  /** rise over baseline that counts as a hit, MΩ */
  hit_rise_MOhm: number;
  /** readings in a row that must each rise */
  hit_consecutive: number;
  /** a single jump this large over baseline is a hit on its own, MΩ */
  hit_jump_MOhm: number;
  /** blind: give up after this much travel past the region start; targeted: past the target, µm */
  max_travel_um: number;
  timeout_s: number;
  /** R drifting this far above R0 while hunting means a clogged tip, MΩ */
  clog_drift_MOhm: number;
  /** dead electrode: range of R below this over `dead_readings` readings, kΩ */
  dead_range_kOhm: number;
  dead_readings: number;
}

export interface ConfirmParams {
  /** wait at atmosphere before re-checking, s */
  wait_s: number;
  /** hit stands if R stays this far above baseline, MΩ */
  rise_MOhm: number;
  /** false hits allowed before the attempt gives up */
  max_false_hits: number;
}

export interface SealTier {
  at_s: number;
  min_MOhm: number;
}

export interface SealParams {
  suction_mbar: number;
  /** suction when R climbs slowly, mbar */
  strong_suction_mbar: number;
  /** suction when R climbs fast, mbar */
  weak_suction_mbar: number;
  /** below this dR/dt, use strong suction, MΩ/s */
  slow_rate_MOhm_per_s: number;
  /** above this dR/dt, use weak suction, MΩ/s */
  fast_rate_MOhm_per_s: number;
  holding_mV: number;
  /** switch holding on when (short-filtered) R passes this, MΩ */
  holding_at_MOhm: number;
  holding_tau_s: number;
  gigaseal_MOhm: number;
  gigaseal_tau_s: number;
  /** stalled when R < stall_MOhm and dR/dt < stall_rate for stall_s */
  stall_MOhm: number;
  stall_rate_MOhm_per_s: number;
  stall_s: number;
  timeout_s: number;
  /** progress tiers: by `at_s`, R must have reached `min_MOhm` */
  tiers: SealTier[];
  /** dR/dt for the rate-adaptive suction and the stall check: least squares over this window, s */
  slope_window_s: number;
}

export interface CellAttachedParams {
  /** time to hold the seal at atmosphere before break-in, s */
  wait_s: number;
  /** spontaneous break-in: Cm above this while R < gigaseal, pF … */
  spontaneous_cm_pF: number;
  /** … only once the seal has exceeded this, MΩ */
  spontaneous_arm_MOhm: number;
  /** seal lost below this, MΩ */
  lost_MOhm: number;
  /** seal lost if holding current below this, pA */
  lost_ihold_pA: number;
}

export interface BreakInParams {
  /** first pulse, mbar (negative) */
  pulse_mbar: number;
  /** added to the pulse each attempt (more negative), mbar */
  pulse_step_mbar: number;
  /** strongest pulse, mbar */
  max_pulse_mbar: number;
  pulse_ms: number;
  pulses_per_attempt: number;
  pulse_interval_s: number;
  max_attempts: number;
  /** zap from this attempt on (1-based); 0 = never */
  zap_from_attempt: number;
  zap_ms: number;
  zap_mV: number;
  /** whole-cell when R below this … MΩ */
  success_MOhm: number;
  /** … and Cm above this, pF */
  success_cm_pF: number;
}

export interface WholeCellParams {
  /** QC window after break-in, s */
  qc_s: number;
  ra_max_MOhm: number;
  ra_over_rm_max: number;
  ihold_min_pA: number;
  ihold_max_pA: number;
  /** cell lost below this, pA */
  lost_ihold_pA: number;
  vrest_max_mV: number;
  /** clear-access pulses when Ra creeps above this, MΩ */
  clear_access_MOhm: number;
  clear_access_mbar: number;
  clear_access_ms: number;
  clear_access_max: number;
  /** resting potential: mean of an I=0 recording this long (after record.i0_settle_ms), ms */
  vrest_window_ms: number;
}

export interface RecordParams {
  /** rest before stimulating, s */
  rest_s: number;
  /** stimulus set names in protocols/stimuli */
  stimulus_sets: string[];
  /** I=0 settling before current clamp, ms */
  i0_settle_ms: number;
  sweep_qc: SweepQcParams;
  analysis: AnalysisParams;
}

/** Per-sweep QC of current-clamp sweeps (IPFX / MIES criteria). */
export interface SweepQcParams {
  /** RMS noise over this window at the start and at the end of the sweep, ms */
  fast_noise_window_ms: number;
  max_fast_noise_mV: number;
  /** RMS noise over this window just before the stimulus, ms */
  slow_noise_window_ms: number;
  max_slow_noise_mV: number;
  /** windows averaged for the membrane potential before the stimulus and at the end of the sweep, ms */
  vm_window_ms: number;
  /** |V before − V at the end| allowed (not evaluated on ramps, as IPFX), mV */
  max_drift_mV: number;
  /** |leak| and |bias| current allowed, pA */
  max_leak_pA: number;
}

/** IPFX spike detection. */
export interface SpikeDetectionParams {
  /** Bessel low-pass of dV/dt, kHz */
  filter_kHz: number;
  dvdt_threshold_mV_per_ms: number;
  /** threshold where dV/dt falls to this fraction of the mean upstroke */
  threshold_fraction: number;
  max_threshold_to_peak_ms: number;
  min_height_mV: number;
  min_peak_mV: number;
  fast_trough_window_ms: number;
  clip_tolerance_mV: number;
}

/** IPFX long-square cell features. */
export interface AnalysisParams {
  spike_detection: SpikeDetectionParams;
  /** resting (baseline) voltage: mean over this window before the stimulus, ms */
  baseline_window_ms: number;
  /** input resistance and tau from non-spiking sweeps with above < I < below (both exclusive), pA */
  subthreshold_above_pA: number;
  subthreshold_below_pA: number;
  tau_fraction: number;
  tau_min_snr: number;
  tau_max_rmse_mV: number;
  /** sag on the hyperpolarising sweep whose peak is closest to this, mV */
  sag_target_mV: number;
  sag_peak_width_ms: number;
  sag_steady_window_ms: number;
  /** hero sweep: lowest spiking sweep strictly between rheobase + min and rheobase + max, pA */
  hero_above_rheobase_min_pA: number;
  hero_above_rheobase_max_pA: number;
}

export interface RetractParams {
  speed_tissue_um_per_s: number;
  speed_bath_um_per_s: number;
  /** back off this far along the axis before leaving a cell, µm */
  withdraw_um: number;
  pressure_mbar: number;
}

export interface CleanStep {
  mbar: number;
  ms: number;
}

export interface CleanParams {
  enabled: boolean;
  /** detergent-well cycle, repeated `cycles` times */
  detergent: CleanStep[];
  cycles: number;
  /** rinse-well sequence */
  rinse: CleanStep[];
  /** pipette retired after this many cleans */
  max_cleans: number;
}

export interface CoordinationParams {
  /** others hold still while any pipette is sealing */
  pause_others_while_sealing: boolean;
  /** sealed pipettes wait for each other before breaking in */
  break_in_together: boolean;
  /** longest a sealed pipette waits for the others, s */
  break_in_wait_s: number;
  /** minimum distance between pipette shafts, µm */
  clearance_um: number;
  /** a move whose path stays blocked by another shaft this long fails, s */
  path_wait_s: number;
  /**
   * every pipette starts its k-th attempt together (Multipatcher-style rounds):
   * a ready pipette waits until every active one is ready; false: each goes on
   * as soon as it is ready (PatcherBot-style)
   */
  synchronized_rounds: boolean;
}

export interface AutopatchPreset {
  kind: 'autopatch-preset';
  name: string;
  description: string;
  preparation: 'in-vivo' | 'slice' | 'culture';
  targeting: 'blind' | 'targeted';
  test_pulse: TestPulseParams;
  pipette_check: PipetteCheckParams;
  descent: DescentParams;
  hunt: HuntParams;
  confirm: ConfirmParams;
  seal: SealParams;
  cell_attached: CellAttachedParams;
  break_in: BreakInParams;
  whole_cell: WholeCellParams;
  record: RecordParams;
  retract: RetractParams;
  clean: CleanParams;
  coordination: CoordinationParams;
}

// ------------------------------------------------------------------ stimuli

export type StimulusFamily =
  | { type: 'long-square'; from_pA: number; to_pA: number; step_pA: number; duration_ms: number }
  | { type: 'short-square'; from_pA: number; to_pA: number; step_pA: number; duration_ms: number }
  | { type: 'ramp'; slope_pA_per_s: number; max_pA: number };

export interface StimulusSet {
  kind: 'stimulus-set';
  name: string;
  description: string;
  sample_rate_kHz: number;
  /** baseline before and after the stimulus, ms */
  pre_ms: number;
  post_ms: number;
  /** pause between sweeps, s */
  inter_sweep_s: number;
  /** bias current held between and during sweeps, pA */
  bias_pA: number;
  family: StimulusFamily;
  /** stop the set once this many sweeps in a row have spiked (0 = run all) */
  stop_after_spiking_sweeps: number;
}
