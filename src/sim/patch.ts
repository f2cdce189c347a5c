/**
 * The tip–membrane story of one pipette: approach and contact, seal formation,
 * cell-attached, break-in, whole cell, loss, and leaving the cell. Advanced in
 * small steps by the pipette with the inputs (tip position, pressure, holding)
 * known exactly over each step.
 *
 * Seal model: the leak conductance between tip and bath relaxes exponentially
 * from its value at touch towards the cell's final seal conductance,
 *   G(x) = Gf + (G0 − Gf)·e^(−x),  dx/dt = k · suction factor · holding factor,
 * so R climbs roughly exponentially through tens of MΩ and saturates at the
 * final seal (1–3 GΩ, more with clean tips; < 100 MΩ for stalling cells).
 *
 * Random outcomes go through exponential-clock hazards (rng.ts) so they do not
 * depend on how finely the caller slices time.
 */
import { hypot3, type Vec3 } from '../geometry.ts';
import type { PrepParams } from './params.ts';
import type { Debris, SimCell } from './population.ts';
import type { Rng, Hazard } from './rng.ts';
import { createHazard, hazardFires } from './rng.ts';
import type { Place } from './space.ts';
import type { PatchStage } from './types.ts';
import { type Emit, type Glass, sealOdds, tipIsFresh } from './glass.ts';

export interface PatchState {
  stage: PatchStage;
  cell: SimCell | null;
  /** tip position when the membrane attached */
  anchor: Vec3 | null;
  /** tip-to-bath leak (gap, contact or seal), Ω */
  Rs: number;
  x: number;
  G0: number;
  Gf: number;
  rate: number;
  gigasealed: boolean;
  peakSeal: number;
  postSealDose: number;
  sealDamaged: boolean;
  wasWholeCell: boolean;
  Ra0: number;
  raExcess: number;
  leakyDose: number;
  suctionDamaged: boolean;
  wcStartT: number;
  creepFlagged: boolean;
  lostTarget: number;
  /** when the membrane attached, ms */
  attachT: number;
  /** seal a dying cell decays to, Ω (0 until drawn) */
  deadSeal: number;
  lastContactCell: number | null;
  falseHits: Set<number>;
  inPulse: boolean;
  readonly rng: Rng;
  readonly lossHazard: Hazard;
  readonly ruptureHazard: Hazard;
  readonly spontaneousHazard: Hazard;
}

export interface PatchStep {
  t: number;
  dtS: number;
  tip: Vec3;
  movedUm: number;
  /** unit vector of the pipette towards its tip */
  axis: Vec3;
  /** displacement of the tip over the step, µm */
  delta: Vec3;
  pressureMbar: number;
  place: Place;
  /** voltage-clamp holding, V (null in current clamp) */
  holdingV: number | null;
  /** Σ over other tips of µm moved × (1 − distance/range), within range */
  neighbourDrive: number;
  /** candidate cells and debris near the tip */
  cells: readonly SimCell[];
  debris: readonly Debris[];
}

export interface PatchContext {
  readonly pipetteId: string;
  readonly params: PrepParams;
  readonly glass: Glass;
  emit: (kind: Parameters<Emit>[0], detail?: string, cellId?: number | null) => void;
}

const ATTACHED: ReadonlySet<PatchStage> = new Set(['sealing', 'cell-attached', 'whole-cell']);
const GIGA = 1e9;
const clamp01 = (v: number): number => Math.min(1, Math.max(0, v));
const dist = (a: Vec3, b: Vec3): number => hypot3(a[0] - b[0], a[1] - b[1], a[2] - b[2]);

export function createPatch(rng: Rng): PatchState {
  const r = rng.fork('patch');
  return {
    stage: 'bath',
    cell: null,
    anchor: null,
    Rs: 0,
    x: 0,
    G0: 0,
    Gf: 0,
    rate: 0,
    gigasealed: false,
    peakSeal: 0,
    postSealDose: 0,
    sealDamaged: false,
    wasWholeCell: false,
    Ra0: Number.POSITIVE_INFINITY,
    raExcess: 0,
    leakyDose: 0,
    suctionDamaged: false,
    wcStartT: 0,
    creepFlagged: false,
    lostTarget: 0,
    attachT: 0,
    deadSeal: 0,
    lastContactCell: null,
    falseHits: new Set(),
    inPulse: false,
    rng: r,
    lossHazard: createHazard(r.fork('loss')),
    ruptureHazard: createHazard(r.fork('rupture')),
    spontaneousHazard: createHazard(r.fork('spontaneous')),
  };
}

export const isAttached = (ps: PatchState): boolean => ATTACHED.has(ps.stage);

/** Access resistance now, Ω (Infinity without access to the cytoplasm). */
export const accessResistance = (ps: PatchState): number => (ps.stage === 'whole-cell' ? ps.Ra0 + ps.raExcess : Number.POSITIVE_INFINITY);

/** R rise from a cell membrane at distance d (negative = dimple depth), Ω. */
function cellRise(cell: SimCell, d: number, rangeUm: number): number {
  const f = cell.fate;
  if (d >= rangeUm) return 0;
  if (d >= 0) {
    const u = (rangeUm - d) / rangeUm;
    return f.touchRiseOhm * u * u;
  }
  const depth = Math.min(-d, f.pushLimitUm);
  return f.touchRiseOhm + ((f.pressRiseOhm - f.touchRiseOhm) * depth) / f.pushLimitUm;
}

/** R rise from debris: only while outflow is obstructed (positive pressure); the tip slides past it. */
function debrisRise(d: Debris, dist: number, rangeUm: number, P: number): number {
  const pf = clamp01((P - 5) / 10);
  if (pf === 0 || dist >= rangeUm) return 0;
  if (dist >= 0) {
    const u = (rangeUm - dist) / rangeUm;
    return d.riseOhm * u * u * pf;
  }
  return d.riseOhm * clamp01(1 + dist / 4) * pf;
}

/** Membrane reach: suction pulls a nearby membrane onto the glass. */
function reachUm(params: PrepParams, P: number): number {
  const c = params.contact;
  return c.reachAtmUm + c.reachSuctionUm * clamp01(-P / params.seal.suctionFullMbar);
}

export function stepPatch(ps: PatchState, ctx: PatchContext, s: PatchStep): void {
  trackPulses(ps, ctx, s);
  switch (ps.stage) {
    case 'bath':
    case 'tissue':
    case 'contact':
      approach(ps, ctx, s);
      break;
    case 'sealing':
    case 'cell-attached':
      sealed(ps, ctx, s);
      break;
    case 'whole-cell':
      wholeCell(ps, ctx, s);
      break;
    case 'outside-out':
      if (s.pressureMbar > 50) leaveCell(ps, ctx, s, 'patch blown off');
      break;
    case 'lost':
      if (ps.Rs > ps.lostTarget) ps.Rs = ps.lostTarget + (ps.Rs - ps.lostTarget) * Math.exp(-s.dtS / 1);
      if (!ps.anchor || dist(s.tip, ps.anchor) > 10) leaveCell(ps, ctx, s, 'retracted');
      break;
  }
}

function freeStage(s: PatchStep): PatchStage {
  return s.place.kind === 'tissue' ? 'tissue' : 'bath';
}

function approach(ps: PatchState, ctx: PatchContext, s: PatchStep): void {
  const { params, glass } = ctx;
  const range = params.contact.rangeUm;
  const P = s.pressureMbar;
  let best: SimCell | null = null;
  let bestD = Infinity;
  for (const c of s.cells) {
    if (c.occupiedBy !== null && c.occupiedBy !== ctx.pipetteId) continue;
    const d = dist(c.position, s.tip) - c.radiusUm;
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  let gap = s.place.kind === 'tissue' ? glass.tissueOhm : 0;
  for (const d of s.debris) {
    const dd = dist(d.position, s.tip) - d.radiusUm;
    const rise = debrisRise(d, dd, range, P);
    if (rise > 0) {
      gap += rise;
      if (rise >= 0.2e6 && !ps.falseHits.has(d.id)) {
        ps.falseHits.add(d.id);
        ctx.emit('false-hit', undefined, null);
      }
    }
  }
  if (!best || bestD >= range) {
    if (ps.stage === 'contact') {
      glass.contamination += params.cleaning.usePerTouch;
      ps.cell = null;
    }
    ps.stage = freeStage(s);
    ps.Rs = gap;
    return;
  }
  const cell = best;
  if (ps.stage !== 'contact' || ps.cell !== cell) {
    ps.stage = 'contact';
    ps.cell = cell;
  }
  // a strong outflow jet (regional descent) keeps membranes off the glass: cells are nudged, not touched
  const jet = P > 100;
  if (bestD < 1 && !jet && ps.lastContactCell !== cell.id) {
    ps.lastContactCell = cell.id;
    ctx.emit('contact', undefined, cell.id);
  }
  const depth = -bestD;
  if (depth > cell.fate.pushLimitUm) pressTooFar(ps, ctx, s, cell, depth, jet);
  ps.Rs = gap + cellRise(cell, dist(cell.position, s.tip) - cell.radiusUm, range);
  // at or below atmosphere the membrane within reach lands on the glass (a broken tip seals badly: see sealOdds)
  if (P <= params.contact.sealPressureMaxMbar && bestD <= reachUm(params, P)) startSeal(ps, ctx, s, cell);
}

function pressTooFar(ps: PatchState, ctx: PatchContext, s: PatchStep, cell: SimCell, depth: number, jet: boolean): void {
  const excess = depth - cell.fate.pushLimitUm;
  if (!jet && (cell.fate.pushDamages || cell.pushedUm > 15)) {
    if (!cell.used) {
      cell.used = true;
      damageCell(cell, 3);
      ctx.emit('cell-damaged', 'push', cell.id);
    }
    return;
  }
  // the cell rolls away from the tip
  const away: Vec3 = [cell.position[0] - s.tip[0], cell.position[1] - s.tip[1], cell.position[2] - s.tip[2]];
  const n = hypot3(away[0], away[1], away[2]) || 1;
  for (let k = 0; k < 3; k++) cell.position[k] += (away[k] / n) * excess;
  if (cell.pushedUm === 0 && !jet) ctx.emit('cell-pushed', undefined, cell.id);
  cell.pushedUm += excess;
}

/** Damage leak: conductance of `factor` × the cell's resting conductance, capped at a dead cell's. */
function damageCell(cell: SimCell, factor: number): void {
  const gDead = 1 / cell.fate.deadOhm;
  cell.gDmg = Math.min(gDead, cell.gDmg + factor / cell.inputOhm);
}

function startSeal(ps: PatchState, ctx: PatchContext, s: PatchStep, cell: SimCell): void {
  const { params, glass } = ctx;
  const f = cell.fate;
  const sp = params.seal;
  if (glass.residue > 0.3) ctx.emit('residue-at-seal', undefined, cell.id);
  const odds = sealOdds(glass, params);
  const spoiled = !ps.rng.chance(odds);
  let kind: string;
  let final: number;
  if (spoiled) {
    kind = 'spoiled';
    final = ps.rng.logUniform(sp.stallFinalOhm[0], sp.stallFinalOhm[1]);
  } else if (!cell.healthy || cell.used || cell.gDmg > 0) {
    kind = 'unhealthy';
    final = cell.healthy ? ps.rng.logUniform(sp.unhealthyFinalOhm[0], sp.unhealthyFinalOhm[1]) : f.sealFinalOhm;
  } else {
    kind = f.sealKind;
    final = f.sealFinalOhm * (f.sealKind !== 'stall' && tipIsFresh(glass) ? f.cleanTipBoost : 1);
  }
  ps.stage = 'sealing';
  ps.cell = cell;
  cell.occupiedBy = ctx.pipetteId;
  ps.anchor = [s.tip[0], s.tip[1], s.tip[2]];
  ps.attachT = s.t;
  ps.G0 = 1 / Math.max(ps.Rs, 1e5);
  ps.Gf = 1 / final;
  ps.x = 0;
  ps.rate = f.sealRatePerS * (kind === 'slow' ? sp.slowFactor : 1);
  ps.gigasealed = false;
  ps.postSealDose = 0;
  ps.sealDamaged = false;
  ps.peakSeal = ps.Rs;
  ctx.emit('seal-start', kind, cell.id);
}

function sealResistance(ps: PatchState): number {
  return 1 / (ps.Gf + (ps.G0 - ps.Gf) * Math.exp(-ps.x));
}

function sealed(ps: PatchState, ctx: PatchContext, s: PatchStep): void {
  const { params } = ctx;
  const cell = ps.cell!;
  const f = cell.fate;
  const sp = params.seal;
  const P = s.pressureMbar;
  if (ctx.glass.brokenCause) return toLost(ps, ctx, s, 'broken-tip');
  if (ps.anchor && dist(s.tip, ps.anchor) > f.tearUm) {
    ctx.emit('seal-torn', ps.stage, cell.id);
    return toLost(ps, ctx, s, null);
  }
  if (P > params.contact.sealPressureMaxMbar) {
    if (ps.stage === 'sealing' && sealResistance(ps) < 100e6) {
      // membrane pushed back off the glass: back to a dimple; after more than a moment of
      // suction the membrane that stuck to the glass stays there (a use of the tip)
      if (s.t - ps.attachT > 1000) {
        ctx.glass.uses++;
        ctx.glass.contamination += params.cleaning.usePerSeal;
        ctx.emit('left-cell', 'pushed off', cell.id);
      } else ctx.glass.contamination += params.cleaning.usePerTouch * 2;
      cell.occupiedBy = null;
      ps.stage = 'contact';
      ps.anchor = null;
      ps.x = 0;
      return;
    }
    if (P > 30) return toLost(ps, ctx, s, 'pressure');
  } else {
    let m = 1 + (sp.suctionSpeedup - 1) * clamp01(-P / sp.suctionFullMbar);
    if (s.holdingV !== null && s.holdingV <= sp.holdingBelowV) m *= sp.holdingSpeedup;
    ps.x += ps.rate * m * s.dtS;
  }
  ps.Rs = sealResistance(ps);
  if (ps.Rs > ps.peakSeal) ps.peakSeal = ps.Rs;
  if (ps.stage === 'sealing' && ps.Rs >= GIGA) {
    ps.stage = 'cell-attached';
    ps.gigasealed = true;
    ctx.emit('gigaseal', undefined, cell.id);
  }

  // rupture by suction: a sigmoid around the cell's threshold, nothing below a floor
  if (f.rupturable && ps.Rs >= 20e6) {
    const th = -f.ruptureMbar;
    const suction = -P;
    if (suction > params.breakIn.ruptureFloorFraction * th) {
      const z = (suction - th) / (params.breakIn.ruptureWidthFraction * th);
      const rate = params.breakIn.ruptureRatePerS / (1 + Math.exp(-z));
      if (hazardFires(ps.ruptureHazard, rate * s.dtS)) return breakIn(ps, ctx, s.t, 'suction', 1, ps.rng.uniform(0.7, 1));
    }
  }
  // some cells rupture under ordinary sealing suction
  if (f.spontaneousBreakIn && P <= f.spontaneousMbar && ps.Rs >= 100e6) {
    if (hazardFires(ps.spontaneousHazard, sp.spontaneousRatePerS * s.dtS)) {
      ctx.emit('spontaneous-break-in', undefined, cell.id);
      return breakIn(ps, ctx, s.t, 'spontaneous', 1, ps.rng.uniform(0.6, 0.95));
    }
  }
  // sealing-level suction left on after the gigaseal (a controller bug) ends badly;
  // strong short pulses are break-in attempts and are dealt with above
  if (ps.gigasealed && P < -10 && P > -80) {
    ps.postSealDose += (-P - 10) * s.dtS;
    if (ps.postSealDose > f.postSealToleranceMbarS && !ps.sealDamaged) {
      ctx.emit('suction-after-seal', f.postSealOutcome, cell.id);
      if (f.postSealOutcome === 'rupture-high-ra') return breakIn(ps, ctx, s.t, 'post-seal-suction', f.uncontrolledAccessFactor, ps.rng.uniform(0.3, 0.7));
      // the seal degrades from where it is towards a few hundred MΩ (and is then easily lost)
      ps.sealDamaged = true;
      ps.G0 = 1 / ps.Rs;
      ps.Gf = 1 / ps.rng.logUniform(100e6, 500e6);
      ps.x = 0;
    }
  }
  // strong suction sometimes rips the seal instead of the patch
  const pulseLoss = P < -80 ? (0.02 * -P) / 300 : 0;
  const lossRate = f.sealLossRatePerS + (ps.sealDamaged ? 0.1 : 0) + pulseLoss;
  const neighbour = sp.neighbourHazardPerUm * s.neighbourDrive * (ps.stage === 'sealing' ? 1 : sp.neighbourSealedFactor);
  if (hazardFires(ps.lossHazard, lossRate * s.dtS + neighbour)) {
    const total = lossRate * s.dtS + neighbour;
    const u = ps.rng.next() * total;
    const cause = u < neighbour ? 'neighbour-motion' : u < neighbour + pulseLoss * s.dtS ? 'suction' : ps.sealDamaged ? 'damage' : 'fate';
    return toLost(ps, ctx, s, cause);
  }
}

function breakIn(ps: PatchState, ctx: PatchContext, t: number, cause: string, raFactor: number, sealFactor: number): void {
  const cell = ps.cell!;
  ps.stage = 'whole-cell';
  ps.wasWholeCell = true;
  ps.Ra0 = cell.fate.accessOhm * raFactor;
  ps.raExcess = 0;
  ps.leakyDose = 0;
  ps.suctionDamaged = false;
  ps.creepFlagged = false;
  ps.wcStartT = t;
  ps.Rs *= sealFactor;
  // the seal no longer tightens once the patch is gone
  ps.Gf = 1 / ps.Rs;
  ps.G0 = ps.Gf;
  cell.used = true;
  ctx.emit('break-in', cause, cell.id);
}

/** Called by the electrode on a zap. */
export function zapPatch(ps: PatchState, ctx: PatchContext, t: number, durationMs: number, amplitudeV: number): void {
  const cell = ps.cell;
  if (!cell) return;
  if (ps.stage === 'sealing' || ps.stage === 'cell-attached') {
    const f = cell.fate;
    const p = f.rupturable ? ctx.params.breakIn.zapMax * (1 - Math.exp(-(durationMs / f.zapTauMs) * Math.abs(amplitudeV))) : 0;
    if (ps.rng.chance(p)) breakIn(ps, ctx, t, 'zap', 1, ps.rng.uniform(0.6, 0.95));
    else ctx.emit('zap-failed', undefined, cell.id);
  } else if (ps.stage === 'whole-cell') {
    // zapping an open cell punches more holes in it
    damageCell(cell, 0.5 * Math.min(4, durationMs) * Math.abs(amplitudeV));
    ctx.emit('cell-damaged', 'zap', cell.id);
  }
}

function wholeCell(ps: PatchState, ctx: PatchContext, s: PatchStep): void {
  const { params } = ctx;
  const w = params.wholeCell;
  const cell = ps.cell!;
  const f = cell.fate;
  const P = s.pressureMbar;
  if (ctx.glass.brokenCause) return toLost(ps, ctx, s, 'broken-tip');
  if (ps.anchor && dist(s.tip, ps.anchor) > f.tearUm) {
    // a slow pull straight back along the axis may leave an outside-out patch on the tip
    const backwards = -(s.delta[0] * s.axis[0] + s.delta[1] * s.axis[1] + s.delta[2] * s.axis[2]);
    const speed = s.movedUm / Math.max(s.dtS, 1e-9);
    cell.used = true;
    damageCell(cell, 1e9);
    if (backwards > 0.8 * s.movedUm && speed < 5 && ps.Rs >= 500e6 && ps.rng.chance(0.5)) {
      ps.stage = 'outside-out';
      ps.Ra0 = Number.POSITIVE_INFINITY;
      ps.Rs *= ps.rng.uniform(0.5, 1);
      cell.occupiedBy = null;
      ctx.emit('outside-out', undefined, cell.id);
      return;
    }
    ctx.emit('seal-torn', 'whole-cell', cell.id);
    return toLost(ps, ctx, s, null);
  }
  if (P > 30) return toLost(ps, ctx, s, 'pressure');
  const dt = s.dtS;
  if (f.raCreep) ps.raExcess += f.raCreepOhmPerS * dt;
  const suction = Math.max(0, w.suctionCountsBelowMbar - P);
  if (suction > 0) {
    if (ps.raExcess > 0) {
      ps.raExcess *= Math.exp((-suction * dt) / w.clearAccessMbarS);
      if (ps.creepFlagged && ps.raExcess < 0.2 * ps.Ra0) {
        ps.creepFlagged = false;
        ctx.emit('access-cleared', undefined, cell.id);
      }
    }
  }
  ps.leakyDose = ps.leakyDose * Math.exp(-dt / w.suctionRecoveryS) + suction * dt;
  if (ps.leakyDose > f.suctionToleranceMbarS && !ps.suctionDamaged) {
    // the "extra pulse": the open cell is torn further — access worse, leak up, seal down
    ps.suctionDamaged = true;
    ps.Ra0 *= ps.rng.uniform(1.5, 3);
    const keep = ps.rng.uniform(0.3, 0.6);
    damageCell(cell, 1 / keep - 1);
    ps.Rs *= ps.rng.uniform(0.3, 0.6);
    ctx.emit('cell-damaged', 'suction', cell.id);
  } else if (ps.suctionDamaged && ps.leakyDose < 0.5 * f.suctionToleranceMbarS) ps.suctionDamaged = false;
  if (!cell.dead && (ps.leakyDose > 2 * f.suctionToleranceMbarS || (f.dies && s.t - ps.wcStartT >= f.deathAfterS * 1000))) {
    cell.dead = true;
    ctx.emit('cell-died', ps.leakyDose > 2 * f.suctionToleranceMbarS ? 'suction' : 'fate', cell.id);
  }
  if (cell.dead) {
    // the membrane and the seal around it fall apart together
    const gDead = 1 / f.deadOhm;
    const k = Math.exp(-dt / w.deathTauS);
    if (cell.gDmg < gDead) cell.gDmg = gDead - (gDead - cell.gDmg) * k;
    if (ps.deadSeal === 0) ps.deadSeal = ps.rng.logUniform(w.deadSealOhm[0], w.deadSealOhm[1]);
    if (ps.Rs > ps.deadSeal) ps.Rs = ps.deadSeal + (ps.Rs - ps.deadSeal) * k;
  }
  if (!ps.creepFlagged && ps.raExcess > 0.5 * ps.Ra0) {
    ps.creepFlagged = true;
    ctx.emit('access-creep', undefined, cell.id);
  }
  const neighbour = params.seal.neighbourHazardPerUm * s.neighbourDrive * params.seal.neighbourSealedFactor;
  const rate = f.sealLossRatePerS * w.lossFactor;
  if (hazardFires(ps.lossHazard, rate * dt + neighbour)) {
    return toLost(ps, ctx, s, ps.rng.next() * (rate * dt + neighbour) < neighbour ? 'neighbour-motion' : 'fate');
  }
}

function toLost(ps: PatchState, ctx: PatchContext, s: PatchStep, cause: string | null): void {
  const cell = ps.cell;
  if (cause) ctx.emit('seal-lost', cause, cell?.id ?? null);
  if (cell && ps.stage === 'whole-cell') {
    cell.used = true;
    damageCell(cell, 1e9);
  }
  if (cell && ps.gigasealed) cell.used = true;
  ps.stage = 'lost';
  ps.Ra0 = Number.POSITIVE_INFINITY;
  ps.lostTarget = ps.rng.logUniform(ctx.params.seal.lostOhm[0], ctx.params.seal.lostOhm[1]);
  if (!ps.anchor) ps.anchor = [s.tip[0], s.tip[1], s.tip[2]];
}

/** The tip leaves the cell it was attached to: membrane on the glass (uses++), cell released. */
export function leaveCell(ps: PatchState, ctx: PatchContext, s: Pick<PatchStep, 'place'>, detail: string): void {
  const { glass, params } = ctx;
  const cell = ps.cell;
  glass.uses++;
  glass.contamination += ps.wasWholeCell ? params.cleaning.usePerWholeCell : params.cleaning.usePerSeal;
  if (cell) {
    if (ps.gigasealed || ps.wasWholeCell) cell.used = true;
    if (cell.occupiedBy === ctx.pipetteId) cell.occupiedBy = null;
  }
  ctx.emit('left-cell', detail, cell?.id ?? null);
  ps.stage = s.place.kind === 'tissue' ? 'tissue' : 'bath';
  ps.cell = null;
  ps.anchor = null;
  ps.x = 0;
  ps.gigasealed = false;
  ps.wasWholeCell = false;
  ps.sealDamaged = false;
  ps.Ra0 = Number.POSITIVE_INFINITY;
  ps.raExcess = 0;
  ps.Rs = 0;
}

/** Suction pulses (below −80 mbar) that end without the patch rupturing are recorded. */
function trackPulses(ps: PatchState, ctx: PatchContext, s: PatchStep): void {
  const P = s.pressureMbar;
  if (!ps.inPulse && P < -80) ps.inPulse = true;
  else if (ps.inPulse && P > -40) {
    ps.inPulse = false;
    if (ps.stage === 'sealing' || ps.stage === 'cell-attached') ctx.emit('break-in-pulse-failed', undefined, ps.cell?.id ?? null);
  }
}
