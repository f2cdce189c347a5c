/**
 * The supervisor alone, on stand-in hardware in virtual time: synchronized
 * rounds, pause/resume, abort, the attempt limit, per-pipette commands.
 */
import { describe, expect, it } from 'vitest';
import type { RigEvent } from '../../src/control/events.ts';
import { standInRig, startsByPipette } from './stand-in-rig.ts';

const endedRecords = (events: RigEvent[]) => events.filter((e): e is Extract<RigEvent, { type: 'attempt.ended' }> => e.type === 'attempt.ended').map((e) => e.record);

describe('synchronized rounds', () => {
  it('on: every pipette starts its k-th attempt with the others, waiting for the slowest', async () => {
    const r = standInRig({ pipettes: 3, slow: { p2: 0.02 }, maxAttempts: 12, overrides: (p) => (p.coordination.synchronized_rounds = true) });
    r.supervisor.start();
    const summary = await r.clock.runUntilSettled(r.supervisor.done, 3_600_000);
    expect(summary.reason).toBe('completed');
    const starts = startsByPipette(r.events);
    expect([...starts.values()].map((s) => s.length)).toEqual([4, 4, 4]);
    for (let k = 0; k < 4; k++) {
      const at = [...starts.values()].map((s) => s[k]);
      expect(new Set(at).size, `round ${k + 1}: ${at.join(', ')}`).toBe(1);
    }
    // rounds are as long as the slow pipette's attempts (its moves take 50× longer)
    const p1 = starts.get('p1')!;
    expect(p1[2] - p1[1]).toBeGreaterThan(r.preset.pipette_check.timeout_s * 1000 + 5000);
    expect(r.events.filter((e) => e.type === 'log' && /^round \d+: p1, p2, p3 start together$/.test(e.message)).length).toBe(4);
  });

  it('off: each pipette goes on as soon as it is ready (the fast ones do more attempts)', async () => {
    const r = standInRig({ pipettes: 3, slow: { p2: 0.02 }, durationMs: 10 * 60_000, overrides: (p) => (p.coordination.synchronized_rounds = false) });
    r.supervisor.start();
    await r.clock.runUntilSettled(r.supervisor.done, 3_600_000);
    const starts = startsByPipette(r.events);
    expect(starts.get('p1')!.length).toBeGreaterThan(starts.get('p2')!.length + 2);
    expect(starts.get('p1')![3]).not.toBe(starts.get('p2')![3]);
    expect(r.events.some((e) => e.type === 'log' && e.message.startsWith('round '))).toBe(false);
  });

  it('a pipette that is aborted leaves the rounds: the others do not wait for it', async () => {
    const r = standInRig({ pipettes: 3, durationMs: 8 * 60_000, overrides: (p) => (p.coordination.synchronized_rounds = true) });
    r.supervisor.start();
    await r.clock.runFor(50_000); // second round under way
    await r.supervisor.pipette('p3', { action: 'abort' }, 'test');
    await r.clock.runUntilSettled(r.supervisor.done, 3_600_000);
    const starts = startsByPipette(r.events);
    expect(starts.get('p3')!.length).toBe(2);
    expect(starts.get('p1')!.length).toBeGreaterThan(5);
    expect(starts.get('p1')).toEqual(starts.get('p2'));
  });
});

describe('supervisor session control', () => {
  it('pause closes every gate and stops the stages; no attempt starts until resume', async () => {
    const r = standInRig({ pipettes: 2, slow: { p1: 0.02, p2: 0.02 }, maxAttempts: 4, overrides: (p) => (p.coordination.synchronized_rounds = false) });
    r.supervisor.start();
    await r.clock.runFor(40_000); // first attempts over (check timeout), both on their way to the next start point
    expect([...r.hw.values()].every((h) => h.manipulator.busy)).toBe(true);
    expect((await r.supervisor.pause('test')).ok).toBe(true);
    const pausedAt = r.clock.now();
    for (const id of ['p1', 'p2']) expect(r.supervisor.coordinator.gateOpen(id)).toBe(false);
    await r.clock.runFor(1);
    expect([...r.hw.values()].every((h) => !h.manipulator.busy)).toBe(true);
    await r.clock.runFor(5 * 60_000);
    for (const h of r.hw.values()) expect(h.manipulator.log.filter((l) => l.what === 'moveTo' && l.t > pausedAt + 1)).toEqual([]);
    expect(r.events.filter((e) => e.type === 'attempt.started' && e.t > pausedAt)).toEqual([]);
    expect((await r.supervisor.resume('test')).ok).toBe(true);
    await r.clock.runFor(10);
    // the interrupted legs resume
    for (const h of r.hw.values()) expect(h.manipulator.busy).toBe(true);
    await r.clock.runUntilSettled(r.supervisor.done, 3_600_000);
    expect(endedRecords(r.events)).toHaveLength(4);
  });

  it('abort ends the session as aborted, with a record for every attempt and every line vented', async () => {
    const r = standInRig({ pipettes: 3 });
    r.supervisor.start();
    await r.clock.runFor(15_000);
    await r.supervisor.abort('test');
    const summary = await r.clock.runUntilSettled(r.supervisor.done, 600_000);
    expect(summary.reason).toBe('aborted');
    const started = r.events.filter((e) => e.type === 'attempt.started').length;
    expect(endedRecords(r.events)).toHaveLength(started);
    for (const rec of endedRecords(r.events)) expect(rec.outcome).toBe('aborted');
    for (const h of r.hw.values()) expect(h.pressure.sourceAt(r.clock.now())).toBe('atmosphere');
    expect(r.supervisor.phase).toBe('ended');
  });

  it('the attempt limit is exact and the session completes', async () => {
    const r = standInRig({ pipettes: 3, maxAttempts: 5, overrides: (p) => (p.coordination.synchronized_rounds = false) });
    r.supervisor.start();
    const summary = await r.clock.runUntilSettled(r.supervisor.done, 3_600_000);
    expect(summary.reason).toBe('completed');
    expect(summary.attempts).toHaveLength(5);
    expect(r.supervisor.snapshot().attemptsStarted).toBe(5);
    for (const rec of summary.attempts) expect(rec.failureReason).toBe('pipette-resistance-unstable');
  });

  it('per-pipette commands: unknown pipettes and a clean outside idle are refused; abort keeps a pipette out until retry', async () => {
    const r = standInRig({ pipettes: 2, overrides: (p) => (p.coordination.synchronized_rounds = false) });
    r.supervisor.start();
    await r.clock.runFor(1000);
    expect(await r.supervisor.pipette('p9', { action: 'skip' }, 'test')).toEqual({ ok: false, error: 'no pipette p9' });
    expect((await r.supervisor.pipette('p1', { action: 'clean' }, 'test')).error).toMatch(/clean when idle/);
    await r.supervisor.pipette('p1', { action: 'abort' }, 'test');
    await r.clock.runFor(60_000);
    const p1 = r.supervisor.runners.find((x) => x.pipetteId === 'p1')!;
    expect(p1.state).toBe('safe');
    const before = p1.attempts;
    await r.supervisor.pipette('p1', { action: 'retry' }, 'test');
    await r.clock.runFor(60_000);
    expect(p1.attempts).toBeGreaterThan(before);
    const holding = r.supervisor.pipette('p2', { action: 'holding', mV: 5000 }, 'test');
    await r.clock.runFor(100);
    expect((await holding).ok).toBe(false);
    await r.supervisor.abort('test');
    await r.clock.runUntilSettled(r.supervisor.done, 600_000);
  });
});
