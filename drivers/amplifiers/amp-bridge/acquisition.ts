/**
 * The amplifier between the physics and the DAQ: what the emulated bridge
 * applies to the electrode and what it records, including its own
 * corrections. Pipette offset P acts as a series source: in VC the electrode
 * sees command + P, in IC the recording is reported minus P, so one value
 * nulls the electrode offset in both modes. Fast compensation subtracts
 * C_fast·dV/dt of the applied command (backward difference, as the physics
 * contract samples its C·dV/dt transient).
 */
import type { ElectrodePhysics } from '../../../src/sim/types.ts';

export interface AmpCorrections {
  offsetV: number;
  fastF: number;
}

/**
 * Arrays an acquisition may write into instead of allocating, each as long as
 * the command: test pulses repeat one length at tens of Hz, and allocating
 * (and collecting) three sample arrays per sweep was a large share of the
 * emulated rig's time. The result is then `out` itself, valid until the next
 * acquisition with the same scratch.
 */
export interface AcquisitionScratch {
  /** the command as applied to the electrode (VC) or the zero command (I=0) */
  applied: Float32Array;
  out: Float32Array;
}

export function createScratch(samples: number): AcquisitionScratch {
  return { applied: new Float32Array(samples), out: new Float32Array(samples) };
}

/** Current (A) for a voltage command (V, absolute). */
export function acquireVoltageClamp(physics: ElectrodePhysics, t0: number, fs: number, command: Float32Array, c: AmpCorrections, scratch?: AcquisitionScratch): Float32Array {
  const n = command.length;
  const applied = scratch ? scratch.applied : new Float32Array(n);
  for (let i = 0; i < n; i++) applied[i] = command[i] + c.offsetV;
  const out = physics.voltageClamp(t0, fs, applied, scratch?.out);
  if (c.fastF !== 0) {
    for (let k = 1; k < n; k++) out[k] -= c.fastF * (applied[k] - applied[k - 1]) * fs;
  }
  return out;
}

/** Voltage (V) for a current command (A, absolute). */
export function acquireCurrentClamp(physics: ElectrodePhysics, t0: number, fs: number, command: Float32Array, c: AmpCorrections, scratch?: AcquisitionScratch): Float32Array {
  const out = physics.currentClamp(t0, fs, command, scratch?.out);
  if (c.offsetV !== 0) for (let k = 0; k < out.length; k++) out[k] -= c.offsetV;
  return out;
}

const mean = (x: Float32Array): number => {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i];
  return s / Math.max(1, x.length);
};

/**
 * Auto pipette offset: the potential at which the electrode passes no
 * current. VC: two DC levels (0 and +5 mV), interpolate to zero current.
 * IC: the mean voltage at zero current. Returns an error text when the
 * electrode conducts too little to tell (sealed or out of the bath).
 */
export function measureZeroCurrentPotential(
  physics: ElectrodePhysics,
  mode: 'VC' | 'IC',
  t0: number,
  fs: number,
  samples: number,
): number | string {
  if (mode === 'IC') return mean(physics.currentClamp(t0, fs, new Float32Array(samples)));
  const a = 0;
  const b = 0.005;
  const ia = mean(physics.voltageClamp(t0, fs, new Float32Array(samples).fill(a)));
  const ib = mean(physics.voltageClamp(t0 + (samples * 1000) / fs, fs, new Float32Array(samples).fill(b)));
  const g = (ib - ia) / (b - a);
  // Below 1 nS (above 1 GΩ) the tip is sealed or in air: nulling would chase noise.
  if (!(Math.abs(g) > 1e-9)) return `no conductance to null against (${(1 / Math.abs(g)).toExponential(2)} Ω)`;
  return a - ia / g;
}
