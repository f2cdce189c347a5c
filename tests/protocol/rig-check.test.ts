import { describe, expect, it } from 'vitest';
import { checkPresetAgainstRig, loadPreset, rigProblems, type RigLimits } from '../../src/protocol/load.ts';
import { presetCopy, protocolError } from './helpers.ts';

const roomy: RigLimits = { pressure: { min: -600, max: 1000 }, maxSpeed_um_per_s: 1000 };

describe('checkPresetAgainstRig', () => {
  it.each(['in-vivo-blind', 'acute-slice', 'culture'])('%s runs on a rig with the usual -600…+1000 mbar envelope', (name) => {
    expect(() => checkPresetAgainstRig(loadPreset(name), roomy)).not.toThrow();
  });

  it('names every pressure the rig cannot produce, including break-in, clean and clear-access pulses', () => {
    const rig: RigLimits = { pressure: { min: -300, max: 700 }, maxSpeed_um_per_s: 1000 };
    const err = protocolError(() => checkPresetAgainstRig(loadPreset('in-vivo-blind'), rig));
    expect(err.source).toBe('preset "in-vivo-blind"');
    expect(err.problems.map((p) => p.path)).toEqual([
      'pipette_check.pressure_mbar',
      'descent.high_pressure_mbar',
      'break_in.max_pulse_mbar',
      'clean.detergent[0].mbar',
      'clean.detergent[1].mbar',
      'clean.rinse[0].mbar',
      'clean.rinse[1].mbar',
    ]);
    expect(err.message.split('\n')[2]).toBe(
      'preset "in-vivo-blind": break_in.max_pulse_mbar = -345 is outside the rig\'s pressure limits: must be between -300 and 700 mbar',
    );
  });

  it('checks clear-access pulses only when the preset uses them, and cleaning only when enabled', () => {
    const p = presetCopy();
    p.whole_cell.clear_access_mbar = -500;
    p.clean.enabled = false;
    const rig: RigLimits = { pressure: { min: -400, max: 900 }, maxSpeed_um_per_s: 1000 };
    expect(rigProblems(p, rig).map((x) => x.path)).toEqual(['whole_cell.clear_access_mbar']);
    p.whole_cell.clear_access_max = 0;
    expect(rigProblems(p, rig)).toEqual([]);
    p.clean.enabled = true;
    expect(rigProblems(p, rig).map((x) => x.path)).toEqual(['clean.detergent[1].mbar', 'clean.rinse[1].mbar']);
  });

  it('names every speed above the manipulator limit', () => {
    const p = presetCopy();
    p.hunt.speed_um_per_s = 8;
    const rig: RigLimits = { pressure: roomy.pressure, maxSpeed_um_per_s: 9 };
    const err = protocolError(() => checkPresetAgainstRig(p, rig, 'session start'));
    expect(err.problems.map((x) => x.path)).toEqual([
      'descent.speed_bath_um_per_s',
      'descent.speed_tissue_um_per_s',
      'retract.speed_bath_um_per_s',
      'retract.speed_tissue_um_per_s',
    ]);
    expect(err.message.split('\n')[0]).toBe(
      "session start: descent.speed_bath_um_per_s = 100 exceeds the manipulator's maximum speed: must be ≤ 9 µm/s",
    );
  });

  it('accepts values exactly at the limits', () => {
    const p = presetCopy();
    const rig: RigLimits = { pressure: { min: -350, max: 1000 }, maxSpeed_um_per_s: 100 };
    expect(() => checkPresetAgainstRig(p, rig)).not.toThrow();
    expect(rigProblems(p, { ...rig, maxSpeed_um_per_s: 99.9 }).length).toBe(2);
  });
});
