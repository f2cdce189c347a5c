import { describe, expect, it } from 'vitest';
import { passiveCurrentClampResponse, steadyCurrent, voltageClampResponse, type CircuitSnapshot } from '../../src/sim/circuit.ts';

const wholeCell: CircuitSnapshot = { Rp: 5e6, Rs: 2e9, Ra: 20e6, Rm: 200e6, Cm: 80e-12, Em: -0.065, offsetV: 0.003, Cp: 4e-12 };

/** Closed-form response of the same circuit to a step V1 → V2 at t = 0 (independent derivation). */
function analyticStep(c: CircuitSnapshot, v1: number, v2: number, t: number): number {
  // node A has no capacitance: VA = (Vs/Rp + VB/Ra) / (1/Rp + 1/Rs + 1/Ra)
  const d = 1 / c.Rp + 1 / c.Rs + 1 / c.Ra;
  // membrane equation: Cm dVB/dt = (VA − VB)/Ra − (VB − Em)/Rm, with VA linear in VB
  const a = (1 / c.Ra) * (1 - 1 / (c.Ra * d)) + 1 / c.Rm; // coefficient of VB (×−1)
  const b = (vs: number): number => vs / (c.Rp * c.Ra * d) + c.Em / c.Rm;
  const vInf = (vs: number): number => b(vs) / a;
  const tau = c.Cm / a;
  // the electrode offset is a series source: the pipette sees the command minus it
  const s1 = v1 - c.offsetV;
  const s2 = v2 - c.offsetV;
  const vb = vInf(s2) + (vInf(s1) - vInf(s2)) * Math.exp(-t / tau);
  const va = (s2 / c.Rp + vb / c.Ra) / d;
  return (s2 - va) / c.Rp;
}

describe('equivalent circuit, voltage clamp', () => {
  it('step response equals the analytic RC solution to float precision', () => {
    const fs = 20000;
    const n = 340;
    const k = 60;
    const cmd = new Float32Array(n).fill(-0.07);
    for (let i = k; i < n; i++) cmd[i] = -0.06;
    const out = new Float32Array(n);
    voltageClampResponse({ ...wholeCell, Cp: 0 }, fs, cmd, out);
    const v1 = cmd[0];
    const v2 = cmd[k];
    for (let i = 0; i < n; i++) {
      const expected = i < k ? analyticStep(wholeCell, v1, v1, 0) : analyticStep(wholeCell, v1, v2, (i - k) / fs);
      expect(Math.abs(out[i] - expected)).toBeLessThanOrEqual(Math.abs(expected) * 2e-6 + 1e-16);
    }
    // sanity: the transient is there and decays with τ ≈ Ra·Cm·Rm/(Ra+Rm)
    expect(out[k] - out[k - 1]).toBeGreaterThan(5 * (out[n - 1] - out[k - 1]));
    const tau = (wholeCell.Cm * wholeCell.Ra * wholeCell.Rm) / (wholeCell.Ra + wholeCell.Rm);
    const i1 = k + Math.round(tau * fs);
    const frac = (out[i1] - out[n - 1]) / (out[k] - out[n - 1]);
    expect(frac).toBeGreaterThan(0.3);
    expect(frac).toBeLessThan(0.45);
  });

  it('is exact at any sample rate (the exponential update is not a small-step approximation)', () => {
    const tEnd = 0.004;
    const run = (fs: number): number => {
      const n = Math.round(tEnd * fs) + 11;
      const cmd = new Float32Array(n).fill(0);
      for (let i = 10; i < n; i++) cmd[i] = 0.01;
      const out = new Float32Array(n);
      voltageClampResponse({ ...wholeCell, Cp: 0 }, fs, cmd, out);
      return out[n - 1];
    };
    const expected = analyticStep(wholeCell, 0, 0.01, tEnd);
    for (const fs of [5000, 20000, 100000]) expect(run(fs)).toBeCloseTo(expected, 15);
  });

  it('the pipette-capacitance transient is Cp·ΔV/Δt and fast compensation of Cp cancels it', () => {
    const fs = 50000;
    const cmd = new Float32Array(100).fill(0);
    for (let i = 30; i < 100; i++) cmd[i] = 0.01;
    const withCp = new Float32Array(100);
    const without = new Float32Array(100);
    voltageClampResponse(wholeCell, fs, cmd, withCp);
    voltageClampResponse({ ...wholeCell, Cp: 0 }, fs, cmd, without);
    expect(withCp[30] - without[30]).toBeCloseTo(4e-12 * 0.01 * fs, 12);
    for (let i = 1; i < 100; i++) {
      const compensated = withCp[i] - wholeCell.Cp * (cmd[i] - cmd[i - 1]) * fs;
      expect(compensated).toBeCloseTo(without[i], 15);
    }
  });

  it('before break-in it is a resistor Rp + Rs (offset included)', () => {
    const c: CircuitSnapshot = { ...wholeCell, Ra: Infinity, Cp: 0 };
    const cmd = new Float32Array([0, 0.01, 0.01]);
    const out = new Float32Array(3);
    voltageClampResponse(c, 20000, cmd, out);
    expect(out[0]).toBeCloseTo(-0.003 / (5e6 + 2e9), 18);
    expect(out[2]).toBeCloseTo(0.007 / (5e6 + 2e9), 18);
  });

  it('steadyCurrent agrees with the settled sweep (holding current)', () => {
    const fs = 20000;
    const cmd = new Float32Array(4000).fill(-0.07);
    const out = new Float32Array(4000);
    voltageClampResponse(wholeCell, fs, cmd, out);
    const ihold = steadyCurrent(wholeCell, -0.07);
    expect(out[3999]).toBeCloseTo(ihold, 15);
    // −70 mV against Vrest −65 mV through Rm plus the seal leak: a small negative current
    expect(ihold).toBeLessThan(0);
    expect(ihold).toBeGreaterThan(-200e-12);
  });
});

describe('equivalent circuit, current clamp (passive)', () => {
  it('charges with τ = Cm·(Rm ∥ (Ra+Rs)) to ΔV = I·(Rp + Rs∥(Ra+Rm))', () => {
    const c: CircuitSnapshot = { ...wholeCell, offsetV: 0 };
    const fs = 50000;
    const n = 20000;
    const cmd = new Float32Array(n).fill(0);
    for (let i = 100; i < n; i++) cmd[i] = -20e-12;
    const out = new Float32Array(n);
    passiveCurrentClampResponse(c, fs, cmd, out);
    const dv = out[n - 1] - out[99];
    const rIn = c.Rp + (c.Rs * (c.Ra + c.Rm)) / (c.Rs + c.Ra + c.Rm);
    expect(dv / -20e-12).toBeCloseTo(rIn, -3);
    const tau = c.Cm / (1 / c.Rm + 1 / (c.Ra + c.Rs));
    // after one τ the membrane part is 1 − 1/e of the way (the Rp and Ra parts jump at once)
    const i1 = 100 + Math.round(tau * fs);
    const jump = out[100] - out[99];
    const frac = (out[i1] - out[99] - jump) / (dv - jump);
    expect(frac).toBeCloseTo(1 - Math.exp(-1), 2);
  });
});
