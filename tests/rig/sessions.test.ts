/**
 * Whole sessions in virtual time: the same seed gives the same bytes on every
 * port and the same attempt records; another seed gives another preparation
 * and other outcomes; eight pipettes work side by side within their limits.
 */
import { describe, expect, it } from 'vitest';
import { createVirtualClock } from '../../src/clock/index.ts';
import { createSimulatedLab, type SimulatedLab } from '../../src/cli/simulated-lab.ts';
import type { AttemptRecord } from '../../src/control/events.ts';
import { limitViolations } from './wire-checks.ts';

interface Outcome {
  lab: SimulatedLab;
  records: AttemptRecord[];
  digests: string[];
  starters: Set<string>;
}

async function session(options: {
  seed: number;
  preset: string;
  pipettes: number;
  durationMin?: number;
  maxAttempts?: number;
  manipulators?: Array<'sutter-mp285' | 'sutter-mpc325' | 'scientifica' | 'luigs-neumann-sm10'>;
}): Promise<Outcome> {
  const clock = createVirtualClock();
  const lab = await createSimulatedLab({ clock, ...options, byteDigest: true });
  const records: AttemptRecord[] = [];
  const starters = new Set<string>();
  lab.sink.subscribe((e) => {
    if (e.type === 'attempt.ended') records.push(e.record);
    if (e.type === 'attempt.started') starters.add(e.pipetteId);
  });
  const supervisor = await lab.startSession();
  await clock.runUntilSettled(supervisor.done, 24 * 3_600_000);
  const digests = lab.sim.paths().map((p) => `${p}=${lab.sim.binding.byteLog(p).digest()}`);
  return { lab, records, digests, starters };
}

/** What an attempt came to, without ids and wall times (the session id carries the run counter). */
const shape = (r: AttemptRecord) => ({
  pipette: r.pipetteId,
  stage: r.stageReached,
  reason: r.failureReason,
  startT: r.startT,
  endT: r.endT,
  r0: r.r0,
  peakSeal: r.peakSeal,
  ra: r.ra,
  features: r.features ?? null,
});

describe('sessions in virtual time', () => {
  it('the same seed gives identical bytes on every port and identical attempt records', async () => {
    const a = await session({ seed: 9, preset: 'culture', pipettes: 2, durationMin: 5 });
    const b = await session({ seed: 9, preset: 'culture', pipettes: 2, durationMin: 5 });
    expect(a.records.length).toBeGreaterThan(0);
    expect(b.digests).toEqual(a.digests);
    expect(b.records.map(shape)).toEqual(a.records.map(shape));
  }, 300_000);

  it('another seed is another preparation with other outcomes', async () => {
    const a = await session({ seed: 3, preset: 'in-vivo-blind', pipettes: 4, maxAttempts: 12 });
    const b = await session({ seed: 4, preset: 'in-vivo-blind', pipettes: 4, maxAttempts: 12 });
    expect(a.records.length).toBe(12);
    expect(b.records.length).toBe(12);
    const outcome = (o: Outcome) => o.records.map((r) => `${r.pipetteId}:${r.stageReached}:${r.failureReason}`).join(' ');
    expect(outcome(b)).not.toBe(outcome(a));
    expect(b.records.map((r) => r.r0)).not.toEqual(a.records.map((r) => r.r0));
    expect(b.digests).not.toEqual(a.digests);
  }, 300_000);

  it('eight pipettes work side by side: all take part, no collisions, nothing outside limits', async () => {
    const o = await session({ seed: 2, preset: 'in-vivo-blind', pipettes: 8, durationMin: 4 });
    expect(o.starters.size).toBe(8);
    expect(o.records.length).toBeGreaterThanOrEqual(8);
    const { violations, moves } = limitViolations(o.lab.sim);
    expect(moves).toBeGreaterThan(200);
    expect(violations).toEqual([]);
    o.lab.sim.world.advanceTo(o.lab.clock.now());
    expect(o.lab.sim.world.eventCounts()['collision'] ?? 0).toBe(0);
    for (const r of o.lab.host.current!.runners) expect(r.state).toBe('done');
  }, 300_000);

  it('every manipulator kind advances through a 1 µm stepwise hunt (sub-µm axis moves add up)', async () => {
    for (const kind of ['sutter-mp285', 'sutter-mpc325', 'scientifica', 'luigs-neumann-sm10'] as const) {
      const clock = createVirtualClock();
      const lab = await createSimulatedLab({ clock, seed: 1, pipettes: 1, preset: 'culture', durationMin: 2, manipulators: [kind] });
      const hunting: Array<[number, number, number]> = [];
      let inHunt = false;
      lab.sink.subscribe((e) => {
        // hunting, and the hit checks in between (a false hit goes back to hunting from where it stopped)
        if (e.type === 'pipette.state') inHunt = e.to === 'hunt' || e.to === 'confirmHit';
        if (e.type === 'pipette.position' && inHunt) hunting.push([...e.world] as [number, number, number]);
      });
      const supervisor = await lab.startSession();
      await clock.runUntilSettled(supervisor.done, 3_600_000);
      expect(hunting.length, kind).toBeGreaterThan(2);
      const [a, b] = [hunting[0], hunting[hunting.length - 1]];
      expect(Math.hypot(b[0] - a[0], b[1] - a[1], b[2] - a[2]), kind).toBeGreaterThan(1.5);
      await lab.close();
    }
  }, 300_000);
});
