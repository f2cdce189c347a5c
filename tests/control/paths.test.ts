/**
 * Path planning (paths.ts) against the rules of autopatching.md: inside tissue
 * or a well only along the pipette axis, lateral moves above the surface, in
 * lateral-then-axial and out the reverse, slow below the surface.
 */
import { describe, expect, it } from 'vitest';
import { alongAxis, alongAxisToZ, descentLegs, geometryFor, goToStart, leaveWellLegs, pastTarget, retractLegs, startPointFor, wellLegs, type Waypoint } from '../../src/control/paths.ts';
import { dot, norm, sub, type Mount, type Vec3 } from '../../src/geometry.ts';

const MOUNT: Mount = { origin: [0, 0, 0], axisSign: [1, 1, 1], elevationDeg: 40, azimuthDeg: 30 };
const g = geometryFor(MOUNT, -300, -1500);
const SPEEDS = { bath: 100, tissue: 25, travel: 1000 };

/** the part of a leg's direction that is not along the pipette axis */
const offAxis = (from: Vec3, to: Vec3): number => {
  const d = sub(to, from);
  const along = dot(d, g.axis);
  return Math.sqrt(Math.max(0, dot(d, d) - along * along));
};

/** follow the legs from `start`, checking each against the rules */
function walk(start: Vec3, legs: Waypoint[], inside: (p: Vec3) => boolean): void {
  let here = start;
  for (const leg of legs) {
    if (inside(here) || inside(leg.to)) expect(offAxis(here, leg.to), leg.label).toBeLessThan(1e-3);
    if (here[2] > 1e-6 || leg.to[2] > 1e-6) expect(leg.speed, leg.label).toBeLessThanOrEqual(SPEEDS.tissue);
    here = leg.to;
  }
}

const inTissue = (p: Vec3): boolean => p[2] > 1e-6;

describe('paths', () => {
  const deep = alongAxisToZ([100, 50, 0], g.axis, 350);

  it('retract: along the axis to the surface slowly, then to the standoff plane at bath speed', () => {
    const legs = retractLegs(deep, g, SPEEDS);
    expect(legs.map((l) => l.speed)).toEqual([SPEEDS.tissue, SPEEDS.bath]);
    expect(legs[0].to[2]).toBeCloseTo(0, 9);
    expect(legs[1].to[2]).toBeCloseTo(g.standoffZ, 9);
    walk(deep, legs, () => true); // every leg on the axis line
    expect(retractLegs([0, 0, g.standoffZ], g, SPEEDS)).toEqual([]);
  });

  it('to a start point: out along the axis first, lateral only on the standoff plane', () => {
    const start = startPointFor([600, -200, 150], g);
    expect(start[2]).toBeCloseTo(g.standoffZ, 9);
    const legs = goToStart(deep, start, g, SPEEDS);
    walk(deep, legs, inTissue);
    const lateral = legs.at(-1)!;
    expect(lateral.to).toEqual(start);
    expect(legs.at(-2)!.to[2]).toBeCloseTo(g.standoffZ, 6);
  });

  it('descent: fast in the bath down to the surface, slow in tissue, all along the axis', () => {
    const start = startPointFor([0, 0, 400], g);
    const end = alongAxisToZ(start, g.axis, 400);
    const legs = descentLegs(start, end, g, SPEEDS);
    expect(legs.map((l) => l.speed)).toEqual([SPEEDS.bath, SPEEDS.tissue]);
    walk(start, legs, () => true);
    expect(pastTarget(end, alongAxis(end, g.axis, -20), g.axis)).toBeCloseTo(20, 9);
  });

  it('to a well: rise to the travel plane, across above it, down along the axis; and back out the reverse way', () => {
    const well: Vec3 = [5000, 3000, 0];
    const legs = wellLegs(deep, well, g, SPEEDS);
    walk(deep, legs, (p) => inTissue(p) || norm(sub([p[0], p[1], 0], [well[0], well[1], 0])) < 800 && p[2] > -1000);
    expect(legs.some((l) => Math.abs(l.to[2] - g.travelZ) < 1e-6)).toBe(true);
    expect(legs.at(-1)!.to).toEqual(well);
    expect(offAxis(legs.at(-2)!.to, well)).toBeLessThan(1e-3);
    const home = startPointFor([0, 0, 0], g);
    const back = leaveWellLegs(well, home, g, SPEEDS);
    expect(offAxis(well, back[0].to)).toBeLessThan(1e-3);
    expect(back[0].to[2]).toBeCloseTo(g.travelZ, 6);
    expect(back.at(-1)!.to).toEqual(home);
  });

  it('a horizontal axis cannot reach another depth: a clear error', () => {
    expect(() => alongAxisToZ([0, 0, 0], [1, 0, 0], 100)).toThrow(/horizontal/);
  });
});
