/**
 * The coordinator alone, in virtual time: motion gates (pause, sealing,
 * emergency stop), path reservations with an exact clearance, FIFO locks, and
 * forgetting a pipette whose machine is gone.
 */
import { describe, expect, it } from 'vitest';
import { createVirtualClock } from '../../src/clock/index.ts';
import { createCoordinator } from '../../src/control/coordinator.ts';

const SHAFT = 3000;

function setup(pauseOthersWhileSealing = true) {
  const clock = createVirtualClock();
  const c = createCoordinator({
    clock,
    pipettes: [
      { id: 'a', axis: [0, 0, 1], shaftLengthUm: SHAFT }, // vertical: shaft straight up from the tip
      { id: 'b', axis: [0, -1, 0], shaftLengthUm: SHAFT }, // horizontal along y: shaft from the tip to +y
      { id: 'c', axis: [0, 0, 1], shaftLengthUm: SHAFT },
    ],
    clearanceUm: 100,
    pauseOthersWhileSealing,
    pathWaitMs: 60_000,
  });
  return { clock, c };
}

/** follows a promise: done, and its value or error, once it settles */
function track<T>(p: Promise<T>): { done: boolean; value?: T; error?: Error } {
  const state: { done: boolean; value?: T; error?: Error } = { done: false };
  p.then(
    (value) => Object.assign(state, { done: true, value }),
    (error: Error) => Object.assign(state, { done: true, error }),
  );
  return state;
}

describe('motion gates', () => {
  it('pause closes every gate and resume opens them; listeners hear each change once', async () => {
    const { c } = setup();
    const closes: string[] = [];
    const changes: Array<[string, boolean]> = [];
    for (const id of ['a', 'b']) {
      c.onGateClose(id, () => closes.push(id));
      c.onGateChange(id, (open) => changes.push([id, open]));
    }
    c.setPaused(true);
    c.setPaused(true);
    expect(['a', 'b', 'c'].map((id) => c.gateOpen(id))).toEqual([false, false, false]);
    c.setPaused(false);
    expect(c.gateOpen('a')).toBe(true);
    expect(closes).toEqual(['a', 'b']);
    expect(changes).toEqual([['a', false], ['b', false], ['a', true], ['b', true]]);
  });

  it('while one pipette seals the others hold still; it keeps its own gate; a waiting move starts when sealing ends', async () => {
    const { clock, c } = setup();
    c.setSealing('a', true);
    expect([c.gateOpen('a'), c.gateOpen('b'), c.gateOpen('c')]).toEqual([true, false, false]);
    const waiting = track(c.waitForGate('b'));
    await clock.runFor(10_000);
    expect(waiting.done).toBe(false);
    c.setSealing('a', false);
    await clock.runFor(1);
    expect(waiting.done).toBe(true);
    // with the preset option off, sealing closes nobody's gate
    const off = setup(false);
    off.c.setSealing('a', true);
    expect(off.c.gateOpen('b')).toBe(true);
  });

  it('waitForNoOtherSealing waits for the others only', async () => {
    const { clock, c } = setup();
    c.setSealing('a', true);
    c.setSealing('b', true);
    const aWaits = track(c.waitForNoOtherSealing('a'));
    await clock.runFor(1);
    expect(aWaits.done).toBe(false);
    c.setSealing('b', false);
    await clock.runFor(1);
    expect(aWaits.done).toBe(true);
  });

  it('closeAll closes every gate for good', () => {
    const { c } = setup();
    c.closeAll();
    c.setPaused(false);
    expect(c.gateOpen('a')).toBe(false);
  });
});

describe('path reservations', () => {
  it('refuses a move that passes 90 µm from another shaft between 100 µm samples, and allows it 110 µm away', async () => {
    const { clock, c } = setup();
    c.reportPosition('b', [0, 0, 0]); // b's shaft lies along +y at z = 0
    const close = track(c.reservePath('a', [-150, 0, -90], [50, 0, -90]));
    await clock.runFor(1);
    expect(close.done).toBe(false); // waiting: blocked by b
    const far = await c.reservePath('c', [-150, 0, -110], [50, 0, -110]);
    far();
    await clock.runFor(60_001);
    expect(close.done).toBe(true);
    expect(close.error?.message).toMatch(/path blocked by pipette b for 60 s \(clearance 100 µm\)/);
  });

  it('a blocked move waits for the other to move away, and for its reservation to be released', async () => {
    const { clock, c } = setup();
    c.reportPosition('b', [0, 0, 0]);
    c.reportPosition('a', [-500, 0, -50]);
    // b reserves a move further along; a wants to cross b's current place
    const releaseB = await c.reservePath('b', [0, 0, 0], [0, -1000, 0]);
    const aMove = track(c.reservePath('a', [-500, 0, -50], [500, 0, -50]));
    await clock.runFor(1000);
    expect(aMove.done).toBe(false);
    c.reportPosition('b', [0, -1000, 0]); // b arrived: its shaft now spans y -1000…2000, still in the way
    await clock.runFor(1);
    expect(aMove.done).toBe(false);
    releaseB();
    const releaseB2 = await c.reservePath('b', [0, -1000, 0], [0, -1000, 2000]);
    c.reportPosition('b', [0, -1000, 2000]); // b went down out of the way (2 mm below a's path)
    releaseB2();
    await clock.runFor(1);
    expect(aMove.done).toBe(true);
    expect(aMove.error).toBeUndefined();
  });

  it('a pipette holds one reservation at a time; a second move waits for the first to release', async () => {
    const { clock, c } = setup();
    const first = await c.reservePath('a', [0, 0, 0], [0, 0, 100]);
    const second = track(c.reservePath('a', [0, 0, 100], [0, 0, 200]));
    await clock.runFor(1);
    expect(second.done).toBe(false);
    first();
    await clock.runFor(1);
    expect(second.done).toBe(true);
  });

  it('an aborted wait rejects with an AbortError', async () => {
    const { clock, c } = setup();
    c.reportPosition('b', [0, 0, 0]);
    const ac = new AbortController();
    const p = track(c.reservePath('a', [-150, 0, -50], [50, 0, -50], ac.signal));
    await clock.runFor(10);
    ac.abort();
    await clock.runFor(1);
    expect(p.error?.name).toBe('AbortError');
  });
});

describe('locks', () => {
  it('are granted in the order they were asked for (FIFO), one holder at a time', async () => {
    const { clock, c } = setup();
    const order: string[] = [];
    const holders: Array<() => void> = [];
    const ask = (id: string) => c.acquire('well:detergent-1', id).then((release) => (order.push(id), holders.push(release)));
    void ask('c');
    void ask('a');
    void ask('b');
    void ask('a');
    await clock.runFor(1);
    expect(order).toEqual(['c']);
    for (let i = 0; i < 3; i++) {
      holders[i]();
      holders[i](); // releasing twice does not release the next holder
      await clock.runFor(1);
    }
    expect(order).toEqual(['c', 'a', 'b', 'a']);
  });

  it('a waiter whose signal aborts leaves the queue; the others keep their places', async () => {
    const { clock, c } = setup();
    const order: string[] = [];
    const release = await c.acquire('well:rinse-1', 'a');
    const ac = new AbortController();
    const aborted = track(c.acquire('well:rinse-1', 'b', ac.signal));
    void c.acquire('well:rinse-1', 'c').then(() => order.push('c'));
    ac.abort();
    await clock.runFor(1);
    expect(aborted.error?.name).toBe('AbortError');
    release();
    await clock.runFor(1);
    expect(order).toEqual(['c']);
  });

  it('forget hands a forgotten holder\'s lock on, drops its queue places, reservation and sealing flag', async () => {
    const { clock, c } = setup();
    const order: string[] = [];
    const staleRelease = await c.acquire('well:detergent-1', 'a');
    void c.acquire('well:detergent-1', 'b').then(() => order.push('b'));
    void c.acquire('well:rinse-1', 'c');
    void c.acquire('well:rinse-1', 'a').then(() => order.push('a-rinse'));
    c.setSealing('a', true);
    await c.reservePath('a', [0, 0, 0], [0, 0, 10]);
    c.forget('a');
    await clock.runFor(1);
    expect(order).toEqual(['b']);
    expect(c.sealing.has('a')).toBe(false);
    expect(c.gateOpen('b')).toBe(true);
    // its reservation is gone: a new one for a does not wait
    const again = track(c.reservePath('a', [0, 0, 10], [0, 0, 20]));
    await clock.runFor(1);
    expect(again.done).toBe(true);
    // the stale release of the forgotten holder does not free b's grant
    staleRelease();
    const next = track(c.acquire('well:detergent-1', 'c'));
    await clock.runFor(1);
    expect(next.done).toBe(false);
  });
});
