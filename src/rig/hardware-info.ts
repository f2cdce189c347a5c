/** What a rig description says each pipette's devices are, for the session record. */
import type { PipetteHardwareInfo } from '../control/events.ts';
import type { ManipulatorSpec, RigConfig } from './config.ts';

/** the drive of a controller that hosts several (MPC-325 drive, SM-10 manipulator), null for single-drive devices */
function unitOf(m: ManipulatorSpec): number | null {
  switch (m.driver) {
    case 'sutter-mpc325':
      return m.drive;
    case 'luigs-neumann-sm10':
      return m.manipulator;
    default:
      return null;
  }
}

export function describeHardware(config: RigConfig): PipetteHardwareInfo[] {
  const boxes = new Map(config.pressureBoxes.map((b) => [b.id, b]));
  const bridges = new Map(config.amplifiers.map((a) => [a.id, a]));
  return config.pipettes.map((p) => ({
    pipetteId: p.id,
    manipulator: { driver: p.manipulator.driver, path: p.manipulator.path, unit: unitOf(p.manipulator) },
    // one pressure-box and one amplifier driver exist (drivers/pressure/autopatch-pbox, drivers/amplifiers/amp-bridge)
    pressure: { driver: 'autopatch-pbox', path: boxes.get(p.pressure.box)?.path ?? `unknown box ${p.pressure.box}`, channel: p.pressure.channel },
    amplifier: { driver: 'amp-bridge', path: bridges.get(p.amplifier.bridge)?.path ?? `unknown bridge ${p.amplifier.bridge}`, channel: p.amplifier.channel },
  }));
}
