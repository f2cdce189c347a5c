import { describe, expect, it } from 'vitest';
import { createSimWorld } from '../../src/sim/index.ts';
import { mean, oneCell, pulseIn, scripted, sealCell, touch, type OneCell } from './helpers.ts';
import type { CellSpec } from '../../src/sim/index.ts';

const FS = 50000;

function wholeCell(seed: number, cell: Partial<CellSpec> = {}): OneCell {
  const c = oneCell({ seed, cell, fate: { sealFinalOhm: 10e9 }, noise: false });
  touch(c);
  sealCell(c);
  // let the seal tighten towards its final value so its leak hardly shifts the cell
  c.p.wait(60_000);
  expect(pulseIn(c)).toBeGreaterThan(0);
  return c;
}

function step(c: OneCell, amplitudeA: number, ms = 1000, pre = 100): { v: Float32Array; on: number; off: number } {
  const on = Math.round((pre / 1000) * FS);
  const off = on + Math.round((ms / 1000) * FS);
  const cmd = new Float32Array(off + on);
  for (let i = on; i < off; i++) cmd[i] = amplitudeA;
  c.p.t += 10;
  return { v: c.p.sim.currentClamp(c.p.t, FS, cmd), on, off };
}

/** Upward crossings of 0 mV (spikes). */
function spikes(v: Float32Array, from: number, to: number): number[] {
  const out: number[] = [];
  for (let i = from + 1; i < to; i++) if (v[i - 1] < 0 && v[i] >= 0) out.push(i);
  return out;
}

describe('current clamp', () => {
  it('passive response: Rin and τ match the generating parameters', () => {
    for (let seed = 1; seed <= 5; seed++) {
      const c = wholeCell(seed, { neuron: { sag: [0, 0] } });
      const t = c.p.sim.truth();
      const n = c.world.cell(1)!.neuron;
      const I = -20e-12;
      const { v, on, off } = step(c, I, 600);
      const rin = n.inputResistanceOhm;
      const rs = t.sealResistance;
      const ra = t.accessResistance;
      // the whole path the current sees: pipette, then seal ∥ (access + membrane)
      const expectedR = t.pipetteResistance + (rs * (ra + rin)) / (rs + ra + rin);
      const dv = v[off - 1] - v[on - 1];
      expect(dv / I / expectedR).toBeCloseTo(1, 2);
      expect(n.inputResistanceOhm).toBeCloseTo(c.world.cell(1)!.inputResistance, -3);
      // τ: time to 1 − 1/e of the membrane part (the IR drops across Rp and Ra are instantaneous)
      const jump = v[on] - v[on - 1];
      const target = v[on - 1] + jump + (1 - Math.exp(-1)) * (dv - jump);
      let k = on;
      while (v[k] > target) k++;
      const tau = (k - on) / FS;
      const expectedTau = n.capacitanceF / (1 / rin + 1 / (ra + rs));
      expect(Math.abs(tau - expectedTau)).toBeLessThan(2 / FS + 0.01 * expectedTau);
      expect(n.tauS).toBeCloseTo(n.capacitanceF * rin, 9);
      expect(n.tauS * 1000).toBeGreaterThan(5);
      expect(n.tauS * 1000).toBeLessThan(45);
    }
  });

  it('depolarising steps above rheobase spike, below do not', () => {
    for (let seed = 1; seed <= 6; seed++) {
      const c = wholeCell(seed);
      const n = c.world.cell(1)!.neuron;
      expect(n.rheobaseA).toBeGreaterThan(25e-12);
      expect(n.rheobaseA).toBeLessThan(350e-12);
      const below = step(c, 0.8 * n.rheobaseFrozenA);
      const above = step(c, 1.25 * n.rheobaseA);
      expect(spikes(below.v, below.on, below.off)).toHaveLength(0);
      expect(spikes(above.v, above.on, above.off).length).toBeGreaterThan(0);
      // more current, more spikes (f–I), with adaptation (ISIs lengthen)
      const strong = step(c, n.rheobaseA + 200e-12);
      const sp = spikes(strong.v, strong.on, strong.off);
      expect(sp.length).toBeGreaterThan(spikes(above.v, above.on, above.off).length);
      expect(sp.length).toBeGreaterThan(3);
      const firstIsi = sp[1] - sp[0];
      const lastIsi = sp[sp.length - 1] - sp[sp.length - 2];
      expect(lastIsi).toBeGreaterThan(firstIsi);
    }
  });

  it('spike shape: threshold, amplitude and width near the generating values, varying between cells', () => {
    const widths: number[] = [];
    const thresholds: number[] = [];
    for (let seed = 1; seed <= 8; seed++) {
      const c = wholeCell(seed);
      const n = c.world.cell(1)!.neuron;
      const { v, on, off } = step(c, n.rheobaseA + 100e-12);
      const sp = spikes(v, on, off);
      expect(sp.length).toBeGreaterThan(0);
      // IPFX-style: max upstroke, threshold where dV/dt first exceeds 5 % of it
      const i0 = sp[0];
      let maxUp = 0;
      let iMax = i0;
      for (let i = i0 - 50; i < i0 + 20; i++) {
        const d = (v[i] - v[i - 1]) * FS;
        if (d > maxUp) {
          maxUp = d;
          iMax = i;
        }
      }
      let k = iMax;
      while ((v[k] - v[k - 1]) * FS > 0.05 * maxUp) k--;
      const thr = v[k];
      let peak = -Infinity;
      let iPeak = k;
      for (let i = k; i < k + 250; i++) if (v[i] > peak) [peak, iPeak] = [v[i], i];
      const half = (peak + thr) / 2;
      let a = iPeak;
      while (v[a] > half) a--;
      let b = iPeak;
      while (v[b] > half) b++;
      const width = (b - a) / FS;
      // the recorded voltage carries I·(Rp + Ra): compare against the membrane values shifted by that
      const t = c.p.sim.truth();
      const shift = (n.rheobaseA + 100e-12) * (t.pipetteResistance + t.accessResistance) + c.p.sim.offsetV;
      expect(Math.abs(thr - shift - n.thresholdV)).toBeLessThan(0.003);
      expect(Math.abs(peak - thr - n.apAmplitudeV)).toBeLessThan(0.005);
      expect(Math.abs(width - n.apWidthS)).toBeLessThan(0.15e-3);
      expect(n.thresholdV).toBeGreaterThan(-0.056);
      expect(n.thresholdV).toBeLessThan(-0.028);
      expect(n.apWidthS).toBeGreaterThan(0.3e-3);
      expect(n.apWidthS).toBeLessThan(1.6e-3);
      widths.push(width);
      thresholds.push(thr - shift);
    }
    expect(Math.max(...widths) - Math.min(...widths)).toBeGreaterThan(0.2e-3);
    expect(Math.max(...thresholds) - Math.min(...thresholds)).toBeGreaterThan(0.004);
  });

  it('Ih gives a sag on hyperpolarising steps; cells without it do not sag', () => {
    const sagOf = (c: OneCell): number => {
      const n = c.world.cell(1)!.neuron;
      // a step that peaks near −100 mV
      const I = (-0.1 - n.restingPotentialV) / n.inputResistanceOhm;
      const { v, on, off } = step(c, I, 1000);
      let peak = Infinity;
      for (let i = on; i < off; i++) peak = Math.min(peak, v[i]);
      const ss = mean(Array.from(v.subarray(off - 500, off)));
      return (ss - peak) / (v[on - 1] - peak);
    };
    const none = sagOf(wholeCell(2, { neuron: { sag: [0, 0] } }));
    const some = sagOf(wholeCell(2, { neuron: { sag: [0.5, 0.5] } }));
    expect(Math.abs(none)).toBeLessThan(0.01);
    expect(some).toBeGreaterThan(0.1);
    expect(some).toBeLessThan(0.4);
  });

  it('before break-in the voltage is I·(Rp + Rs) plus the offset', () => {
    const world = createSimWorld({ seed: 3, preparation: 'slice', pipettes: [{ id: 'p', axis: [1, 0, 0] }], overrides: { noise: false } });
    const p = scripted(world, 'p', [0, 0, -500]);
    const v = p.sim.currentClamp(0, FS, new Float32Array(10).fill(-50e-12));
    const t = p.sim.truth();
    expect(v[5]).toBeCloseTo(-50e-12 * (t.pipetteResistance + t.sealResistance) + p.sim.offsetV, 9);
  });
});
