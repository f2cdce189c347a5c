import { describe, expect, it } from 'vitest';
import { validatePreset } from '../../src/protocol/load.ts';
import type { AutopatchPreset } from '../../src/protocol/types.ts';
import { presetCopy, protocolError } from './helpers.ts';

const SRC = 'protocols/presets/x.json';

type Case = [rule: string, mutate: (p: AutopatchPreset) => void, path: string, expected: string];

const cases: Case[] = [
  ['test pulse amplitude not zero', (p) => (p.test_pulse.amplitude_mV = 0), 'test_pulse.amplitude_mV',
    'test_pulse.amplitude_mV = 0 is not allowed: must be at least 1 mV in size'],
  ['break-in rate ≥ rate', (p) => (p.test_pulse.rate_Hz = 55), 'test_pulse.break_in_rate_Hz',
    'test_pulse.break_in_rate_Hz = 50 is not allowed: must be ≥ test_pulse.rate_Hz (55 Hz)'],
  ['test-pulse sweep fits the break-in period', (p) => (p.test_pulse.width_ms = 15), 'test_pulse.width_ms',
    'test_pulse.width_ms = 15 is too long for test_pulse.break_in_rate_Hz (50 Hz): with 35 % baseline each side a sweep takes 25.5 ms, more than the 20 ms period; must be ≤ 11.765 ms'],
  ['fit starts well inside the step', (p) => (p.test_pulse.analysis.fit_start_us = 5000), 'test_pulse.analysis.fit_start_us',
    'test_pulse.analysis.fit_start_us = 5000 is not allowed: must be < half of test_pulse.width_ms (10 ms)'],
  ['peak window inside the step', (p) => (p.test_pulse.analysis.peak_window_ms = 10), 'test_pulse.analysis.peak_window_ms',
    'test_pulse.analysis.peak_window_ms = 10 is not allowed: must be < test_pulse.width_ms (10 ms)'],
  ['slope window holds two readings', (p) => (p.seal.slope_window_s = 0.05), 'seal.slope_window_s',
    'seal.slope_window_s = 0.05 is too short: must be ≥ 0.067 s, two test pulses at test_pulse.rate_Hz (30 Hz)'],
  ['pipette window min < max', (p) => (p.pipette_check.min_MOhm = 9), 'pipette_check.min_MOhm',
    'pipette_check.min_MOhm = 9 is not allowed: must be < pipette_check.max_MOhm (9 MΩ)'],
  ['descent low ≤ high pressure', (p) => (p.descent.low_pressure_mbar = 900), 'descent.low_pressure_mbar',
    'descent.low_pressure_mbar = 900 is not allowed: must be ≤ descent.high_pressure_mbar (800 mbar)'],
  ['descent slower in tissue', (p) => (p.descent.speed_tissue_um_per_s = 150), 'descent.speed_tissue_um_per_s',
    'must be ≤ descent.speed_bath_um_per_s (100 µm/s)'],
  ['blind needs a region depth', (p) => (p.descent.region_depth_um = 0), 'descent.region_depth_um',
    'descent.region_depth_um = 0 is not allowed: must be > 0 µm for blind targeting'],
  ['short filter faster than baseline', (p) => (p.hunt.short_tau_s = 20), 'hunt.short_tau_s',
    'hunt.short_tau_s = 20 is not allowed: must be < hunt.baseline_tau_s (20 s)'],
  ['hit rise below jump', (p) => (p.hunt.hit_rise_MOhm = 1.5), 'hunt.hit_rise_MOhm',
    'hunt.hit_rise_MOhm = 1.5 is not allowed: must be < hunt.hit_jump_MOhm (1 MΩ)'],
  ['hit rise below clog drift', (p) => { p.hunt.hit_jump_MOhm = 5; p.hunt.hit_rise_MOhm = 3; }, 'hunt.hit_rise_MOhm',
    'hunt.hit_rise_MOhm = 3 is not allowed: must be < hunt.clog_drift_MOhm (2 MΩ)'],
  ['stepwise dwell holds a reading', (p) => (p.hunt.step_dwell_ms = 20), 'hunt.step_dwell_ms',
    'hunt.step_dwell_ms = 20 is too short: must be ≥ 33.333 ms, one test pulse at test_pulse.rate_Hz (30 Hz)'],
  ['strong suction ≤ suction', (p) => (p.seal.strong_suction_mbar = -25), 'seal.strong_suction_mbar',
    'seal.strong_suction_mbar = -25 is not allowed: must be ≤ seal.suction_mbar (-30 mbar) — strong suction ≤ suction ≤ weak suction ≤ 0'],
  ['suction ≤ weak suction', (p) => (p.seal.weak_suction_mbar = -35), 'seal.suction_mbar',
    'seal.suction_mbar = -30 is not allowed: must be ≤ seal.weak_suction_mbar (-35 mbar)'],
  ['slow rate < fast rate', (p) => (p.seal.slow_rate_MOhm_per_s = 100), 'seal.slow_rate_MOhm_per_s',
    'must be < seal.fast_rate_MOhm_per_s (100 MΩ/s)'],
  ['holding_at < gigaseal', (p) => (p.seal.holding_at_MOhm = 1000), 'seal.holding_at_MOhm',
    'seal.holding_at_MOhm = 1000 is not allowed: must be < seal.gigaseal_MOhm (1000 MΩ)'],
  ['stall below gigaseal', (p) => (p.seal.stall_MOhm = 2000), 'seal.stall_MOhm',
    'seal.stall_MOhm = 2000 is not allowed: must be < seal.gigaseal_MOhm (1000 MΩ)'],
  ['stall detectable before the deadline', (p) => (p.seal.stall_s = 180), 'seal.stall_s',
    'seal.stall_s = 180 is not allowed: must be < seal.timeout_s (180 s)'],
  ['tiers increasing in time', (p) => (p.seal.tiers[2].at_s = 90), 'seal.tiers[2].at_s',
    'seal.tiers[2].at_s = 90 is not allowed: must be > seal.tiers[1].at_s (90 s) — tiers are strictly increasing in time'],
  ['tiers increasing in resistance', (p) => (p.seal.tiers[1].min_MOhm = 40), 'seal.tiers[1].min_MOhm',
    'seal.tiers[1].min_MOhm = 40 is not allowed: must be > seal.tiers[0].min_MOhm (40 MΩ) — tiers are strictly increasing in resistance'],
  ['tiers within the deadline', (p) => (p.seal.timeout_s = 150), 'seal.tiers[3].at_s',
    'seal.tiers[3].at_s = 180 is not allowed: must be ≤ seal.timeout_s (150 s)'],
  ['tiers not above gigaseal', (p) => (p.seal.tiers[3].min_MOhm = 1500), 'seal.tiers[3].min_MOhm',
    'seal.tiers[3].min_MOhm = 1500 is not allowed: must be ≤ seal.gigaseal_MOhm (1000 MΩ)'],
  ['spontaneous arm < gigaseal', (p) => (p.cell_attached.spontaneous_arm_MOhm = 1000), 'cell_attached.spontaneous_arm_MOhm',
    'cell_attached.spontaneous_arm_MOhm = 1000 is not allowed: must be < seal.gigaseal_MOhm (1000 MΩ)'],
  ['seal lost below gigaseal', (p) => (p.cell_attached.lost_MOhm = 1200), 'cell_attached.lost_MOhm',
    'must be < seal.gigaseal_MOhm (1000 MΩ)'],
  ['max pulse ≤ pulse', (p) => (p.break_in.max_pulse_mbar = -100), 'break_in.max_pulse_mbar',
    'break_in.max_pulse_mbar = -100 is not allowed: must be ≤ break_in.pulse_mbar (-150 mbar)'],
  ['break-in pulse stronger than seal suction', (p) => { p.break_in.pulse_mbar = -40; p.break_in.max_pulse_mbar = -345; }, 'break_in.pulse_mbar',
    'break_in.pulse_mbar = -40 is not allowed: must be < seal.strong_suction_mbar (-40 mbar)'],
  ['zap within the attempts', (p) => (p.break_in.zap_from_attempt = 15), 'break_in.zap_from_attempt',
    'break_in.zap_from_attempt = 15 is not allowed: must be ≤ break_in.max_attempts (14)'],
  ['success below gigaseal', (p) => (p.break_in.success_MOhm = 1000), 'break_in.success_MOhm',
    'must be < seal.gigaseal_MOhm (1000 MΩ)'],
  ['pulses do not overlap', (p) => (p.break_in.pulse_ms = 2000), 'break_in.pulse_ms',
    'break_in.pulse_ms = 2000 is not allowed: must be < break_in.pulse_interval_s (2 s = 2000 ms)'],
  ['holding-current window not empty', (p) => (p.whole_cell.ihold_min_pA = 100), 'whole_cell.ihold_min_pA',
    'whole_cell.ihold_min_pA = 100 is not allowed: must be < whole_cell.ihold_max_pA (100 pA)'],
  ['lost cell below the QC window', (p) => (p.whole_cell.lost_ihold_pA = -200), 'whole_cell.lost_ihold_pA',
    'whole_cell.lost_ihold_pA = -200 is not allowed: must be < whole_cell.ihold_min_pA (-200 pA)'],
  ['clear access before Ra is unacceptable', (p) => (p.whole_cell.clear_access_MOhm = 80), 'whole_cell.clear_access_MOhm',
    'whole_cell.clear_access_MOhm = 80 is not allowed: must be ≤ whole_cell.ra_max_MOhm (70 MΩ)'],
  ['retract slower in tissue', (p) => (p.retract.speed_tissue_um_per_s = 200), 'retract.speed_tissue_um_per_s',
    'must be ≤ retract.speed_bath_um_per_s (100 µm/s)'],
];

describe('preset cross-field rules', () => {
  it.each(cases)('%s', (_rule, mutate, path, expected) => {
    const p = presetCopy();
    mutate(p);
    const err = protocolError(() => validatePreset(p, SRC));
    expect(err.problems.map((x) => x.path)).toEqual([path]);
    expect(err.message.startsWith(`${SRC}: ${path} = `)).toBe(true);
    expect(err.message).toContain(expected);
  });

  it('allows the equalities that ≤ rules permit', () => {
    const p = presetCopy();
    p.seal.strong_suction_mbar = -30;
    p.seal.suction_mbar = -30;
    p.seal.weak_suction_mbar = -30;
    p.descent.low_pressure_mbar = p.descent.high_pressure_mbar;
    p.break_in.max_pulse_mbar = p.break_in.pulse_mbar;
    p.break_in.zap_from_attempt = p.break_in.max_attempts;
    p.whole_cell.clear_access_MOhm = p.whole_cell.ra_max_MOhm;
    expect(() => validatePreset(p, SRC)).not.toThrow();
  });

  it('does not apply blind or stepwise rules to targeted continuous presets', () => {
    const p = presetCopy('acute-slice');
    expect(p.targeting).toBe('targeted');
    expect(p.hunt.mode).toBe('continuous');
    p.descent.region_depth_um = 0;
    p.hunt.step_dwell_ms = 1;
    expect(() => validatePreset(p, SRC)).not.toThrow();
    p.hunt.mode = 'stepwise';
    expect(protocolError(() => validatePreset(p, SRC)).problems.map((x) => x.path)).toEqual(['hunt.step_dwell_ms']);
  });

  it('single-pulse attempts may last longer than the pulse interval', () => {
    const p = presetCopy();
    p.break_in.pulses_per_attempt = 1;
    p.break_in.pulse_ms = 2000;
    expect(() => validatePreset(p, SRC)).not.toThrow();
  });

  it('reports several broken relations together', () => {
    const p = presetCopy();
    p.seal.strong_suction_mbar = -10;
    p.pipette_check.min_MOhm = 20;
    p.seal.tiers = [];
    p.whole_cell.ihold_max_pA = -500;
    const err = protocolError(() => validatePreset(p, SRC));
    expect(err.problems.map((x) => x.path).sort()).toEqual([
      'pipette_check.min_MOhm',
      'seal.strong_suction_mbar',
      'whole_cell.ihold_min_pA',
    ]);
  });

  it('runs the cross-field rules only once the schema is satisfied', () => {
    const p = presetCopy();
    p.seal.strong_suction_mbar = -10; // breaks a relation …
    p.seal.gigaseal_MOhm = 5; // … and a range: only the range is reported
    const err = protocolError(() => validatePreset(p, SRC));
    expect(err.problems.map((x) => x.path)).toEqual(['seal.gigaseal_MOhm']);
  });
});
