/**
 * Where each attempt goes.
 *  - blind (in vivo): each pipette works a grid of entry sites around its
 *    region centre, spiralling outwards so no site is entered twice;
 *  - targeted (slice, culture): cells picked from a list (what a camera and
 *    an operator or a detector would give), nearest to the pipette's region
 *    first, each cell used once, never within `clearance` of a cell another
 *    pipette is working on.
 */
import { distance, type Vec3 } from '../geometry.ts';
import type { Target } from './pipette-machine.ts';

export interface TargetSource {
  next(pipetteId: string): Target | null;
  /** the pipette has finished with its current target */
  release(pipetteId: string): void;
}

/** Square spiral of grid offsets: (0,0), (1,0), (1,1), (0,1), (-1,1), … */
export function spiralOffsets(count: number): Array<[number, number]> {
  const out: Array<[number, number]> = [[0, 0]];
  let x = 0;
  let y = 0;
  let leg = 1;
  const dirs: Array<[number, number]> = [
    [1, 0],
    [0, 1],
    [-1, 0],
    [0, -1],
  ];
  let d = 0;
  while (out.length < count) {
    for (let rep = 0; rep < 2 && out.length < count; rep++) {
      for (let i = 0; i < leg && out.length < count; i++) {
        x += dirs[d][0];
        y += dirs[d][1];
        out.push([x, y]);
      }
      d = (d + 1) % 4;
    }
    leg++;
  }
  return out;
}

export function blindTargets(regions: ReadonlyMap<string, Vec3>, spacingUm: number, maxSitesPerPipette = 400): TargetSource {
  const offsets = spiralOffsets(maxSitesPerPipette);
  const used = new Map<string, number>();
  return {
    next(pipetteId) {
      const centre = regions.get(pipetteId);
      if (!centre) return null;
      const i = used.get(pipetteId) ?? 0;
      if (i >= offsets.length) return null;
      used.set(pipetteId, i + 1);
      const [ox, oy] = offsets[i];
      return { kind: 'blind', cellId: null, position: [centre[0] + ox * spacingUm, centre[1] + oy * spacingUm, 0] };
    },
    release() {},
  };
}

export interface ObservedCell {
  cellId: number;
  position: Vec3;
}

export function targetedTargets(
  cells: readonly ObservedCell[],
  regions: ReadonlyMap<string, Vec3>,
  options: { reachUm: number; clearanceUm: number },
): TargetSource {
  const taken = new Set<number>();
  const working = new Map<string, ObservedCell>();
  return {
    next(pipetteId) {
      const centre = regions.get(pipetteId);
      if (!centre) return null;
      const busy = [...working.entries()].filter(([id]) => id !== pipetteId).map(([, c]) => c.position);
      const candidates = cells
        .filter((c) => !taken.has(c.cellId))
        .filter((c) => Math.hypot(c.position[0] - centre[0], c.position[1] - centre[1]) <= options.reachUm)
        .filter((c) => busy.every((b) => distance(b, c.position) >= options.clearanceUm))
        .sort((a, b) => distance(a.position, centre) - distance(b.position, centre) || a.cellId - b.cellId);
      const pick = candidates[0];
      if (!pick) return null;
      taken.add(pick.cellId);
      working.set(pipetteId, pick);
      return { kind: 'targeted', cellId: pick.cellId, position: pick.position };
    },
    release(pipetteId) {
      working.delete(pipetteId);
    },
  };
}
