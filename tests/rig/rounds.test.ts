/**
 * Synchronized rounds on the emulated rig (in-vivo-blind, Multipatcher-style):
 * attempts start only when the supervisor starts a round, every pipette then
 * in the rounds starts together, and a pipette out of them (waiting for a new
 * pipette, say) is not waited for. The PatcherBot-style presets start each
 * pipette's attempts on its own.
 */
import { describe, expect, it } from 'vitest';
import { createVirtualClock } from '../../src/clock/index.ts';
import { createSimulatedLab } from '../../src/cli/simulated-lab.ts';
import type { RigEvent } from '../../src/control/events.ts';

/** the pipettes a "round k: p1, p2 start together" log names */
const named = (message: string): string[] => message.replace(/^round \d+: /, '').replace(/ start together$/, '').split(', ');

async function session(preset: string, seed: number, durationMin: number) {
  const clock = createVirtualClock();
  const lab = await createSimulatedLab({ clock, seed, pipettes: 4, preset, durationMin });
  const events: RigEvent[] = [];
  lab.sink.subscribe((e) => {
    if (e.type === 'attempt.started' || e.type === 'log' || e.type === 'pipette.state') events.push(e);
  });
  const supervisor = await lab.startSession();
  await clock.runUntilSettled(supervisor.done, 6 * 3_600_000);
  await lab.close();
  return events;
}

describe('synchronized rounds on the rig', () => {
  it('in-vivo-blind: every attempt starts in a round, with every pipette then taking part', async () => {
    const events = await session('in-vivo-blind', 5, 25);
    const rounds = events.filter((e): e is Extract<RigEvent, { type: 'log' }> => e.type === 'log' && /^round \d+: /.test(e.message));
    const starts = events.filter((e): e is Extract<RigEvent, { type: 'attempt.started' }> => e.type === 'attempt.started');
    expect(rounds.length).toBeGreaterThanOrEqual(4);
    for (const s of starts) {
      const round = rounds.find((r) => r.t === s.t);
      expect(round, `${s.pipetteId} started an attempt at ${s.t} ms outside a round`).toBeDefined();
      expect(named(round!.message)).toContain(s.pipetteId);
    }
    // each round starts all the pipettes it names, at once
    for (const r of rounds) expect(starts.filter((s) => s.t === r.t).map((s) => s.pipetteId).sort()).toEqual(named(r.message).sort());
    // a round waits for pipettes still working, not for one waiting for a new pipette
    const retired = events.filter((e) => e.type === 'pipette.state' && e.to === 'needsPipette');
    if (retired.length > 0) {
      const first = retired[0] as Extract<RigEvent, { type: 'pipette.state' }>;
      const back = events.find((e) => e.type === 'pipette.state' && e.pipetteId === first.pipetteId && e.from === 'needsPipette' && e.t > first.t);
      const during = rounds.filter((r) => r.t > first.t && (!back || r.t < back.t));
      for (const r of during) expect(named(r.message)).not.toContain(first.pipetteId);
    }
  }, 300_000);

  it('culture (synchronized_rounds false): no rounds, the pipettes start on their own', async () => {
    const events = await session('culture', 5, 8);
    expect(events.some((e) => e.type === 'log' && /^round \d+: /.test(e.message))).toBe(false);
    const starts = events.filter((e): e is Extract<RigEvent, { type: 'attempt.started' }> => e.type === 'attempt.started');
    const later = starts.filter((s) => s.t > 0);
    expect(later.length).toBeGreaterThan(4);
    // after the first, attempts mostly start at instants of their own (rounds of four would share one per four)
    const instants = new Set(later.map((s) => s.t));
    expect(instants.size).toBeGreaterThan(later.length / 2);
    expect([...instants].some((t) => later.filter((s) => s.t === t).length === 1)).toBe(true);
  }, 300_000);
});
