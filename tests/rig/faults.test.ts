/**
 * Faults and exits on the emulated rig: one pipette's device unplugged
 * mid-session (the others go on), session abort (every pipette retracted,
 * vented, still), emergency stop (motion stops at once, nothing moves after),
 * and an abort while cleaning (the tip leaves the well).
 */
import { describe, expect, it } from 'vitest';
import { createVirtualClock, type VirtualClock } from '../../src/clock/index.ts';
import { createSimulatedLab, type SimulatedLab } from '../../src/cli/simulated-lab.ts';
import type { RigEvent } from '../../src/control/events.ts';
import type { Supervisor } from '../../src/control/supervisor.ts';
import { limitViolations } from './wire-checks.ts';

interface Running {
  clock: VirtualClock;
  lab: SimulatedLab;
  supervisor: Supervisor;
  events: RigEvent[];
}

async function start(preset: string, seed: number, durationMin = 30): Promise<Running> {
  const clock = createVirtualClock();
  const lab = await createSimulatedLab({ clock, seed, pipettes: 4, preset, durationMin });
  const events: RigEvent[] = [];
  lab.sink.subscribe((e) => {
    if (e.type !== 'pipette.testpulse' && e.type !== 'sweep' && e.type !== 'pipette.position') events.push(e);
  });
  const supervisor = await lab.startSession();
  return { clock, lab, supervisor, events };
}

const allVentedAndStill = (lab: SimulatedLab): void => {
  for (const [, box] of lab.sim.pressureBoxes) {
    for (let ch = 0; ch < box.emulator.channelCount; ch++) expect(box.emulator.state(ch).source).toBe('atmosphere');
  }
  for (const [, m] of lab.sim.manipulators) expect(m.emulator.motion(m.unit).moving).toBe(false);
};

describe('fault isolation', () => {
  it("an unplugged manipulator puts only its own pipette in the safe state; the others keep patching; it recovers after replug and retry", async () => {
    const r = await start('culture', 1);
    await r.clock.runFor(90_000);
    const p1 = r.lab.sim.manipulators.get('p1')!;
    const unpluggedAt = r.clock.now();
    r.lab.sim.binding.unplug(p1.path);
    // p1 carries on with whatever needs no motion (a recording, say) and goes safe the
    // moment it needs its manipulator; run until then, and a few minutes more.
    const p1Runner = r.supervisor.runners.find((x) => x.pipetteId === 'p1')!;
    for (let i = 0; i < 60 && p1Runner.state !== 'safe'; i++) await r.clock.runFor(10_000);
    expect(p1Runner.state).toBe('safe');
    await r.clock.runFor(3 * 60_000);
    expect(p1Runner.state).toBe('safe');
    // one fault for the unplug, not one per reconnection attempt
    expect(r.events.filter((e) => e.type === 'fault' && e.pipetteId === null && e.device.includes(p1.path)).length).toBe(1);
    // every other pipette went on working after the unplug, and attempts kept ending
    for (const id of ['p2', 'p3', 'p4']) {
      expect(r.events.filter((e) => e.type === 'pipette.state' && e.pipetteId === id && e.t > unpluggedAt).length).toBeGreaterThan(2);
    }
    expect(r.events.filter((e) => e.type === 'attempt.ended' && e.t > unpluggedAt && e.record.pipetteId !== 'p1').length).toBeGreaterThanOrEqual(1);
    for (const other of r.supervisor.runners.filter((x) => x.pipetteId !== 'p1')) expect(other.state).not.toBe('safe');
    // p1's line was vented even though its manipulator was gone
    expect(r.lab.sim.pressureBoxes.get('pbox-1')!.emulator.state(0).source).toBe('atmosphere');

    r.lab.sim.binding.replug(p1.path);
    await r.clock.runFor(5_000); // the supervisor retries the connection every 2 s
    expect(r.events.some((e) => e.type === 'log' && e.message.includes('reconnected'))).toBe(true);
    const before = p1Runner.attempts;
    await r.supervisor.pipette('p1', { action: 'retry' }, 'test');
    await r.clock.runFor(60_000);
    expect(p1Runner.attempts).toBeGreaterThan(before);
    expect(limitViolations(r.lab.sim).violations).toEqual([]);
  }, 300_000);
});

describe('exits', () => {
  it('abort takes every pipette through the safe path: retracted out of the prep, vented, still', async () => {
    const r = await start('in-vivo-blind', 4);
    // abort while some pipettes are below the surface (rounds make when that is vary)
    const belowSurface = (): boolean => {
      r.lab.sim.world.advanceTo(r.clock.now());
      return r.lab.sim.world.pipetteIds.some((id) => r.lab.sim.world.pipette(id).truth().tip[2] > 0);
    };
    await r.clock.runFor(2 * 60_000);
    for (let i = 0; i < 600 && !belowSurface(); i++) await r.clock.runFor(1_000);
    expect(belowSurface()).toBe(true);
    await r.lab.host.abort('test');
    const summary = await r.clock.runUntilSettled(r.supervisor.done, 30 * 60_000);
    expect(summary.reason).toBe('aborted');
    r.lab.sim.world.advanceTo(r.clock.now());
    for (const id of r.lab.sim.world.pipetteIds) expect(r.lab.sim.world.pipette(id).truth().tip[2]).toBeLessThanOrEqual(0);
    allVentedAndStill(r.lab);
    // every attempt that was running ended with a record
    const started = r.events.filter((e) => e.type === 'attempt.started').length;
    const ended = r.events.filter((e) => e.type === 'attempt.ended').length;
    expect(ended).toBe(started);
  }, 300_000);

  it('emergency stop halts every stage at once and nothing moves afterwards', async () => {
    const r = await start('in-vivo-blind', 4);
    await r.clock.runFor(5_000);
    const movingNow = (): number => [...r.lab.sim.manipulators.values()].filter((m) => m.emulator.motion(m.unit).moving).length;
    // stop at an instant when stages are moving (pipettes descend and step in bursts; all hold still while one seals)
    for (let i = 0; i < 60_000 && movingNow() < 2; i++) await r.clock.runFor(5);
    expect(movingNow()).toBeGreaterThanOrEqual(2);
    const stopAt = r.clock.now();
    const result = r.lab.host.emergencyStop('test');
    await r.clock.runUntilSettled(result, 10_000);
    // within a few ms of rig time every stage is still
    expect(r.clock.now() - stopAt).toBeLessThan(200);
    allVentedAndStill(r.lab);
    const movesAt = new Map([...r.lab.sim.manipulators].map(([id, m]) => [id, m.emulator.moves.length]));
    await r.clock.runFor(60_000);
    for (const [id, m] of r.lab.sim.manipulators) expect(m.emulator.moves.length).toBe(movesAt.get(id));
    expect(r.supervisor.phase).toBe('estopped');
    expect(r.events.some((e) => e.type === 'estop')).toBe(true);
  }, 300_000);

  it('an abort while cleaning takes the tip out of the well (never left in the detergent)', async () => {
    const r = await start('in-vivo-blind', 3);
    let inWell: string | null = null;
    for (let i = 0; i < 600 && !inWell; i++) {
      await r.clock.runFor(1000);
      r.lab.sim.world.advanceTo(r.clock.now());
      inWell = r.lab.sim.world.pipetteIds.find((id) => r.lab.sim.world.pipette(id).truth().well !== null) ?? null;
    }
    expect(inWell).not.toBeNull();
    const runner = r.supervisor.runners.find((x) => x.pipetteId === inWell)!;
    expect(runner.state).toBe('clean');
    await r.supervisor.pipette(inWell!, { action: 'abort' }, 'test');
    await r.clock.runFor(30_000);
    expect(runner.state).toBe('safe');
    r.lab.sim.world.advanceTo(r.clock.now());
    const truth = r.lab.sim.world.pipette(inWell!).truth();
    expect(truth.well).toBeNull();
    expect(truth.tip[2]).toBeLessThan(-1000); // up on the travel plane, above any liquid
  }, 300_000);
});
