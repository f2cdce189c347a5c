/**
 * Manipulator position error: the physics' tip is off from where the stage's
 * encoder and the mount calibration put it, by a seeded calibration error and
 * per-axis backlash; the emulator (and so the controller) never sees it.
 */
import { describe, expect, it } from 'vitest';
import { createVirtualClock } from '../../src/clock/index.ts';
import { createSimulatedRig } from '../../src/rig/simulated-rig.ts';
import { openRig } from '../../src/rig/open-rig.ts';
import { add, sub, toManipulator, toWorld, type Vec3 } from '../../src/geometry.ts';
import { createRng, PREPARATIONS } from '../../src/sim/index.ts';
import { createStageError } from '../../src/sim/stage-error.ts';
import type { ManipulatorDriverName } from '../../src/rig/config.ts';

const norm = (v: Vec3): number => Math.hypot(v[0], v[1], v[2]);

describe('stage error (unit)', () => {
  const params = { calibrationSdUm: 2, calibrationClipSd: 3, backlashUm: [1, 1] as const };

  it('backlash is a play operator: the carriage lags by half the play after each reversal', () => {
    const e = createStageError(createRng(4).fork('x'), params);
    expect(e.backlashUm).toEqual([1, 1, 1]);
    e.latch([0, 0, 0]);
    expect(e.carriage([0.3, 0, 0])).toEqual([0, 0, 0]); // inside the play: nothing moves yet
    expect(e.carriage([10, 0, -4])).toEqual([9.5, 0, -3.5]);
    e.latch([10, 0, -4]);
    expect(e.carriage([9.8, 0, -4])).toEqual([9.5, 0, -3.5]);
    expect(e.carriage([5, 0, 2])).toEqual([5.5, 0, 1.5]);
  });

  it('the calibration error is drawn from the stream, again for each fitting, within its clip', () => {
    const a = createStageError(createRng(4).fork('x'), params);
    const b = createStageError(createRng(4).fork('x'), params);
    const c = createStageError(createRng(5).fork('x'), params);
    expect(a.calibrationUm).toEqual(b.calibrationUm);
    expect(a.calibrationUm).not.toEqual(c.calibrationUm);
    const first = a.calibrationUm;
    a.refit(2);
    b.refit(2);
    expect(a.calibrationUm).not.toEqual(first);
    expect(a.calibrationUm).toEqual(b.calibrationUm);
    for (let seed = 0; seed < 200; seed++) {
      const e = createStageError(createRng(seed), { ...params, calibrationSdUm: 5 });
      for (const v of e.calibrationUm) expect(Math.abs(v)).toBeLessThanOrEqual(15);
    }
  });

  it('the default parameters give an error of a few µm (physics.md)', () => {
    const p = PREPARATIONS['in-vivo'].stage;
    const errs: number[] = [];
    const axis: number[] = [];
    for (let seed = 1; seed <= 300; seed++) {
      const e = createStageError(createRng(seed), p);
      errs.push(norm(e.calibrationUm));
      axis.push(...e.calibrationUm);
      for (const b of e.backlashUm) expect(b).toBeGreaterThanOrEqual(0);
      for (const b of e.backlashUm) expect(b).toBeLessThanOrEqual(1);
    }
    const sd = Math.sqrt(axis.reduce((s, v) => s + v * v, 0) / axis.length);
    expect(sd).toBeGreaterThan(1.7);
    expect(sd).toBeLessThan(2.3);
    const median = [...errs].sort((a, b) => a - b)[Math.floor(errs.length / 2)];
    expect(median).toBeGreaterThan(2);
    expect(median).toBeLessThan(5);
  });
});

async function rigMove(seed: number, driver: ManipulatorDriverName, legs: Vec3[]) {
  const clock = createVirtualClock();
  const sim = createSimulatedRig({ clock, seed, preparation: 'slice', pipettes: 1, manipulators: [driver] });
  const rig = await clock.runUntilSettled(openRig(sim.config, sim.binding, clock), 60_000);
  const spec = sim.config.pipettes[0];
  const m = rig.hardware[0].manipulator;
  const start = await clock.runUntilSettled(m.position(), 60_000);
  const out: Array<{ commanded: Vec3; reported: Vec3; tip: Vec3; expectedTip: Vec3 }> = [];
  for (const leg of legs) {
    const commanded = add(start, leg);
    const reported = await clock.runUntilSettled(m.moveTo(commanded, { speed: 500 }), 60_000);
    sim.world.advanceTo(clock.now());
    out.push({ commanded, reported, tip: sim.world.pipette('p1').truth().tip, expectedTip: toWorld(spec.mount, commanded) });
  }
  const error = sim.world.pipette('p1').stageError;
  await rig.close();
  return { out, calibration: error.calibrationUm, backlash: error.backlashUm, mount: spec.mount };
}

describe('stage error on the simulated rig', () => {
  for (const driver of ['sutter-mp285', 'luigs-neumann-sm10'] as const) {
    it(`${driver}: the tip lands off the commanded position by the drawn error, the stage reports the commanded one`, async () => {
      // to +200 µm in x, back to 0, then +200 again from the other side of 300
      const legs: Vec3[] = [[200, 0, 0], [0, 0, 0], [300, 0, 0], [200, 0, 0]];
      const run = await rigMove(7, driver, legs);
      for (const o of run.out) {
        // the device (and so the controller) sees its own encoder: on target
        expect(norm(sub(o.reported, o.commanded))).toBeLessThanOrEqual(0.02);
        const off = sub(o.tip, o.expectedTip);
        expect(norm(off)).toBeGreaterThan(0.1);
        expect(norm(off)).toBeLessThan(10);
        // calibration, plus at most half the play on each axis
        for (let k = 0; k < 3; k++) expect(Math.abs(off[k] - run.calibration[k])).toBeLessThanOrEqual(run.backlash[k] / 2 + 1e-9);
      }
      // Landing at the same commanded x from below (leg 0) and from above (leg 3) differs by the x play.
      const fromBelow = toManipulator(run.mount, run.out[0].tip)[0];
      const fromAbove = toManipulator(run.mount, run.out[3].tip)[0];
      expect(fromAbove - fromBelow).toBeCloseTo(run.backlash[0], 9);
      expect(run.backlash[0]).toBeGreaterThan(0);
    });
  }

  it('is deterministic by seed, and differs between seeds', async () => {
    const legs: Vec3[] = [[150, -40, 20]];
    const a = await rigMove(7, 'sutter-mpc325', legs);
    const b = await rigMove(7, 'sutter-mpc325', legs);
    const c = await rigMove(8, 'sutter-mpc325', legs);
    expect(a.out[0].tip).toEqual(b.out[0].tip);
    expect(a.calibration).toEqual(b.calibration);
    expect(c.calibration).not.toEqual(a.calibration);
    expect(c.out[0].tip).not.toEqual(a.out[0].tip);
  });

  it('a new pipette has its own calibration error', () => {
    const clock = createVirtualClock();
    const sim = createSimulatedRig({ clock, seed: 7, preparation: 'slice', pipettes: 1 });
    const p = sim.world.pipette('p1');
    const before = p.stageError.calibrationUm;
    const tipBefore = p.truth().tip;
    sim.world.replacePipette('p1', 1_000);
    sim.world.advanceTo(2_000);
    expect(p.stageError.calibrationUm).not.toEqual(before);
    const moved = sub(p.truth().tip, tipBefore);
    for (let k = 0; k < 3; k++) expect(moved[k]).toBeCloseTo(p.stageError.calibrationUm[k] - before[k], 9);
  });
});
