/**
 * The electrical equivalent circuit seen by the amplifier:
 *
 *   source ── Rp ──┬── Rs ── bath (0 V)
 *                  └── Ra ──┬── Cm ── bath
 *                           └── Rm ── Em ── bath
 *
 * plus the pipette capacitance Cp at the headstage input. Rp is the pipette,
 * Rs the tip-to-bath leak (≈0 in the bath, the contact/seal resistance later),
 * Ra the access to the cytoplasm (open before break-in). The command is
 * zero-order-held per sample; the one state variable (the membrane voltage)
 * is advanced with the exact exponential solution, so the sampled response is
 * exact for any sample rate.
 *
 * The electrode offset E (`offsetV`) is a series source between the amplifier and
 * the pipette: at zero current the amplifier reads +E (current clamp), and a
 * voltage command V drives the pipette with V − E (voltage clamp). So one
 * correction (E, what auto pipette offset finds) nulls it in both modes.
 *
 * Cp current is Cp·ΔV/Δt per sample (a first difference of the command): an
 * amplifier's fast-capacitance compensation of `fast` F removes exactly
 * fast·ΔV/Δt, so setting fast = Cp cancels it to float precision.
 */

export interface CircuitSnapshot {
  /** Ω */
  Rp: number;
  Rs: number;
  /** access resistance, Ω; Infinity before break-in */
  Ra: number;
  Rm: number;
  /** F */
  Cm: number;
  /** V */
  Em: number;
  offsetV: number;
  /** F */
  Cp: number;
}

/** Current (A) for the voltage command (V, absolute), noiseless, into `out`. */
export function voltageClampResponse(c: CircuitSnapshot, sampleRateHz: number, command: Float32Array, out: Float32Array): void {
  const n = command.length;
  const cpk = c.Cp * sampleRateHz;
  const off = c.offsetV;
  if (!Number.isFinite(c.Ra)) {
    const g = 1 / (c.Rp + c.Rs);
    let prev = n > 0 ? command[0] : 0;
    for (let i = 0; i < n; i++) {
      const v = command[i];
      out[i] = (v - off) * g + cpk * (v - prev);
      prev = v;
    }
    return;
  }
  const Gp = 1 / c.Rp;
  const Gs = 1 / Math.max(c.Rs, 1);
  const Ga = 1 / c.Ra;
  const Gm = 1 / c.Rm;
  // Thevenin equivalent seen from the cell through Ra
  const kth = c.Rs / (c.Rp + c.Rs);
  const Rth = c.Ra + (c.Rp * c.Rs) / (c.Rp + c.Rs);
  const G = 1 / Rth + Gm;
  const e = Math.exp(-G / (c.Cm * sampleRateHz));
  const aV = kth / Rth / G;
  const bV = (c.Em * Gm) / G;
  const D = Gp + Gs + Ga;
  const cI = Gp * (1 - Gp / D);
  const dI = (-Gp * Ga) / D;
  let prev = n > 0 ? command[0] : 0;
  let vm = aV * (prev - off) + bV;
  for (let i = 0; i < n; i++) {
    const cmd = command[i];
    const vs = cmd - off;
    out[i] = cI * vs + dI * vm + cpk * (cmd - prev);
    const vInf = aV * vs + bV;
    vm = vInf + (vm - vInf) * e;
    prev = cmd;
  }
}

/** Voltage (V) recorded for the current command (A) with a passive cell (or none), noiseless, into `out`. */
export function passiveCurrentClampResponse(c: CircuitSnapshot, sampleRateHz: number, command: Float32Array, out: Float32Array): void {
  const n = command.length;
  const off = c.offsetV;
  if (!Number.isFinite(c.Ra)) {
    const r = c.Rp + c.Rs;
    for (let i = 0; i < n; i++) out[i] = command[i] * r + off;
    return;
  }
  // Norton equivalent of the injection seen from the cell node
  const alpha = c.Rs / (c.Ra + c.Rs);
  const gs = 1 / (c.Ra + c.Rs);
  const Gm = 1 / c.Rm;
  const G = gs + Gm;
  const e = Math.exp(-G / (c.Cm * sampleRateHz));
  const vAk = c.Rs / (c.Ra + c.Rs);
  const iAk = (c.Rs * c.Ra) / (c.Ra + c.Rs) + c.Rp;
  let vm = n > 0 ? (alpha * command[0] + c.Em * Gm) / G : 0;
  for (let i = 0; i < n; i++) {
    const I = command[i];
    out[i] = vm * vAk + I * iAk + off;
    const vInf = (alpha * I + c.Em * Gm) / G;
    vm = vInf + (vm - vInf) * e;
  }
}

/** Steady-state current at a constant command (A): the holding current the amplifier would read. */
export function steadyCurrent(c: CircuitSnapshot, commandV: number): number {
  const vs = commandV - c.offsetV;
  if (!Number.isFinite(c.Ra)) return vs / (c.Rp + c.Rs);
  // node A: (Vs − VA)/Rp = VA/Rs + (VA − Em)/(Ra + Rm)
  const gCell = 1 / (c.Ra + c.Rm);
  const vA = (vs / c.Rp + c.Em * gCell) / (1 / c.Rp + 1 / Math.max(c.Rs, 1) + gCell);
  return (vs - vA) / c.Rp;
}
