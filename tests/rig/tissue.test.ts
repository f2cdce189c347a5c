/**
 * The emulated rig without the controller: real drivers, byte-level emulators
 * and the physics, in virtual time. A pipette is driven down into tissue
 * towards a cell; its test-pulse sweeps (read through the amplifier driver and
 * analysed) show the resistance rise on contact, then climb past 1 GΩ under
 * suction for a cooperative cell — and stall for a seeded bad one.
 */
import { describe, expect, it } from 'vitest';
import { createVirtualClock, sleep } from '../../src/clock/index.ts';
import { createSimulatedRig } from '../../src/rig/simulated-rig.ts';
import { openRig } from '../../src/rig/open-rig.ts';
import { analyzeTestPulse } from '../../src/analysis/testpulse.ts';
import { alongAxis, alongAxisToZ } from '../../src/control/paths.ts';
import { pipetteAxis, toManipulator, toWorld, type Vec3 } from '../../src/geometry.ts';
import type { CellFate } from '../../src/sim/population.ts';
import type { PipetteHardware } from '../../drivers/types.ts';

const CELL_DEPTH = 300;

const COOPERATIVE: Partial<CellFate> = {
  sealKind: 'good',
  sealFinalOhm: 2.5e9,
  sealLossRatePerS: 0,
  spontaneousBreakIn: false,
  pushDamages: false,
  pushLimitUm: 6,
};
const STALLING: Partial<CellFate> = { ...COOPERATIVE, sealKind: 'stall', sealFinalOhm: 60e6 };

interface Trace {
  baseline: number;
  atContact: number;
  stepsToContact: number;
  afterSuction: number[];
  digest: string;
}

/** Mean steady-state resistance of the next `n` test-pulse sweeps, Ω. */
function meanResistance(hw: PipetteHardware, n: number): Promise<number> {
  return new Promise((resolve) => {
    const rs: number[] = [];
    const off = hw.amplifier.onSweep((s) => {
      if (s.kind !== 'testpulse' || s.mode !== 'VC') return;
      rs.push(analyzeTestPulse(s).r);
      if (rs.length === n) {
        off();
        resolve(rs.reduce((a, b) => a + b, 0) / n);
      }
    });
  });
}

async function approachAndSeal(fate: Partial<CellFate>, seed: number): Promise<Trace> {
  const clock = createVirtualClock();
  // Where pipette p1's axis reaches the cell's depth: put the cell there.
  const probe = createSimulatedRig({ clock: createVirtualClock(), seed, preparation: 'in-vivo', pipettes: 1 });
  const mount = probe.config.pipettes[0].mount;
  const axis = pipetteAxis(mount);
  const onAxis = alongAxisToZ(probe.config.pipettes[0].region, axis, CELL_DEPTH);
  const cell: Vec3 = alongAxis(onAxis, axis, 8); // the membrane faces the tip
  const sim = createSimulatedRig({
    clock,
    seed,
    preparation: 'in-vivo',
    pipettes: 1,
    worldOverrides: {
      cells: [{ position: cell, radiusUm: 7, fate }],
      prep: { pipette: { randomBreakPerUm: 0 }, clog: { eventsPerUm: 0, driftOhmPerS: 0 }, population: { debrisDensity: 0 } },
    },
  });
  const rig = await clock.runUntilSettled(openRig(sim.config, sim.binding, clock));
  const hw = rig.hardware[0];
  const run = <T>(p: Promise<T>): Promise<T> => clock.runUntilSettled(p, 3_600_000);
  const moveWorld = (p: Vec3, speed: number) => run(hw.manipulator.moveTo(toManipulator(mount, p), { speed }));

  await run(hw.amplifier.setMode('VC'));
  await run(hw.amplifier.setTestPulse({ enabled: true, amplitude: 0.01, widthMs: 5, rateHz: 30, sampleRateHz: 50_000 }));
  await run(hw.pressure.setPressure(30));
  await run(hw.pressure.setSource('regulator'));
  // Into the tissue along the axis, stopping 20 µm before the membrane.
  await moveWorld(alongAxis(onAxis, axis, -20), 50);
  const baseline = await run(meanResistance(hw, 10));

  // Step in 1 µm at a time until the resistance has risen by 0.2 MΩ.
  let atContact = baseline;
  let steps = 0;
  while (atContact - baseline < 0.2e6 && steps < 40) {
    steps++;
    const here = toWorld(mount, await run(hw.manipulator.position()));
    await moveWorld(alongAxis(here, axis, 1), 5);
    atContact = await run(meanResistance(hw, 5));
  }

  // Release to atmosphere, then gentle suction with the cell held at -70 mV.
  await run(hw.pressure.setSource('atmosphere'));
  await run(sleep(clock, 2000));
  await run(hw.pressure.setPressure(-30));
  await run(hw.pressure.setSource('regulator'));
  await run(hw.amplifier.setHolding(-0.07));
  const afterSuction: number[] = [];
  for (let i = 0; i < 6; i++) {
    await run(sleep(clock, 10_000));
    afterSuction.push(await run(meanResistance(hw, 15)));
  }
  await run(hw.pressure.setSource('atmosphere'));
  const digest = sim.paths().map((p) => sim.binding.byteLog(p).digest()).join(',');
  await rig.close();
  return { baseline, atContact, stepsToContact: steps, afterSuction, digest };
}

describe('a pipette driven into emulated tissue, read through its amplifier driver', () => {
  it('sees the resistance rise on contact, then climb past 1 GΩ under suction for a cooperative cell', async () => {
    const t = await approachAndSeal(COOPERATIVE, 21);
    expect(t.baseline).toBeGreaterThan(2e6);
    expect(t.baseline).toBeLessThan(12e6);
    expect(t.stepsToContact).toBeGreaterThan(5); // it really had to travel to the membrane
    expect(t.stepsToContact).toBeLessThan(40);
    expect(t.atContact - t.baseline).toBeGreaterThanOrEqual(0.2e6);
    expect(t.atContact - t.baseline).toBeLessThan(2e6);
    // the seal grows under suction and ends above a gigaohm within a minute
    expect(t.afterSuction[1]).toBeGreaterThan(t.afterSuction[0] * 0.9);
    expect(Math.max(...t.afterSuction)).toBeGreaterThan(1e9);
  }, 120_000);

  it('stalls below 100 MΩ for a seeded bad cell, whatever the suction', async () => {
    const t = await approachAndSeal(STALLING, 21);
    expect(t.atContact - t.baseline).toBeGreaterThanOrEqual(0.2e6);
    expect(Math.max(...t.afterSuction)).toBeLessThan(100e6);
    // and it has stopped climbing: the last readings agree within 5 %
    const [a, b] = t.afterSuction.slice(-2);
    expect(Math.abs(a - b) / b).toBeLessThan(0.05);
  }, 120_000);

  it('is deterministic: the same seed gives identical bytes on every port', async () => {
    const a = await approachAndSeal(COOPERATIVE, 5);
    const b = await approachAndSeal(COOPERATIVE, 5);
    const c = await approachAndSeal(COOPERATIVE, 6);
    expect(a.digest).toBe(b.digest);
    expect(a.afterSuction).toEqual(b.afterSuction);
    expect(c.digest).not.toBe(a.digest);
  }, 120_000);
});
