/**
 * Cells and debris of a preparation. Space is cut into 100 µm chunks that are
 * filled on first use from a stream named by the chunk, so the population is
 * unbounded (a blind descent can go anywhere) yet identical whatever order
 * regions are visited in. Cell ids encode their chunk for the same reason.
 *
 * Each cell carries its passive properties, its spiking model and its "fate":
 * how it will behave when patched (seal speed and ceiling, rupture threshold,
 * access, creep, death …), all drawn from the preparation's distributions.
 */
import type { Vec3 } from '../geometry.ts';
import type { Preparation } from './types.ts';
import type { NeuronParams, PrepParams } from './params.ts';
import type { Rng } from './rng.ts';
import { drawNeuron, type NeuronModel } from './neuron.ts';

export type SealKind = 'good' | 'slow' | 'stall';
export type PostSealOutcome = 'rupture-high-ra' | 'seal-damage';

export interface CellFate {
  sealKind: SealKind;
  /** seal progress rate at atmosphere without holding, 1/s (see patch.ts); slow sealers get a fraction of it */
  sealRatePerS: number;
  sealFinalOhm: number;
  /** final × this with a fresh/cleaned tip */
  cleanTipBoost: number;
  /** hazard of losing the seal before break-in, 1/s (0 for most cells) */
  sealLossRatePerS: number;
  tearUm: number;
  touchRiseOhm: number;
  pressRiseOhm: number;
  pushLimitUm: number;
  pushDamages: boolean;
  spontaneousBreakIn: boolean;
  spontaneousMbar: number;
  postSealToleranceMbarS: number;
  postSealOutcome: PostSealOutcome;
  rupturable: boolean;
  ruptureMbar: number;
  zapTauMs: number;
  accessOhm: number;
  uncontrolledAccessFactor: number;
  raCreep: boolean;
  raCreepOhmPerS: number;
  suctionToleranceMbarS: number;
  dies: boolean;
  deathAfterS: number;
  deadOhm: number;
}

export interface SimCell {
  readonly id: number;
  /** world µm; moves (in place) if the cell is pushed */
  readonly position: [number, number, number];
  readonly radiusUm: number;
  /** innate health (the cut surface of a slice, a dying cell in vivo) */
  readonly healthy: boolean;
  readonly neuron: NeuronModel;
  /** resting input resistance, Ω (= neuron.inputOhm, available without drawing the spiking model) */
  readonly inputOhm: number;
  readonly fate: CellFate;
  /** patched already (whole-cell, sealed-and-left or damaged) */
  used: boolean;
  /** the pipette attached to it, if any */
  occupiedBy: string | null;
  /** damage leak, S (nonselective, reverses near 0 mV) */
  gDmg: number;
  dead: boolean;
  /** how far it has been pushed aside, µm */
  pushedUm: number;
  /** camera error, µm */
  readonly cameraError: Vec3;
}

export interface Debris {
  readonly id: number;
  readonly position: Vec3;
  readonly radiusUm: number;
  readonly riseOhm: number;
}

/** A cell placed explicitly (tests, scripted scenarios). Missing values are drawn as usual. */
export interface CellSpec {
  position: Vec3;
  radiusUm?: number;
  healthy?: boolean;
  restingV?: number;
  inputOhm?: number;
  capacitanceF?: number;
  fate?: Partial<CellFate>;
  /** distribution overrides for this cell's spiking model (e.g. { sag: [0, 0] } for a purely passive cell) */
  neuron?: Partial<NeuronParams>;
}

export interface ObservedCell {
  cellId: number;
  position: Vec3;
}

export interface Population {
  /** cells whose membrane lies within `radiusUm` of p */
  cellsNear(p: Vec3, radiusUm: number): SimCell[];
  debrisNear(p: Vec3, radiusUm: number): Debris[];
  /** every cell materialised so far, by id */
  all(): SimCell[];
  get(id: number): SimCell | undefined;
  /** healthy, unused cells in the field of view, with camera error (targeted preparations) */
  observed(): ObservedCell[];
}

const CHUNK = 100;
/** pushed cells may leave their chunk by this much */
const MAX_PUSH_UM = 20;

function chunkKey(ix: number, iy: number, iz: number): number {
  return ((ix + 512) * 1024 + (iy + 512)) * 128 + iz;
}

export function createPopulation(rng: Rng, prep: Preparation, params: PrepParams, explicit?: readonly CellSpec[]): Population {
  const pop = params.population;
  const geo = params.geometry;
  const chunks = new Map<number, { cells: SimCell[]; debris: Debris[] }>();
  const byId = new Map<number, SimCell>();
  const explicitCells: SimCell[] = [];
  const useRandomCells = !explicit;
  const cellRng = rng.fork('cell');
  const debrisRng = rng.fork('debris');
  const cameraRng = rng.fork('camera');

  const ctx: CellContext = { params, cameraRng };
  const makeCell = (id: number, source: Rng, label: number | null, spec: CellSpec | null, position: Vec3, radius: number, healthy: boolean): SimCell => {
    const cell = new LazyCell(id, position, radius, healthy, ctx, source, label, spec);
    byId.set(id, cell);
    return cell;
  };

  if (explicit) {
    const er = rng.fork('explicit-cell');
    explicit.forEach((spec, i) => {
      const r = er.fork(i);
      const radius = spec.radiusUm ?? r.uniform(pop.somaRadiusUm[0], pop.somaRadiusUm[1]);
      explicitCells.push(makeCell(i + 1, r, null, spec, spec.position, radius, spec.healthy ?? true));
    });
  }

  const tissueTop = geo.tissue ? geo.tissue.topUm : 0;
  const tissueBottom = geo.tissue ? geo.tissue.bottomUm : geo.floorUm ?? 0;

  const fill = (ix: number, iy: number, iz: number): { cells: SimCell[]; debris: Debris[] } => {
    const key = chunkKey(ix, iy, iz);
    const have = chunks.get(key);
    if (have) return have;
    const made = { cells: [] as SimCell[], debris: [] as Debris[] };
    chunks.set(key, made);
    const x0 = ix * CHUNK;
    const y0 = iy * CHUNK;
    const z0 = iz * CHUNK;
    // only the prep's footprint holds cells
    const cx = x0 + CHUNK / 2;
    const cy = y0 + CHUNK / 2;
    if (Math.hypot(cx, cy) > geo.prepRadiusUm + CHUNK) return made;
    const cr = cellRng.fork(key);
    if (useRandomCells) {
      if (pop.layout === 'volume') {
        const zLo = Math.max(z0, pop.depthUm[0]);
        const zHi = Math.min(z0 + CHUNK, pop.depthUm[1]);
        if (zHi > zLo) {
          const n = Math.min(999, cr.poisson(pop.density * CHUNK * CHUNK * (zHi - zLo)));
          const free = spacing(x0, y0, z0);
          for (let k = 0; k < n; k++) {
            const radius = cr.uniform(pop.somaRadiusUm[0], pop.somaRadiusUm[1]);
            let pos: Vec3 | null = null;
            for (let tries = 0; tries < 8 && !pos; tries++) {
              const cand: Vec3 = [x0 + cr.next() * CHUNK, y0 + cr.next() * CHUNK, zLo + cr.next() * (zHi - zLo)];
              if (free.fits(cand, radius)) pos = cand;
            }
            if (!pos) continue;
            free.add(pos, radius);
            const id = key * 1000 + k + 1;
            const okDepth = pos[2] >= pop.healthyDepthUm[0] && pos[2] <= pop.healthyDepthUm[1];
            const healthy = okDepth && cr.next() < pop.healthyFraction;
            made.cells.push(makeCell(id, cellRng, id, null, pos, radius, healthy));
          }
        }
      } else if (iz === 0 && geo.floorUm !== null) {
        const n = Math.min(999, cr.poisson(pop.density * CHUNK * CHUNK));
        const free = spacing(x0, y0, geo.floorUm - 50);
        for (let k = 0; k < n; k++) {
          const radius = cr.uniform(pop.somaRadiusUm[0], pop.somaRadiusUm[1]);
          let pos: Vec3 | null = null;
          for (let tries = 0; tries < 8 && !pos; tries++) {
            // a cultured cell sits flattened on the dish: centre a little above the floor
            const cand: Vec3 = [x0 + cr.next() * CHUNK, y0 + cr.next() * CHUNK, geo.floorUm - 0.75 * radius];
            if (free.fits(cand, radius)) pos = cand;
          }
          if (!pos) continue;
          free.add(pos, radius);
          const id = key * 1000 + k + 1;
          const healthy = cr.next() < pop.healthyFraction;
          made.cells.push(makeCell(id, cellRng, id, null, pos, radius, healthy));
        }
      }
    }
    const dr = debrisRng.fork(key);
    if (pop.debrisDensity > 0) {
      if (pop.layout === 'volume') {
        const zLo = Math.max(z0, tissueTop);
        const zHi = Math.min(z0 + CHUNK, tissueBottom);
        if (zHi > zLo) {
          const n = Math.min(999, dr.poisson(pop.debrisDensity * CHUNK * CHUNK * (zHi - zLo)));
          for (let k = 0; k < n; k++) {
            const radius = dr.uniform(pop.debrisRadiusUm[0], pop.debrisRadiusUm[1]);
            made.debris.push({
              id: key * 1000 + k + 1,
              position: [x0 + dr.next() * CHUNK, y0 + dr.next() * CHUNK, zLo + dr.next() * (zHi - zLo)],
              radiusUm: radius,
              riseOhm: dr.uniform(pop.debrisRiseOhm[0], pop.debrisRiseOhm[1]),
            });
          }
        }
      } else if (iz === 0 && geo.floorUm !== null) {
        const n = Math.min(999, dr.poisson(pop.debrisDensity * CHUNK * CHUNK));
        for (let k = 0; k < n; k++) {
          const radius = dr.uniform(pop.debrisRadiusUm[0], pop.debrisRadiusUm[1]);
          made.debris.push({
            id: key * 1000 + k + 1,
            position: [x0 + dr.next() * CHUNK, y0 + dr.next() * CHUNK, geo.floorUm - radius],
            radiusUm: radius,
            riseOhm: dr.uniform(pop.debrisRiseOhm[0], pop.debrisRiseOhm[1]),
          });
        }
      }
    }
    return made;
  };

  const forChunks = (p: Vec3, radius: number, fn: (c: { cells: SimCell[]; debris: Debris[] }) => void): void => {
    const lo = (v: number): number => Math.floor((v - radius) / CHUNK);
    const hi = (v: number): number => Math.floor((v + radius) / CHUNK);
    const zTop = pop.layout === 'floor' ? 0 : Math.max(0, lo(p[2]));
    const zBot = pop.layout === 'floor' ? 0 : Math.min(127, hi(p[2]));
    if (p[2] + radius < Math.min(0, tissueTop) - 50 && pop.layout === 'volume') return;
    for (let ix = lo(p[0]); ix <= hi(p[0]); ix++)
      for (let iy = lo(p[1]); iy <= hi(p[1]); iy++)
        for (let iz = zTop; iz <= zBot; iz++) {
          if (ix < -512 || ix >= 512 || iy < -512 || iy >= 512) continue;
          fn(fill(ix, iy, iz));
        }
  };

  const population: Population = {
    cellsNear(p, radius) {
      const out: SimCell[] = [];
      const consider = (c: SimCell): void => {
        if (dist(c.position, p) - c.radiusUm <= radius) out.push(c);
      };
      for (const c of explicitCells) consider(c);
      if (useRandomCells) {
        // skip the chunk walk where no cell can be
        if (pop.layout === 'volume' && p[2] + radius + MAX_PUSH_UM + 10 < pop.depthUm[0]) return out;
        forChunks(p, radius + 10 + MAX_PUSH_UM, (ch) => ch.cells.forEach(consider));
      }
      return out;
    },
    debrisNear(p, radius) {
      const out: Debris[] = [];
      if (pop.debrisDensity <= 0) return out;
      if (pop.layout === 'volume' && p[2] + radius + 10 < tissueTop) return out;
      forChunks(p, radius + 10, (ch) => {
        for (const d of ch.debris) if (dist(d.position, p) - d.radiusUm <= radius) out.push(d);
      });
      return out;
    },
    all() {
      return [...byId.values()].sort((a, b) => a.id - b.id);
    },
    get: (id) => byId.get(id),
    observed() {
      if (prep === 'in-vivo') return [];
      const fov = pop.fieldOfView;
      const [cx, cy] = fov.centerUm;
      const h = fov.halfWidthUm;
      if (useRandomCells) {
        const zMid = pop.layout === 'floor' ? 0 : (fov.depthUm[0] + fov.depthUm[1]) / 2;
        const zHalf = pop.layout === 'floor' ? 0 : (fov.depthUm[1] - fov.depthUm[0]) / 2;
        for (let ix = Math.floor((cx - h) / CHUNK); ix <= Math.floor((cx + h) / CHUNK); ix++)
          for (let iy = Math.floor((cy - h) / CHUNK); iy <= Math.floor((cy + h) / CHUNK); iy++)
            for (let iz = Math.max(0, Math.floor((zMid - zHalf) / CHUNK)); iz <= Math.max(0, Math.floor((zMid + zHalf) / CHUNK)); iz++) fill(ix, iy, iz);
      }
      return population
        .all()
        .filter(
          (c) =>
            c.healthy &&
            !c.used &&
            !c.dead &&
            c.occupiedBy === null &&
            Math.abs(c.position[0] - cx) <= h &&
            Math.abs(c.position[1] - cy) <= h &&
            (pop.layout === 'floor' || (c.position[2] >= fov.depthUm[0] && c.position[2] <= fov.depthUm[1])),
        )
        .map((c) => ({
          cellId: c.id,
          position: [c.position[0] + c.cameraError[0], c.position[1] + c.cameraError[1], c.position[2] + c.cameraError[2]] as Vec3,
        }));
    },
  };
  return population;
}

interface CellContext {
  readonly params: PrepParams;
  readonly cameraRng: Rng;
}

interface CellDetails {
  inputOhm: number;
  capacitanceF: number;
  restV: number;
  fate: CellFate;
  gDmg0: number;
  cameraError: Vec3;
  r: Rng;
}

/**
 * A cell whose placement and health are known at once (drawn from its chunk's
 * stream) and whose other properties are drawn from its own stream on first
 * use: walking past thousands of cells stays cheap, and the values do not
 * depend on the order of use. (A class so the accessors live on one prototype
 * rather than as closures on every cell.)
 */
class LazyCell implements SimCell {
  readonly position: [number, number, number];
  used = false;
  occupiedBy: string | null = null;
  dead = false;
  pushedUm = 0;
  private details: CellDetails | null = null;
  private model: NeuronModel | null = null;
  private damage: number | null = null;

  constructor(
    readonly id: number,
    position: Vec3,
    readonly radiusUm: number,
    readonly healthy: boolean,
    private readonly ctx: CellContext,
    private readonly source: Rng,
    private readonly label: number | null,
    private readonly spec: CellSpec | null,
  ) {
    this.position = [position[0], position[1], position[2]];
  }

  private d(): CellDetails {
    if (this.details) return this.details;
    const { params, cameraRng } = this.ctx;
    const c = params.cell;
    const spec = this.spec;
    const r = this.label === null ? this.source : this.source.fork(this.label);
    const inputOhm = spec?.inputOhm ?? r.logUniform(c.inputOhm[0], c.inputOhm[1]);
    const tauS = r.logUniform(c.tauMs[0], c.tauMs[1]) / 1000;
    const capacitanceF = spec?.capacitanceF ?? Math.min(c.capacitanceF[1], Math.max(c.capacitanceF[0], tauS / inputOhm));
    const restV = spec?.restingV ?? r.uniform(c.restingV[0], c.restingV[1]);
    const fate = { ...drawFate(r.fork('fate'), params, this.healthy), ...spec?.fate };
    let gDmg0 = 0;
    if (!this.healthy) {
      // an unhealthy cell is leaky: a damage conductance that depolarises it into the unhealthy range
      const eBad = r.uniform(c.unhealthyRestingV[0], c.unhealthyRestingV[1]);
      const eD = params.wholeCell.damageReversalV;
      gDmg0 = Math.max(0, (restV - eBad) / (inputOhm * (eBad - eD)));
    }
    const cam = cameraRng.fork(this.id);
    const pop = params.population;
    const cameraError: Vec3 = [cam.normal(0, pop.cameraErrorXyUm), cam.normal(0, pop.cameraErrorXyUm), cam.normal(0, pop.cameraErrorZUm)];
    this.details = { inputOhm, capacitanceF, restV, fate, gDmg0, cameraError, r };
    return this.details;
  }

  get neuron(): NeuronModel {
    if (this.model) return this.model;
    const x = this.d();
    const np = this.spec?.neuron ? { ...this.ctx.params.neuron, ...this.spec.neuron } : this.ctx.params.neuron;
    this.model = drawNeuron(x.r.fork('neuron'), np, { restV: x.restV, inputOhm: x.inputOhm, capacitanceF: x.capacitanceF });
    return this.model;
  }

  get inputOhm(): number {
    return this.d().inputOhm;
  }

  get fate(): CellFate {
    return this.d().fate;
  }

  get gDmg(): number {
    return this.damage ?? this.d().gDmg0;
  }

  set gDmg(v: number) {
    this.damage = v;
  }

  get cameraError(): Vec3 {
    return this.d().cameraError;
  }
}

function drawFate(r: Rng, params: PrepParams, healthy: boolean): CellFate {
  const s = params.seal;
  const b = params.breakIn;
  const w = params.wholeCell;
  const ct = params.contact;
  const kindDraw = r.next();
  const sealKind: SealKind = kindDraw < s.stallFraction ? 'stall' : kindDraw < s.stallFraction + s.slowFraction ? 'slow' : 'good';
  const sealFinalOhm = !healthy
    ? r.logUniform(s.unhealthyFinalOhm[0], s.unhealthyFinalOhm[1])
    : sealKind === 'stall'
      ? r.logUniform(s.stallFinalOhm[0], s.stallFinalOhm[1])
      : r.logUniform(s.finalOhm[0], s.finalOhm[1]);
  const touchRiseOhm = r.uniform(ct.touchRiseOhm[0], ct.touchRiseOhm[1]);
  const pressRiseOhm = Math.min(ct.maxRiseOhm, touchRiseOhm * r.uniform(ct.pressRiseFactor[0], ct.pressRiseFactor[1]));
  // rate so that a cooperative cell reaches 1 GΩ after the drawn time under full suction
  const tGiga = r.logUniform(s.timeToGigaohmS[0], s.timeToGigaohmS[1]);
  const g0 = 1 / touchRiseOhm;
  const gRef = 1 / Math.max(sealFinalOhm, 1.5e9);
  const xNeeded = Math.log((g0 - gRef) / (1e-9 - gRef));
  const sealRatePerS = xNeeded / (tGiga * s.suctionSpeedup);
  const loses = r.chance(s.lossFraction);
  const lossMean = r.uniform(s.lossMeanS[0], s.lossMeanS[1]);
  const rupturable = !r.chance(b.unrupturableFraction);
  return {
    sealKind,
    sealRatePerS,
    sealFinalOhm,
    cleanTipBoost: r.uniform(s.cleanTipBoost[0], s.cleanTipBoost[1]),
    sealLossRatePerS: loses ? 1 / lossMean : 0,
    tearUm: r.uniform(s.tearUm[0], s.tearUm[1]),
    touchRiseOhm,
    pressRiseOhm,
    pushLimitUm: r.uniform(ct.pushLimitUm[0], ct.pushLimitUm[1]),
    pushDamages: r.chance(ct.pushDamageProbability),
    spontaneousBreakIn: r.chance(s.spontaneousFraction),
    spontaneousMbar: r.uniform(s.spontaneousMbar[0], s.spontaneousMbar[1]),
    postSealToleranceMbarS: r.uniform(s.postSealToleranceMbarS[0], s.postSealToleranceMbarS[1]),
    postSealOutcome: r.chance(s.postSealRuptureFraction) ? 'rupture-high-ra' : 'seal-damage',
    rupturable,
    ruptureMbar: r.uniform(b.ruptureMbar[0], b.ruptureMbar[1]),
    zapTauMs: r.uniform(b.zapTauMs[0], b.zapTauMs[1]),
    accessOhm: r.uniform(b.accessOhm[0], b.accessOhm[1]),
    uncontrolledAccessFactor: r.uniform(b.uncontrolledAccessFactor[0], b.uncontrolledAccessFactor[1]),
    raCreep: r.chance(w.creepFraction),
    raCreepOhmPerS: r.uniform(w.creepOhmPerS[0], w.creepOhmPerS[1]),
    suctionToleranceMbarS: r.uniform(w.suctionToleranceMbarS[0], w.suctionToleranceMbarS[1]),
    dies: r.chance(w.deathFraction),
    deathAfterS: r.uniform(w.deathAfterS[0], w.deathAfterS[1]),
    deadOhm: r.uniform(w.deadOhm[0], w.deadOhm[1]),
  };
}

function dist(a: Vec3, b: Vec3): number {
  const dx = a[0] - b[0];
  const dy = a[1] - b[1];
  const dz = a[2] - b[2];
  return Math.sqrt(dx * dx + dy * dy + dz * dz);
}

const BIN = 20;
const NB = CHUNK / BIN + 2;

/** Non-overlap bookkeeping while filling one chunk: a coarse grid (with a margin), so placement stays O(n). */
function spacing(x0: number, y0: number, z0: number): { fits(p: Vec3, r: number): boolean; add(p: Vec3, r: number): void } {
  const bins: Array<Array<{ p: Vec3; r: number }> | undefined> = new Array(NB * NB * NB);
  const bin = (v: number, o: number): number => Math.min(NB - 2, Math.max(0, Math.floor((v - o) / BIN))) + 1;
  return {
    fits(p, r) {
      const bx = bin(p[0], x0);
      const by = bin(p[1], y0);
      const bz = bin(p[2], z0);
      for (let i = -1; i <= 1; i++)
        for (let j = -1; j <= 1; j++)
          for (let k = -1; k <= 1; k++) {
            const list = bins[((bx + i) * NB + (by + j)) * NB + (bz + k)];
            if (list) for (const o of list) if (dist(o.p, p) <= o.r + r + 1) return false;
          }
      return true;
    },
    add(p, r) {
      const idx = (bin(p[0], x0) * NB + bin(p[1], y0)) * NB + bin(p[2], z0);
      (bins[idx] ??= []).push({ p, r });
    },
  };
}

