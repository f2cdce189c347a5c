/**
 * createSimWorld: the physics behind the emulators.
 *
 * Config (SimWorldConfig):
 *   seed         — everything random derives from it; the model is a pure
 *                  function of the seed and the sequence of calls.
 *   preparation  — 'in-vivo' | 'slice' | 'culture'; picks the parameter set in
 *                  params.ts (geometry, population, pipette, seal … distributions).
 *   pipettes     — [{ id, axis, shaftLengthUm? }]: axis is the unit vector along
 *                  the pipette towards its tip (world frame, geometry.pipetteAxis);
 *                  the shaft (for collisions) runs shaftLengthUm back from the tip.
 *   overrides    — optional: `prep` (deep-partial parameter overrides, e.g.
 *                  `stage` for the manipulator position error), `cells`
 *                  (place these cells instead of the random population), `wells`
 *                  (replace the default detergent/rinse wells), `noise: false`
 *                  (noiseless electrical outputs, for exact tests).
 *
 * No clock inside: inputs come from bound sources, evaluated at the times the
 * callers pass. All pipettes advance together on one time line, in steps small
 * enough for the situation (sub-µm near cells, ≤ 10 ms while attached).
 */
import { hypot3, segmentDistance, shaft, type Vec3 } from '../geometry.ts';
import type { CellTruth, Preparation, Region, SimEvent, SimEventKind, SimPipette, SimWorld } from './types.ts';
import { prepParams, type DeepPartial, type PrepParams } from './params.ts';
import { createRng } from './rng.ts';
import { createPopulation, type CellSpec, type SimCell } from './population.ts';
import { createSpace, defaultWells } from './space.ts';
import { breakTip } from './glass.ts';
import { createStageError, type StageError } from './stage-error.ts';
import { linearCell, neuronRecord } from './neuron.ts';
import {
  createPipetteModel,
  currentClampSweep,
  pipetteTruth,
  pressureAt,
  refit,
  stepPipette,
  tipAt,
  voltageClampSweep,
  zapPipette,
  type StepInput,
  type PipetteModel,
} from './pipette.ts';

export interface SimPipetteConfig {
  id: string;
  /** unit vector along the pipette towards its tip, world frame */
  axis: Vec3;
  /** shaft length considered for collisions, µm (default from params) */
  shaftLengthUm?: number;
}

export interface SimOverrides {
  prep?: DeepPartial<PrepParams>;
  /** explicit cells instead of the random population (ids 1…n in this order) */
  cells?: CellSpec[];
  wells?: Region[];
  /** false: no recording noise and no resistance jitter */
  noise?: boolean;
}

export interface SimWorldConfig {
  seed: number;
  preparation: Preparation;
  pipettes: SimPipetteConfig[];
  overrides?: SimOverrides;
}

const ATTACHED_STEP_MS = 10;
/** attached, at rest and at atmosphere: nothing fast can happen */
const QUIET_ATTACHED_STEP_MS = 50;
const ACTIVE_STEP_MS = 20;
const IDLE_STEP_MS = 100;

export function createSimWorld(config: SimWorldConfig): SimWorld {
  const root = createRng(config.seed);
  const params = prepParams(config.preparation, config.overrides?.prep);
  const noise = config.overrides?.noise !== false;
  const population = createPopulation(root.fork('population'), config.preparation, params, config.overrides?.cells);
  const wells: readonly Region[] = config.overrides?.wells ?? defaultWells();
  const space = createSpace(params.geometry, wells);
  const events: SimEvent[] = [];
  let now = 0;
  let stepT = 0;

  const emit = (pipetteId: string, kind: SimEventKind, cellId: number | null, detail?: string): void => {
    const e: SimEvent = { t: stepT, pipetteId, kind, cellId };
    if (detail !== undefined) e.detail = detail;
    events.push(e);
  };

  const ids = config.pipettes.map((p) => p.id);
  if (new Set(ids).size !== ids.length) throw new Error('sim: pipette ids must be unique');
  const models: PipetteModel[] = config.pipettes.map((p) => {
    const n = hypot3(p.axis[0], p.axis[1], p.axis[2]) || 1;
    const axis: Vec3 = [p.axis[0] / n, p.axis[1] / n, p.axis[2] / n];
    return createPipetteModel(root, params, p.id, axis, p.shaftLengthUm ?? params.pipette.defaultShaftLengthUm, space([0, 0, -3000]), emit);
  });
  const byId = new Map(models.map((m) => [m.id, m]));
  const stageErrors = new Map<string, StageError>(models.map((m) => [m.id, createStageError(root.fork('stage-error').fork(m.id), params.stage)]));
  const colliding = new Set<string>();
  // built once: a key string per pair per step was a hash of a fresh string each time
  const pairKeys = models.map((a) => models.map((b) => `${a.id}\u0000${b.id}`));

  const bound = (m: PipetteModel): boolean => m.positionSource !== null;
  const stepCap = (m: PipetteModel, speed: number): number => {
    const st = m.patch.stage;
    if (st === 'sealing' || st === 'cell-attached' || st === 'whole-cell' || st === 'lost') {
      if (st !== 'sealing' && speed === 0 && Math.abs(m.pressure) < 5 && Math.abs(pressureAt(m, now + QUIET_ATTACHED_STEP_MS)) < 5) return QUIET_ATTACHED_STEP_MS;
      return ATTACHED_STEP_MS;
    }
    if (m.place.kind !== 'bath' || m.tip[2] > -30) return ACTIVE_STEP_MS;
    return IDLE_STEP_MS;
  };
  // A shaft is asked for by every other pipette's step limit and by the collision check,
  // all at the same tip: keep the last one per pipette (keyed by the tip array, which is
  // replaced, never mutated, when the tip moves).
  const shafts = new Map<PipetteModel, { tip: Vec3; seg: [Vec3, Vec3] }>();
  const shaftOf = (m: PipetteModel): [Vec3, Vec3] => {
    const tip = m.tip;
    const c = shafts.get(m);
    if (c && c.tip === tip) return c.seg;
    const seg = shaft(tip, m.axis, m.shaftLengthUm);
    shafts.set(m, { tip, seg });
    return seg;
  };

  /** largest displacement per step: fine near cells and floors, and never enough to pass through another shaft */
  const displacementLimit = (m: PipetteModel): number => {
    let lim = m.place.kind === 'tissue' || m.tip[2] > -30 ? 0.5 : 20;
    if (m.place.kind === 'well' && m.place.well && m.tip[2] > m.place.well.center[2] - 100) lim = Math.min(lim, 2);
    const [a0, a1] = shaftOf(m);
    for (const o of models) {
      if (o === m || !bound(o)) continue;
      const [b0, b1] = shaftOf(o);
      const d = segmentDistance(a0, a1, b0, b1);
      lim = Math.min(lim, Math.max(0.25, (d - params.pipette.collisionUm) / 2));
    }
    return lim;
  };

  // Per-advance and per-step working arrays, reused: advance runs once per sweep and
  // steps every 10–100 ms of virtual time, so fresh ones were steady garbage.
  const speed = new Float64Array(models.length);
  const tips: Vec3[] = models.map((m) => m.tip);
  const moved = new Float64Array(models.length);
  const stepInputs: StepInput[] = models.map((m) => ({ t: 0, dtS: 0, tip: m.tip, pressure: 0, place: m.place, neighbourDrive: 0 }));

  const advance = (t: number): void => {
    if (!(t > now)) return;
    const span = t - now;
    for (let i = 0; i < models.length; i++) {
      const m = models[i];
      if (!bound(m)) {
        speed[i] = 0;
        continue;
      }
      const end = tipAt(m, t);
      speed[i] = hypot3(end[0] - m.tip[0], end[1] - m.tip[1], end[2] - m.tip[2]) / span;
    }
    while (now < t) {
      let dt = t - now;
      for (let i = 0; i < models.length; i++) {
        const m = models[i];
        dt = Math.min(dt, stepCap(m, speed[i]));
        if (speed[i] > 0) dt = Math.min(dt, displacementLimit(m) / speed[i]);
      }
      dt = Math.max(dt, 1e-3);
      const tb = t - (now + dt) < 1e-9 ? t : now + dt;
      stepT = tb;
      const dtS = (tb - now) / 1000;
      let anyMoved = false;
      for (let i = 0; i < models.length; i++) {
        const m = models[i];
        tips[i] = bound(m) ? tipAt(m, tb) : m.tip;
        moved[i] = hypot3(tips[i][0] - m.tip[0], tips[i][1] - m.tip[1], tips[i][2] - m.tip[2]);
        if (moved[i] > 0) anyMoved = true;
      }
      const range = params.seal.neighbourRangeUm;
      for (let i = 0; i < models.length; i++) {
        const m = models[i];
        let drive = 0;
        for (let j = 0; j < models.length; j++) {
          if (j === i || moved[j] === 0 || !bound(models[j])) continue;
          const d = hypot3(tips[i][0] - tips[j][0], tips[i][1] - tips[j][1], tips[i][2] - tips[j][2]);
          if (d < range) drive += moved[j] * (1 - d / range);
        }
        const place = space(tips[i]);
        if (place.kind === 'solid' && place.hit && bound(m)) breakTip(m.glass, params, place.hit, m.emitGlass);
        const input = stepInputs[i];
        input.t = tb;
        input.dtS = dtS;
        input.tip = tips[i];
        input.pressure = pressureAt(m, tb);
        input.place = place;
        input.neighbourDrive = drive;
        stepPipette(m, params, population, input);
      }
      if (anyMoved) checkCollisions();
      now = tb;
    }
  };

  const checkCollisions = (): void => {
    for (let i = 0; i < models.length; i++) {
      for (let j = i + 1; j < models.length; j++) {
        const a = models[i];
        const b = models[j];
        if (!bound(a) || !bound(b)) continue;
        const key = pairKeys[i][j];
        const [a0, a1] = shaftOf(a);
        const [b0, b1] = shaftOf(b);
        if (segmentDistance(a0, a1, b0, b1) < params.pipette.collisionUm) {
          if (colliding.has(key)) continue;
          colliding.add(key);
          emit(a.id, 'collision', null, b.id);
          emit(b.id, 'collision', null, a.id);
          breakTip(a.glass, params, 'collision', a.emitGlass);
          breakTip(b.glass, params, 'collision', b.emitGlass);
        } else colliding.delete(key);
      }
    }
  };

  const cellTruth = (c: SimCell): CellTruth => {
    const lin = linearCell(c.neuron, c.gDmg, params.wholeCell.damageReversalV);
    return {
      id: c.id,
      position: [c.position[0], c.position[1], c.position[2]],
      radiusUm: c.radiusUm,
      capacitance: c.neuron.C,
      inputResistance: lin.Rm,
      restingPotential: lin.Em,
      neuron: neuronRecord(c.neuron),
      fate: { ...c.fate, healthy: c.healthy, dead: c.dead, pushedUm: c.pushedUm },
      used: c.used,
    };
  };

  const pipetteApi = (m: PipetteModel): SimPipette => ({
    id: m.id,
    bindPosition(source) {
      m.positionSource = source;
      m.tip = source(now);
      m.place = space(m.tip);
      m.candidates = null;
      if (m.patch.stage === 'bath' || m.patch.stage === 'tissue') m.patch.stage = m.place.kind === 'tissue' ? 'tissue' : 'bath';
    },
    bindPressure(source) {
      m.pressureSource = source;
      m.pressure = source(now);
    },
    advanceTo: advance,
    truth: () => pipetteTruth(m, params, now),
    voltageClamp(t0, fs, command, out) {
      advance(t0);
      const o = out ?? new Float32Array(command.length);
      voltageClampSweep(m, params, noise, fs, command, o);
      return o;
    },
    currentClamp(t0, fs, command, out) {
      advance(t0);
      const o = out ?? new Float32Array(command.length);
      currentClampSweep(m, params, noise, fs, command, o);
      return o;
    },
    zap(t, durationMs, amplitudeV) {
      advance(t);
      stepT = now;
      zapPipette(m, now, durationMs, amplitudeV);
    },
    get offsetV() {
      return m.glass.offsetV;
    },
    get pipetteCapacitanceF() {
      return m.glass.capacitanceF;
    },
    stageError: stageErrors.get(m.id)!,
  });
  const apis = new Map(models.map((m) => [m.id, pipetteApi(m)]));

  return {
    seed: config.seed,
    preparation: config.preparation,
    pipetteIds: ids,
    wells,
    get t() {
      return now;
    },
    pipette(id) {
      const p = apis.get(id);
      if (!p) throw new Error(`sim: no pipette "${id}"`);
      return p;
    },
    cells: () => population.all().map(cellTruth),
    cell(id) {
      const c = population.get(id);
      return c ? cellTruth(c) : undefined;
    },
    replacePipette(id, t) {
      const m = byId.get(id);
      if (!m) throw new Error(`sim: no pipette "${id}"`);
      advance(t);
      stepT = now;
      refit(m, root, params, emit);
      stageErrors.get(id)!.refit(m.fitting);
    },
    advanceTo: advance,
    observedCells: () => population.observed(),
    events: () => events,
    eventCounts() {
      const out: Record<string, number> = {};
      for (const e of events) {
        out[e.kind] = (out[e.kind] ?? 0) + 1;
        if (e.detail !== undefined) out[`${e.kind}:${e.detail}`] = (out[`${e.kind}:${e.detail}`] ?? 0) + 1;
      }
      return out;
    },
  };
}
