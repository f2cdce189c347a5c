/**
 * Contract between the device emulators and the physics model of pipettes,
 * tissue and cells. Emulators feed inputs (tip position, line pressure) and
 * ask for electrical responses; the model owns everything biological.
 *
 * Units: time ms (clock), positions µm (world frame, z down, surface at 0),
 * pressure mbar, electrical SI (V, A, Ω, F), sample rates Hz.
 */
import type { Vec3 } from '../../drivers/types.ts';

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
}
