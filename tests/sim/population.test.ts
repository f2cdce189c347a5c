import { describe, expect, it } from 'vitest';
import { createSimWorld, type CellTruth } from '../../src/sim/index.ts';
import { axisOf, behind, mean, scripted } from './helpers.ts';
import type { Vec3 } from '../../src/geometry.ts';

/** Materialise the cells around a point by parking a pipette there. */
function cellsAround(prep: 'in-vivo' | 'slice' | 'culture', seed: number, at: Vec3[]): CellTruth[] {
  const world = createSimWorld({ seed, preparation: prep, pipettes: [{ id: 'p', axis: [0, 0, 1] }] });
  const sim = world.pipette('p');
  let i = 0;
  sim.bindPosition((t) => at[Math.min(at.length - 1, Math.floor(t / 10))]);
  for (; i < at.length; i++) sim.advanceTo(i * 10 + 5);
  return [...world.cells()];
}

describe('population', () => {
  it('in vivo: neurons from ~100 µm deep, with published passive properties', () => {
    const cells = cellsAround('in-vivo', 1, [
      [0, 0, 60],
      [0, 0, 150],
      [0, 0, 250],
    ]);
    expect(cells.length).toBeGreaterThan(100);
    for (const c of cells) {
      expect(c.position[2]).toBeGreaterThanOrEqual(100);
      expect(c.capacitance).toBeGreaterThanOrEqual(30e-12);
      expect(c.capacitance).toBeLessThanOrEqual(150e-12);
      if (c.fate.healthy) {
        expect(c.inputResistance).toBeGreaterThanOrEqual(100e6);
        expect(c.inputResistance).toBeLessThanOrEqual(300e6);
        expect(c.restingPotential).toBeGreaterThanOrEqual(-0.075);
        expect(c.restingPotential).toBeLessThanOrEqual(-0.055);
      } else expect(c.restingPotential).toBeGreaterThan(-0.045);
    }
    const unhealthy = cells.filter((c) => !c.fate.healthy).length / cells.length;
    expect(unhealthy).toBeGreaterThan(0.05);
    expect(unhealthy).toBeLessThan(0.3);
    // spread, not constants
    const rin = cells.map((c) => c.neuron.rheobaseA);
    expect(Math.min(...rin)).toBeLessThan(80e-12);
    expect(Math.max(...rin)).toBeGreaterThan(150e-12);
  });

  it('in vivo: a blind descent meets a cell within tens of µm of travel', () => {
    const distances: number[] = [];
    for (let seed = 1; seed <= 12; seed++) {
      const axis = axisOf(35, seed * 30);
      const world = createSimWorld({ seed, preparation: 'in-vivo', pipettes: [{ id: 'p', axis }] });
      const start = behind([seed * 20, 0, 150], axis, 0);
      const p = scripted(world, 'p', start);
      p.setPressure(30);
      p.wait(100);
      const arrive = p.moveTo(behind(start, axis, -300), 20);
      let first = Infinity;
      while (p.t < arrive && first === Infinity) {
        p.wait(100);
        if (world.events().some((e) => e.kind === 'contact')) first = (p.t - 100) * 0.02;
      }
      distances.push(first);
    }
    const found = distances.filter(Number.isFinite);
    expect(found.length).toBeGreaterThanOrEqual(9);
    const sorted = [...found].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)];
    expect(median).toBeGreaterThan(5);
    expect(median).toBeLessThan(120);
  });

  it('slice: 300 µm thick, healthy cells 20–100 µm deep are what the camera reports, with a few µm of error', () => {
    const world = createSimWorld({ seed: 4, preparation: 'slice', pipettes: [] });
    const seen = world.observedCells();
    expect(seen.length).toBeGreaterThan(50);
    const errors: number[] = [];
    for (const o of seen) {
      const c = world.cell(o.cellId)!;
      expect(c.fate.healthy).toBe(true);
      expect(c.used).toBe(false);
      expect(c.position[2]).toBeGreaterThanOrEqual(20);
      expect(c.position[2]).toBeLessThanOrEqual(100);
      const e = Math.hypot(o.position[0] - c.position[0], o.position[1] - c.position[1], o.position[2] - c.position[2]);
      errors.push(e);
    }
    expect(mean(errors)).toBeGreaterThan(1);
    expect(mean(errors)).toBeLessThan(6);
    expect(Math.max(...errors)).toBeLessThan(20);
    // the cut surface is damaged: no healthy cells in the top 20 µm
    const shallow = world.cells().filter((c) => c.position[2] < 20);
    expect(shallow.length).toBeGreaterThan(0);
    for (const c of shallow) expect(c.fate.healthy).toBe(false);
    for (const c of world.cells()) {
      expect(c.position[2]).toBeGreaterThanOrEqual(0);
      expect(c.position[2]).toBeLessThanOrEqual(300);
    }
    // the same seed gives the same picture
    expect(createSimWorld({ seed: 4, preparation: 'slice', pipettes: [] }).observedCells()).toEqual(seen);
  });

  it('culture: small cells sitting on the dish floor a few µm down', () => {
    const world = createSimWorld({ seed: 2, preparation: 'culture', pipettes: [] });
    const seen = world.observedCells();
    expect(seen.length).toBeGreaterThan(20);
    for (const c of world.cells()) {
      expect(c.position[2] + c.radiusUm * 0.75).toBeCloseTo(10, 6);
      expect(c.position[2] - c.radiusUm).toBeLessThan(5);
      expect(c.capacitance).toBeGreaterThanOrEqual(5e-12);
      expect(c.capacitance).toBeLessThanOrEqual(30e-12);
    }
  });

  it('in vivo is blind: no camera targets', () => {
    expect(createSimWorld({ seed: 1, preparation: 'in-vivo', pipettes: [] }).observedCells()).toEqual([]);
  });

  it('cleaning wells lie several mm from the prep with ~2 mm of liquid', () => {
    const world = createSimWorld({ seed: 1, preparation: 'in-vivo', pipettes: [] });
    for (const w of world.wells) {
      expect(Math.hypot(w.center[0], w.center[1])).toBeGreaterThan(3000);
      expect(w.depthUm).toBeGreaterThanOrEqual(1500);
      expect(w.depthUm).toBeLessThanOrEqual(2500);
    }
  });
});
