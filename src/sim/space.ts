/**
 * What is at a point of the rig: bath, tissue, a cleaning well, or something
 * hard that breaks a tip (the coverslip/dish floor under the prep, a well's
 * floor, the chamber wall / skull outside the prep's footprint).
 */
import type { Vec3 } from '../geometry.ts';
import type { GeometryParams } from './params.ts';
import type { Region } from './types.ts';

export type SpaceKind = 'bath' | 'tissue' | 'well' | 'solid';
export type HardThing = 'floor' | 'well-floor' | 'obstacle';

export interface Place {
  kind: SpaceKind;
  /** the well the tip is in (kind 'well') */
  well: Region | null;
  /** what the tip ran into (kind 'solid') */
  hit: HardThing | null;
}

/** Default cleaning wells: well away from any prep, ~2 mm of liquid over a hard floor. */
export function defaultWells(): Region[] {
  return [
    { name: 'detergent', kind: 'detergent', center: [-6000, -2500, 1000], radiusUm: 1500, depthUm: 2000 },
    { name: 'rinse', kind: 'rinse', center: [-6000, 2500, 1000], radiusUm: 1500, depthUm: 2000 },
  ];
}

const BATH: Place = { kind: 'bath', well: null, hit: null };
const TISSUE: Place = { kind: 'tissue', well: null, hit: null };

export function createSpace(geo: GeometryParams, wells: readonly Region[]): (p: Vec3) => Place {
  const wellPlaces = wells.map((w) => ({ w, inside: { kind: 'well', well: w, hit: null } as Place, floor: { kind: 'solid', well: w, hit: 'well-floor' } as Place }));
  const floor: Place = { kind: 'solid', well: null, hit: 'floor' };
  const obstacle: Place = { kind: 'solid', well: null, hit: 'obstacle' };
  const r2 = geo.prepRadiusUm * geo.prepRadiusUm;
  return (p) => {
    for (const wp of wellPlaces) {
      const dx = p[0] - wp.w.center[0];
      const dy = p[1] - wp.w.center[1];
      if (dx * dx + dy * dy <= wp.w.radiusUm * wp.w.radiusUm) {
        if (p[2] >= wp.w.center[2]) return wp.floor;
        if (p[2] >= wp.w.center[2] - wp.w.depthUm) return wp.inside;
        return BATH;
      }
    }
    if (p[2] <= 0) return BATH;
    if (p[0] * p[0] + p[1] * p[1] > r2) return obstacle;
    if (geo.floorUm !== null && p[2] >= geo.floorUm) return floor;
    if (geo.tissue && p[2] > geo.tissue.topUm && p[2] < geo.tissue.bottomUm) return TISSUE;
    return BATH;
  };
}
