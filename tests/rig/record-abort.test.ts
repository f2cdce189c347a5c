/**
 * Aborts during `record` on the emulated rig (real drivers, amp-bridge
 * emulator, physics): between sweeps, in the middle of one, and an emergency
 * stop. Whatever the recorder was doing, the amplifier ends as the safe state
 * left it — voltage clamp at 0 mV, test pulse off, no stimulus playing — and
 * the last pipette.holding event says the same. (Before the fix the recorder's
 * clean-up ran after the safe state: −70 mV and the test pulse back on.)
 */
import { describe, expect, it } from 'vitest';
import { createVirtualClock, type VirtualClock } from '../../src/clock/index.ts';
import { createSimulatedLab, type SimulatedLab } from '../../src/cli/simulated-lab.ts';
import type { RigEvent } from '../../src/control/events.ts';
import type { Supervisor } from '../../src/control/supervisor.ts';
import { channelOf, stimulusSweeps } from './amp-channel.ts';

interface Running {
  clock: VirtualClock;
  lab: SimulatedLab;
  supervisor: Supervisor;
  events: RigEvent[];
}

async function start(): Promise<Running> {
  const clock = createVirtualClock();
  const lab = await createSimulatedLab({ clock, seed: 1, pipettes: 2, preset: 'culture', durationMin: 30 });
  const events: RigEvent[] = [];
  lab.sink.subscribe((e) => {
    if (e.type !== 'pipette.testpulse' && e.type !== 'pipette.position') events.push(e);
  });
  return { clock, lab, supervisor: await lab.startSession(), events };
}

/** Runs until some pipette has recorded `sweeps` current-clamp sweeps; returns it. */
async function untilRecording(r: Running, sweeps: number): Promise<string> {
  for (let i = 0; i < 20 * 60 * 10; i++) {
    const id = r.lab.sim.world.pipetteIds.find((p) => stimulusSweeps(r.events, p) >= sweeps);
    if (id) return id;
    await r.clock.runFor(100);
  }
  throw new Error('no pipette recorded within 20 minutes');
}

function expectSafeAmplifier(r: Running, pipetteId: string): void {
  const s = channelOf(r.lab, pipetteId).state();
  expect(s.mode).toBe('VC');
  expect(s.target).toBeNull();
  expect(s.holding.VC).toBe(0);
  expect(s.testPulse.enabled).toBe(false);
  expect(s.activity).toBe('idle');
  const last = r.events.filter((e) => e.type === 'pipette.holding' && e.pipetteId === pipetteId).pop();
  expect(last).toMatchObject({ mode: 'VC', holding: 0 });
}

describe('aborting a recording on the emulated rig', () => {
  it('between sweeps: the pipette is secured and nothing undoes it', async () => {
    const r = await start();
    const id = await untilRecording(r, 3);
    const { state } = channelOf(r.lab, id);
    const runner = r.supervisor.runners.find((x) => x.pipetteId === id)!;
    expect(runner.state).toBe('record');
    expect(state().activity).toBe('idle'); // the sweep just arrived: in the pause before the next
    expect(state().mode).toBe('IC');
    await r.supervisor.pipette(id, { action: 'abort' }, 'test');
    await r.clock.runFor(60_000); // well past the recorder's old 500 ms clean-up
    expect(runner.state).toBe('safe');
    expectSafeAmplifier(r, id);
    expect(stimulusSweeps(r.events, id)).toBe(3);
    r.lab.sim.world.advanceTo(r.clock.now());
    expect(r.lab.sim.world.pipette(id).truth().tip[2]).toBeLessThanOrEqual(0); // retracted
    await r.lab.host.abort('test');
    await r.clock.runUntilSettled(r.supervisor.done, 30 * 60_000);
    await r.lab.close();
  }, 300_000);

  it('in the middle of a sweep: the stimulus is stopped on the amplifier at once', async () => {
    const r = await start();
    const id = await untilRecording(r, 2);
    const { bridge, ch, state } = channelOf(r.lab, id);
    for (let i = 0; i < 100_000 && state().activity !== 'running'; i++) await r.clock.runFor(5);
    await r.clock.runFor(1_000); // a second into a 5 s long-square sweep
    expect(state().activity).toBe('running');
    const before = bridge.commands.length;
    const abortedAt = r.clock.now();
    await r.supervisor.pipette(id, { action: 'abort' }, 'test');
    for (let i = 0; i < 2_000 && state().mode !== 'VC'; i++) await r.clock.runFor(1);
    // stopped, then voltage clamp within the amplifier's 0.5 s switch — not after the 4 s left of the sweep
    expect(r.clock.now() - abortedAt).toBeLessThan(1_000);
    const sent = bridge.commands.slice(before).filter((c) => c.channel === ch).map((c) => c.name);
    expect(sent[0]).toBe('abort');
    expect(sent).not.toContain('run');
    await r.clock.runFor(60_000);
    expectSafeAmplifier(r, id);
    expect(stimulusSweeps(r.events, id)).toBe(2); // the aborted sweep was not stored
    await r.lab.host.abort('test');
    await r.clock.runUntilSettled(r.supervisor.done, 30 * 60_000);
    await r.lab.close();
  }, 300_000);

  it('an emergency stop during a recording leaves that amplifier in VC at 0 mV with the test pulse off', async () => {
    const r = await start();
    const id = await untilRecording(r, 2);
    const { state } = channelOf(r.lab, id);
    for (let i = 0; i < 100_000 && state().activity !== 'running'; i++) await r.clock.runFor(5);
    await r.clock.runFor(500);
    await r.clock.runUntilSettled(r.lab.host.emergencyStop('test'), 10_000);
    await r.clock.runFor(60_000);
    expect(r.supervisor.phase).toBe('estopped');
    expectSafeAmplifier(r, id);
    await r.lab.close();
  }, 300_000);
});
