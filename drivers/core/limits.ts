/**
 * Limit checks every driver runs before a single byte leaves for the device.
 * The control layer checks too; drivers check again because a driver can be
 * used on its own (conformance kit, manual tools) and must be safe there.
 */
import { DeviceError } from '../errors.ts';
import type { ManipulatorLimits, PressureLimits, Vec3 } from '../types.ts';

const AXES = ['x', 'y', 'z'] as const;

export function checkMoveTarget(device: string, command: string, target: Vec3, speed: number, limits: ManipulatorLimits): void {
  for (let i = 0; i < 3; i++) {
    if (!Number.isFinite(target[i])) throw new DeviceError('invalid', device, command, `${AXES[i]} target is not a finite number (${target[i]})`);
  }
  if (!Number.isFinite(speed) || speed <= 0) throw new DeviceError('invalid', device, command, `speed must be a positive number of µm/s (got ${speed})`);
  for (let i = 0; i < 3; i++) {
    if (target[i] < limits.min[i] || target[i] > limits.max[i]) {
      throw new DeviceError(
        'limit',
        device,
        command,
        `${AXES[i]} = ${target[i].toFixed(2)} µm is outside the soft limits [${limits.min[i]}, ${limits.max[i]}] µm`,
      );
    }
  }
  if (speed > limits.maxSpeed) {
    throw new DeviceError('limit', device, command, `speed ${speed} µm/s exceeds the limit of ${limits.maxSpeed} µm/s`);
  }
}

/** The part of checkMoveTarget a relative move can check before it knows where it starts. */
export function checkMoveDelta(device: string, command: string, delta: Vec3, speed: number, limits: ManipulatorLimits): void {
  const unbounded = { min: [-Infinity, -Infinity, -Infinity] as const, max: [Infinity, Infinity, Infinity] as const, maxSpeed: limits.maxSpeed };
  checkMoveTarget(device, command, delta, speed, unbounded);
}

export function checkPressure(device: string, command: string, mbar: number, limits: PressureLimits): void {
  if (!Number.isFinite(mbar)) throw new DeviceError('invalid', device, command, `pressure is not a finite number (${mbar})`);
  if (mbar < limits.min || mbar > limits.max) {
    throw new DeviceError('limit', device, command, `${mbar} mbar is outside the pressure limits [${limits.min}, ${limits.max}] mbar`);
  }
}

export function distance(a: Vec3, b: Vec3): number {
  return Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]);
}
