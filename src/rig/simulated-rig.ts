/**
 * The built-in simulated rig: a physics world, one emulator per device
 * attached to an emulator binding, and the rig description a real rig would
 * have. Drivers open `sim:…` paths through that binding exactly as they open
 * `/dev/ttyUSB0` on a rig.
 *
 * Default layout for N pipettes: they stand around the prep at equal
 * azimuths, pointing inwards at 40° below horizontal; their working regions
 * are far enough apart that shafts keep their clearance; each has its own
 * detergent and rinse wells outside the prep on its side, so no pipette ever
 * crosses another to clean. Manipulator kinds cycle through every driver
 * (MP-285, MPC-325, PatchStar, SM-10), pressure boxes serve 4 pipettes each,
 * amplifier bridges 2 each (like a MultiClamp 700B). The physics' tip is
 * where the stage is, through the mount, plus the world's seeded manipulator
 * position error (src/sim/stage-error.ts).
 */
import type { Clock } from '../clock/clock.ts';
import { createEmulatorBinding, type EmulatorBinding } from '../../drivers/core/emulator-binding.ts';
import type { ByteLog } from '../../drivers/core/byte-log.ts';
import type { ManipulatorLimits } from '../../drivers/types.ts';
import type { ManipulatorEmulator } from '../../drivers/manipulators/emulator-common.ts';
import { createMp285Emulator } from '../../drivers/manipulators/sutter-mp285/emulator.ts';
import { BAUD as MP285_BAUD } from '../../drivers/manipulators/sutter-mp285/protocol.ts';
import { createMpc325Emulator } from '../../drivers/manipulators/sutter-mpc325/emulator.ts';
import { BAUD as MPC325_BAUD } from '../../drivers/manipulators/sutter-mpc325/protocol.ts';
import { createScientificaEmulator } from '../../drivers/manipulators/scientifica/emulator.ts';
import { BAUD as SCIENTIFICA_BAUD } from '../../drivers/manipulators/scientifica/protocol.ts';
import { createSm10Emulator } from '../../drivers/manipulators/luigs-neumann-sm10/emulator.ts';
import { createPressureBoxEmulator, type PressureBoxEmulator } from '../../drivers/pressure/autopatch-pbox/emulator.ts';
import { BAUD as PBOX_BAUD } from '../../drivers/pressure/autopatch-pbox/protocol.ts';
import { createAmpBridgeEmulator, type AmpBridgeEmulator } from '../../drivers/amplifiers/amp-bridge/emulator.ts';
import { AMP_BRIDGE_BAUD } from '../../drivers/amplifiers/amp-bridge/protocol.ts';
import { alongAxisToZ } from '../control/paths.ts';
import { add, pipetteAxis, toManipulator, toWorld, type Mount, type Vec3 } from '../geometry.ts';
import { createSimWorld } from '../sim/index.ts';
import type { Preparation, Region, SimWorld } from '../sim/types.ts';
import type { AutopatchPreset } from '../protocol/types.ts';
import type { ManipulatorDriverName, ManipulatorSpec, PipetteSpec, RigConfig } from './config.ts';

export interface SimulatedRigOptions {
  clock: Clock;
  seed: number;
  preparation: Preparation;
  pipettes?: number;
  /** manipulator kinds to cycle through (default: all four drivers) */
  manipulators?: ManipulatorDriverName[];
  /** depth of the blind working region, µm (the tips sit this deep at the region centre) */
  regionDepthUm?: number;
  /** extra physics settings (tests) */
  worldOverrides?: Parameters<typeof createSimWorld>[0]['overrides'];
  /**
   * every pipette cleans in the first pipette's two wells (tests of coordination):
   * the others cross the prep, and the other shafts, to reach them, and queue for them
   */
  sharedWells?: boolean;
  /**
   * Keep a SHA-256 digest of every port's bytes (byteLog(path).digest()), for
   * tests that prove a seed replays byte for byte. Off by default: hashing the
   * amplifiers' sample stream is about a tenth of a virtual run's cost.
   */
  byteDigest?: boolean;
}

export interface SimulatedRig {
  config: RigConfig;
  binding: EmulatorBinding;
  world: SimWorld;
  manipulators: Map<string, { emulator: ManipulatorEmulator; unit?: number; path: string; baudRate: number }>;
  pressureBoxes: Map<string, { emulator: PressureBoxEmulator; path: string; baudRate: number }>;
  amplifiers: Map<string, { emulator: AmpBridgeEmulator; path: string; baudRate: number }>;
  /** every emulated port path, for byte-log checks */
  paths(): string[];
  /** the bytes that crossed a port, both directions */
  byteLog(path: string): ByteLog;
}

const ALL_DRIVERS: ManipulatorDriverName[] = ['sutter-mp285', 'sutter-mpc325', 'scientifica', 'luigs-neumann-sm10'];
const MANIP_MID: Vec3 = [12_500, 12_500, 12_500];
const ELEVATION_DEG = 40;
const STANDOFF_Z = -300;
const TRAVEL_Z = -1500;
const SHAFT_UM = 3000;
const WELL_RADIUS = 800;
const WELL_DEPTH = 2000;
const WELL_FLOOR_Z = 1000;
const LIMIT_MARGIN = 300;
const MAX_SPEED = 1000;

/** Place N pipettes and their wells; pure geometry. */
export function simulatedLayout(n: number, preparation: Preparation, regionDepthUm: number) {
  const workRadius = Math.max(180, 125 / Math.sin(Math.PI / Math.max(n, 2)));
  const wellRadius = Math.max(5500, (1800 * n) / Math.PI);
  return Array.from({ length: n }, (_, i) => {
    const base = (2 * Math.PI * i) / n + Math.PI / 4;
    const azimuthDeg = ((base * 180) / Math.PI + 180) % 360;
    const axisSign: Vec3 = [1, i % 2 === 0 ? 1 : -1, i % 3 === 2 ? -1 : 1];
    const mountNoOrigin: Mount = { origin: [0, 0, 0], axisSign, elevationDeg: ELEVATION_DEG, azimuthDeg };
    const axis = pipetteAxis(mountNoOrigin);
    const workDepth = preparation === 'in-vivo' ? regionDepthUm + 100 : preparation === 'slice' ? 50 : 5;
    const tipAtWork: Vec3 = [workRadius * Math.cos(base), workRadius * Math.sin(base), workDepth];
    // Blind: entry point at the surface on the axis line through the working point; targeted: the working area itself.
    const region: Vec3 = preparation === 'in-vivo' ? alongAxisToZ(tipAtWork, axis, 0) : [tipAtWork[0], tipAtWork[1], 0];
    const home = alongAxisToZ(preparation === 'in-vivo' ? region : tipAtWork, axis, STANDOFF_Z);
    const origin: Vec3 = [home[0] - axisSign[0] * MANIP_MID[0], home[1] - axisSign[1] * MANIP_MID[1], home[2] - axisSign[2] * MANIP_MID[2]];
    const mount: Mount = { ...mountNoOrigin, origin };
    const wellAt = (delta: number): Vec3 => [wellRadius * Math.cos(base + delta), wellRadius * Math.sin(base + delta), WELL_FLOOR_Z];
    // A pipette's two wells sit either side of its own direction, close enough not to
    // cross the prep and far enough apart (≥ 2 radii + margin) not to overlap.
    const spread = Math.min(Math.PI / (2 * n), 0.2);
    const wells: Region[] = [
      { name: `detergent-${i + 1}`, kind: 'detergent', center: wellAt(-spread), radiusUm: WELL_RADIUS, depthUm: WELL_DEPTH },
      { name: `rinse-${i + 1}`, kind: 'rinse', center: wellAt(spread), radiusUm: WELL_RADIUS, depthUm: WELL_DEPTH },
    ];
    return { mount, axis, region, home, wells, workDepth };
  });
}

/** Soft limits: the box (manipulator axes) around everything the pipette must reach, plus a margin. */
function limitsFor(mount: Mount, points: Vec3[]): ManipulatorLimits {
  const m = points.map((p) => toManipulator(mount, p));
  const min = [0, 1, 2].map((k) => Math.max(0, Math.min(...m.map((p) => p[k])) - LIMIT_MARGIN)) as unknown as Vec3;
  const max = [0, 1, 2].map((k) => Math.min(25_000, Math.max(...m.map((p) => p[k])) + LIMIT_MARGIN)) as unknown as Vec3;
  return { min, max, maxSpeed: MAX_SPEED };
}

/** The simulated rig a preset runs on: its preparation is the tissue, its descent the working depth. */
export function createSimulatedRigFor(
  preset: Pick<AutopatchPreset, 'preparation' | 'descent'>,
  options: Omit<SimulatedRigOptions, 'preparation' | 'regionDepthUm'>,
): SimulatedRig {
  return createSimulatedRig({ ...options, preparation: preset.preparation, regionDepthUm: preset.descent.region_depth_um });
}

export function createSimulatedRig(options: SimulatedRigOptions): SimulatedRig {
  const { clock } = options;
  const n = options.pipettes ?? 4;
  const regionDepth = options.regionDepthUm ?? 400;
  const kinds = options.manipulators ?? ALL_DRIVERS;
  const digest = options.byteDigest ?? false;
  const layout = simulatedLayout(n, options.preparation, regionDepth);
  if (options.sharedWells) for (const l of layout) l.wells = layout[0].wells;
  const ids = layout.map((_, i) => `p${i + 1}`);
  const wells = [...new Map(layout.flatMap((l) => l.wells).map((w) => [w.name, w])).values()];

  const world = createSimWorld({
    seed: options.seed,
    preparation: options.preparation,
    pipettes: layout.map((l, i) => ({ id: ids[i], axis: l.axis, shaftLengthUm: SHAFT_UM })),
    overrides: { ...options.worldOverrides, wells },
  });
  const binding = createEmulatorBinding(clock);
  const manipulators: SimulatedRig['manipulators'] = new Map();
  const pressureBoxes: SimulatedRig['pressureBoxes'] = new Map();
  const amplifiers: SimulatedRig['amplifiers'] = new Map();

  const pipettes: PipetteSpec[] = [];
  const boxSpecs: RigConfig['pressureBoxes'] = [];
  const ampSpecs: RigConfig['amplifiers'] = [];

  for (let b = 0; b < Math.ceil(n / 4); b++) {
    const id = `pbox-${b + 1}`;
    const path = `sim:${id}`;
    const channels = Math.min(4, n - b * 4);
    const emulator = createPressureBoxEmulator({ clock, channels, seed: options.seed * 31 + b + 1 });
    binding.attach(path, emulator, { baudRate: PBOX_BAUD, logKeep: 50_000, digest });
    pressureBoxes.set(id, { emulator, path, baudRate: PBOX_BAUD });
    boxSpecs.push({ id, path, channels, limits: { min: -600, max: 1000 } });
  }
  for (let a = 0; a < Math.ceil(n / 2); a++) {
    const id = `amp-${a + 1}`;
    const path = `sim:${id}`;
    const chIds = ids.slice(a * 2, a * 2 + 2);
    const emulator = createAmpBridgeEmulator({ clock, channels: chIds.map((pid) => world.pipette(pid)), baudRate: AMP_BRIDGE_BAUD });
    // Sample frames are big: only recent entries are kept (a digest, when asked for, covers them all).
    binding.attach(path, emulator, { baudRate: AMP_BRIDGE_BAUD, logKeep: 200, digest });
    amplifiers.set(id, { emulator, path, baudRate: AMP_BRIDGE_BAUD });
    ampSpecs.push({ id, path, channels: chIds.length });
  }

  layout.forEach((l, i) => {
    const id = ids[i];
    const kind = kinds[i % kinds.length];
    const path = `sim:${kind}-${id}`;
    const initial = MANIP_MID;
    let emulator: ManipulatorEmulator;
    let spec: ManipulatorSpec;
    let baudRate: number;
    let unit: number | undefined;
    switch (kind) {
      case 'sutter-mp285':
        emulator = createMp285Emulator({ clock, initial });
        spec = { driver: kind, path };
        baudRate = MP285_BAUD;
        break;
      case 'sutter-mpc325':
        emulator = createMpc325Emulator({ clock, initial, drives: [1] });
        spec = { driver: kind, path, drive: 1 };
        baudRate = MPC325_BAUD;
        unit = 1;
        break;
      case 'scientifica':
        emulator = createScientificaEmulator({ clock, initial, version: 3 });
        spec = { driver: kind, path, version: 3 };
        baudRate = SCIENTIFICA_BAUD;
        break;
      case 'luigs-neumann-sm10':
        emulator = createSm10Emulator({ clock, initial, manipulators: 1 });
        spec = { driver: kind, path, manipulator: 1 };
        baudRate = 115_200;
        unit = 1;
        break;
    }
    binding.attach(path, emulator, { baudRate, logKeep: 200_000, digest });
    manipulators.set(id, { emulator, unit, path, baudRate });

    // Physics: the tip follows the stage through the mount, off by the seeded position
    // error (calibration + backlash) that neither the emulator nor the controller knows;
    // the line pressure comes from the box.
    const sim = world.pipette(id);
    const motion = emulator.motion(unit);
    const error = sim.stageError;
    error.latch(motion.positionAt(clock.now()));
    sim.bindPosition((t) => add(toWorld(l.mount, error.carriage(motion.positionAt(t))), error.calibrationUm));
    motion.observers.push({
      beforeChange: (t) => {
        sim.advanceTo(t);
        error.latch(motion.positionAt(t));
      },
    });
    const box = pressureBoxes.get(`pbox-${Math.floor(i / 4) + 1}`)!.emulator;
    const ch = i % 4;
    sim.bindPressure((t) => box.pressureAt(ch, t));
    box.observers.push({ beforeChange: (t) => sim.advanceTo(t) });

    const deepest = alongAxisToZ(l.home, l.axis, Math.max(l.workDepth + 600, 1200));
    const wellPoints = l.wells.flatMap((w) => {
      const inside: Vec3 = [w.center[0], w.center[1], w.center[2] - w.depthUm / 2];
      const entry = alongAxisToZ(inside, l.axis, TRAVEL_Z);
      return [inside, entry, [l.home[0], l.home[1], TRAVEL_Z] as Vec3, [entry[0], entry[1], TRAVEL_Z] as Vec3];
    });
    pipettes.push({
      id,
      manipulator: spec,
      limits: limitsFor(l.mount, [l.home, deepest, ...wellPoints]),
      mount: l.mount,
      pressure: { box: `pbox-${Math.floor(i / 4) + 1}`, channel: ch },
      amplifier: { bridge: `amp-${Math.floor(i / 2) + 1}`, channel: i % 2 },
      region: l.region,
      home: l.home,
      shaftLengthUm: SHAFT_UM,
      wells: { detergent: l.wells[0].name, rinse: l.wells[1].name },
    });
  });

  const config: RigConfig = {
    name: `simulated ${options.preparation} rig (${n} pipettes, seed ${options.seed})`,
    standoffZ: STANDOFF_Z,
    travelZ: TRAVEL_Z,
    valveSettleMs: 300,
    travelSpeed: MAX_SPEED,
    pressureBoxes: boxSpecs,
    amplifiers: ampSpecs,
    pipettes,
    wells,
  };
  return { config, binding, world, manipulators, pressureBoxes, amplifiers, paths: () => binding.paths(), byteLog: (path) => binding.byteLog(path) };
}
