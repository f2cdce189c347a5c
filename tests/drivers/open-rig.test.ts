/**
 * openRig checks that every manipulator it hands out answers, also for drives
 * of multi-drive controllers (as openMpc325 / openSm10 do for one), and leaves
 * no port open when it fails.
 */
import { describe, expect, it } from 'vitest';
import { createVirtualClock } from '../../src/clock/index.ts';
import { createSimulatedRig } from '../../src/rig/simulated-rig.ts';
import { openRig } from '../../src/rig/open-rig.ts';
import type { ManipulatorDriverName, ManipulatorSpec, RigConfig } from '../../src/rig/config.ts';
import { DeviceError } from '../../drivers/errors.ts';

function rigWith(driver: ManipulatorDriverName, respec: (spec: ManipulatorSpec) => ManipulatorSpec) {
  const clock = createVirtualClock();
  const sim = createSimulatedRig({ clock, seed: 3, preparation: 'slice', pipettes: 1, manipulators: [driver] });
  const config: RigConfig = { ...sim.config, pipettes: sim.config.pipettes.map((p) => ({ ...p, manipulator: respec(p.manipulator) })) };
  return { clock, sim, config };
}

async function openFails(driver: ManipulatorDriverName, respec: (spec: ManipulatorSpec) => ManipulatorSpec): Promise<DeviceError> {
  const { clock, sim, config } = rigWith(driver, respec);
  let caught: unknown;
  try {
    await clock.runUntilSettled(openRig(config, sim.binding, clock), 60_000);
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(DeviceError);
  // everything opened before the failure was closed again
  for (const path of sim.paths()) expect(() => sim.binding.injectToHost(path, Buffer.of(0))).toThrow(/not open/);
  return caught as DeviceError;
}

describe('openRig', () => {
  it('fails at open when an MPC-325 drive the rig names is not connected', async () => {
    const err = await openFails('sutter-mpc325', (s) => (s.driver === 'sutter-mpc325' ? { ...s, drive: 2 } : s));
    expect(err.kind).toBe('device');
    expect(err.device).toMatch(/MPC-325 @ sim:sutter-mpc325-p1/);
    expect(err.message).toMatch(/drive/);
  });

  it('fails at open when an SM-10 manipulator the rig names is not connected', async () => {
    const err = await openFails('luigs-neumann-sm10', (s) => (s.driver === 'luigs-neumann-sm10' ? { ...s, manipulator: 2 } : s));
    expect(err.kind).toBe('device');
    expect(err.message).toMatch(/no such axis/);
  });

  it('opens drives that answer, having read each one', async () => {
    for (const driver of ['sutter-mpc325', 'luigs-neumann-sm10'] as const) {
      const { clock, sim, config } = rigWith(driver, (s) => s);
      const rig = await clock.runUntilSettled(openRig(config, sim.binding, clock), 60_000);
      const m = sim.manipulators.get('p1')!;
      const sent = sim.binding.byteLog(m.path).concat('in');
      // MPC-325 'C' (0x43) position request; SM-10 0101 position frames (0x16 0x01 0x01)
      const reads = driver === 'sutter-mpc325' ? [...sent].filter((b) => b === 0x43).length : sent.toString('hex').split('160101').length - 1;
      expect(reads).toBeGreaterThanOrEqual(1);
      await rig.close();
    }
  });
});
