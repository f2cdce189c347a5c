/**
 * JSON Schemas for the protocol files: the authority on which fields exist and
 * which values are physically sensible. Each numeric field carries a `unit`
 * annotation so error messages can state the allowed range with its unit.
 * Relations between fields (min < max, ordering of suctions, …) live in
 * rules.ts because JSON Schema cannot express them.
 */
import { Ajv, type ValidateFunction } from 'ajv';
import { MAX_BIAS_PA, MIN_STIMULUS_SAMPLE_RATE_KHZ } from './envelope.ts';

type Json = Record<string, unknown>;

interface NumOpts {
  /** exclusive lower bound instead of inclusive `min` */
  gt?: number;
  min?: number;
  max: number;
  integer?: boolean;
  description?: string;
}

function num(unit: string, opts: NumOpts): Json {
  const s: Json = { type: opts.integer ? 'integer' : 'number', unit };
  if (opts.gt !== undefined) s.exclusiveMinimum = opts.gt;
  else if (opts.min !== undefined) s.minimum = opts.min;
  s.maximum = opts.max;
  if (opts.description) s.description = opts.description;
  return s;
}

const int = (min: number, max: number, unit = ''): Json => num(unit, { min, max, integer: true });
const positive = (unit: string, max: number): Json => num(unit, { gt: 0, max });
const range = (unit: string, min: number, max: number): Json => num(unit, { min, max });

/** Suction: the regulator's negative side (devices.md envelope −600…+1000 mbar). */
const suction = (): Json => range('mbar', -600, 0);
/** Positive pressure that keeps the tip clear. */
const pressure = (): Json => range('mbar', 0, 1000);
/** Resistances in the MΩ scale of pipette and hit thresholds. */
const smallMOhm = (max = 10): Json => positive('MΩ', max);
const sealMOhm = (): Json => positive('MΩ', 100_000);

function obj(properties: Record<string, Json>): Json {
  return { type: 'object', additionalProperties: false, required: Object.keys(properties), properties };
}

const NAME: Json = {
  type: 'string',
  pattern: '^[a-z0-9][a-z0-9-]*$',
  maxLength: 64,
  description: 'lowercase letters, digits and dashes; matches the file name',
};
const DESCRIPTION: Json = { type: 'string', minLength: 1 };

const cleanStep = obj({ mbar: range('mbar', -600, 1000), ms: positive('ms', 60_000) });
const cleanSteps: Json = { type: 'array', minItems: 1, maxItems: 20, items: cleanStep };

/**
 * Per-sweep QC of current-clamp sweeps (IPFX `qc_features` / MIES; the defaults
 * are IPFX's "Ephys QC Criteria v1.1", efeatures-nwb.md).
 */
const sweepQcSchema: Json = obj({
  fast_noise_window_ms: positive('ms', 100),
  max_fast_noise_mV: positive('mV', 10),
  slow_noise_window_ms: positive('ms', 10_000),
  max_slow_noise_mV: positive('mV', 20),
  vm_window_ms: positive('ms', 10_000),
  max_drift_mV: positive('mV', 50),
  max_leak_pA: positive('pA', MAX_BIAS_PA),
});

/** IPFX spike detection (`SpikeFeatureExtractor` defaults, efeatures-nwb.md). */
const spikeDetectionSchema: Json = obj({
  filter_kHz: range('kHz', 1, 100),
  dvdt_threshold_mV_per_ms: positive('mV/ms', 1000),
  threshold_fraction: positive('', 1),
  max_threshold_to_peak_ms: positive('ms', 50),
  min_height_mV: positive('mV', 100),
  min_peak_mV: range('mV', -100, 100),
  fast_trough_window_ms: positive('ms', 50),
  clip_tolerance_mV: positive('mV', 20),
});

/** IPFX long-square cell features (`LongSquareAnalysis`, `subthresh_features`). */
const analysisSchema: Json = obj({
  spike_detection: spikeDetectionSchema,
  baseline_window_ms: positive('ms', 10_000),
  subthreshold_above_pA: range('pA', -2000, 0),
  subthreshold_below_pA: range('pA', -2000, 0),
  tau_fraction: positive('', 1),
  tau_min_snr: positive('', 1000),
  tau_max_rmse_mV: positive('mV', 20),
  sag_target_mV: range('mV', -200, 0),
  sag_peak_width_ms: positive('ms', 100),
  sag_steady_window_ms: positive('ms', 1000),
  hero_above_rheobase_min_pA: range('pA', 0, 2000),
  hero_above_rheobase_max_pA: range('pA', 0, 2000),
});

export const presetSchema: Json = obj({
  kind: { type: 'string', const: 'autopatch-preset' },
  name: NAME,
  description: DESCRIPTION,
  preparation: { type: 'string', enum: ['in-vivo', 'slice', 'culture'] },
  targeting: { type: 'string', enum: ['blind', 'targeted'] },
  test_pulse: obj({
    amplitude_mV: range('mV', -50, 50),
    width_ms: range('ms', 1, 100),
    rate_Hz: range('Hz', 1, 200),
    break_in_rate_Hz: range('Hz', 1, 200),
    sample_rate_kHz: range('kHz', 10, 200),
    analysis: obj({
      fit_start_us: range('µs', 0, 5000),
      steady_fraction: num('', { gt: 0, max: 1 }),
      steady_max_ms: positive('ms', 100),
      peak_window_ms: positive('ms', 10),
      // efeatures-nwb.md: cap R at ~3–10 GΩ
      max_MOhm: range('MΩ', 100, 100_000),
      min_fit_quality: range('', 0, 1),
    }),
  }),
  pipette_check: obj({
    pressure_mbar: pressure(),
    readings: int(1, 1000, 'readings'),
    max_spread_MOhm: smallMOhm(),
    min_MOhm: smallMOhm(100),
    max_MOhm: smallMOhm(100),
    timeout_s: positive('s', 600),
  }),
  descent: obj({
    high_pressure_mbar: pressure(),
    low_pressure_mbar: pressure(),
    speed_bath_um_per_s: positive('µm/s', 5000),
    speed_tissue_um_per_s: positive('µm/s', 5000),
    region_depth_um: range('µm', 0, 5000),
    stop_before_target_um: range('µm', 0, 500),
    broken_drop_MOhm: smallMOhm(),
    clogged_rise_MOhm: smallMOhm(),
  }),
  hunt: obj({
    mode: { type: 'string', enum: ['stepwise', 'continuous'] },
    pressure_mbar: pressure(),
    step_um: positive('µm', 20),
    step_dwell_ms: positive('ms', 10_000),
    speed_um_per_s: positive('µm/s', 100),
    baseline_tau_s: positive('s', 300),
    short_tau_s: positive('s', 60),
    hit_rise_MOhm: smallMOhm(),
    hit_consecutive: int(1, 20, 'readings'),
    hit_jump_MOhm: smallMOhm(20),
    max_travel_um: positive('µm', 2000),
    timeout_s: positive('s', 1800),
    clog_drift_MOhm: smallMOhm(20),
    dead_range_kOhm: positive('kΩ', 1000),
    dead_readings: int(2, 1000, 'readings'),
  }),
  confirm: obj({
    wait_s: positive('s', 120),
    rise_MOhm: smallMOhm(),
    max_false_hits: int(0, 100),
  }),
  seal: obj({
    suction_mbar: suction(),
    strong_suction_mbar: suction(),
    weak_suction_mbar: suction(),
    slow_rate_MOhm_per_s: positive('MΩ/s', 1000),
    fast_rate_MOhm_per_s: positive('MΩ/s', 10_000),
    holding_mV: range('mV', -120, 0),
    holding_at_MOhm: positive('MΩ', 10_000),
    holding_tau_s: positive('s', 10),
    gigaseal_MOhm: range('MΩ', 100, 100_000),
    gigaseal_tau_s: positive('s', 10),
    stall_MOhm: sealMOhm(),
    stall_rate_MOhm_per_s: positive('MΩ/s', 1000),
    stall_s: positive('s', 600),
    timeout_s: positive('s', 1800),
    tiers: {
      type: 'array',
      maxItems: 20,
      items: obj({ at_s: positive('s', 1800), min_MOhm: sealMOhm() }),
    },
    slope_window_s: positive('s', 60),
  }),
  cell_attached: obj({
    wait_s: range('s', 0, 600),
    spontaneous_cm_pF: positive('pF', 1000),
    spontaneous_arm_MOhm: sealMOhm(),
    lost_MOhm: sealMOhm(),
    lost_ihold_pA: range('pA', -10_000, 0),
  }),
  break_in: obj({
    pulse_mbar: suction(),
    pulse_step_mbar: suction(),
    max_pulse_mbar: suction(),
    pulse_ms: positive('ms', 5000),
    pulses_per_attempt: int(1, 20, 'pulses'),
    pulse_interval_s: positive('s', 60),
    max_attempts: int(1, 100, 'attempts'),
    zap_from_attempt: int(0, 100),
    zap_ms: positive('ms', 10),
    zap_mV: positive('mV', 2000),
    success_MOhm: sealMOhm(),
    success_cm_pF: positive('pF', 1000),
  }),
  whole_cell: obj({
    qc_s: positive('s', 600),
    ra_max_MOhm: positive('MΩ', 500),
    ra_over_rm_max: positive('', 1),
    ihold_min_pA: range('pA', -10_000, 10_000),
    ihold_max_pA: range('pA', -10_000, 10_000),
    lost_ihold_pA: range('pA', -10_000, 0),
    vrest_max_mV: range('mV', -120, 0),
    clear_access_MOhm: positive('MΩ', 500),
    clear_access_mbar: suction(),
    clear_access_ms: positive('ms', 5000),
    clear_access_max: int(0, 100, 'pulses'),
    vrest_window_ms: positive('ms', 5000),
  }),
  record: obj({
    rest_s: range('s', 0, 3600),
    stimulus_sets: { type: 'array', maxItems: 20, uniqueItems: true, items: NAME },
    i0_settle_ms: range('ms', 0, 5000),
    sweep_qc: sweepQcSchema,
    analysis: analysisSchema,
  }),
  retract: obj({
    speed_tissue_um_per_s: positive('µm/s', 5000),
    speed_bath_um_per_s: positive('µm/s', 5000),
    withdraw_um: positive('µm', 5000),
    pressure_mbar: pressure(),
  }),
  clean: obj({
    enabled: { type: 'boolean' },
    detergent: cleanSteps,
    cycles: int(1, 100, 'cycles'),
    rinse: cleanSteps,
    max_cleans: int(0, 1000, 'cleans'),
  }),
  coordination: obj({
    pause_others_while_sealing: { type: 'boolean' },
    break_in_together: { type: 'boolean' },
    break_in_wait_s: range('s', 0, 3600),
    clearance_um: range('µm', 0, 5000),
    path_wait_s: positive('s', 3600),
    synchronized_rounds: { type: 'boolean' },
  }),
});

const amplitude = (): Json => range('pA', -2000, 2000);

function stepFamily(type: string, duration: Json): Json {
  return obj({
    type: { type: 'string', const: type },
    from_pA: amplitude(),
    to_pA: amplitude(),
    step_pA: positive('pA', 2000),
    duration_ms: duration,
  });
}

export const stimulusSetSchema: Json = obj({
  kind: { type: 'string', const: 'stimulus-set' },
  name: NAME,
  description: DESCRIPTION,
  // ≥ 50 kHz (MIES default; IPFX spike detection low-passes dV/dt at 10 kHz and needs > 20 kHz)
  sample_rate_kHz: range('kHz', MIN_STIMULUS_SAMPLE_RATE_KHZ, 200),
  // ≥ 100 ms: the IPFX resting voltage is the mean over the 100 ms before the stimulus
  pre_ms: range('ms', 100, 10_000),
  post_ms: range('ms', 100, 10_000),
  inter_sweep_s: range('s', 0, 600),
  bias_pA: range('pA', -MAX_BIAS_PA, MAX_BIAS_PA),
  family: {
    type: 'object',
    required: ['type'],
    properties: { type: { type: 'string', enum: ['long-square', 'short-square', 'ramp'] } },
    discriminator: { propertyName: 'type' },
    oneOf: [
      // long squares are the e-feature sweeps (400–1000 ms published; IPFX uses 1 s)
      stepFamily('long-square', range('ms', 100, 10_000)),
      // short squares probe threshold with a brief pulse (IPFX: 3 ms)
      stepFamily('short-square', range('ms', 0.1, 20)),
      obj({
        type: { type: 'string', const: 'ramp' },
        slope_pA_per_s: positive('pA/s', 1000),
        max_pA: positive('pA', 2000),
      }),
    ],
  },
  stop_after_spiking_sweeps: int(0, 1000, 'sweeps'),
});

function createAjv(): Ajv {
  const ajv = new Ajv({ allErrors: true, strict: true, verbose: true, discriminator: true });
  // annotation only: read back by the error formatter to state ranges with units
  ajv.addKeyword({ keyword: 'unit', schemaType: 'string' });
  return ajv;
}

const ajv = createAjv();
export const validatePresetSchema: ValidateFunction = ajv.compile(presetSchema);
export const validateStimulusSetSchema: ValidateFunction = ajv.compile(stimulusSetSchema);
