/**
 * The simulated rig's emulators on real pseudo-terminals (socat, as
 * `autopatch emulate <device>` does), sharing one physics world on a real-time
 * clock (optionally sped up), plus the rig description that points at those
 * PTYs: `autopatch run --rig` in another process then drives the emulated rig
 * through real OS serial ports, the way it drives a real one.
 *
 * A targeted preparation also gets the cells a camera would show, for
 * `--targets`. Pipettes that break stay broken: there is no simulated
 * technician on this side of the serial line (on a real rig a human refits).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { BindingInterface } from '@serialport/bindings-interface';
import { createRealClock, createScaledClock, type Clock } from '../clock/index.ts';
import type { ObservedCell } from '../control/targets.ts';
import { createByteLog, type ByteLog } from '../../drivers/core/byte-log.ts';
import type { EmulatedDevice } from '../../drivers/core/emulator-binding.ts';
import { exposeOnPty, type PtyExposure } from '../../drivers/core/pty-bridge.ts';
import { loadPreset } from '../protocol/load.ts';
import type { RigConfig } from '../rig/config.ts';
import { createSimulatedRigFor, type SimulatedRig, type SimulatedRigOptions } from '../rig/simulated-rig.ts';

export interface EmulatedRigOptions {
  seed: number;
  pipettes: number;
  /** preset the rig is emulated for: its preparation decides the simulated tissue */
  preset: string;
  /** emulator clock speed relative to the wall */
  speed: number;
  /** folder for the PTY links */
  dir: string;
  /** the OS serial binding (the emulators own their PTY ends through it) */
  binding: BindingInterface;
  socat?: string;
  /** manipulator kinds to cycle through (default: all four drivers) */
  manipulators?: SimulatedRigOptions['manipulators'];
}

export interface EmulatedRig {
  clock: Clock;
  sim: SimulatedRig;
  /** the rig description with every device at its PTY */
  config: RigConfig;
  /** targeted preparations: the cells the camera shows (empty for in vivo) */
  cells: ObservedCell[];
  /** PTY paths (the ones in `config`) */
  paths(): string[];
  /** bytes each emulator received ('in') and sent ('out'), by PTY path */
  byteLog(path: string): ByteLog;
  close(): Promise<void>;
}

/** Byte-log entries kept per port (as the simulated rig keeps them): sample frames are big, only recent ones stay. */
const LOG_KEEP = { manipulator: 200_000, pressure: 50_000, amplifier: 200 };

export async function startEmulatedRig(options: EmulatedRigOptions): Promise<EmulatedRig> {
  const clock = options.speed === 1 ? createRealClock() : createScaledClock(options.speed);
  const preset = loadPreset(options.preset);
  const sim = createSimulatedRigFor(preset, { clock, seed: options.seed, pipettes: options.pipettes, manipulators: options.manipulators });
  const devices: Array<{ simPath: string; device: EmulatedDevice; baudRate: number; keep: number }> = [
    ...[...sim.pressureBoxes.values()].map((d) => ({ simPath: d.path, device: d.emulator, baudRate: d.baudRate, keep: LOG_KEEP.pressure })),
    ...[...sim.amplifiers.values()].map((d) => ({ simPath: d.path, device: d.emulator, baudRate: d.baudRate, keep: LOG_KEEP.amplifier })),
    ...[...sim.manipulators.values()].map((d) => ({ simPath: d.path, device: d.emulator, baudRate: d.baudRate, keep: LOG_KEEP.manipulator })),
  ];

  mkdirSync(options.dir, { recursive: true });
  const ptyPath = new Map<string, string>();
  const logs = new Map<string, ByteLog>();
  const exposures: PtyExposure[] = [];
  const closeAll = async (): Promise<void> => {
    for (const e of exposures.splice(0).reverse()) await e.close().catch(() => {});
  };
  try {
    for (const d of devices) {
      const link = join(options.dir, d.simPath.replace(/^sim:/, ''));
      const log = createByteLog(d.keep);
      exposures.push(await exposeOnPty({ device: d.device, clock, link, baudRate: d.baudRate, binding: options.binding, socat: options.socat, log }));
      ptyPath.set(d.simPath, link);
      logs.set(link, log);
    }
  } catch (e) {
    await closeAll();
    throw e;
  }

  const at = (path: string): string => ptyPath.get(path) ?? path;
  const config: RigConfig = {
    ...sim.config,
    name: sim.config.name.replace(/^simulated/, 'emulated'),
    pressureBoxes: sim.config.pressureBoxes.map((b) => ({ ...b, path: at(b.path) })),
    amplifiers: sim.config.amplifiers.map((a) => ({ ...a, path: at(a.path) })),
    pipettes: sim.config.pipettes.map((p) => ({ ...p, manipulator: { ...p.manipulator, path: at(p.manipulator.path) } })),
  };
  return {
    clock,
    sim,
    config,
    cells: preset.targeting === 'blind' ? [] : sim.world.observedCells().map((c) => ({ cellId: c.cellId, position: c.position })),
    paths: () => [...logs.keys()],
    byteLog(path) {
      const log = logs.get(path);
      if (!log) throw new Error(`no emulated device at ${path}`);
      return log;
    },
    close: closeAll,
  };
}
