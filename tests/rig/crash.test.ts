/**
 * Fault isolation when a pipette's machine itself fails, and records at an
 * emergency stop, on the emulated rig: a machine that crashes while sealing
 * goes to its safe state and releases what it held (the others were paused
 * for its seal), the others keep patching, the session still ends, and every
 * attempt that started has its record.
 */
import { describe, expect, it } from 'vitest';
import { createVirtualClock } from '../../src/clock/index.ts';
import { createSimulatedLab } from '../../src/cli/simulated-lab.ts';
import type { AttemptRecord, RigEvent } from '../../src/control/events.ts';

describe('a crashed pipette machine', () => {
  it('crashing on its way into seal: safe state, sealing flag cleared, the others keep going, the session ends with every record', async () => {
    const clock = createVirtualClock();
    const lab = await createSimulatedLab({ clock, seed: 4, pipettes: 4, preset: 'in-vivo-blind', durationMin: 15 });
    const events: RigEvent[] = [];
    lab.sink.subscribe((e) => {
      if (e.type !== 'pipette.testpulse' && e.type !== 'sweep') events.push(e);
    });
    const supervisor = await lab.startSession();
    // The first pipette to start sealing crashes in the machine's own entry action into seal,
    // after the coordinator has taken its sealing flag (the others' gates are closed).
    const coordinator = supervisor.coordinator;
    const setSealing = coordinator.setSealing;
    let crashed: { id: string; t: number } | null = null;
    coordinator.setSealing = (id, on) => {
      setSealing(id, on);
      if (on && crashed === null) {
        crashed = { id, t: clock.now() };
        throw new Error('test: sealing action crashed');
      }
    };
    for (let i = 0; i < 60 * 60 && !crashed; i++) await clock.runFor(1000);
    expect(crashed).not.toBeNull();
    const { id, t } = crashed!;
    // the safe state retracts out of the tissue at the slow speed (about half a minute in vivo)
    await clock.runFor(90_000);
    const runner = supervisor.runners.find((r) => r.pipetteId === id)!;
    expect(runner.state).toBe('safe');
    expect(runner.finished).toBe(true);
    expect(coordinator.sealing.has(id)).toBe(false);
    expect(events.some((e) => e.type === 'fault' && e.pipetteId === id && e.kind === 'crash')).toBe(true);
    // its line vented, its stage still
    const spec = lab.sim.config.pipettes.find((p) => p.id === id)!;
    expect(lab.sim.pressureBoxes.get(spec.pressure.box)!.emulator.state(spec.pressure.channel).source).toBe('atmosphere');
    // the others were not left paused for a seal that will never end
    const others = supervisor.runners.filter((r) => r.pipetteId !== id);
    for (const other of others) expect(coordinator.gateOpen(other.pipetteId), other.pipetteId).toBe(true);
    const summary = await clock.runUntilSettled(supervisor.done, 3 * 3_600_000);
    expect(summary.reason).toBe('duration');
    const started = events.filter((e) => e.type === 'attempt.started').length;
    const ended = events.filter((e): e is Extract<RigEvent, { type: 'attempt.ended' }> => e.type === 'attempt.ended').map((e) => e.record);
    expect(ended.length).toBe(started);
    const mine = ended.filter((r) => r.pipetteId === id).at(-1) as AttemptRecord;
    // it crashed on its way into seal, in the state it was leaving
    expect(mine).toMatchObject({ outcome: 'aborted', failedIn: 'confirmHit', failureReason: 'controller error: test: sealing action crashed', stageReached: 'approached' });
    // and every other pipette went on to new attempts
    for (const other of others) expect(events.some((e) => e.type === 'attempt.started' && e.pipetteId === other.pipetteId && e.t > t), other.pipetteId).toBe(true);
    await lab.close();
  }, 300_000);
});

describe('emergency stop', () => {
  it('every attempt that started has its record (aborted), the pipettes in safe state included', async () => {
    const clock = createVirtualClock();
    const lab = await createSimulatedLab({ clock, seed: 4, pipettes: 4, preset: 'in-vivo-blind', durationMin: 30 });
    const started: string[] = [];
    const ended: AttemptRecord[] = [];
    lab.sink.subscribe((e) => {
      if (e.type === 'attempt.started') started.push(e.attemptId);
      if (e.type === 'attempt.ended') ended.push(e.record);
    });
    const supervisor = await lab.startSession();
    await clock.runFor(4 * 60_000);
    // one pipette is being aborted (securing) when the stop comes
    await supervisor.pipette('p2', { action: 'abort' }, 'test');
    await clock.runFor(5);
    const open = started.filter((a) => !ended.some((r) => r.attemptId === a));
    expect(open.length).toBeGreaterThan(0);
    const stopped = lab.host.emergencyStop('test');
    await clock.runUntilSettled(stopped, 60_000);
    await clock.runFor(10_000);
    expect(supervisor.phase).toBe('estopped');
    expect(ended.map((r) => r.attemptId).sort()).toEqual([...started].sort());
    for (const a of open) expect(ended.find((r) => r.attemptId === a)!.outcome).toBe('aborted');
    expect(ended.find((r) => open.includes(r.attemptId) && r.pipetteId !== 'p2')!.failureReason).toBe('emergency stop by test');
    await lab.close();
  }, 300_000);
});
