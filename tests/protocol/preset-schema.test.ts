import { describe, expect, it } from 'vitest';
import { validatePreset } from '../../src/protocol/load.ts';
import { presetSchema } from '../../src/protocol/schema.ts';
import { deletePath, presetCopy, protocolError, setPath } from './helpers.ts';

const SRC = 'protocols/presets/x.json';

/** Mutate one field of a valid preset, validate, return the single problem line. */
function rejectOne(path: string, value: unknown): string {
  const p = presetCopy();
  setPath(p, path, value);
  const err = protocolError(() => validatePreset(p, SRC));
  expect(err.source).toBe(SRC);
  expect(err.problems).toHaveLength(1);
  expect(err.problems[0].path).toBe(path);
  const lines = err.message.split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0].startsWith(`${SRC}: ${path}`)).toBe(true);
  return lines[0];
}

describe('preset schema: ranges', () => {
  // [field, bad value, what the message must say about the allowed range]
  const table: Array<[string, unknown, string]> = [
    ['seal.suction_mbar', 40, 'must be between -600 and 0 mbar'],
    ['seal.strong_suction_mbar', -601, 'must be between -600 and 0 mbar'],
    ['seal.weak_suction_mbar', 5, 'must be between -600 and 0 mbar'],
    ['seal.gigaseal_MOhm', 50, 'must be between 100 and 100000 MΩ'],
    ['seal.gigaseal_MOhm', 200_000, 'must be between 100 and 100000 MΩ'],
    ['seal.holding_mV', 10, 'must be between -120 and 0 mV'],
    ['seal.holding_at_MOhm', 0, 'must be > 0 and ≤ 10000 MΩ'],
    ['seal.timeout_s', 0, 'must be > 0 and ≤ 1800 s'],
    ['seal.holding_tau_s', -0.1, 'must be > 0 and ≤ 10 s'],
    ['seal.tiers[0].min_MOhm', -1, 'must be > 0 and ≤ 100000 MΩ'],
    ['seal.tiers[3].at_s', 0, 'must be > 0 and ≤ 1800 s'],
    ['test_pulse.rate_Hz', 500, 'must be between 1 and 200 Hz'],
    ['test_pulse.break_in_rate_Hz', 0.5, 'must be between 1 and 200 Hz'],
    ['test_pulse.sample_rate_kHz', 5, 'must be between 10 and 200 kHz'],
    ['test_pulse.sample_rate_kHz', 250, 'must be between 10 and 200 kHz'],
    ['test_pulse.amplitude_mV', 80, 'must be between -50 and 50 mV'],
    ['test_pulse.width_ms', 0.5, 'must be between 1 and 100 ms'],
    ['test_pulse.analysis.min_fit_quality', 1.5, 'must be between 0 and 1'],
    ['test_pulse.analysis.max_MOhm', 50, 'must be between 100 and 100000 MΩ'],
    ['test_pulse.analysis.fit_start_us', -1, 'must be between 0 and 5000 µs'],
    ['seal.slope_window_s', 0, 'must be > 0 and ≤ 60 s'],
    ['whole_cell.vrest_window_ms', 0, 'must be > 0 and ≤ 5000 ms'],
    ['coordination.path_wait_s', 0, 'must be > 0 and ≤ 3600 s'],
    ['pipette_check.pressure_mbar', -10, 'must be between 0 and 1000 mbar'],
    ['pipette_check.readings', 0, 'must be an integer between 1 and 1000 readings'],
    ['pipette_check.max_MOhm', 150, 'must be > 0 and ≤ 100 MΩ'],
    ['descent.high_pressure_mbar', 1200, 'must be between 0 and 1000 mbar'],
    ['descent.low_pressure_mbar', -1, 'must be between 0 and 1000 mbar'],
    ['descent.speed_bath_um_per_s', 0, 'must be > 0 and ≤ 5000 µm/s'],
    ['descent.region_depth_um', -5, 'must be between 0 and 5000 µm'],
    ['hunt.pressure_mbar', 1001, 'must be between 0 and 1000 mbar'],
    ['hunt.step_um', 0, 'must be > 0 and ≤ 20 µm'],
    ['hunt.hit_consecutive', 0, 'must be an integer between 1 and 20 readings'],
    ['hunt.baseline_tau_s', 0, 'must be > 0 and ≤ 300 s'],
    ['hunt.dead_range_kOhm', 0, 'must be > 0 and ≤ 1000 kΩ'],
    ['hunt.dead_readings', 1, 'must be an integer between 2 and 1000 readings'],
    ['confirm.max_false_hits', -1, 'must be an integer between 0 and 100'],
    ['cell_attached.lost_ihold_pA', 100, 'must be between -10000 and 0 pA'],
    ['cell_attached.spontaneous_cm_pF', 0, 'must be > 0 and ≤ 1000 pF'],
    ['break_in.pulse_mbar', 10, 'must be between -600 and 0 mbar'],
    ['break_in.max_pulse_mbar', -700, 'must be between -600 and 0 mbar'],
    ['break_in.pulse_step_mbar', 15, 'must be between -600 and 0 mbar'],
    ['break_in.max_attempts', 0, 'must be an integer between 1 and 100 attempts'],
    ['break_in.zap_ms', 0, 'must be > 0 and ≤ 10 ms'],
    ['whole_cell.clear_access_mbar', 50, 'must be between -600 and 0 mbar'],
    ['whole_cell.ra_over_rm_max', 2, 'must be > 0 and ≤ 1'],
    ['whole_cell.vrest_max_mV', 20, 'must be between -120 and 0 mV'],
    ['record.rest_s', -1, 'must be between 0 and 3600 s'],
    ['retract.pressure_mbar', -100, 'must be between 0 and 1000 mbar'],
    ['clean.detergent[1].mbar', 1500, 'must be between -600 and 1000 mbar'],
    ['clean.rinse[0].ms', 0, 'must be > 0 and ≤ 60000 ms'],
    ['clean.cycles', 0, 'must be an integer between 1 and 100 cycles'],
    ['coordination.clearance_um', -1, 'must be between 0 and 5000 µm'],
    ['coordination.break_in_wait_s', 4000, 'must be between 0 and 3600 s'],
  ];

  it.each(table)('%s = %s is rejected naming the range', (path, value, expected) => {
    const line = rejectOne(path, value);
    expect(line).toBe(`${SRC}: ${path} = ${value} is out of range: ${expected}`);
  });

  it('accepts the bounds themselves', () => {
    const p = presetCopy();
    p.seal.weak_suction_mbar = 0;
    p.descent.high_pressure_mbar = 1000;
    p.test_pulse.sample_rate_kHz = 200;
    p.break_in.max_pulse_mbar = -600;
    expect(() => validatePreset(p, SRC)).not.toThrow();
  });
});

describe('preset schema: types, enums, names', () => {
  const table: Array<[string, unknown, string]> = [
    ['seal.tiers[1].at_s', 'x', 'seal.tiers[1].at_s = "x" has the wrong type: must be a number > 0 and ≤ 1800 s'],
    ['pipette_check.readings', 2.5, 'pipette_check.readings = 2.5 has the wrong type: must be an integer between 1 and 1000'],
    ['clean.enabled', 'yes', 'clean.enabled = "yes" has the wrong type: must be true or false'],
    ['record.stimulus_sets', 'long-square', 'record.stimulus_sets = "long-square" has the wrong type: must be a list of names'],
    ['coordination', 5, 'coordination = 5 has the wrong type: must be an object with fields pause_others_while_sealing, break_in_together'],
    ['seal.tiers', {}, 'seal.tiers = {…} has the wrong type: must be a list of {at_s, min_MOhm}'],
    ['hunt.mode', 'zigzag', 'hunt.mode = "zigzag" is not allowed: must be one of "stepwise", "continuous"'],
    ['preparation', 'in-vitro', 'preparation = "in-vitro" is not allowed: must be one of "in-vivo", "slice", "culture"'],
    ['targeting', 'semi', 'targeting = "semi" is not allowed: must be one of "blind", "targeted"'],
    ['kind', 'stimulus-set', 'kind = "stimulus-set" is not allowed: must be "autopatch-preset"'],
    ['name', 'Has Space', 'name = "Has Space" is not allowed: must be a name of lowercase letters, digits and dashes'],
    ['description', '', 'description = "" is not allowed: must be a non-empty string'],
    ['clean.detergent', [], 'clean.detergent has 0 entries: must be a list of {mbar, ms}, 1 to 20 entries'],
    ['record.stimulus_sets', ['ramp', 'ramp'], 'record.stimulus_sets lists "ramp" more than once'],
  ];
  it.each(table)('%s = %j is rejected', (path, value, expected) => {
    // expected is the whole line or, where it lists fields, its start
    expect(rejectOne(path, value).startsWith(`${SRC}: ${expected}`)).toBe(true);
  });
});

describe('preset schema: missing and unknown fields', () => {
  it.each([
    ['break_in.zap_ms', 'break_in.zap_ms is missing: must be a number > 0 and ≤ 10 ms'],
    ['seal.tiers', 'seal.tiers is missing: must be a list of {at_s, min_MOhm}'],
    ['hunt.mode', 'hunt.mode is missing: must be one of "stepwise", "continuous"'],
    ['coordination', 'coordination is missing: must be an object with fields'],
    ['clean.rinse[0].mbar', 'clean.rinse[0].mbar is missing: must be a number between -600 and 1000 mbar'],
  ])('missing %s is named with what it must be', (path, expected) => {
    const p = presetCopy();
    deletePath(p, path);
    const err = protocolError(() => validatePreset(p, SRC));
    expect(err.problems).toHaveLength(1);
    expect(err.message.startsWith(`${SRC}: ${expected}`)).toBe(true);
  });

  it('names an unknown field, suggests the likely intended one and lists the allowed fields', () => {
    const p = presetCopy() as unknown as { seal: Record<string, unknown> };
    p.seal.suction_mbr = -30;
    const err = protocolError(() => validatePreset(p, SRC));
    expect(err.problems).toHaveLength(1);
    expect(err.message).toContain(`${SRC}: seal.suction_mbr is not a known field (did you mean suction_mbar?): allowed fields here are suction_mbar, strong_suction_mbar`);
  });

  it('names an unknown top-level field without a far-fetched suggestion', () => {
    const p = presetCopy() as Record<string, unknown>;
    p.operator_notes = 'x';
    const err = protocolError(() => validatePreset(p, SRC));
    expect(err.message).toBe(
      `${SRC}: operator_notes is not a known field: allowed fields here are kind, name, description, preparation, targeting, test_pulse, pipette_check, descent, hunt, confirm, seal, cell_attached, break_in, whole_cell, record, retract, clean, coordination`,
    );
  });

  it('reports every problem in one go, one line each', () => {
    const p = presetCopy();
    setPath(p, 'seal.suction_mbar', 40);
    setPath(p, 'hunt.mode', 'zigzag');
    deletePath(p, 'break_in.zap_ms');
    setPath(p, 'clean.extra', true);
    const err = protocolError(() => validatePreset(p, SRC));
    expect(err.problems.map((x) => x.path).sort()).toEqual(['break_in.zap_ms', 'clean.extra', 'hunt.mode', 'seal.suction_mbar']);
    expect(err.message.split('\n')).toHaveLength(4);
    for (const line of err.message.split('\n')) expect(line.startsWith(`${SRC}: `)).toBe(true);
  });

  it('rejects a file that is not an object', () => {
    for (const value of [null, [], 'preset', 3]) {
      const err = protocolError(() => validatePreset(value, SRC));
      expect(err.message).toContain('has the wrong type: must be an object with fields kind, name');
    }
  });
});

describe('preset schema: every numeric field', () => {
  type S = Record<string, unknown> & { properties?: Record<string, S>; items?: S };
  /** numeric leaves of the schema with their path in the shipped preset */
  function leaves(s: S, path: string, out: Array<[string, S]>): Array<[string, S]> {
    if (s.type === 'number' || s.type === 'integer') out.push([path, s]);
    for (const [k, child] of Object.entries(s.properties ?? {})) leaves(child, path ? `${path}.${k}` : k, out);
    if (s.items) leaves(s.items, `${path}[0]`, out);
    return out;
  }
  const all = leaves(presetSchema as S, '', []);

  it('has a unit annotation and both bounds on every number', () => {
    expect(all.length).toBeGreaterThan(90);
    for (const [path, s] of all) {
      expect(typeof s.unit, path).toBe('string');
      expect(typeof s.maximum, path).toBe('number');
      expect(typeof (s.minimum ?? s.exclusiveMinimum), path).toBe('number');
    }
  });

  it('rejects a value just outside either bound of every number, naming the field', () => {
    for (const [path, s] of all) {
      const low = (s.minimum as number | undefined) ?? (s.exclusiveMinimum as number);
      const below = s.exclusiveMinimum !== undefined ? low : low - 1;
      for (const bad of [below, (s.maximum as number) + 1]) {
        const line = rejectOne(path, bad);
        expect(line).toContain(`${path} = ${bad} is out of range: must be`);
      }
    }
  });
});
