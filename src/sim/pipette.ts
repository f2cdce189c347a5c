/**
 * One pipette holder: the glass currently fitted, its patch state, its inputs
 * (tip position and line pressure sources), and the electrical outputs the
 * amplifier asks for. The world advances all pipettes together (pipette
 * interactions — collisions, a neighbour disturbing a seal — need a shared
 * time line); this module does one pipette's share of a step.
 */
import { hypot3, type Vec3 } from '../geometry.ts';
import type { PrepParams } from './params.ts';
import type { Debris, Population, SimCell } from './population.ts';
import type { Rng } from './rng.ts';
import { addGaussianNoise } from './rng.ts';
import type { Place } from './space.ts';
import type { PipetteTruth, SimEventKind } from './types.ts';
import { createGlass, glassResistance, stepGlass, tipCondition, debrisOhm, type Emit, type Glass, type GlassStep } from './glass.ts';
import { accessResistance, createPatch, isAttached, leaveCell, stepPatch, zapPatch, type PatchContext, type PatchState, type PatchStep } from './patch.ts';
import { passiveCurrentClampResponse, steadyCurrent, voltageClampResponse, type CircuitSnapshot } from './circuit.ts';
import { linearCell, neuronCurrentClamp } from './neuron.ts';

/** ≈ open circuit, reported for the access resistance before break-in (physics.md: ≈1 TΩ) */
export const OPEN_OHM = 1e12;

export interface PipetteModel {
  readonly id: string;
  readonly axis: Vec3;
  readonly shaftLengthUm: number;
  fitting: number;
  glass: Glass;
  patch: PatchState;
  ctx: PatchContext;
  noiseRng: Rng;
  positionSource: ((t: number) => Vec3) | null;
  pressureSource: ((t: number) => number) | null;
  tip: Vec3;
  pressure: number;
  place: Place;
  /** last voltage-clamp holding (V) or null when last used in current clamp */
  holdingV: number | null;
  candidates: { center: Vec3; cells: SimCell[]; debris: Debris[] } | null;
  /** emits this pipette's glass events (clogging, breakage); reads ctx at each call, so it follows a refit */
  readonly emitGlass: Emit;
  /**
   * The step inputs handed to glass and patch, filled in place each step: the
   * world steps every 10–100 ms of virtual time, and two fresh objects, a
   * displacement and a closure per step were a fifth of the emulated rig's
   * garbage. Neither stepGlass nor stepPatch keeps them past the call.
   */
  readonly scratch: { glass: GlassStep; patch: PatchStep; delta: [number, number, number] };
}

function stepScratch(axis: Vec3, place: Place): PipetteModel['scratch'] {
  const delta: [number, number, number] = [0, 0, 0];
  return {
    glass: { dtS: 0, movedUm: 0, inTissue: false, attached: false, pressureMbar: 0, wellKind: null },
    patch: { t: 0, dtS: 0, tip: UNBOUND_TIP, movedUm: 0, axis, delta, pressureMbar: 0, place, holdingV: null, neighbourDrive: 0, cells: [], debris: [] },
    delta,
  };
}

export type EmitFn = (pipetteId: string, kind: SimEventKind, cellId: number | null, detail?: string) => void;

const UNBOUND_TIP: Vec3 = [0, 0, -3000];

export function fitGlass(root: Rng, id: string, fitting: number, params: PrepParams): { glass: Glass; patch: PatchState; noiseRng: Rng } {
  const r = root.fork(`pipette:${id}`).fork(fitting);
  return { glass: createGlass(r, params), patch: createPatch(r), noiseRng: r.fork('noise') };
}

export function createPipetteModel(root: Rng, params: PrepParams, id: string, axis: Vec3, shaftLengthUm: number, place: Place, emit: EmitFn): PipetteModel {
  const fitted = fitGlass(root, id, 1, params);
  const pm: PipetteModel = {
    id,
    axis,
    shaftLengthUm,
    fitting: 1,
    ...fitted,
    ctx: undefined as unknown as PatchContext,
    positionSource: null,
    pressureSource: null,
    tip: UNBOUND_TIP,
    pressure: 0,
    place,
    holdingV: null,
    candidates: null,
    emitGlass: (kind, detail) => pm.ctx.emit(kind, detail),
    scratch: stepScratch(axis, place),
  };
  pm.ctx = makeContext(pm, params, emit);
  return pm;
}

function makeContext(pm: PipetteModel, params: PrepParams, emit: EmitFn): PatchContext {
  return {
    pipetteId: pm.id,
    params,
    glass: pm.glass,
    emit: (kind, detail, cellId) => emit(pm.id, kind, cellId === undefined ? (pm.patch.cell?.id ?? null) : cellId, detail),
  };
}

/** The operator fits a new pipette: the old one leaves whatever it was attached to. */
export function refit(pm: PipetteModel, root: Rng, params: PrepParams, emit: EmitFn): void {
  if (pm.patch.cell && pm.patch.stage !== 'contact') leaveCell(pm.patch, pm.ctx, { place: pm.place }, 'pipette replaced');
  pm.fitting++;
  const fitted = fitGlass(root, pm.id, pm.fitting, params);
  pm.glass = fitted.glass;
  pm.patch = fitted.patch;
  pm.noiseRng = fitted.noiseRng;
  pm.ctx = makeContext(pm, params, emit);
  pm.patch.stage = pm.place.kind === 'tissue' ? 'tissue' : 'bath';
  pm.candidates = null;
  emit(pm.id, 'pipette-replaced', null, String(pm.fitting));
}

export const tipAt = (pm: PipetteModel, t: number): Vec3 => (pm.positionSource ? pm.positionSource(t) : UNBOUND_TIP);
export const pressureAt = (pm: PipetteModel, t: number): number => (pm.pressureSource ? pm.pressureSource(t) : 0);

/** Cells and debris near the tip, cached while the tip stays within a few µm. */
function nearby(pm: PipetteModel, population: Population, tip: Vec3): { cells: SimCell[]; debris: Debris[] } {
  const c = pm.candidates;
  if (c && hypot3(tip[0] - c.center[0], tip[1] - c.center[1], tip[2] - c.center[2]) < 10) return c;
  const fresh = { center: tip, cells: population.cellsNear(tip, 25), debris: population.debrisNear(tip, 25) };
  pm.candidates = fresh;
  return fresh;
}

export interface StepInput {
  t: number;
  dtS: number;
  tip: Vec3;
  pressure: number;
  place: Place;
  neighbourDrive: number;
}

export function stepPipette(pm: PipetteModel, params: PrepParams, population: Population, s: StepInput): void {
  const prev = pm.tip;
  const { glass: gs, patch: ps, delta } = pm.scratch;
  delta[0] = s.tip[0] - prev[0];
  delta[1] = s.tip[1] - prev[1];
  delta[2] = s.tip[2] - prev[2];
  const moved = hypot3(delta[0], delta[1], delta[2]);
  pm.tip = s.tip;
  pm.pressure = s.pressure;
  pm.place = s.place;
  gs.dtS = s.dtS;
  gs.movedUm = moved;
  gs.inTissue = s.place.kind === 'tissue';
  gs.attached = isAttached(pm.patch) || pm.patch.stage === 'lost';
  gs.pressureMbar = s.pressure;
  gs.wellKind = s.place.kind === 'well' ? (s.place.well?.kind ?? null) : null;
  stepGlass(pm.glass, params, gs, pm.emitGlass);
  const near = nearby(pm, population, s.tip);
  ps.t = s.t;
  ps.dtS = s.dtS;
  ps.tip = s.tip;
  ps.movedUm = moved;
  ps.pressureMbar = s.pressure;
  ps.place = s.place;
  ps.holdingV = pm.holdingV;
  ps.neighbourDrive = s.neighbourDrive;
  ps.cells = near.cells;
  ps.debris = near.debris;
  stepPatch(pm.patch, pm.ctx, ps);
}

/** The circuit the amplifier sees now (without noise/jitter). */
export function circuitNow(pm: PipetteModel, params: PrepParams): CircuitSnapshot {
  const ps = pm.patch;
  const cell = ps.stage === 'whole-cell' ? ps.cell : null;
  const lin = cell ? linearCell(cell.neuron, cell.gDmg, params.wholeCell.damageReversalV) : { Rm: OPEN_OHM, Em: 0 };
  return {
    Rp: glassResistance(pm.glass),
    Rs: ps.Rs,
    Ra: accessResistance(ps),
    Rm: lin.Rm,
    Cm: cell ? cell.neuron.C : 1e-12,
    Em: lin.Em,
    offsetV: pm.glass.offsetV,
    Cp: pm.glass.capacitanceF,
  };
}

/**
 * Per-sweep resistance jitter: tip micro-movements, bubbles, tissue around the tip.
 * Applied to `c` in place (a fresh snapshot from circuitNow): a spread copy per
 * sweep cost more, and gave the circuit a second object shape.
 */
function jittered(pm: PipetteModel, params: PrepParams, c: CircuitSnapshot, noise: boolean): CircuitSnapshot {
  if (!noise) return c;
  const f = pm.place.kind === 'tissue' ? params.pipette.tissueJitterFactor : 1;
  c.Rp = Math.max(1e5, c.Rp + pm.noiseRng.normal(0, pm.glass.jitterOhm * f));
  return c;
}

export function voltageClampSweep(pm: PipetteModel, params: PrepParams, noise: boolean, fs: number, command: Float32Array, out: Float32Array): void {
  if (command.length > 0) pm.holdingV = command[0];
  const c = jittered(pm, params, circuitNow(pm, params), noise);
  voltageClampResponse(c, fs, command, out);
  if (noise) addGaussianNoise(pm.noiseRng, out, params.pipette.currentNoiseA * Math.sqrt(fs / 20000));
}

export function currentClampSweep(pm: PipetteModel, params: PrepParams, noise: boolean, fs: number, command: Float32Array, out: Float32Array): void {
  pm.holdingV = null;
  const c = jittered(pm, params, circuitNow(pm, params), noise);
  const ps = pm.patch;
  const cell = ps.stage === 'whole-cell' ? ps.cell : null;
  const lin = cell ? linearCell(cell.neuron, cell.gDmg, params.wholeCell.damageReversalV) : null;
  if (cell && lin && !cell.dead && lin.Em < -0.04) {
    neuronCurrentClamp(
      cell.neuron,
      { Rp: c.Rp, Rs: c.Rs, Ra: c.Ra, gDmg: cell.gDmg, EDmg: params.wholeCell.damageReversalV, offsetV: c.offsetV, canSpike: true },
      fs,
      command,
      out,
    );
  } else passiveCurrentClampResponse(c, fs, command, out);
  if (noise) addGaussianNoise(pm.noiseRng, out, params.pipette.voltageNoiseV);
}

export function zapPipette(pm: PipetteModel, t: number, durationMs: number, amplitudeV: number): void {
  zapPatch(pm.patch, pm.ctx, t, durationMs, amplitudeV);
}

export function pipetteTruth(pm: PipetteModel, params: PrepParams, t: number): PipetteTruth {
  const ps = pm.patch;
  const c = circuitNow(pm, params);
  const cell = ps.cell;
  const lin = cell ? linearCell(cell.neuron, cell.gDmg, params.wholeCell.damageReversalV) : null;
  const ra = accessResistance(ps);
  return {
    t,
    tip: pm.tip,
    condition: tipCondition(pm.glass, params),
    uses: pm.glass.uses,
    stage: ps.stage,
    cellId: cell?.id ?? null,
    pipetteResistance: c.Rp,
    sealResistance: ps.Rs,
    accessResistance: Number.isFinite(ra) ? ra : OPEN_OHM,
    membraneResistance: lin ? lin.Rm : 0,
    membraneCapacitance: cell ? cell.neuron.C : 0,
    restingPotential: lin ? lin.Em : 0,
    cellHealthy: cell ? !cell.dead && cell.healthy && lin !== null && lin.Em < -0.04 : false,
    pressure: pm.pressure,
    well: pm.place.kind === 'well' ? (pm.place.well?.name ?? null) : null,
    cleanings: pm.glass.cleanings,
    contamination: pm.glass.contamination,
    residue: pm.glass.residue,
    clogResistance: debrisOhm(pm.glass),
    brokenCause: pm.glass.brokenCause,
    peakSeal: ps.peakSeal,
    fitting: pm.fitting,
    holdingCurrent: pm.holdingV === null ? 0 : steadyCurrent(c, pm.holdingV),
  };
}
