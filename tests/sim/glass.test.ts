import { describe, expect, it } from 'vitest';
import { createSimWorld, type SimWorld } from '../../src/sim/index.ts';
import { axisOf, behind, COOPERATIVE, mean, QUIET, scripted, type ScriptedPipette } from './helpers.ts';
import type { Vec3 } from '../../src/geometry.ts';

const MOhm = 1e6;

describe('broken tips', () => {
  it('two shafts crossing break both tips; passing at a distance does not', () => {
    const run = (offsetUm: number): SimWorld => {
      const ax1 = axisOf(30, 0);
      const ax2 = axisOf(30, 90);
      const world = createSimWorld({ seed: 1, preparation: 'in-vivo', pipettes: [{ id: 'a', axis: ax1 }, { id: 'b', axis: ax2 }], overrides: { prep: QUIET } });
      const a = scripted(world, 'a', [0, 0, -200]);
      // b's tip sweeps across a's shaft 100 µm behind a's tip (offset above or below it)
      const onShaft = behind([0, 0, -200], ax1, 100);
      const b = scripted(world, 'b', [onShaft[0], -60, onShaft[2] - offsetUm]);
      b.t = a.t;
      b.wait(b.moveTo([onShaft[0], 60, onShaft[2] - offsetUm], 100) - b.t);
      a.t = b.t;
      return world;
    };
    const hit = run(0);
    expect(hit.pipette('a').truth().brokenCause).toBe('collision');
    expect(hit.pipette('b').truth().brokenCause).toBe('collision');
    expect(hit.eventCounts().collision).toBe(2);
    const miss = run(10);
    expect(miss.pipette('a').truth().condition).not.toBe('broken');
    expect(miss.pipette('b').truth().condition).not.toBe('broken');
  });

  it('the glass floor under a slice, the dish floor, a well floor and the chamber wall break the tip; R drops ≥ 1 MΩ', () => {
    const cases: Array<{ prep: 'slice' | 'culture' | 'in-vivo'; from: Vec3; to: Vec3; cause: string }> = [
      { prep: 'slice', from: [0, 0, 200], to: [0, 0, 320], cause: 'floor' },
      { prep: 'culture', from: [0, 0, -20], to: [0, 0, 15], cause: 'floor' },
      { prep: 'in-vivo', from: [-6000, -2500, 0], to: [-6000, -2500, 1100], cause: 'well-floor' },
      { prep: 'in-vivo', from: [3000, 0, -50], to: [3000, 0, 50], cause: 'obstacle' },
    ];
    for (const c of cases) {
      const world = createSimWorld({ seed: 2, preparation: c.prep, pipettes: [{ id: 'p', axis: [0, 0, 1] }], overrides: { cells: [], prep: QUIET } });
      const p = scripted(world, 'p', c.from);
      p.setPressure(30);
      const before: number[] = [];
      p.wait(1000, 50, (r) => before.push(r));
      p.wait(p.moveTo(c.to, 50) - p.t);
      const after: number[] = [];
      p.wait(1000, 50, (r) => after.push(r));
      const t = p.sim.truth();
      expect(t.condition).toBe('broken');
      expect(t.brokenCause).toBe(c.cause);
      expect(mean(before) - mean(after)).toBeGreaterThan(1 * MOhm);
      expect(world.eventCounts()[`tip-broken:${c.cause}`]).toBe(1);
    }
  });

  it('tips also break by rare chance while travelling in tissue', () => {
    let broken = 0;
    for (let seed = 1; seed <= 20; seed++) {
      const world = createSimWorld({ seed, preparation: 'in-vivo', pipettes: [{ id: 'p', axis: [0, 0, 1] }], overrides: { cells: [], prep: { ...QUIET, pipette: { randomBreakPerUm: 1e-3 } } } });
      const p = scripted(world, 'p', [0, 0, 100]);
      p.setPressure(800);
      p.wait(p.moveTo([0, 0, 1100], 200) - p.t);
      if (p.sim.truth().brokenCause === 'random') broken++;
    }
    // 1 − e^−1 ≈ 63 %
    expect(broken).toBeGreaterThan(6);
    expect(broken).toBeLessThan(19);
  });
});

describe('clogging', () => {
  it('travel through tissue at low pressure clogs the tip; high pressure keeps it clean', () => {
    const clogged = (pressure: number): { n: number; rises: number[] } => {
      let n = 0;
      const rises: number[] = [];
      for (let seed = 1; seed <= 12; seed++) {
        const world = createSimWorld({ seed, preparation: 'in-vivo', pipettes: [{ id: 'p', axis: [0, 0, 1] }], overrides: { cells: [], prep: { population: { debrisDensity: 0 }, pipette: { randomBreakPerUm: 0 } } } });
        const p = scripted(world, 'p', [0, 0, -20]);
        p.setPressure(pressure);
        const r0: number[] = [];
        p.wait(1000, 50, (r) => r0.push(r));
        p.wait(p.moveTo([0, 0, 400], 5) - p.t);
        // judge at the same pressure in the same place
        const r1: number[] = [];
        p.wait(1000, 50, (r) => r1.push(r));
        const rise = mean(r1) - mean(r0);
        rises.push(rise);
        if (p.sim.truth().condition === 'clogged') {
          n++;
          expect(rise).toBeGreaterThan(0.4 * MOhm);
        }
      }
      return { n, rises };
    };
    const low = clogged(0);
    const high = clogged(800);
    expect(low.n).toBeGreaterThanOrEqual(8);
    expect(high.n).toBe(0);
    for (const r of high.rises) expect(r).toBeLessThan(0.4 * MOhm);
    expect(Math.max(...low.rises)).toBeGreaterThan(1 * MOhm);
  });
});

/** Attach to a cell at `pos` (approach, seal start, 3 s), then retract 40 µm: one use of the tip. */
function useOn(p: ScriptedPipette, axis: Vec3, pos: Vec3): void {
  p.setPressure(20);
  p.jumpTo(behind(pos, axis, 7 + 20));
  p.wait(p.moveTo(behind(pos, axis, 7 - 1), 10) - p.t);
  p.setPressure(-30);
  p.wait(3000);
  p.setPressure(20);
  p.wait(p.moveTo(behind(pos, axis, 7 + 40), 20) - p.t);
}

function clean(p: ScriptedPipette, rinse: boolean): void {
  p.jumpTo([-6000, -2500, 0]);
  for (let k = 0; k < 5; k++) {
    p.setPressure(-350);
    p.wait(1000);
    p.setPressure(1000);
    p.wait(1000);
  }
  if (rinse) {
    p.jumpTo([-6000, 2500, 0]);
    p.setPressure(-350);
    p.wait(3000);
    p.setPressure(1000);
    p.wait(10000);
  }
  p.setPressure(20);
  p.jumpTo([0, 0, -100]);
}

describe('reuse and cleaning', () => {
  const cells = Array.from({ length: 7 }, (_, i) => ({ position: [i * 60, 0, 200] as Vec3, radiusUm: 7, fate: { ...COOPERATIVE, tearUm: 3 } }));
  const sealOutcome = (seed: number, uses: number, cleaning: 'none' | 'full' | 'no-rinse'): { spoiled: boolean; world: SimWorld; p: ScriptedPipette } => {
    const axis = axisOf(30);
    const world = createSimWorld({ seed, preparation: 'in-vivo', pipettes: [{ id: 'p', axis }], overrides: { cells, prep: QUIET } });
    const p = scripted(world, 'p', [0, 0, -100]);
    for (let i = 0; i < uses; i++) useOn(p, axis, cells[i].position);
    if (cleaning !== 'none') clean(p, cleaning === 'full');
    useOn(p, axis, cells[6].position);
    const starts = world.events().filter((e) => e.kind === 'seal-start');
    return { spoiled: starts[starts.length - 1].detail === 'spoiled', world, p };
  };

  it('each use fouls the tip: uses and contamination in the truth, good-seal odds fall', () => {
    const { world, p } = sealOutcome(1, 3, 'none');
    const t = p.sim.truth();
    expect(t.uses).toBe(4);
    expect(t.contamination).toBeGreaterThan(3);
    expect(t.condition).toBe('contaminated');
    expect(world.eventCounts()['left-cell']).toBe(4);
    let fresh = 0;
    let reused = 0;
    for (let seed = 1; seed <= 20; seed++) {
      if (sealOutcome(seed, 0, 'none').spoiled) fresh++;
      if (sealOutcome(seed, 5, 'none').spoiled) reused++;
    }
    expect(fresh).toBeLessThanOrEqual(2);
    expect(reused).toBeGreaterThanOrEqual(12);
  });

  it('detergent cycles followed by a rinse restore the tip and the seal odds; cleanings are counted', () => {
    let spoiled = 0;
    for (let seed = 1; seed <= 20; seed++) {
      const r = sealOutcome(seed, 5, 'full');
      if (r.spoiled) spoiled++;
      const t = r.p.sim.truth();
      expect(t.cleanings).toBe(1);
      expect(t.uses).toBe(1);
      expect(r.world.eventCounts()['detergent-cycle']).toBe(5);
    }
    expect(spoiled).toBeLessThanOrEqual(3);
  });

  it('detergent without a rinse leaves residue that spoils seals', () => {
    let spoiled = 0;
    for (let seed = 1; seed <= 12; seed++) {
      const r = sealOutcome(seed, 2, 'no-rinse');
      if (r.spoiled) spoiled++;
      expect(r.world.eventCounts()['residue-at-seal']).toBe(1);
      expect(r.world.eventCounts().cleaned).toBeUndefined();
    }
    expect(spoiled).toBeGreaterThanOrEqual(8);
  });

  it('a tip left in a well is in the truth as well', () => {
    const world = createSimWorld({ seed: 1, preparation: 'slice', pipettes: [{ id: 'p', axis: [0, 0, 1] }] });
    const p = scripted(world, 'p', [-6000, 2500, 0]);
    p.wait(10);
    expect(p.sim.truth().well).toBe('rinse');
    expect(world.wells.map((w) => w.name)).toEqual(['detergent', 'rinse']);
  });
});
