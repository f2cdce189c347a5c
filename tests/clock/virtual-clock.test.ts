import { describe, expect, it } from 'vitest';
import { createVirtualClock, sleep, every } from '../../src/clock/index.ts';

describe('virtual clock', () => {
  it('fires timers in time order, ties in the order they were set', async () => {
    const clock = createVirtualClock();
    const seen: string[] = [];
    clock.setTimeout(() => seen.push('b@20'), 20);
    clock.setTimeout(() => seen.push('a@10'), 10);
    clock.setTimeout(() => seen.push('c@20'), 20);
    const cancelled = clock.setTimeout(() => seen.push('never'), 15);
    clock.clearTimeout(cancelled);
    await clock.runFor(100);
    expect(seen).toEqual(['a@10', 'b@20', 'c@20']);
    expect(clock.now()).toBe(100);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('lets promise chains started by a timer finish before the next timer fires', async () => {
    const clock = createVirtualClock();
    const seen: string[] = [];
    clock.setTimeout(() => {
      void Promise.resolve()
        .then(() => Promise.resolve())
        .then(() => process.nextTick(() => seen.push('chain done')));
    }, 5);
    clock.setTimeout(() => seen.push('next timer'), 5);
    await clock.runFor(10);
    expect(seen).toEqual(['chain done', 'next timer']);
  });

  it('runs a long virtual span far faster than real time', async () => {
    const clock = createVirtualClock();
    let ticks = 0;
    const stop = every(clock, 33, () => ticks++);
    const started = performance.now();
    await clock.runFor(10 * 60_000);
    stop();
    expect(ticks).toBe(Math.floor((10 * 60_000) / 33));
    // 18 000 timer events of virtual time; a real-time run would take 10 minutes.
    expect(performance.now() - started).toBeLessThan(60_000);
  });

  it('runUntilSettled returns the value, and reports work that can never finish', async () => {
    const clock = createVirtualClock();
    const work = (async () => {
      await sleep(clock, 250);
      return clock.now();
    })();
    await expect(clock.runUntilSettled(work)).resolves.toBe(250);
    const stuck = new Promise<never>(() => {});
    await expect(clock.runUntilSettled(stuck)).rejects.toThrow(/nothing scheduled/);
    const slow = sleep(clock, 5_000);
    await expect(clock.runUntilSettled(slow, 1_000)).rejects.toThrow(/still pending/);
  });

  it('sleep rejects when aborted and leaves no timer behind', async () => {
    const clock = createVirtualClock();
    const ac = new AbortController();
    const p = sleep(clock, 1_000, ac.signal);
    clock.setTimeout(() => ac.abort(new Error('stop now')), 10);
    await expect(clock.runUntilSettled(p)).rejects.toThrow('stop now');
    expect(clock.pendingTimers()).toBe(0);
  });

  it('maps virtual time to a wall-clock epoch', async () => {
    const clock = createVirtualClock({ startEpochMs: 1_000_000 });
    await clock.runFor(1234);
    expect(clock.epochMs()).toBe(1_001_234);
  });
});
