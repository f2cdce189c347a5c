/**
 * Path planning in world coordinates (µm, z down, surface at z = 0). Pure
 * functions returning waypoints; executing them (limit checks, gates,
 * collision reservations) is pipette-ops' job.
 *
 * Rules (autopatching.md, "Paths"): inside tissue or a well, move only along
 * the pipette axis; lateral moves happen above the surface; moving in is
 * lateral then axial, moving out the reverse; anything below the surface is
 * slow.
 */
import { add, dot, pipetteAxis, scale, sub, type Mount, type Vec3 } from '../geometry.ts';

export interface Waypoint {
  to: Vec3;
  /** µm/s */
  speed: number;
  /** why this leg exists, for logs and errors */
  label: string;
}

export interface PipetteGeometry {
  mount: Mount;
  /** unit vector towards the tip */
  axis: Vec3;
  /** z of the plane above the prep where lateral moves happen (negative: above the surface), µm */
  standoffZ: number;
  /** z of the plane for long lateral trips (to the wells), µm */
  travelZ: number;
}

export function geometryFor(mount: Mount, standoffZ: number, travelZ: number): PipetteGeometry {
  return { mount, axis: pipetteAxis(mount), standoffZ, travelZ };
}

/** The point on the axis line through `p` at height z. */
export function alongAxisToZ(p: Vec3, axis: Vec3, z: number): Vec3 {
  if (Math.abs(axis[2]) < 1e-6) throw new Error('pipette axis is horizontal: cannot reach another depth along it');
  return add(p, scale(axis, (z - p[2]) / axis[2]));
}

/** `d` µm further along the axis (negative = back out). */
export function alongAxis(p: Vec3, axis: Vec3, d: number): Vec3 {
  return add(p, scale(axis, d));
}

/** Signed distance of `p` past `target` along the axis. */
export function pastTarget(p: Vec3, target: Vec3, axis: Vec3): number {
  return dot(sub(p, target), axis);
}

export interface Speeds {
  bath: number;
  tissue: number;
  /** long lateral trips on the travel plane, far from tissue (a rig capability); defaults to bath */
  travel?: number;
}

/**
 * Get out of tissue (or a well) along the axis to the standoff plane, slow
 * while below the surface, then fast. Nothing if already above.
 */
export function retractLegs(from: Vec3, g: PipetteGeometry, speeds: Speeds, toZ = g.standoffZ): Waypoint[] {
  const legs: Waypoint[] = [];
  if (from[2] <= toZ + 1e-6) return legs;
  if (from[2] > 0) {
    legs.push({ to: alongAxisToZ(from, g.axis, 0), speed: speeds.tissue, label: 'retract to the surface along the axis' });
    legs.push({ to: alongAxisToZ(from, g.axis, toZ), speed: speeds.bath, label: 'retract above the surface' });
  } else {
    legs.push({ to: alongAxisToZ(from, g.axis, toZ), speed: speeds.bath, label: 'retract along the axis' });
  }
  return legs;
}

/**
 * From wherever the tip is to `start` (a point on the standoff plane): out
 * along the axis first, then lateral on the standoff plane.
 */
export function goToStart(from: Vec3, start: Vec3, g: PipetteGeometry, speeds: Speeds): Waypoint[] {
  const legs = retractLegs(from, g, speeds);
  const here = legs.length ? legs[legs.length - 1].to : from;
  if (Math.abs(here[2] - g.standoffZ) > 1) legs.push({ to: [here[0], here[1], g.standoffZ], speed: speeds.bath, label: 'to the standoff plane' });
  legs.push({ to: start, speed: speeds.bath, label: 'lateral to the start point' });
  return legs;
}

/** Start point for reaching `target` along the axis: on the axis line through it, at the standoff plane. */
export function startPointFor(target: Vec3, g: PipetteGeometry): Vec3 {
  return alongAxisToZ(target, g.axis, g.standoffZ);
}

/** Axial descent from the start point to `end` (below the surface), fast in the bath, slow in tissue. */
export function descentLegs(from: Vec3, end: Vec3, g: PipetteGeometry, speeds: Speeds): Waypoint[] {
  const legs: Waypoint[] = [];
  if (from[2] < 0 && end[2] > 0) legs.push({ to: alongAxisToZ(from, g.axis, 0), speed: speeds.bath, label: 'descend to the surface' });
  legs.push({ to: end, speed: end[2] > 0 ? speeds.tissue : speeds.bath, label: 'descend to the region' });
  return legs;
}

/**
 * To a point inside a well: rise to the travel plane, lateral above it, down
 * along the axis. Wells are liquid far from the tissue: every leg runs at the
 * travel speed.
 */
export function wellLegs(from: Vec3, inside: Vec3, g: PipetteGeometry, speeds: Speeds): Waypoint[] {
  const legs = retractLegs(from, g, speeds, Math.max(g.travelZ, Math.min(from[2], g.standoffZ)));
  const here = legs.length ? legs[legs.length - 1].to : from;
  const entry = alongAxisToZ(inside, g.axis, g.travelZ);
  const fast = speeds.travel ?? speeds.bath;
  legs.push({ to: [here[0], here[1], g.travelZ], speed: fast, label: 'rise to the travel plane' });
  legs.push({ to: entry, speed: fast, label: 'lateral above the well' });
  legs.push({ to: inside, speed: fast, label: 'into the well along the axis' });
  return legs;
}

/** Out of a well (along the axis) to the travel plane, then back above the prep to `start`. */
export function leaveWellLegs(from: Vec3, start: Vec3, g: PipetteGeometry, speeds: Speeds): Waypoint[] {
  const legs: Waypoint[] = [];
  const fast = speeds.travel ?? speeds.bath;
  if (from[2] > g.travelZ + 1e-6) legs.push({ to: alongAxisToZ(from, g.axis, g.travelZ), speed: fast, label: 'out of the well along the axis' });
  legs.push({ to: [start[0], start[1], g.travelZ], speed: fast, label: 'lateral back above the prep' });
  legs.push({ to: start, speed: speeds.bath, label: 'down to the start point' });
  return legs;
}
