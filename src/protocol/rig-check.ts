/**
 * A valid preset can still ask more than a given rig can do. Before a session
 * starts, every pressure the preset can command must lie within the pressure
 * controller's limits and every speed within the manipulator's, or nothing runs.
 */
import { fieldIs, ProtocolError, type ProtocolProblem } from './errors.ts';
import type { AutopatchPreset } from './types.ts';

export interface RigLimits {
  /** most negative and most positive pressure the controller allows, mbar */
  pressure: { min: number; max: number };
  /** fastest speed the manipulators accept, µm/s */
  maxSpeed_um_per_s: number;
}

/** Every pressure setpoint the preset can command, with its field path. */
export function commandedPressures(p: AutopatchPreset): Array<[string, number]> {
  const out: Array<[string, number]> = [
    ['pipette_check.pressure_mbar', p.pipette_check.pressure_mbar],
    ['descent.high_pressure_mbar', p.descent.high_pressure_mbar],
    ['descent.low_pressure_mbar', p.descent.low_pressure_mbar],
    ['hunt.pressure_mbar', p.hunt.pressure_mbar],
    ['seal.suction_mbar', p.seal.suction_mbar],
    ['seal.strong_suction_mbar', p.seal.strong_suction_mbar],
    ['seal.weak_suction_mbar', p.seal.weak_suction_mbar],
    ['break_in.pulse_mbar', p.break_in.pulse_mbar],
    // escalating pulses stop at max_pulse, so it bounds every pulse
    ['break_in.max_pulse_mbar', p.break_in.max_pulse_mbar],
    ['retract.pressure_mbar', p.retract.pressure_mbar],
  ];
  if (p.whole_cell.clear_access_max > 0) out.push(['whole_cell.clear_access_mbar', p.whole_cell.clear_access_mbar]);
  if (p.clean.enabled) {
    p.clean.detergent.forEach((s, i) => out.push([`clean.detergent[${i}].mbar`, s.mbar]));
    p.clean.rinse.forEach((s, i) => out.push([`clean.rinse[${i}].mbar`, s.mbar]));
  }
  return out;
}

/** Every speed the preset can command, with its field path. */
export function commandedSpeeds(p: AutopatchPreset): Array<[string, number]> {
  return [
    ['descent.speed_bath_um_per_s', p.descent.speed_bath_um_per_s],
    ['descent.speed_tissue_um_per_s', p.descent.speed_tissue_um_per_s],
    ['hunt.speed_um_per_s', p.hunt.speed_um_per_s],
    ['retract.speed_bath_um_per_s', p.retract.speed_bath_um_per_s],
    ['retract.speed_tissue_um_per_s', p.retract.speed_tissue_um_per_s],
  ];
}

export function rigProblems(preset: AutopatchPreset, rig: RigLimits): ProtocolProblem[] {
  const problems: ProtocolProblem[] = [];
  const { min, max } = rig.pressure;
  for (const [path, mbar] of commandedPressures(preset)) {
    if (mbar < min || mbar > max) {
      problems.push({ path, message: `${fieldIs(path, mbar)} is outside the rig's pressure limits: must be between ${min} and ${max} mbar` });
    }
  }
  for (const [path, speed] of commandedSpeeds(preset)) {
    if (speed > rig.maxSpeed_um_per_s) {
      problems.push({ path, message: `${fieldIs(path, speed)} exceeds the manipulator's maximum speed: must be ≤ ${rig.maxSpeed_um_per_s} µm/s` });
    }
  }
  return problems;
}

/** Throws a ProtocolError naming every field the rig cannot honour. */
export function checkPresetAgainstRig(preset: AutopatchPreset, rig: RigLimits, source = `preset "${preset.name}"`): void {
  const problems = rigProblems(preset, rig);
  if (problems.length > 0) throw new ProtocolError(source, problems);
}
