/**
 * Contract between the device emulators and the physics model of pipettes,
 * tissue and cells. Emulators feed inputs (tip position, line pressure) and
 * ask for electrical responses; the model owns everything biological.
 *
 * Units: time ms (clock), positions µm (world frame, z down, surface at 0),
 * pressure mbar, electrical SI (V, A, Ω, F), sample rates Hz.
 */
import type { Vec3 } from '../../drivers/types.ts';
import type { StageError } from './stage-error.ts';

export type Preparation = 'in-vivo' | 'slice' | 'culture';

/** The electrical side of one pipette that an amplifier channel is wired to. */
export interface ElectrodePhysics {
  /**
   * Current measured for a voltage command waveform (V, absolute: holding +
   * steps), sampled at `sampleRateHz` starting at clock time `t0`. Includes the
   * pipette-capacitance transient (C·dV/dt) and the electrode offset; the
   * amplifier subtracts what its compensation cancels. Adds recording noise.
   * Writes into `out` if given (same length as `command`).
   */
  voltageClamp(t0: number, sampleRateHz: number, command: Float32Array, out?: Float32Array): Float32Array;
  /** Voltage recorded for an injected current waveform (A, absolute), V. Includes R_pip·I (bridge residual is the amplifier's business). */
  currentClamp(t0: number, sampleRateHz: number, command: Float32Array, out?: Float32Array): Float32Array;
  /** A voltage zap of the given duration and amplitude at clock time t. */
  zap(t: number, durationMs: number, amplitudeV: number): void;
  /** electrode offset (junction + electrode potential) the amplifier's auto-offset nulls, V */
  readonly offsetV: number;
  /** pipette capacitance the fast compensation neutralises, F */
  readonly pipetteCapacitanceF: number;
}

/** One simulated pipette: inputs from emulators, electrical outputs to the amplifier. */
export interface SimPipette extends ElectrodePhysics {
  readonly id: string;
  /** where the tip is over time (manipulator emulator through the mount), world µm */
  bindPosition(source: (t: number) => Vec3): void;
  /** pressure in the pipette line over time (pressure box emulator), mbar */
  bindPressure(source: (t: number) => number): void;
  /** Integrate state up to t with the inputs that held so far. Emulators call this before changing an input. */
  advanceTo(t: number): void;
  /** Ground truth, for tests and benchmarks only — never read by the controller. */
  truth(): PipetteTruth;
  /**
   * Manipulator position error (seeded): whoever binds the position applies
   * it between the stage's encoder position and the tip (stage-error.ts).
   */
  readonly stageError: StageError;
}

export type TipCondition = 'clean' | 'contaminated' | 'clogged' | 'broken';

export type PatchStage =
  | 'bath'            // tip in solution, no cell
  | 'tissue'          // tip in tissue (in vivo / slice), no cell contact
  | 'contact'         // dimple on a cell membrane
  | 'sealing'         // seal forming under suction
  | 'cell-attached'   // seal formed, membrane intact
  | 'whole-cell'      // membrane ruptured, access to the cytoplasm
  | 'outside-out'     // pulled away after whole-cell (membrane resealed on the tip)
  | 'lost';           // seal or cell lost; tip still fouled by membrane

export interface PipetteTruth {
  t: number;
  tip: Vec3;
  condition: TipCondition;
  /** times the tip has been used on a cell since it was fitted or last cleaned */
  uses: number;
  stage: PatchStage;
  cellId: number | null;
  /** Ω */
  pipetteResistance: number;
  sealResistance: number;
  accessResistance: number;
  membraneResistance: number;
  /** F */
  membraneCapacitance: number;
  /** V */
  restingPotential: number;
  /** whether the cell is alive */
  cellHealthy: boolean;
  /** pressure at the tip now, mbar */
  pressure: number;
  /** name of the well the tip is in (detergent, rinse) or null */
  well: string | null;
  // ---- additions (sim extension) ----
  /** completed cleanings (detergent cycles followed by a rinse) since the pipette was fitted */
  cleanings: number;
  /** membrane/protein fouling of the glass, arbitrary units (≈ +1 per sealed cell; detergent halves it) */
  contamination: number;
  /** detergent left in the tip (0…1); spoils seals until rinsed */
  residue: number;
  /** resistance added by debris in the tip, Ω (included in pipetteResistance) */
  clogResistance: number;
  /** why the tip broke, or null */
  brokenCause: 'floor' | 'well-floor' | 'obstacle' | 'collision' | 'random' | null;
  /** highest seal resistance reached on the current/last cell, Ω */
  peakSeal: number;
  /** pipettes fitted on this holder so far (1 = the first) */
  fitting: number;
  /** holding current the amplifier would read at the last voltage-clamp holding, A (0 if none) */
  holdingCurrent: number;
}

/** Something that happened in the model: failure modes and milestones, for tests and benchmarks. */
export type SimEventKind =
  | 'contact'               // tip touched a cell membrane
  | 'false-hit'             // tip pressed on debris (R rise that vanishes at atmosphere)
  | 'clogged'               // debris in the tip passed the clog level
  | 'tip-broken'            // detail: floor | well-floor | obstacle | collision | random
  | 'seal-start'            // membrane attached; detail: good | slow | stall | unhealthy | spoiled
  | 'gigaseal'
  | 'seal-lost'             // detail: fate | neighbour-motion | suction | pressure | damage
  | 'seal-torn'             // own tip moved while attached
  | 'spontaneous-break-in'
  | 'break-in'              // detail: suction | zap | post-seal-suction
  | 'break-in-pulse-failed' // a suction pulse beyond −80 mbar ended without rupture
  | 'zap-failed'
  | 'access-creep'          // Ra rose to 1.5× its value at break-in
  | 'access-cleared'
  | 'suction-after-seal'    // detail: rupture-high-ra | seal-damage
  | 'cell-damaged'          // detail: suction | push | zap
  | 'cell-died'
  | 'cell-pushed'
  | 'outside-out'
  | 'left-cell'             // tip moved away from the cell it was attached to (uses++)
  | 'detergent-cycle'
  | 'cleaned'
  | 'residue-at-seal'       // a seal started with detergent left in the tip
  | 'collision'
  | 'pipette-replaced';

export interface SimEvent {
  t: number;
  pipetteId: string;
  kind: SimEventKind;
  cellId: number | null;
  detail?: string;
}

/** Ground truth of one cell. */
export interface CellTruth {
  id: number;
  position: Vec3;
  radiusUm: number;
  /** F, Ω, V */
  capacitance: number;
  inputResistance: number;
  restingPotential: number;
  /** parameters of the spiking model, for checking extracted e-features against */
  neuron: Record<string, number>;
  /** what this cell is destined to do, drawn from the seeded distributions */
  fate: Record<string, number | boolean | string>;
  /** patched already (whole-cell or damaged) — cannot be patched again */
  used: boolean;
}

export interface Region {
  name: string;
  /** what the well holds: the glass is cleaned by detergent cycles, then rinsed */
  kind: 'detergent' | 'rinse';
  /** centre of the well's floor, world µm */
  center: Vec3;
  radiusUm: number;
  /** depth of liquid above the floor, µm (a tip is "in" the well when inside this cylinder) */
  depthUm: number;
}

export interface SimWorld {
  readonly seed: number;
  readonly preparation: Preparation;
  pipette(id: string): SimPipette;
  readonly pipetteIds: readonly string[];
  cells(): readonly CellTruth[];
  /** detergent and rinse wells for tip cleaning */
  readonly wells: readonly Region[];
  /** the operator fitted a new pipette on this holder */
  replacePipette(id: string, t: number): void;
  /** bring every pipette up to t (used before reading ground truth) */
  advanceTo(t: number): void;
  // ---- additions (sim extension) ----
  /** model time reached so far, ms */
  readonly t: number;
  /** ground truth of one cell (materialised on demand), or undefined */
  cell(id: number): CellTruth | undefined;
  /**
   * What a camera gives for targeted preparations (slice, culture): healthy,
   * unpatched cells in the field of view with a few µm of position error.
   * Empty in vivo (blind).
   */
  observedCells(): Array<{ cellId: number; position: Vec3 }>;
  /** everything that happened, in order */
  events(): readonly SimEvent[];
  /** events counted by kind and by `kind:detail` */
  eventCounts(): Record<string, number>;
}
