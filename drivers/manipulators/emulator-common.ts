/**
 * What every manipulator emulator exposes besides its wire protocol: the
 * mechanics (for the physics model) and the moves it decoded off the wire (so
 * tests assert on what the device actually received, not on what the
 * controller meant to send).
 */
import type { EmulatedDevice } from '../core/emulator-binding.ts';
import type { MotionModel } from '../core/motion-model.ts';
import type { Vec3 } from '../types.ts';

export interface DecodedMove {
  /** clock time the command was decoded, ms */
  t: number;
  /** absolute target in µm, in the manipulator's axes, as the device understood it */
  target: Vec3;
  /** µm/s the device was set to move at */
  speed: number;
  /** drive/axis group for multi-drive controllers (MPC-325 drive, SM-10 manipulator) */
  unit?: number;
}

export interface ManipulatorEmulator extends EmulatedDevice {
  /** the stage (one per drive for multi-drive controllers) */
  motion(unit?: number): MotionModel;
  /** every move command decoded, in order */
  readonly moves: readonly DecodedMove[];
  /** number of stop/interrupt commands received */
  readonly stops: number;
}
