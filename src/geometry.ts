/**
 * Rig geometry shared by control (path planning, collision checks) and the
 * simulator (ground truth). World frame: µm, x/y horizontal, z pointing DOWN,
 * z = 0 at the tissue (or slice/dish) surface.
 *
 * Each pipette hangs on a manipulator whose axes are parallel to the world
 * axes up to a sign per axis; the pipette enters at an elevation angle below
 * horizontal and an azimuth around z.
 */
import type { Vec3 } from '../drivers/types.ts';

export type { Vec3 };

export interface Mount {
  /** world position of the tip when the manipulator reads (0, 0, 0) */
  origin: Vec3;
  /** +1 or −1 per manipulator axis (world = origin + sign ⊙ manipulator) */
  axisSign: Vec3;
  /** angle of the pipette below horizontal, degrees (90 = vertical) */
  elevationDeg: number;
  /** direction the tip points in the horizontal plane, degrees from +x towards +y */
  azimuthDeg: number;
}

export const add = (a: Vec3, b: Vec3): Vec3 => [a[0] + b[0], a[1] + b[1], a[2] + b[2]];
export const sub = (a: Vec3, b: Vec3): Vec3 => [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
export const scale = (a: Vec3, k: number): Vec3 => [a[0] * k, a[1] * k, a[2] * k];
export const dot = (a: Vec3, b: Vec3): number => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
/**
 * |(x, y, z)|. Math.hypot with arguments is a generic builtin call that boxes its
 * arguments (~50 ns and garbage per call); the simulator takes hundreds of
 * thousands of distances a virtual minute. Plain sum of squares: µm-scale values
 * are far from overflow, and the result is within an ulp or so of Math.hypot.
 */
export const hypot3 = (x: number, y: number, z: number): number => Math.sqrt(x * x + y * y + z * z);
export const norm = (a: Vec3): number => hypot3(a[0], a[1], a[2]);
export const distance = (a: Vec3, b: Vec3): number => norm(sub(a, b));

export function toWorld(mount: Mount, manip: Vec3): Vec3 {
  return [
    mount.origin[0] + mount.axisSign[0] * manip[0],
    mount.origin[1] + mount.axisSign[1] * manip[1],
    mount.origin[2] + mount.axisSign[2] * manip[2],
  ];
}

export function toManipulator(mount: Mount, world: Vec3): Vec3 {
  return [
    mount.axisSign[0] * (world[0] - mount.origin[0]),
    mount.axisSign[1] * (world[1] - mount.origin[1]),
    mount.axisSign[2] * (world[2] - mount.origin[2]),
  ];
}

/** Unit vector along the pipette towards its tip, world frame. */
export function pipetteAxis(mount: Mount): Vec3 {
  const el = (mount.elevationDeg * Math.PI) / 180;
  const az = (mount.azimuthDeg * Math.PI) / 180;
  return [Math.cos(el) * Math.cos(az), Math.cos(el) * Math.sin(az), Math.sin(el)];
}

/** Shortest distance between segments p0–p1 and q0–q1. */
export function segmentDistance(p0: Vec3, p1: Vec3, q0: Vec3, q1: Vec3): number {
  const d1 = sub(p1, p0);
  const d2 = sub(q1, q0);
  const r = sub(p0, q0);
  const a = dot(d1, d1);
  const e = dot(d2, d2);
  const f = dot(d2, r);
  let s: number;
  let t: number;
  if (a <= 1e-12 && e <= 1e-12) return norm(r);
  if (a <= 1e-12) {
    s = 0;
    t = clamp01(f / e);
  } else {
    const c = dot(d1, r);
    if (e <= 1e-12) {
      t = 0;
      s = clamp01(-c / a);
    } else {
      const b = dot(d1, d2);
      const denom = a * e - b * b;
      s = denom > 1e-12 ? clamp01((b * f - c * e) / denom) : 0;
      t = (b * s + f) / e;
      if (t < 0) {
        t = 0;
        s = clamp01(-c / a);
      } else if (t > 1) {
        t = 1;
        s = clamp01((b - c) / a);
      }
    }
  }
  return distance(add(p0, scale(d1, s)), add(q0, scale(d2, t)));
}

const clamp01 = (v: number): number => Math.min(1, Math.max(0, v));

/** The pipette's shaft as a segment from the tip back `length` µm along its axis. */
export function shaft(tip: Vec3, axis: Vec3, length: number): [Vec3, Vec3] {
  return [tip, sub(tip, scale(axis, length))];
}
