import { describe, expect, it } from 'vitest';
import { createSimWorld } from '../../src/sim/index.ts';
import { axisOf, behind, mean, oneCell, scripted } from './helpers.ts';

const MOhm = 1e6;

describe('approach and contact', () => {
  it('descending onto a cell raises R by 0.2–1 MΩ at contact, more as it dimples', () => {
    for (let seed = 1; seed <= 6; seed++) {
      const c = oneCell({ seed, fate: { pushLimitUm: 4 } });
      c.p.setPressure(30);
      c.p.wait(1000);
      const base: number[] = [];
      c.p.wait(1000, 50, (r) => base.push(r));
      const r0 = mean(base);
      // far: no change; then touch; then a 3 µm dimple
      const readAt = (d: number): number => {
        c.p.wait(c.p.moveTo(c.at(d), 2) - c.p.t);
        const rs: number[] = [];
        c.p.wait(500, 25, (r) => rs.push(r));
        return mean(rs) - r0;
      };
      const far = readAt(10);
      const atTouch = readAt(0);
      const dimple = readAt(-3);
      expect(Math.abs(far)).toBeLessThan(0.1 * MOhm);
      expect(atTouch).toBeGreaterThan(0.15 * MOhm);
      expect(atTouch).toBeLessThan(1 * MOhm);
      expect(dimple).toBeGreaterThan(atTouch);
      expect(dimple).toBeGreaterThan(0.2 * MOhm);
      expect(dimple).toBeLessThan(1.05 * MOhm);
      expect(c.p.sim.truth().stage).toBe('contact');
      expect(c.world.events().some((e) => e.kind === 'contact' && e.cellId === 1)).toBe(true);
    }
  });

  it('positive pressure keeps the membrane off the glass; at atmosphere the seal starts', () => {
    const c = oneCell({ seed: 3 });
    c.p.setPressure(20);
    c.p.wait(c.p.moveTo(c.at(-1), 5) - c.p.t);
    c.p.wait(5000);
    expect(c.p.sim.truth().stage).toBe('contact');
    expect(c.p.sim.truth().sealResistance).toBeLessThan(2 * MOhm);
    c.p.setPressure(6);
    c.p.wait(3000);
    expect(c.p.sim.truth().stage).toBe('contact');
    c.p.setPressure(0);
    c.p.wait(3000);
    expect(c.p.sim.truth().stage).toBe('sealing');
    expect(c.world.events().filter((e) => e.kind === 'seal-start')).toHaveLength(1);
  });

  it('suction pulls a membrane a couple of µm away onto the tip, atmosphere alone does not', () => {
    const c = oneCell({ seed: 4 });
    c.p.setPressure(20);
    c.p.wait(c.p.moveTo(c.at(2), 5) - c.p.t);
    c.p.setPressure(0);
    c.p.wait(3000);
    expect(c.p.sim.truth().stage).toBe('contact');
    c.p.setPressure(-30);
    c.p.wait(500);
    expect(c.p.sim.truth().stage).toBe('sealing');
  });

  it('pressing far past the dimple pushes the cell aside (or damages it)', () => {
    const pushed = oneCell({ seed: 5, fate: { pushDamages: false, pushLimitUm: 3 } });
    pushed.p.setPressure(20);
    pushed.p.wait(pushed.p.moveTo(pushed.at(-10), 5) - pushed.p.t);
    const cell = pushed.world.cell(1)!;
    expect(cell.fate.pushedUm).toBeGreaterThan(5);
    expect(Math.hypot(cell.position[0] - pushed.cellPos[0], cell.position[1] - pushed.cellPos[1], cell.position[2] - pushed.cellPos[2])).toBeGreaterThan(5);
    expect(pushed.world.eventCounts()['cell-pushed']).toBe(1);
    expect(cell.used).toBe(false);

    const damaged = oneCell({ seed: 5, fate: { pushDamages: true, pushLimitUm: 3 } });
    damaged.p.setPressure(20);
    damaged.p.wait(damaged.p.moveTo(damaged.at(-6), 5) - damaged.p.t);
    const dc = damaged.world.cell(1)!;
    expect(dc.used).toBe(true);
    expect(dc.restingPotential).toBeGreaterThan(-0.04);
    expect(damaged.world.eventCounts()['cell-damaged:push']).toBe(1);
  });

  it('false hits: debris raises R under positive pressure and the rise vanishes at atmosphere', () => {
    const axis = axisOf(30);
    let found = 0;
    for (let seed = 1; seed <= 40 && found < 3; seed++) {
      const world = createSimWorld({
        seed,
        preparation: 'in-vivo',
        pipettes: [{ id: 'p', axis }],
        // only debris in the way: no cells, dense debris
        overrides: { cells: [], prep: { population: { debrisDensity: 2e-4 }, clog: { eventsPerUm: 0 }, pipette: { randomBreakPerUm: 0 } } },
      });
      const start = behind([0, seed * 37, 60], axis, 100);
      const p = scripted(world, 'p', start);
      p.setPressure(30);
      p.wait(500);
      const base: number[] = [];
      p.wait(500, 25, (r) => base.push(r));
      const r0 = mean(base);
      // hunt until the R rises by > 0.3 MΩ
      let hit = false;
      let here = start;
      for (let i = 0; i < 100 && !hit; i++) {
        here = behind(here, axis, -1);
        p.wait(p.moveTo(here, 10) - p.t);
        const rs: number[] = [];
        p.wait(100, 25, (r) => rs.push(r));
        hit = mean(rs) > r0 + 0.3 * MOhm;
      }
      if (!hit) continue;
      found++;
      expect(world.eventCounts()['false-hit']).toBeGreaterThanOrEqual(1);
      p.setPressure(0);
      const after: number[] = [];
      p.wait(3000, 50, (r) => after.push(r));
      expect(mean(after.slice(-20))).toBeLessThan(r0 + 0.15 * MOhm);
      expect(p.sim.truth().stage).not.toBe('sealing');
    }
    expect(found).toBeGreaterThanOrEqual(2);
  });
});
