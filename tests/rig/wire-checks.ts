/**
 * Checks on what the emulated devices actually received (decoded from the
 * bytes on their ports), not on what the controller meant to send.
 */
import type { SimulatedRig } from '../../src/rig/simulated-rig.ts';

export interface LimitViolation {
  device: string;
  what: string;
}

/** Every move target inside its pipette's soft limits, every speed within the limit; every pressure inside the box's limits. */
export function limitViolations(sim: SimulatedRig): { violations: LimitViolation[]; moves: number; pressureCommands: number } {
  const violations: LimitViolation[] = [];
  let moves = 0;
  let pressureCommands = 0;
  for (const spec of sim.config.pipettes) {
    const m = sim.manipulators.get(spec.id)!;
    // A landed position may differ from the commanded one by the device's step (≤ 0.1 µm here).
    const tol = 0.1;
    for (const mv of m.emulator.moves) {
      if (m.unit !== undefined && mv.unit !== undefined && mv.unit !== m.unit) continue;
      moves++;
      for (let k = 0; k < 3; k++) {
        if (mv.target[k] < spec.limits.min[k] - tol || mv.target[k] > spec.limits.max[k] + tol) {
          violations.push({ device: m.path, what: `t=${mv.t.toFixed(0)} ms axis ${k} target ${mv.target[k].toFixed(2)} outside [${spec.limits.min[k]}, ${spec.limits.max[k]}]` });
        }
      }
      if (mv.speed > spec.limits.maxSpeed + 1e-9) violations.push({ device: m.path, what: `t=${mv.t.toFixed(0)} ms speed ${mv.speed} > ${spec.limits.maxSpeed}` });
    }
  }
  for (const box of sim.config.pressureBoxes) {
    const emu = sim.pressureBoxes.get(box.id)!.emulator;
    for (const c of emu.commands) {
      if (c.mbar === undefined) continue;
      pressureCommands++;
      if (c.mbar < box.limits.min || c.mbar > box.limits.max) violations.push({ device: box.path, what: `t=${c.t.toFixed(0)} ms ${c.kind} ${c.mbar} mbar outside [${box.limits.min}, ${box.limits.max}]` });
    }
  }
  return { violations, moves, pressureCommands };
}
