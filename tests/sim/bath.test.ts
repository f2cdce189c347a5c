import { measureZeroCurrentPotential } from '../../drivers/amplifiers/amp-bridge/acquisition.ts';
import { describe, expect, it } from 'vitest';
import { createSimWorld, type Preparation } from '../../src/sim/index.ts';
import { mean, scripted, sd } from './helpers.ts';

const MOhm = 1e6;

function bathReadings(seed: number, prep: Preparation, sampleRateHz = 20000): { r: number[]; truthR: number; offsetV: number; cp: number } {
  const world = createSimWorld({ seed, preparation: prep, pipettes: [{ id: 'p', axis: [0.8, 0, 0.6] }] });
  const p = scripted(world, 'p', [0, 0, -500]);
  p.setPressure(50);
  const r: number[] = [];
  for (let i = 0; i < 60; i++) {
    p.t += 33;
    r.push(p.testPulse({ sampleRateHz }).r);
  }
  const sim = world.pipette('p');
  return { r, truthR: sim.truth().pipetteResistance, offsetV: sim.offsetV, cp: sim.pipetteCapacitanceF };
}

describe('pipette in the bath', () => {
  it('resistance in the published ranges per preparation, readings centred on the truth', () => {
    const ranges: Record<Preparation, [number, number]> = { 'in-vivo': [3, 9], slice: [3.5, 5], culture: [2.5, 6] };
    for (const prep of Object.keys(ranges) as Preparation[]) {
      const seen: number[] = [];
      for (let seed = 1; seed <= 12; seed++) {
        const { r, truthR } = bathReadings(seed, prep);
        expect(truthR / MOhm).toBeGreaterThanOrEqual(ranges[prep][0]);
        expect(truthR / MOhm).toBeLessThanOrEqual(ranges[prep][1]);
        expect(Math.abs(mean(r) - truthR)).toBeLessThan(60e3);
        seen.push(truthR);
      }
      // drawn, not constant
      expect(sd(seen)).toBeGreaterThan(0.1 * MOhm);
    }
  });

  it('steady-state R readings from a 10 mV, 10 ms test pulse have 20–100 kΩ RMS noise', () => {
    const rms: number[] = [];
    for (let seed = 1; seed <= 20; seed++) {
      const { r } = bathReadings(seed, 'in-vivo');
      rms.push(sd(r));
    }
    for (const x of rms) {
      expect(x).toBeGreaterThan(20e3);
      expect(x).toBeLessThan(100e3);
    }
    // and it does not vanish at a higher sample rate (the noise is not only white current noise)
    const fast = bathReadings(3, 'in-vivo', 100000);
    expect(sd(fast.r)).toBeGreaterThan(20e3);
  });

  it('electrode offset of a few mV and pipette capacitance of a few pF', () => {
    const offsets: number[] = [];
    for (let seed = 1; seed <= 30; seed++) {
      const { offsetV, cp } = bathReadings(seed, 'slice');
      expect(Math.abs(offsetV)).toBeLessThanOrEqual(0.01);
      expect(cp).toBeGreaterThanOrEqual(2e-12);
      expect(cp).toBeLessThanOrEqual(6e-12);
      offsets.push(offsetV);
    }
    expect(sd(offsets)).toBeGreaterThan(1e-3);
    expect(Math.max(...offsets.map(Math.abs))).toBeGreaterThan(2e-3);
  });

  it('the baseline current carries the offset (what auto pipette offset nulls)', () => {
    const world = createSimWorld({ seed: 5, preparation: 'in-vivo', pipettes: [{ id: 'p', axis: [1, 0, 0] }], overrides: { noise: false } });
    const p = scripted(world, 'p', [0, 0, -500]);
    const out = p.sim.voltageClamp(0, 20000, new Float32Array(100));
    const truth = p.sim.truth();
    expect(out[50]).toBeCloseTo(-p.sim.offsetV / truth.pipetteResistance, 15);
    const nulled = p.sim.voltageClamp(0, 20000, new Float32Array(100).fill(p.sim.offsetV));
    expect(Math.abs(nulled[50])).toBeLessThan(1e-15);
  });

  it('one offset nulls both clamps: the zero-current potential in VC is what IC reads at zero current', () => {
    for (const seed of [2, 5, 9]) {
      const world = createSimWorld({ seed, preparation: 'slice', pipettes: [{ id: 'p', axis: [1, 0, 0] }], overrides: { noise: false } });
      const p = scripted(world, 'p', [0, 0, -500]);
      expect(Math.abs(p.sim.offsetV)).toBeGreaterThan(1e-5);
      const vc = measureZeroCurrentPotential(p.sim, 'VC', 0, 20000, 200) as number;
      const ic = measureZeroCurrentPotential(p.sim, 'IC', 20, 20000, 200) as number;
      expect(vc).toBeCloseTo(p.sim.offsetV, 9);
      expect(ic).toBeCloseTo(p.sim.offsetV, 9);
    }
  });
});
