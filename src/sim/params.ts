/**
 * The simulator's "presets": every distribution and rate the model draws from,
 * per preparation, with the numbers taken from /work/shared/domain/physics.md
 * and autopatching.md. A world may override any of it (`SimWorldConfig.overrides.prep`).
 *
 * Units are in the field names: Ohm, F, V, mbar, µm (Um), s (S), ms (Ms).
 * A Range is [lo, hi]; how it is sampled (uniform / log-uniform) is the
 * drawing code's business and stated where it is drawn.
 */
import type { Preparation } from './types.ts';

export type Range = readonly [number, number];

export interface GeometryParams {
  /** lateral radius of the preparation around the world origin, µm; beyond it (outside wells) z > 0 is solid and breaks tips */
  prepRadiusUm: number;
  /** tissue between these depths (null: no tissue, e.g. culture) */
  tissue: { topUm: number; bottomUm: number } | null;
  /** hard floor (glass coverslip / dish) under the prep, z µm; null = none (brain) */
  floorUm: number | null;
}

export interface PopulationParams {
  /** 'volume': cells scattered in depth; 'floor': a monolayer sitting on the floor */
  layout: 'volume' | 'floor';
  /** cells per µm³ (volume) or per µm² (floor) */
  density: number;
  /** depth range holding cells (volume layout), µm */
  depthUm: Range;
  somaRadiusUm: Range;
  /** fraction of cells that are healthy where cells are healthy at all */
  healthyFraction: number;
  /** depths where healthy cells occur (slice: the cut surface is damaged), µm */
  healthyDepthUm: Range;
  /** debris / non-cell obstacles giving false hits, per µm³ of tissue (per µm² for floor layout) */
  debrisDensity: number;
  debrisRadiusUm: Range;
  /** R rise of a false hit at touch, Ω (only while pressure is positive) */
  debrisRiseOhm: Range;
  /** what the camera sees (targeted preparations) */
  fieldOfView: { centerUm: readonly [number, number]; halfWidthUm: number; depthUm: Range };
  /** camera/target position error, 1 SD per axis, µm */
  cameraErrorXyUm: number;
  cameraErrorZUm: number;
}

export interface PipetteParams {
  /** bath resistance of a fresh pipette, Ω (uniform) */
  resistanceOhm: Range;
  /** electrode offset, V: normal with this SD, clipped to ±3 SD */
  offsetSdV: number;
  capacitanceF: Range;
  /** per-sweep jitter of the resistance (SD), Ω (uniform per pipette); gives 20–100 kΩ RMS readings */
  resistanceJitterOhm: Range;
  /** extra jitter factor while in tissue */
  tissueJitterFactor: number;
  /** white current noise SD at 20 kHz sampling, A (scales with √(fs/20 kHz)) */
  currentNoiseA: number;
  /** white voltage noise SD in current clamp, V */
  voltageNoiseV: number;
  /** series resistance added by tissue around the tip, Ω (uniform per pipette) */
  tissueResistanceOhm: Range;
  /** a broken tip loses this much resistance (uniform), Ω; never below 1 MΩ */
  brokenDropOhm: Range;
  /** chance per µm travelled in tissue that the tip breaks for no visible reason */
  randomBreakPerUm: number;
  /** shaft-to-shaft distance below which two pipettes break each other, µm */
  collisionUm: number;
  defaultShaftLengthUm: number;
}

export interface ClogParams {
  /** debris pick-ups per µm travelled in tissue at atmospheric pressure */
  eventsPerUm: number;
  /** positive pressure reduces pick-ups as exp(−P / this), mbar */
  pressureScaleMbar: number;
  /** resistance added by one pick-up, Ω: exponential with this mean */
  eventMeanOhm: number;
  /** share of a pick-up that high pressure can blow off again */
  looseFraction: number;
  /** pressure that blows loose debris off, mbar, and how fast */
  clearPressureMbar: number;
  clearTauS: number;
  /** slow drift while sitting in tissue below this pressure, Ω/s */
  driftOhmPerS: number;
  driftBelowMbar: number;
  /** debris above this counts as a clogged tip, Ω */
  cloggedOhm: number;
}

export interface ContactParams {
  /** distance from the membrane at which R starts to rise, µm */
  rangeUm: number;
  /** R rise at touch (uniform per cell), Ω */
  touchRiseOhm: Range;
  /** R rise when pressing to the push limit, as a multiple of the touch rise (uniform), capped at maxRiseOhm */
  pressRiseFactor: Range;
  maxRiseOhm: number;
  /** dimple depth the cell tolerates before it is pushed away or damaged, µm (uniform per cell) */
  pushLimitUm: Range;
  /** chance that pressing past the limit damages the cell rather than pushing it aside */
  pushDamageProbability: number;
  /** positive pressure above this keeps the membrane off the glass, mbar */
  sealPressureMaxMbar: number;
  /** membrane reach under suction: reach = atmUm + suctionUm · min(1, −P / suctionFullMbar) */
  reachAtmUm: number;
  reachSuctionUm: number;
}

export interface SealParams {
  /** time from touch to 1 GΩ under full suction for a cooperative cell, s (log-uniform) */
  timeToGigaohmS: Range;
  /** final seal of a cooperative cell, Ω (log-uniform) */
  finalOhm: Range;
  /** fresh or cleaned tips seal tighter: final × this (uniform) */
  cleanTipBoost: Range;
  /** suction speeds sealing up to this factor, reached at suctionFullMbar */
  suctionSpeedup: number;
  suctionFullMbar: number;
  /** holding at or below holdingBelowV speeds sealing by this factor */
  holdingSpeedup: number;
  holdingBelowV: number;
  /** fates: slow sealers (rate × slowFactor) and stallers (final in stallFinalOhm) */
  slowFraction: number;
  slowFactor: number;
  stallFraction: number;
  stallFinalOhm: Range;
  /** unhealthy cells seal poorly: final in this range (log-uniform), Ω */
  unhealthyFinalOhm: Range;
  /** contamination c and detergent residue r spoil seals: good-seal odds × exp(−penalty·c) × (1 − residuePenalty·r) */
  contaminationPenalty: number;
  residuePenalty: number;
  /** fraction of cells whose seal is lost at a random time before break-in, and the mean time, s */
  lossFraction: number;
  lossMeanS: Range;
  /** own tip moving this far from where the membrane attached tears the seal, µm (uniform per cell) */
  tearUm: Range;
  /** other tips moving within this range while a seal forms raise the loss hazard */
  neighbourRangeUm: number;
  /** seal-loss hazard per µm a neighbour tip travels (scaled by 1 − d/range) */
  neighbourHazardPerUm: number;
  /** same hazard once sealed / in whole-cell, as a fraction of the forming-seal value */
  neighbourSealedFactor: number;
  /** seal resistance after a seal is lost (log-uniform), Ω */
  lostOhm: Range;
  /** spontaneous break-in under sealing suction: fraction of cells, their suction (uniform), and rate, 1/s */
  spontaneousFraction: number;
  spontaneousMbar: Range;
  spontaneousRatePerS: number;
  /** suction kept on after a gigaseal: tolerated dose (∫(−P−10) dt, uniform), mbar·s; share that then rupture (else the seal degrades) */
  postSealToleranceMbarS: Range;
  postSealRuptureFraction: number;
}

export interface BreakInParams {
  /** patch rupture threshold, mbar (uniform, negative) */
  ruptureMbar: Range;
  /** rupture hazard at the threshold is half of this, 1/s */
  ruptureRatePerS: number;
  /** width of the rupture sigmoid as a fraction of the threshold */
  ruptureWidthFraction: number;
  /** suction weaker than this fraction of the threshold never ruptures */
  ruptureFloorFraction: number;
  /** cells that never break in */
  unrupturableFraction: number;
  /** zap rupture: p = zapMax · (1 − exp(−duration/τ · |V|/1 V)), τ per cell (uniform), ms */
  zapTauMs: Range;
  zapMax: number;
  /** access resistance after break-in (uniform), Ω */
  accessOhm: Range;
  /** an uncontrolled rupture (suction left on after the seal) gives Ra × this (uniform) */
  uncontrolledAccessFactor: Range;
}

export interface WholeCellParams {
  /** cells whose access creeps up (resealing) and how fast (uniform), Ω/s */
  creepFraction: number;
  creepOhmPerS: Range;
  /** suction in whole cell: dose (mbar·s) that clears creep by a factor e */
  clearAccessMbarS: number;
  /** leaky suction dose a cell tolerates (uniform), mbar·s; twice that kills */
  suctionToleranceMbarS: Range;
  suctionRecoveryS: number;
  /** suction counts above this, mbar (clear-access pulses are short and strong) */
  suctionCountsBelowMbar: number;
  /** cells that die during the recording and after how long (uniform), s */
  deathFraction: number;
  deathAfterS: Range;
  /** membrane resistance of a dead cell (uniform), Ω, and the reversal of the damage leak, V */
  deadOhm: Range;
  /** the seal of a dying cell degrades to this (log-uniform), Ω */
  deadSealOhm: Range;
  damageReversalV: number;
  deathTauS: number;
  /** small seal-loss hazard in whole cell as a fraction of the cell's pre-break-in loss rate */
  lossFactor: number;
}

export interface CellParams {
  /** healthy resting potential (uniform), V */
  restingV: Range;
  /** resting potential of unhealthy cells (uniform), V */
  unhealthyRestingV: Range;
  /** input resistance (log-uniform), Ω */
  inputOhm: Range;
  /** membrane time constant (log-uniform), ms; Cm = τ/Rin, clipped to capacitanceF */
  tauMs: Range;
  capacitanceF: Range;
}

export interface NeuronParams {
  /** AP threshold as IPFX measures it (uniform), V */
  thresholdV: Range;
  /** slope factor of the exponential spike initiation (uniform), V */
  deltaTV: Range;
  /** AP amplitude peak − threshold (uniform), V */
  amplitudeV: Range;
  /** upstroke and downstroke durations of the spike waveform (uniform), ms */
  riseMs: Range;
  fallMs: Range;
  /** fast trough below threshold (uniform), V */
  troughBelowThresholdV: Range;
  /** spike-triggered adaptation increment (uniform), A, and its time constant (uniform), ms */
  adaptationA: Range;
  adaptationTauMs: Range;
  /** Ih: sag ratio target (uniform), half-activation (uniform), slope, reversal, time constant (uniform) */
  sag: Range;
  hHalfV: Range;
  hSlopeV: number;
  hReversalV: number;
  hTauMs: Range;
  /** minimum distance threshold − rest, V (keeps healthy cells quiet at rest) */
  minThresholdGapV: number;
}

export interface CleaningParams {
  /** a detergent cycle: suction below suctionMbar for ≥ phaseS, then pressure above pressureMbar for ≥ phaseS */
  suctionMbar: number;
  pressureMbar: number;
  phaseS: number;
  /** each detergent cycle multiplies contamination by this, and stuck debris by debrisFactor */
  contaminationFactor: number;
  debrisFactor: number;
  /** cycles needed (before a rinse) for the cleaning to count */
  minCycles: number;
  /** rinsing: residue × exp(−∫|P| dt / rinseMbarS) */
  rinseMbarS: number;
  /** residue below this counts as rinsed */
  residueDone: number;
  /** contamination added each time the tip leaves a cell it sealed on / reached whole cell on */
  usePerSeal: number;
  usePerWholeCell: number;
  /** contamination added by touching a membrane without sealing */
  usePerTouch: number;
}

export interface StageErrorParams {
  /** calibration error of a fitted pipette's tip, 1 SD per world axis, µm (normal, clipped) */
  calibrationSdUm: number;
  /** the clip, in SDs */
  calibrationClipSd: number;
  /** play of each manipulator axis (uniform per axis and manipulator), µm */
  backlashUm: Range;
}

export interface PrepParams {
  geometry: GeometryParams;
  population: PopulationParams;
  pipette: PipetteParams;
  clog: ClogParams;
  contact: ContactParams;
  seal: SealParams;
  breakIn: BreakInParams;
  wholeCell: WholeCellParams;
  cell: CellParams;
  neuron: NeuronParams;
  cleaning: CleaningParams;
  stage: StageErrorParams;
}

const MOhm = 1e6;
const GOhm = 1e9;
const pF = 1e-12;
const mV = 1e-3;
const pA = 1e-12;

const common: Omit<PrepParams, 'geometry' | 'population'> = {
  pipette: {
    resistanceOhm: [3 * MOhm, 9 * MOhm],
    offsetSdV: 3 * mV,
    capacitanceF: [2 * pF, 6 * pF],
    resistanceJitterOhm: [0.025 * MOhm, 0.08 * MOhm],
    tissueJitterFactor: 1.3,
    currentNoiseA: 5 * pA,
    voltageNoiseV: 0.03 * mV,
    tissueResistanceOhm: [0.05 * MOhm, 0.2 * MOhm],
    brokenDropOhm: [1.2 * MOhm, 3 * MOhm],
    randomBreakPerUm: 2e-5,
    collisionUm: 3,
    defaultShaftLengthUm: 4000,
  },
  clog: {
    eventsPerUm: 1 / 150,
    pressureScaleMbar: 25,
    eventMeanOhm: 0.3 * MOhm,
    looseFraction: 0.5,
    clearPressureMbar: 150,
    clearTauS: 3,
    driftOhmPerS: 0.005 * MOhm,
    driftBelowMbar: 15,
    cloggedOhm: 0.4 * MOhm,
  },
  contact: {
    rangeUm: 3,
    touchRiseOhm: [0.2 * MOhm, 0.5 * MOhm],
    pressRiseFactor: [1.5, 2.5],
    maxRiseOhm: 1 * MOhm,
    pushLimitUm: [3, 6],
    pushDamageProbability: 0.3,
    sealPressureMaxMbar: 5,
    reachAtmUm: 0.5,
    reachSuctionUm: 2.5,
  },
  seal: {
    timeToGigaohmS: [8, 40],
    finalOhm: [1.2 * GOhm, 3 * GOhm],
    cleanTipBoost: [1.5, 3],
    suctionSpeedup: 2,
    suctionFullMbar: 30,
    holdingSpeedup: 1.25,
    holdingBelowV: -50 * mV,
    slowFraction: 0.15,
    slowFactor: 0.25,
    stallFraction: 0.15,
    stallFinalOhm: [20 * MOhm, 90 * MOhm],
    unhealthyFinalOhm: [30 * MOhm, 600 * MOhm],
    contaminationPenalty: 0.35,
    residuePenalty: 0.85,
    lossFraction: 0.12,
    lossMeanS: [20, 200],
    tearUm: [1.5, 3],
    neighbourRangeUm: 150,
    neighbourHazardPerUm: 0.015,
    neighbourSealedFactor: 0.2,
    lostOhm: [5 * MOhm, 30 * MOhm],
    spontaneousFraction: 0.1,
    spontaneousMbar: [-40, -15],
    spontaneousRatePerS: 0.5,
    postSealToleranceMbarS: [200, 900],
    postSealRuptureFraction: 0.5,
  },
  breakIn: {
    ruptureMbar: [-400, -120],
    ruptureRatePerS: 6,
    ruptureWidthFraction: 0.12,
    ruptureFloorFraction: 0.5,
    unrupturableFraction: 0.08,
    zapTauMs: [0.1, 0.8],
    zapMax: 0.9,
    accessOhm: [30 * MOhm, 70 * MOhm],
    uncontrolledAccessFactor: [2, 4],
  },
  wholeCell: {
    creepFraction: 0.3,
    creepOhmPerS: [0.05 * MOhm, 0.3 * MOhm],
    clearAccessMbarS: 30,
    suctionToleranceMbarS: [60, 150],
    suctionRecoveryS: 20,
    suctionCountsBelowMbar: -15,
    deathFraction: 0.12,
    deathAfterS: [60, 1200],
    deadOhm: [10 * MOhm, 30 * MOhm],
    deadSealOhm: [20 * MOhm, 50 * MOhm],
    damageReversalV: -5 * mV,
    deathTauS: 20,
    lossFactor: 0.3,
  },
  cell: {
    restingV: [-75 * mV, -55 * mV],
    unhealthyRestingV: [-40 * mV, -20 * mV],
    inputOhm: [100 * MOhm, 300 * MOhm],
    tauMs: [10, 40],
    capacitanceF: [30 * pF, 150 * pF],
  },
  neuron: {
    thresholdV: [-55 * mV, -42 * mV],
    deltaTV: [0.8 * mV, 2 * mV],
    amplitudeV: [60 * mV, 100 * mV],
    riseMs: [0.15, 0.4],
    fallMs: [0.5, 2.4],
    troughBelowThresholdV: [5 * mV, 15 * mV],
    adaptationA: [15 * pA, 90 * pA],
    adaptationTauMs: [100, 400],
    sag: [0, 0.55],
    hHalfV: [-95 * mV, -80 * mV],
    hSlopeV: 7 * mV,
    hReversalV: -30 * mV,
    hTauMs: [60, 180],
    minThresholdGapV: 14 * mV,
  },
  cleaning: {
    suctionMbar: -100,
    pressureMbar: 300,
    phaseS: 0.5,
    contaminationFactor: 0.45,
    debrisFactor: 0.5,
    minCycles: 3,
    rinseMbarS: 3000,
    residueDone: 0.1,
    usePerSeal: 1,
    usePerWholeCell: 1.5,
    usePerTouch: 0.05,
  },
  // physics.md: "manipulator position error of a few µm". The split is ours: a
  // calibration offset of 2 µm SD per axis (|error| ≈ 3 µm typical, ≤ 6 µm per
  // axis), plus up to 1 µm of play per axis that makes landings depend on the
  // direction of approach.
  stage: {
    calibrationSdUm: 2,
    calibrationClipSd: 3,
    backlashUm: [0, 1],
  },
};

const vivo: PrepParams = {
  ...common,
  geometry: { prepRadiusUm: 1500, tissue: { topUm: 0, bottomUm: Number.POSITIVE_INFINITY }, floorUm: null },
  population: {
    layout: 'volume',
    density: 1e-4,
    depthUm: [100, 2500],
    somaRadiusUm: [5, 8],
    healthyFraction: 0.85,
    healthyDepthUm: [100, 2500],
    debrisDensity: 3e-5,
    debrisRadiusUm: [2, 5],
    debrisRiseOhm: [0.2 * MOhm, 0.9 * MOhm],
    fieldOfView: { centerUm: [0, 0], halfWidthUm: 300, depthUm: [100, 2500] },
    cameraErrorXyUm: 2,
    cameraErrorZUm: 3,
  },
};

const slice: PrepParams = {
  ...common,
  geometry: { prepRadiusUm: 3000, tissue: { topUm: 0, bottomUm: 300 }, floorUm: 300 },
  population: {
    layout: 'volume',
    density: 8e-5,
    depthUm: [0, 300],
    somaRadiusUm: [5, 9],
    healthyFraction: 0.75,
    healthyDepthUm: [20, 300],
    debrisDensity: 3e-5,
    debrisRadiusUm: [2, 5],
    debrisRiseOhm: [0.2 * MOhm, 0.8 * MOhm],
    fieldOfView: { centerUm: [0, 0], halfWidthUm: 300, depthUm: [20, 100] },
    cameraErrorXyUm: 1.5,
    cameraErrorZUm: 3,
  },
  pipette: { ...common.pipette, resistanceOhm: [3.5 * MOhm, 5 * MOhm] },
  breakIn: { ...common.breakIn, accessOhm: [10 * MOhm, 30 * MOhm] },
};

const culture: PrepParams = {
  ...common,
  geometry: { prepRadiusUm: 4000, tissue: null, floorUm: 10 },
  population: {
    layout: 'floor',
    density: 3e-4,
    depthUm: [0, 10],
    somaRadiusUm: [6, 9],
    healthyFraction: 0.85,
    healthyDepthUm: [-20, 20],
    debrisDensity: 2e-5,
    debrisRadiusUm: [2, 4],
    debrisRiseOhm: [0.2 * MOhm, 0.6 * MOhm],
    fieldOfView: { centerUm: [0, 0], halfWidthUm: 300, depthUm: [-20, 20] },
    cameraErrorXyUm: 1.5,
    cameraErrorZUm: 2,
  },
  pipette: { ...common.pipette, resistanceOhm: [3 * MOhm, 6 * MOhm] },
  breakIn: { ...common.breakIn, accessOhm: [5 * MOhm, 20 * MOhm] },
  cell: {
    restingV: [-70 * mV, -50 * mV],
    unhealthyRestingV: [-40 * mV, -20 * mV],
    inputOhm: [150 * MOhm, 500 * MOhm],
    tauMs: [3, 12],
    capacitanceF: [5 * pF, 30 * pF],
  },
};

export const PREPARATIONS: Readonly<Record<Preparation, PrepParams>> = { 'in-vivo': vivo, slice, culture };

export type DeepPartial<T> = { [K in keyof T]?: T[K] extends readonly unknown[] ? T[K] : T[K] extends object ? DeepPartial<T[K]> : T[K] };

/** The preparation's parameters with `overrides` merged in (two levels deep, arrays replaced whole). */
export function prepParams(prep: Preparation, overrides?: DeepPartial<PrepParams>): PrepParams {
  const base = PREPARATIONS[prep];
  if (!overrides) return base;
  const out = { ...base } as Record<string, unknown>;
  for (const [k, v] of Object.entries(overrides)) {
    if (v === undefined) continue;
    const cur = (base as unknown as Record<string, unknown>)[k];
    out[k] = v !== null && typeof v === 'object' && !Array.isArray(v) && cur !== null && typeof cur === 'object' ? { ...cur, ...v } : v;
  }
  return out as unknown as PrepParams;
}
