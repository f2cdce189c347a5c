import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  listPresets,
  listStimulusSets,
  loadPreset,
  loadStimulusSet,
  PROTOCOLS_DIR,
  validatePreset,
  validateStimulusSet,
} from '../../src/protocol/load.ts';
import { sweepAmplitudes_pA } from '../../src/protocol/stimulus.ts';

describe('shipped protocol files', () => {
  it('lists exactly the files in protocols/presets and protocols/stimuli', () => {
    expect(listPresets()).toEqual(['acute-slice', 'culture', 'in-vivo-blind']);
    expect(listStimulusSets()).toEqual(['long-square', 'ramp', 'short-square']);
    const onDisk = readdirSync(join(PROTOCOLS_DIR, 'presets')).filter((f) => f.endsWith('.json'));
    expect(onDisk.length).toBe(listPresets().length);
  });

  it.each(['acute-slice', 'culture', 'in-vivo-blind'])('preset %s loads by name and by path, and names its sources', (name) => {
    const byName = loadPreset(name);
    const path = join(PROTOCOLS_DIR, 'presets', `${name}.json`);
    expect(loadPreset(path)).toEqual(byName);
    expect(byName.name).toBe(name);
    expect(byName.kind).toBe('autopatch-preset');
    // the description must say which published system the defaults follow
    expect(byName.description).toMatch(/Autopatcher|Multipatcher|PatcherBot/);
    expect(byName.description).toMatch(/autopatching\.md/);
    // validating the raw file contents directly gives the same value
    expect(validatePreset(JSON.parse(readFileSync(path, 'utf8')), path)).toEqual(byName);
    for (const set of byName.record.stimulus_sets) expect(listStimulusSets()).toContain(set);
  });

  it.each(['long-square', 'short-square', 'ramp'])('stimulus set %s loads by name and validates', (name) => {
    const set = loadStimulusSet(name);
    expect(set.name).toBe(name);
    const path = join(PROTOCOLS_DIR, 'stimuli', `${name}.json`);
    expect(validateStimulusSet(JSON.parse(readFileSync(path, 'utf8')), path)).toEqual(set);
  });

  it('in-vivo-blind carries the published in vivo defaults', () => {
    const p = loadPreset('in-vivo-blind');
    expect(p.preparation).toBe('in-vivo');
    expect(p.targeting).toBe('blind');
    expect(p.descent.high_pressure_mbar).toBe(800);
    expect(p.descent.low_pressure_mbar).toBeGreaterThanOrEqual(20);
    expect(p.descent.low_pressure_mbar).toBeLessThanOrEqual(45);
    expect(p.hunt.mode).toBe('stepwise');
    expect(p.hunt.step_um).toBe(2);
    expect(p.hunt.hit_consecutive).toBe(3);
    expect(p.hunt.hit_rise_MOhm).toBeGreaterThanOrEqual(0.25);
    expect(p.hunt.hit_rise_MOhm).toBeLessThanOrEqual(0.35);
    expect(p.confirm.wait_s).toBe(10);
    expect(p.seal.strong_suction_mbar).toBe(-40);
    expect(p.seal.weak_suction_mbar).toBe(-20);
    expect(p.seal.holding_mV).toBe(-70);
    expect(p.seal.holding_at_MOhm).toBe(100);
    expect(p.seal.gigaseal_MOhm).toBe(1000);
    expect(p.seal.tiers).toEqual([
      { at_s: 30, min_MOhm: 40 },
      { at_s: 90, min_MOhm: 100 },
      { at_s: 120, min_MOhm: 500 },
      { at_s: 180, min_MOhm: 1000 },
    ]);
    expect(p.break_in.pulse_mbar).toBe(-150);
    expect(p.break_in.max_pulse_mbar).toBe(-345);
    // escalation reaches the strongest pulse exactly on the last attempt
    expect(p.break_in.pulse_mbar + (p.break_in.max_attempts - 1) * p.break_in.pulse_step_mbar).toBe(p.break_in.max_pulse_mbar);
    expect(p.break_in.zap_from_attempt).toBeGreaterThan(1);
    expect(p.break_in.success_MOhm).toBe(500);
    expect(p.break_in.success_cm_pF).toBe(8);
    expect(p.whole_cell.ra_max_MOhm).toBe(70);
    // efeatures-nwb.md: a 10 ms step with 35 % baseline each side; the fastest rate that sweep fits is 58 Hz
    expect(p.test_pulse.width_ms).toBe(10);
    expect(p.test_pulse.break_in_rate_Hz).toBe(50);
    expect(p.coordination.synchronized_rounds).toBe(true);
  });

  it('slice and culture are targeted, with lower pressures, tighter access and shorter timeouts than in vivo', () => {
    const vivo = loadPreset('in-vivo-blind');
    for (const name of ['acute-slice', 'culture']) {
      const p = loadPreset(name);
      expect(p.targeting).toBe('targeted');
      expect(p.pipette_check.pressure_mbar).toBe(35);
      expect(p.hunt.pressure_mbar).toBe(15);
      expect(p.descent.high_pressure_mbar).toBeLessThanOrEqual(50);
      expect(p.whole_cell.ra_max_MOhm).toBeGreaterThanOrEqual(30);
      expect(p.whole_cell.ra_max_MOhm).toBeLessThanOrEqual(40);
      expect(p.seal.timeout_s).toBeLessThan(vivo.seal.timeout_s);
      expect(p.hunt.timeout_s).toBeLessThan(vivo.hunt.timeout_s);
      expect(p.hunt.max_travel_um).toBeGreaterThanOrEqual(10);
      expect(p.hunt.max_travel_um).toBeLessThanOrEqual(30);
    }
  });

  it('long-square is -100…+200 pA in 20 pA steps of 1 s at 50 kHz; short-square 3 ms; ramp 25 pA/s', () => {
    const ls = loadStimulusSet('long-square');
    expect(ls.sample_rate_kHz).toBe(50);
    expect(ls.family).toEqual({ type: 'long-square', from_pA: -100, to_pA: 200, step_pA: 20, duration_ms: 1000 });
    expect(sweepAmplitudes_pA(ls.family)).toHaveLength(16);
    expect(ls.pre_ms).toBeGreaterThanOrEqual(100);
    expect(ls.post_ms).toBeGreaterThanOrEqual(100);
    const ss = loadStimulusSet('short-square');
    expect(ss.family.type).toBe('short-square');
    expect(ss.family.type === 'short-square' && ss.family.duration_ms).toBe(3);
    const ramp = loadStimulusSet('ramp');
    expect(ramp.family.type === 'ramp' && ramp.family.slope_pA_per_s).toBe(25);
  });
});
