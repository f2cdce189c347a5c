/**
 * An electrode whose every sample is known in closed form, for checking
 * amplifier drivers and emulators by their numbers (the real pipette/cell
 * model lives in src/sim and is too rich to assert exact values against).
 *
 * Circuit, from the amplifier's headstage to ground:
 *
 *   ──[ E ]──[ R ]──┬──────────────  (no cell: R straight to ground)
 *                   │
 *                 [Rm] ∥ [Cm]       (optional "cell")
 *                   │
 *                  gnd
 *
 * plus a pipette capacitance Cp from the headstage to ground. E is the
 * electrode offset (a series source: at zero current the electrode reads E).
 *
 * Sampling convention (shared with the amp-bridge emulator, which subtracts
 * its fast compensation the same way): the command is held constant from
 * sample k to sample k+1 (zero-order hold) and sample k is taken just after
 * the command changes. Every call starts from the DC steady state of its first
 * command sample (no memory between calls).
 *
 * Voltage clamp, command V_k, Ve_k = V_k − E:
 *   no cell:  I_k = Ve_k / R
 *   cell:     I_k = (Ve_k − Vm_k) / R,  Vm_0 = Ve_0·Rm/(R+Rm),
 *             Vm_{k+1} = V∞ + (Vm_k − V∞)·exp(−dt/τ),  V∞ = Ve_k·Rm/(R+Rm),  τ = Cm·R·Rm/(R+Rm)
 *   plus      Cp·(V_k − V_{k−1})·fs  (backward difference; V_{−1} = V_0)
 * Current clamp, command I_k:
 *   no cell:  V_k = E + I_k·R
 *   cell:     V_k = E + I_k·R + Vm_k,  Vm_0 = I_0·Rm,  Vm_{k+1} = I_k·Rm + (Vm_k − I_k·Rm)·exp(−dt/(Rm·Cm))
 *   (Cp is ignored in current clamp.)
 * Noise, if configured, is white Gaussian from a seeded generator, added to
 * the current (VC) or voltage (IC).
 */
import type { ElectrodePhysics } from '../../../src/sim/types.ts';
import { createGaussian } from './gaussian.ts';

export interface RcElectrodeOptions {
  /** pipette (series) resistance R, Ω */
  resistance: number;
  /** optional cell behind R: membrane resistance Ω and capacitance F */
  cell?: { resistance: number; capacitance: number };
  /** electrode offset E, V (default 0) */
  offsetV?: number;
  /** pipette capacitance Cp, F (default 0) */
  pipetteCapacitanceF?: number;
  /** white noise RMS: A in voltage clamp, V in current clamp; `seed` makes it repeatable */
  noise?: { currentRmsA?: number; voltageRmsV?: number; seed: number };
}

export interface RcElectrodeCall {
  kind: 'VC' | 'IC';
  t0: number;
  sampleRateHz: number;
  samples: number;
}

export interface RcElectrode extends ElectrodePhysics {
  readonly options: Readonly<RcElectrodeOptions>;
  /** every voltageClamp/currentClamp call, in order */
  readonly calls: readonly RcElectrodeCall[];
  readonly zaps: ReadonlyArray<{ t: number; durationMs: number; amplitudeV: number }>;
}

export function createRcElectrode(options: RcElectrodeOptions): RcElectrode {
  const R = options.resistance;
  const E = options.offsetV ?? 0;
  const Cp = options.pipetteCapacitanceF ?? 0;
  const cell = options.cell && options.cell.capacitance > 0 ? options.cell : undefined;
  // A cell with no capacitance is just a second resistor.
  const Rdc = R + (options.cell && !cell ? options.cell.resistance : 0);
  const gauss = options.noise ? createGaussian(options.noise.seed) : undefined;
  const iNoise = options.noise?.currentRmsA ?? 0;
  const vNoise = options.noise?.voltageRmsV ?? 0;
  const calls: RcElectrodeCall[] = [];
  const zaps: Array<{ t: number; durationMs: number; amplitudeV: number }> = [];

  const voltageClamp = (t0: number, fs: number, command: Float32Array, out?: Float32Array): Float32Array => {
    const n = command.length;
    const y = out ?? new Float32Array(n);
    calls.push({ kind: 'VC', t0, sampleRateHz: fs, samples: n });
    if (n === 0) return y;
    const dt = 1 / fs;
    if (cell) {
      const Rm = cell.resistance;
      const div = Rm / (R + Rm);
      const decay = Math.exp(-dt / ((cell.capacitance * R * Rm) / (R + Rm)));
      let vm = (command[0] - E) * div;
      for (let k = 0; k < n; k++) {
        const ve = command[k] - E;
        const prev = k === 0 ? command[0] : command[k - 1];
        let i = (ve - vm) / R + Cp * (command[k] - prev) * fs;
        if (gauss && iNoise > 0) i += iNoise * gauss();
        y[k] = i;
        const vInf = ve * div;
        vm = vInf + (vm - vInf) * decay;
      }
    } else {
      for (let k = 0; k < n; k++) {
        const prev = k === 0 ? command[0] : command[k - 1];
        let i = (command[k] - E) / Rdc + Cp * (command[k] - prev) * fs;
        if (gauss && iNoise > 0) i += iNoise * gauss();
        y[k] = i;
      }
    }
    return y;
  };

  const currentClamp = (t0: number, fs: number, command: Float32Array, out?: Float32Array): Float32Array => {
    const n = command.length;
    const y = out ?? new Float32Array(n);
    calls.push({ kind: 'IC', t0, sampleRateHz: fs, samples: n });
    if (n === 0) return y;
    const dt = 1 / fs;
    if (cell) {
      const Rm = cell.resistance;
      const decay = Math.exp(-dt / (Rm * cell.capacitance));
      let vm = command[0] * Rm;
      for (let k = 0; k < n; k++) {
        const i = command[k];
        let v = E + i * R + vm;
        if (gauss && vNoise > 0) v += vNoise * gauss();
        y[k] = v;
        const vInf = i * Rm;
        vm = vInf + (vm - vInf) * decay;
      }
    } else {
      for (let k = 0; k < n; k++) {
        let v = E + command[k] * Rdc;
        if (gauss && vNoise > 0) v += vNoise * gauss();
        y[k] = v;
      }
    }
    return y;
  };

  return {
    options,
    calls,
    zaps,
    offsetV: E,
    pipetteCapacitanceF: Cp,
    voltageClamp,
    currentClamp,
    zap(t, durationMs, amplitudeV) {
      zaps.push({ t, durationMs, amplitudeV });
    },
  };
}
