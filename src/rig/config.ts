/**
 * A rig description: which device on which port drives which pipette, how each
 * manipulator is mounted (calibration), the safety limits, and where the
 * cleaning wells are. The same shape describes the built-in simulated rig and
 * a real one (a JSON file), so the control code cannot tell them apart.
 */
import type { ManipulatorLimits, PressureLimits } from '../../drivers/types.ts';
import type { AmpBridgeLimits } from '../../drivers/amplifiers/amp-bridge/limits.ts';
import type { Mount, Vec3 } from '../geometry.ts';
import type { Region } from '../sim/types.ts';

export type ManipulatorSpec =
  | { driver: 'sutter-mp285'; path: string; baudRate?: number }
  | { driver: 'sutter-mpc325'; path: string; drive: number; baudRate?: number }
  | { driver: 'scientifica'; path: string; baudRate?: number; version?: 2 | 3 }
  | { driver: 'luigs-neumann-sm10'; path: string; manipulator: 1 | 2; model?: 'SM-10' | 'SM-5' };

export type ManipulatorDriverName = ManipulatorSpec['driver'];

export interface PressureBoxSpec {
  id: string;
  path: string;
  channels: number;
  limits: PressureLimits;
}

export interface AmplifierSpec {
  id: string;
  path: string;
  channels: number;
  /** the amplifier's electrical envelope where it differs from the MultiClamp-class default */
  limits?: Partial<AmpBridgeLimits>;
}

export interface PipetteSpec {
  id: string;
  manipulator: ManipulatorSpec;
  limits: ManipulatorLimits;
  mount: Mount;
  pressure: { box: string; channel: number };
  amplifier: { bridge: string; channel: number };
  /** entry point of the pipette's working region at the surface (blind) or its centre (targeted), world µm */
  region: Vec3;
  /** waiting position on the standoff plane, world µm */
  home: Vec3;
  shaftLengthUm: number;
  /** names of this pipette's cleaning wells (in `wells`), or null if it has none */
  wells: { detergent: string; rinse: string } | null;
}

export interface RigConfig {
  name: string;
  /** z of the plane for lateral moves above the prep, world µm (negative = above the surface) */
  standoffZ: number;
  /** z of the plane for long lateral trips (to wells), world µm */
  travelZ: number;
  /** wait between writing a pressure setpoint and opening the valve, ms */
  valveSettleMs: number;
  /** speed for long trips on the travel plane, far from tissue (to the wells), µm/s */
  travelSpeed: number;
  pressureBoxes: PressureBoxSpec[];
  amplifiers: AmplifierSpec[];
  pipettes: PipetteSpec[];
  wells: Region[];
}

/** Hardware limits a preset must fit: the tightest over all pipettes. */
export function rigLimits(config: RigConfig): { pressure: PressureLimits; maxSpeed_um_per_s: number } {
  const boxes = config.pressureBoxes;
  return {
    pressure: {
      min: Math.max(...boxes.map((b) => b.limits.min)),
      max: Math.min(...boxes.map((b) => b.limits.max)),
    },
    maxSpeed_um_per_s: Math.min(...config.pipettes.map((p) => p.limits.maxSpeed)),
  };
}
