/**
 * Opens every device a rig description names, through one serialport binding
 * (the OS binding on a rig, the emulator binding in simulation), and hands
 * each pipette its manipulator and its channel of the shared pressure box and
 * amplifier bridge. Controllers hosting several drives are opened once, and
 * each drive handed out must answer a position read (as every single-device
 * open checks its device), so a missing drive fails at open.
 */
import type { BindingInterface } from '@serialport/bindings-interface';
import type { Clock } from '../clock/clock.ts';
import type { DeviceConnection, Manipulator, PipetteHardware } from '../../drivers/types.ts';
import { openMp285 } from '../../drivers/manipulators/sutter-mp285/driver.ts';
import { openMpc325Controller, type Mpc325Controller } from '../../drivers/manipulators/sutter-mpc325/driver.ts';
import { openScientifica } from '../../drivers/manipulators/scientifica/driver.ts';
import { openSm10Controller, type Sm10Controller } from '../../drivers/manipulators/luigs-neumann-sm10/driver.ts';
import { openPressureBox, type PressureBox } from '../../drivers/pressure/autopatch-pbox/driver.ts';
import { openAmpBridge, type AmpBridge } from '../../drivers/amplifiers/amp-bridge/driver.ts';
import { DEFAULT_AMP_LIMITS } from '../../drivers/amplifiers/amp-bridge/limits.ts';
import type { RigSetup } from '../control/supervisor.ts';
import type { RigConfig } from './config.ts';
import { describeHardware } from './hardware-info.ts';

export interface OpenRig {
  setup: RigSetup;
  hardware: PipetteHardware[];
  /** what each opened port's device identified itself as, by path */
  models: ReadonlyMap<string, string>;
  close(): Promise<void>;
}

export async function openRig(config: RigConfig, binding: BindingInterface, clock: Clock): Promise<OpenRig> {
  const connections: DeviceConnection[] = [];
  const closers: Array<() => Promise<void>> = [];
  const boxes = new Map<string, PressureBox>();
  const bridges = new Map<string, AmpBridge>();
  const mpcs = new Map<string, Mpc325Controller>();
  const sm10s = new Map<string, Sm10Controller>();
  const models = new Map<string, string>();

  try {
    for (const spec of config.pressureBoxes) {
      const box = await openPressureBox({ path: spec.path, binding, clock, limits: spec.limits, expectedChannels: spec.channels });
      boxes.set(spec.id, box);
      models.set(spec.path, box.model);
      connections.push(box.connection);
      closers.push(() => box.connection.close());
    }
    for (const spec of config.amplifiers) {
      const bridge = await openAmpBridge({ path: spec.path, binding, clock, limits: spec.limits });
      bridges.set(spec.id, bridge);
      models.set(spec.path, bridge.model);
      connections.push(bridge.connection);
      closers.push(() => bridge.connection.close());
    }

    const hardware: PipetteHardware[] = [];
    for (const p of config.pipettes) {
      const m = p.manipulator;
      let manipulator: Manipulator;
      switch (m.driver) {
        case 'sutter-mp285':
          manipulator = await openMp285({ path: m.path, binding, clock, limits: p.limits, baudRate: m.baudRate });
          connections.push(manipulator.connection);
          closers.push(() => manipulator.connection.close());
          break;
        case 'sutter-mpc325': {
          let ctl = mpcs.get(m.path);
          if (!ctl) {
            ctl = await openMpc325Controller({ path: m.path, binding, clock, baudRate: m.baudRate });
            mpcs.set(m.path, ctl);
            connections.push(ctl.connection);
            const c = ctl;
            closers.push(() => c.close());
          }
          manipulator = ctl.drive(m.drive, p.limits);
          // As openMpc325 does: a drive that is not connected fails here, not on its first move.
          await manipulator.position();
          break;
        }
        case 'scientifica':
          manipulator = await openScientifica({ path: m.path, binding, clock, limits: p.limits, baudRate: m.baudRate, version: m.version });
          connections.push(manipulator.connection);
          closers.push(() => manipulator.connection.close());
          break;
        case 'luigs-neumann-sm10': {
          let ctl = sm10s.get(m.path);
          if (!ctl) {
            ctl = await openSm10Controller({ path: m.path, binding, clock, model: m.model });
            sm10s.set(m.path, ctl);
            connections.push(ctl.connection);
            const c = ctl;
            closers.push(() => c.close());
          }
          manipulator = ctl.manipulator(m.manipulator, p.limits);
          await manipulator.position();
          break;
        }
      }
      if (!models.has(m.path)) models.set(m.path, manipulator.model);
      const box = boxes.get(p.pressure.box);
      const bridge = bridges.get(p.amplifier.bridge);
      if (!box) throw new Error(`pipette ${p.id}: no pressure box "${p.pressure.box}" in the rig description`);
      if (!bridge) throw new Error(`pipette ${p.id}: no amplifier bridge "${p.amplifier.bridge}" in the rig description`);
      const pressure = box.channels[p.pressure.channel];
      const amplifier = bridge.channels[p.amplifier.channel];
      if (!pressure) throw new Error(`pipette ${p.id}: pressure box ${p.pressure.box} has no channel ${p.pressure.channel}`);
      if (!amplifier) throw new Error(`pipette ${p.id}: amplifier ${p.amplifier.bridge} has no channel ${p.amplifier.channel}`);
      hardware.push({ pipetteId: p.id, manipulator, pressure, amplifier });
    }

    const wellByName = new Map(config.wells.map((w) => [w.name, w]));
    const setup: RigSetup = {
      name: config.name,
      standoffZ: config.standoffZ,
      travelZ: config.travelZ,
      valveSettleMs: config.valveSettleMs,
      travelSpeed: config.travelSpeed,
      connections,
      devices: describeHardware(config),
      pipettes: config.pipettes.map((p, i) => {
        const wells = p.wells ? { detergent: wellByName.get(p.wells.detergent), rinse: wellByName.get(p.wells.rinse) } : null;
        if (wells && (!wells.detergent || !wells.rinse)) throw new Error(`pipette ${p.id}: unknown cleaning well in the rig description`);
        return {
          id: p.id,
          hw: hardware[i],
          mount: p.mount,
          region: p.region,
          home: p.home,
          shaftLengthUm: p.shaftLengthUm,
          maxCommand_mV: ({ ...DEFAULT_AMP_LIMITS, ...config.amplifiers.find((a) => a.id === p.amplifier.bridge)?.limits }).maxVoltageV * 1000,
          wells: wells ? { detergent: wells.detergent!, rinse: wells.rinse! } : null,
        };
      }),
    };
    return {
      setup,
      hardware,
      models,
      async close() {
        for (const c of closers.reverse()) await c().catch(() => {});
      },
    };
  } catch (e) {
    for (const c of closers.reverse()) await c().catch(() => {});
    throw e;
  }
}
