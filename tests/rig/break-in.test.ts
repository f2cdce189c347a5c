/**
 * Break-in recognition on the emulated rig, cross-checked with the physics
 * model's ground truth: every true break-in (by suction, zap or spontaneously)
 * is seen by the controller — a transition into whole-cell from break-in,
 * seal or cell-attached — within a bound, and the controller never goes
 * whole-cell without one. A break-in the controller misses keeps suction or
 * pulses on a whole cell, and wrongly ends the attempt as a lost seal.
 *
 * The bound: a break-in at time t is certainly inside the next sweep that
 * starts after it, which starts within one test-pulse period and is delivered
 * when it ends, one sweep duration (width × 1.7) later; allow 10 ms more for
 * the bytes on the line and the analysis. At the break-in rate (50 Hz, 10 ms
 * step) that is 20 + 17 + 10 = 47 ms; spontaneous break-ins are watched at the
 * normal rate (30 Hz): 33 + 17 + 10 = 60 ms.
 */
import { describe, expect, it } from 'vitest';
import { createVirtualClock } from '../../src/clock/index.ts';
import { createSimulatedLab } from '../../src/cli/simulated-lab.ts';
import type { AttemptRecord, RigEvent } from '../../src/control/events.ts';

const WATCHING = new Set(['seal', 'cellAttached', 'breakIn']);

describe('break-ins: controller against the physics model', () => {
  it('a seeded 30-attempt in vivo session: every true break-in is recognised within one period + one sweep + 10 ms, and no other', async () => {
    const clock = createVirtualClock();
    const lab = await createSimulatedLab({ clock, seed: 3, pipettes: 4, preset: 'in-vivo-blind', maxAttempts: 30 });
    const tp = lab.preset.test_pulse;
    const sweepMs = tp.width_ms * 1.7;
    const bound = (rateHz: number): number => 1000 / rateHz + sweepMs + 10;
    const transitions: Array<Extract<RigEvent, { type: 'pipette.state' }>> = [];
    const records: AttemptRecord[] = [];
    lab.sink.subscribe((e) => {
      if (e.type === 'pipette.state') transitions.push(e);
      if (e.type === 'attempt.ended') records.push(e.record);
    });
    const supervisor = await lab.startSession();
    await clock.runUntilSettled(supervisor.done, 24 * 3_600_000);
    lab.sim.world.advanceTo(clock.now());

    const truth = lab.sim.world.events().filter((e) => e.kind === 'break-in' || e.kind === 'spontaneous-break-in');
    const seen = transitions.filter((e) => e.to === 'wholeCell' && WATCHING.has(e.from));
    expect(truth.length).toBeGreaterThanOrEqual(5); // enough break-ins for the check to mean something
    const matched = new Set<(typeof seen)[number]>();
    for (const b of truth) {
      // the controller's state when it happened, and the first whole-cell transition after it
      const before = transitions.filter((e) => e.pipetteId === b.pipetteId && e.t <= b.t).at(-1);
      expect(WATCHING.has(before?.to ?? ''), `${b.pipetteId} broke in at ${b.t} ms while the controller was in ${before?.to}`).toBe(true);
      const rate = before!.to === 'breakIn' ? tp.break_in_rate_Hz : tp.rate_Hz;
      const hit = seen.find((e) => e.pipetteId === b.pipetteId && e.t >= b.t && !matched.has(e));
      expect(hit, `${b.kind} of ${b.pipetteId} at ${b.t.toFixed(0)} ms not recognised`).toBeDefined();
      expect(hit!.t - b.t, `${b.kind} of ${b.pipetteId} at ${b.t.toFixed(0)} ms`).toBeLessThanOrEqual(bound(rate));
      matched.add(hit!);
    }
    // no whole-cell transition without a true break-in
    expect(seen.length).toBe(matched.size);
    // and no attempt that broke in is called a lost seal
    const lostAtBreakIn = records.filter((r) => r.failureReason === 'seal-lost-during-break-in');
    for (const r of lostAtBreakIn) {
      expect(truth.some((b) => b.pipetteId === r.pipetteId && b.t >= r.startT && b.t <= r.endT), `${r.attemptId} broke in but was called a lost seal`).toBe(false);
    }
    expect(records.length).toBe(30);
  }, 300_000);
});
