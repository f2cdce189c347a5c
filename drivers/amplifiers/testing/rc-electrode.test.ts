import { describe, expect, it } from 'vitest';
import { createRcElectrode } from './rc-electrode.ts';

const fs = 20_000;
/** equal to float32 precision (the outputs are Float32Array) */
const near = (actual: number, expected: number, rel = 1e-6): void => {
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(rel * Math.abs(expected) + 1e-21);
};
const dt = 1 / fs;
const step = (n: number, on: number, off: number, base: number, level: number): Float32Array => {
  const x = new Float32Array(n).fill(base);
  x.fill(level, on, off);
  return x;
};

describe('rc-electrode test double', () => {
  it('a resistor obeys Ohm’s law with its offset, and Cp adds C·ΔV·fs at each edge', () => {
    const e = createRcElectrode({ resistance: 10e6, offsetV: 0.003, pipetteCapacitanceF: 2e-12 });
    const cmd = step(100, 20, 60, -0.07, -0.06);
    const i = e.voltageClamp(5, fs, cmd);
    near(i[0], (-0.07 - 0.003) / 10e6);
    near(i[40], (-0.06 - 0.003) / 10e6);
    near(i[20] - i[21], 2e-12 * (cmd[20] - cmd[19]) * fs, 1e-5); // a difference of two float32 samples
    near(i[60] - i[61], 2e-12 * (cmd[60] - cmd[59]) * fs, 1e-5);
    const v = e.currentClamp(6, fs, step(10, 2, 5, 0, -50e-12));
    near(v[0], 0.003);
    near(v[3], 0.003 - 50e-12 * 10e6);
    expect(e.calls).toEqual([
      { kind: 'VC', t0: 5, sampleRateHz: fs, samples: 100 },
      { kind: 'IC', t0: 6, sampleRateHz: fs, samples: 10 },
    ]);
  });

  it('a cell behind the pipette gives the textbook exponential in VC and IC', () => {
    const R = 20e6;
    const Rm = 300e6;
    const Cm = 30e-12;
    const e = createRcElectrode({ resistance: R, cell: { resistance: Rm, capacitance: Cm } });
    const i = e.voltageClamp(0, fs, step(400, 100, 300, 0, 0.01));
    const tau = (Cm * R * Rm) / (R + Rm);
    for (let k = 100; k < 300; k++) {
      const t = (k - 100) * dt;
      const expected = 0.01 / (R + Rm) + (0.01 / R - 0.01 / (R + Rm)) * Math.exp(-t / tau);
      near(i[k], expected);
    }
    const v = e.currentClamp(0, fs, step(4000, 1000, 3000, 0, -40e-12));
    for (let k = 1000; k < 3000; k += 37) {
      const t = (k - 1000) * dt;
      near(v[k], -40e-12 * R + -40e-12 * Rm * (1 - Math.exp(-t / (Rm * Cm))));
    }
    // every call starts settled at its first command: a constant command gives the DC value throughout
    const dc = e.voltageClamp(0, fs, new Float32Array(50).fill(-0.07));
    for (const x of dc) near(x, -0.07 / (R + Rm));
  });

  it('a cell without capacitance is a second resistor', () => {
    const e = createRcElectrode({ resistance: 10e6, cell: { resistance: 90e6, capacitance: 0 } });
    near(e.voltageClamp(0, fs, new Float32Array(3).fill(0.01))[1], 0.01 / 100e6);
  });

  it('noise is seeded: the same seed repeats, another differs, the RMS is as configured', () => {
    const make = (seed: number) => createRcElectrode({ resistance: 10e6, noise: { currentRmsA: 5e-12, voltageRmsV: 1e-4, seed } });
    const cmd = new Float32Array(20_000);
    const a = make(1).voltageClamp(0, fs, cmd);
    const b = make(1).voltageClamp(0, fs, cmd);
    const c = make(2).voltageClamp(0, fs, cmd);
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(Array.from(a)).not.toEqual(Array.from(c));
    const mean = a.reduce((s, x) => s + x, 0) / a.length;
    const rms = Math.sqrt(a.reduce((s, x) => s + (x - mean) ** 2, 0) / a.length);
    expect(Math.abs(mean)).toBeLessThan(0.2e-12);
    expect(rms / 5e-12).toBeGreaterThan(0.95);
    expect(rms / 5e-12).toBeLessThan(1.05);
    const v = make(3).currentClamp(0, fs, cmd);
    const vr = Math.sqrt(v.reduce((s, x) => s + x * x, 0) / v.length);
    expect(vr / 1e-4).toBeGreaterThan(0.95);
    expect(vr / 1e-4).toBeLessThan(1.05);
  });

  it('records zaps and writes into a given output array', () => {
    const e = createRcElectrode({ resistance: 1e6 });
    e.zap(12.5, 0.5, 1);
    expect(e.zaps).toEqual([{ t: 12.5, durationMs: 0.5, amplitudeV: 1 }]);
    const out = new Float32Array(4);
    expect(e.voltageClamp(0, fs, new Float32Array(4).fill(1e-3), out)).toBe(out);
    near(out[2], 1e-9);
  });
});
