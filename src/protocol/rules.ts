/**
 * Relations between fields that JSON Schema cannot express. Run only on data
 * that already passed the schema, so every field exists with the right type.
 * Each problem blames one field and names the other field it conflicts with.
 */
import { fieldIs, type ProtocolProblem } from './errors.ts';
import { stimulusDurationMs, sweepAmplitudes_pA, sweepDurationMs } from './stimulus.ts';
import type { AutopatchPreset, StimulusSet } from './types.ts';

/**
 * Baseline before and after the test-pulse step as a fraction of its width
 * (efeatures-nwb.md: "10 ms step with 35 % baseline each side"); used to check
 * that a test-pulse sweep fits in one period at the break-in rate.
 */
export const TEST_PULSE_BASELINE_FRACTION = 0.35;

/** Longest sweep a stimulus set may ask for: 60 s is 48 MB of Float32 at 200 kHz. */
export const MAX_SWEEP_MS = 60_000;

type Op = '<' | '≤' | '>' | '≥';

const holds = (a: number, op: Op, b: number): boolean =>
  op === '<' ? a < b : op === '≤' ? a <= b : op === '>' ? a > b : a >= b;

/** Looks up a dotted path (no arrays) in schema-valid data. */
function get(root: unknown, path: string): number {
  let v: unknown = root;
  for (const key of path.split('.')) v = (v as Record<string, unknown>)[key];
  return v as number;
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}

function checker(root: unknown) {
  const problems: ProtocolProblem[] = [];
  const add = (path: string, message: string): void => {
    problems.push({ path, message });
  };
  /** `a op b` where both are fields; blames `a` */
  const rel = (a: string, op: Op, b: string, unit: string, why: string): void => {
    const va = get(root, a);
    const vb = get(root, b);
    if (!holds(va, op, vb)) {
      add(a, `${fieldIs(a, va)} is not allowed: must be ${op} ${b} (${vb}${unit ? ` ${unit}` : ''}) — ${why}`);
    }
  };
  return { problems, add, rel };
}

export function presetRules(p: AutopatchPreset): ProtocolProblem[] {
  const c = checker(p);

  // test pulse
  if (Math.abs(p.test_pulse.amplitude_mV) < 1) {
    c.add(
      'test_pulse.amplitude_mV',
      `${fieldIs('test_pulse.amplitude_mV', p.test_pulse.amplitude_mV)} is not allowed: must be at least 1 mV in size (either sign), since R = ΔV/ΔI`,
    );
  }
  c.rel('test_pulse.break_in_rate_Hz', '≥', 'test_pulse.rate_Hz', 'Hz', 'break-in watches the test pulse at least as often as normal operation');
  const sweepMs = p.test_pulse.width_ms * (1 + 2 * TEST_PULSE_BASELINE_FRACTION);
  const periodMs = 1000 / p.test_pulse.break_in_rate_Hz;
  if (sweepMs > periodMs) {
    c.add(
      'test_pulse.width_ms',
      `${fieldIs('test_pulse.width_ms', p.test_pulse.width_ms)} is too long for test_pulse.break_in_rate_Hz (${p.test_pulse.break_in_rate_Hz} Hz): ` +
        `with ${TEST_PULSE_BASELINE_FRACTION * 100} % baseline each side a sweep takes ${round(sweepMs)} ms, more than the ${round(periodMs)} ms period; ` +
        `must be ≤ ${round(periodMs / (1 + 2 * TEST_PULSE_BASELINE_FRACTION))} ms`,
    );
  }

  const a = p.test_pulse.analysis;
  if (a.fit_start_us / 1000 >= p.test_pulse.width_ms / 2) {
    c.add(
      'test_pulse.analysis.fit_start_us',
      `${fieldIs('test_pulse.analysis.fit_start_us', a.fit_start_us)} is not allowed: must be < half of test_pulse.width_ms (${p.test_pulse.width_ms} ms) — the fit needs most of the step`,
    );
  }
  if (a.peak_window_ms >= p.test_pulse.width_ms) {
    c.add(
      'test_pulse.analysis.peak_window_ms',
      `${fieldIs('test_pulse.analysis.peak_window_ms', a.peak_window_ms)} is not allowed: must be < test_pulse.width_ms (${p.test_pulse.width_ms} ms) — the peak is searched just after the onset`,
    );
  }

  c.rel('pipette_check.min_MOhm', '<', 'pipette_check.max_MOhm', 'MΩ', 'the accepted pipette resistance window must not be empty');

  c.rel('descent.low_pressure_mbar', '≤', 'descent.high_pressure_mbar', 'mbar', 'pressure drops once the region is reached');
  c.rel('descent.speed_tissue_um_per_s', '≤', 'descent.speed_bath_um_per_s', 'µm/s', 'movement inside tissue is the slow one');
  if (p.targeting === 'blind' && p.descent.region_depth_um <= 0) {
    c.add('descent.region_depth_um', `${fieldIs('descent.region_depth_um', p.descent.region_depth_um)} is not allowed: must be > 0 µm for blind targeting (the hunt starts at this depth)`);
  }

  c.rel('hunt.short_tau_s', '<', 'hunt.baseline_tau_s', 's', 'the short filter is compared against the slower baseline');
  c.rel('hunt.hit_rise_MOhm', '<', 'hunt.hit_jump_MOhm', 'MΩ', 'a single-reading jump must be larger than the consecutive-rise threshold');
  c.rel('hunt.hit_rise_MOhm', '<', 'hunt.clog_drift_MOhm', 'MΩ', 'otherwise a cell contact would read as a clog');
  if (p.hunt.mode === 'stepwise') {
    const minDwell = 1000 / p.test_pulse.rate_Hz;
    if (p.hunt.step_dwell_ms < minDwell) {
      c.add(
        'hunt.step_dwell_ms',
        `${fieldIs('hunt.step_dwell_ms', p.hunt.step_dwell_ms)} is too short: must be ≥ ${round(minDwell)} ms, one test pulse at test_pulse.rate_Hz (${p.test_pulse.rate_Hz} Hz), so every step gets a reading`,
      );
    }
  }

  c.rel('seal.strong_suction_mbar', '≤', 'seal.suction_mbar', 'mbar', 'strong suction ≤ suction ≤ weak suction ≤ 0');
  c.rel('seal.suction_mbar', '≤', 'seal.weak_suction_mbar', 'mbar', 'strong suction ≤ suction ≤ weak suction ≤ 0');
  c.rel('seal.slow_rate_MOhm_per_s', '<', 'seal.fast_rate_MOhm_per_s', 'MΩ/s', 'strong suction below the slow rate, weak above the fast rate');
  c.rel('seal.holding_at_MOhm', '<', 'seal.gigaseal_MOhm', 'MΩ', 'holding goes on before the gigaseal');
  c.rel('seal.stall_MOhm', '<', 'seal.gigaseal_MOhm', 'MΩ', 'a stall is a seal stuck below gigaseal');
  c.rel('seal.stall_s', '<', 'seal.timeout_s', 's', 'a stall must be detectable before the deadline');
  if (p.seal.slope_window_s * p.test_pulse.rate_Hz < 2) {
    c.add(
      'seal.slope_window_s',
      `${fieldIs('seal.slope_window_s', p.seal.slope_window_s)} is too short: must be ≥ ${round(2 / p.test_pulse.rate_Hz)} s, two test pulses at test_pulse.rate_Hz (${p.test_pulse.rate_Hz} Hz), so a slope can be taken`,
    );
  }
  p.seal.tiers.forEach((tier, i) => {
    const at = `seal.tiers[${i}].at_s`;
    const min = `seal.tiers[${i}].min_MOhm`;
    if (tier.at_s > p.seal.timeout_s) {
      c.add(at, `${fieldIs(at, tier.at_s)} is not allowed: must be ≤ seal.timeout_s (${p.seal.timeout_s} s) — a tier after the deadline never applies`);
    }
    if (tier.min_MOhm > p.seal.gigaseal_MOhm) {
      c.add(min, `${fieldIs(min, tier.min_MOhm)} is not allowed: must be ≤ seal.gigaseal_MOhm (${p.seal.gigaseal_MOhm} MΩ) — sealing ends at the gigaseal`);
    }
    if (i === 0) return;
    const prev = p.seal.tiers[i - 1];
    if (tier.at_s <= prev.at_s) {
      c.add(at, `${fieldIs(at, tier.at_s)} is not allowed: must be > seal.tiers[${i - 1}].at_s (${prev.at_s} s) — tiers are strictly increasing in time`);
    }
    if (tier.min_MOhm <= prev.min_MOhm) {
      c.add(min, `${fieldIs(min, tier.min_MOhm)} is not allowed: must be > seal.tiers[${i - 1}].min_MOhm (${prev.min_MOhm} MΩ) — tiers are strictly increasing in resistance`);
    }
  });

  c.rel('cell_attached.spontaneous_arm_MOhm', '<', 'seal.gigaseal_MOhm', 'MΩ', 'spontaneous break-in is watched for below the gigaseal');
  c.rel('cell_attached.lost_MOhm', '<', 'seal.gigaseal_MOhm', 'MΩ', 'a seal is lost when it falls below the gigaseal, not at it');

  c.rel('break_in.max_pulse_mbar', '≤', 'break_in.pulse_mbar', 'mbar', 'the strongest pulse is at least as strong (negative) as the first');
  c.rel('break_in.pulse_mbar', '<', 'seal.strong_suction_mbar', 'mbar', 'break-in pulses are stronger than sealing suction');
  c.rel('break_in.zap_from_attempt', '≤', 'break_in.max_attempts', '', 'a zap after the last attempt never happens (0 = never)');
  c.rel('break_in.success_MOhm', '<', 'seal.gigaseal_MOhm', 'MΩ', 'whole-cell means R has fallen below the seal');
  if (p.break_in.pulses_per_attempt > 1 && p.break_in.pulse_ms >= p.break_in.pulse_interval_s * 1000) {
    c.add(
      'break_in.pulse_ms',
      `${fieldIs('break_in.pulse_ms', p.break_in.pulse_ms)} is not allowed: must be < break_in.pulse_interval_s (${p.break_in.pulse_interval_s} s = ${p.break_in.pulse_interval_s * 1000} ms) — pulses may not overlap`,
    );
  }

  c.rel('whole_cell.ihold_min_pA', '<', 'whole_cell.ihold_max_pA', 'pA', 'the accepted holding-current window must not be empty');
  c.rel('whole_cell.lost_ihold_pA', '<', 'whole_cell.ihold_min_pA', 'pA', 'a lost cell is beyond the QC window');
  c.rel('whole_cell.clear_access_MOhm', '≤', 'whole_cell.ra_max_MOhm', 'MΩ', 'access is cleared before it becomes unacceptable');

  c.rel('retract.speed_tissue_um_per_s', '≤', 'retract.speed_bath_um_per_s', 'µm/s', 'movement inside tissue is the slow one');

  c.rel('record.analysis.subthreshold_above_pA', '<', 'record.analysis.subthreshold_below_pA', 'pA', 'the input-resistance sweep window must not be empty');
  c.rel('record.analysis.hero_above_rheobase_min_pA', '<', 'record.analysis.hero_above_rheobase_max_pA', 'pA', 'the hero-sweep window must not be empty');
  return c.problems;
}

/**
 * Rules between a preset and one stimulus set it records (the set is valid on
 * its own). They blame the preset's `record.stimulus_sets[i]` entry and name
 * both fields.
 */
export function presetStimulusRules(p: AutopatchPreset, index: number, s: StimulusSet): ProtocolProblem[] {
  const path = `record.stimulus_sets[${index}]`;
  const problems: ProtocolProblem[] = [];
  const filter = p.record.analysis.spike_detection.filter_kHz;
  if (!(s.sample_rate_kHz > 2 * filter)) {
    problems.push({
      path,
      message:
        `${fieldIs(path, s.name)} samples at sample_rate_kHz = ${s.sample_rate_kHz} kHz: must be > 2 × record.analysis.spike_detection.filter_kHz ` +
        `(${round(2 * filter)} kHz) — spike detection low-passes dV/dt at ${filter} kHz, which needs a sample rate above twice that`,
    });
  }
  const leak = p.record.sweep_qc.max_leak_pA;
  if (Math.abs(s.bias_pA) > leak) {
    problems.push({
      path,
      message:
        `${fieldIs(path, s.name)} holds bias_pA = ${s.bias_pA} pA: |bias_pA| must be ≤ record.sweep_qc.max_leak_pA (${leak} pA) — ` +
        'every one of its sweeps would fail the leak/bias QC',
    });
  }
  return problems;
}

const EPS = 1e-6;
const isWhole = (x: number): boolean => Math.abs(x - Math.round(x)) < EPS;

export function stimulusSetRules(s: StimulusSet): ProtocolProblem[] {
  const c = checker(s);
  const kHz = s.sample_rate_kHz;
  const f = s.family;
  const whole = (path: string, ms: number): void => {
    const n = ms * kHz;
    if (!isWhole(n)) {
      c.add(
        path,
        `${fieldIs(path, ms)} is not a whole number of samples at sample_rate_kHz = ${kHz} (${round(n)} samples): must be a multiple of ${round(1 / kHz)} ms`,
      );
    }
  };
  whole('pre_ms', s.pre_ms);
  whole('post_ms', s.post_ms);

  if (f.type === 'ramp') {
    const ms = stimulusDurationMs(f);
    if (!isWhole(ms * kHz)) {
      c.add(
        'family.max_pA',
        `${fieldIs('family.max_pA', f.max_pA)} is not allowed: the ramp to it at family.slope_pA_per_s (${f.slope_pA_per_s} pA/s) lasts ${round(ms)} ms, not a whole number of samples at ${kHz} kHz`,
      );
    }
  } else {
    whole('family.duration_ms', f.duration_ms);
    c.rel('family.from_pA', '≤', 'family.to_pA', 'pA', 'sweeps go from the first amplitude up to the last');
    const steps = (f.to_pA - f.from_pA) / f.step_pA;
    if (f.from_pA <= f.to_pA && !isWhole(steps)) {
      c.add(
        'family.step_pA',
        `${fieldIs('family.step_pA', f.step_pA)} is not allowed: must divide family.to_pA − family.from_pA (${round(f.to_pA - f.from_pA)} pA) into whole steps`,
      );
    }
  }

  const total = sweepDurationMs(s);
  if (total > MAX_SWEEP_MS + EPS) {
    const path = f.type === 'ramp' ? 'family.max_pA' : 'family.duration_ms';
    c.add(
      path,
      `${fieldIs(path, get(s, path))} is not allowed: the sweep (pre_ms + stimulus + post_ms) would last ${round(total)} ms, must be ≤ ${MAX_SWEEP_MS} ms`,
    );
  }

  if (c.problems.length === 0) {
    const n = sweepAmplitudes_pA(f).length;
    if (s.stop_after_spiking_sweeps > n) {
      c.add(
        'stop_after_spiking_sweeps',
        `${fieldIs('stop_after_spiking_sweeps', s.stop_after_spiking_sweeps)} is not allowed: must be ≤ ${n}, the number of sweeps in the set (0 = run all)`,
      );
    }
  }
  return c.problems;
}
