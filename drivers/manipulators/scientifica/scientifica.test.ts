import { describe, expect, it } from 'vitest';
import { createVirtualClock } from '../../../src/clock/index.ts';
import { createFixture } from '../../conformance/fixture.ts';
import type { ManipulatorLimits, Vec3 } from '../../types.ts';
import { createScientificaEmulator, type ScientificaEmulatorOptions } from './emulator.ts';
import { openScientifica, type ScientificaOptions } from './driver.ts';
import { BAUD } from './protocol.ts';

const START: Vec3 = [10_000, 10_000, 5_000];

/** The emulator on its own: lines in, reply lines out with their clock times. */
function raw(options: Partial<ScientificaEmulatorOptions> = {}) {
  const clock = createVirtualClock();
  const dev = createScientificaEmulator({ clock, initial: START, ...options });
  const out: { t: number; text: string }[] = [];
  let pending = '';
  dev.connect({
    clock,
    send: (bytes) => {
      pending += bytes.toString('latin1');
      let i: number;
      while ((i = pending.indexOf('\r')) >= 0) {
        out.push({ t: clock.now(), text: pending.slice(0, i) });
        pending = pending.slice(i + 1);
      }
    },
  });
  const send = (text: string | Buffer): void => dev.receive(Buffer.isBuffer(text) ? text : Buffer.from(text, 'latin1'));
  /** send one command line and return its reply (or undefined if none within 20 ms) */
  const ask = async (text: string): Promise<string | undefined> => {
    const n = out.length;
    send(`${text}\r`);
    await clock.runFor(20);
    return out.length > n ? out[n].text : undefined;
  };
  return { clock, dev, out, send, ask };
}

function prng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 0x1_0000_0000;
  };
}

describe('Scientifica emulator: wire protocol', () => {
  it('identifies itself and describes its firmware (commands are case-insensitive)', async () => {
    const { ask } = raw({ version: 2, model: 'LinLab' });
    expect(await ask('scientifica')).toBe('Y519');
    expect(await ask('SCIENTIFICA')).toBe('Y519');
    expect(await ask('desc')).toBe('LinLab Motion Controller');
    expect(await ask('type')).toBe('LINLAB');
    expect(await ask('ver')).toBe('2.14');
    expect(await ask('DATE')).toBe('Jun 12 2019');
  });

  it('reports positions in 0.1 µm (v2) or 0.01 µm (v3) units, tab separated; P exists on v3 only', async () => {
    const v2 = raw({ version: 2 });
    expect(await v2.ask('POS')).toBe('100000\t100000\t50000');
    expect(await v2.ask('P')).toBe('E,1');
    expect(await v2.ask('PZ')).toBe('50000');
    const v3 = raw({ version: 3 });
    expect(await v3.ask('P')).toBe('1000000\t1000000\t500000');
    expect(await v3.ask('POS')).toBe('1000000\t1000000\t500000');
    expect(await v3.ask('PX')).toBe('1000000');
  });

  it('acknowledges ABS at once, moves at TOP, and reports S until the stage is idle', async () => {
    const { clock, dev, out, send, ask } = raw({ version: 2, processingMs: 2 });
    expect(await ask('TOP 1000')).toBe('A'); // 100 µm/s
    send('ABS 110000 100000 50000\r');
    const t0 = clock.now();
    await clock.runFor(5);
    expect(out[out.length - 1]).toEqual({ t: t0 + 2, text: 'A' });
    expect(dev.moves[0]).toMatchObject({ target: [11_000, 10_000, 5_000], speed: 100 });
    await clock.runFor(100);
    expect(await ask('S')).toBe('1'); // x moving
    await clock.runUntilTime(t0 + 9_900);
    expect(await ask('S')).toBe('1');
    await clock.runUntilTime(t0 + 10_001);
    expect(await ask('S')).toBe('0');
    expect(await ask('POS')).toBe('110000\t100000\t50000');
  });

  it('quirk: the first S within ~30 ms of a move answers 0 although the stage moves', async () => {
    const { clock, dev, send, ask } = raw({ version: 3 });
    send('ABS 1000000 1100000 520000\r');
    await clock.runFor(10);
    expect(await ask('S')).toBe('0');
    expect(dev.motion().moving).toBe(true);
    expect(await ask('S')).toBe('6'); // y and z moving
    expect(dev.earlyIdleReplies).toBe(1);
    // After the window the first S is truthful.
    send('ABS 1000000 1000000 500000\r');
    await clock.runFor(40);
    expect(await ask('S')).not.toBe('0');
    // And the quirk can be switched off.
    const plain = raw({ version: 3, earlyIdleMs: 0 });
    plain.send('ABS 1000000 1100000 500000\r');
    await plain.clock.runFor(3);
    expect(await plain.ask('S')).toBe('2');
  });

  it('REL and ABSZ move relative to here / in z only; STOP stops at once', async () => {
    const { clock, dev, ask } = raw({ version: 2 });
    expect(await ask('REL 10 -20 30')).toBe('A');
    await clock.runFor(1_000);
    expect(await ask('POS')).toBe('100010\t99980\t50030');
    expect(await ask('ABSZ 40000')).toBe('A');
    expect(dev.moves[1].target).toEqual([10_001, 9_998, 4_000]);
    await clock.runFor(200);
    expect(await ask('STOP')).toBe('A');
    expect(dev.stops).toBe(1);
    expect(dev.motion().moving).toBe(false);
    const stoppedAt = await ask('PZ');
    await clock.runFor(2_000);
    expect(await ask('PZ')).toBe(stoppedAt);
    expect(Number(stoppedAt)).toBeLessThan(50_030);
    expect(Number(stoppedAt)).toBeGreaterThan(40_000);
  });

  it('TOP, FIRST and ACC read back what was set and refuse bad values with E,2', async () => {
    const { ask } = raw({ version: 3, maxSpeed: 2_000 });
    expect(await ask('TOP')).toBe('100000');
    expect(await ask('TOP 12345')).toBe('A');
    expect(await ask('TOP')).toBe('12345');
    expect(await ask('TOP 0')).toBe('E,2');
    expect(await ask('TOP 200001')).toBe('E,2');
    expect(await ask('TOP fast')).toBe('E,2');
    expect(await ask('FIRST 500')).toBe('A');
    expect(await ask('FIRST')).toBe('500');
    expect(await ask('ACC 70000')).toBe('A');
    expect(await ask('ACC')).toBe('70000');
    expect(await ask('TOP')).toBe('12345');
  });

  it('ZERO makes here the origin (E,4 while moving); targets outside travel give E,3', async () => {
    const { clock, ask } = raw({ version: 2, travel: [20_000, 20_000, 20_000] });
    expect(await ask('ZERO')).toBe('A');
    expect(await ask('POS')).toBe('0\t0\t0');
    expect(await ask('ABS 50000 0 0')).toBe('A'); // 5 mm at the power-up 1 mm/s
    expect(await ask('ZERO')).toBe('E,4');
    await clock.runFor(6_000);
    expect(await ask('PX')).toBe('50000');
    expect(await ask('ABS 100001 0 0')).toBe('E,3');
    expect(await ask('ABS 0 -100001 0')).toBe('E,3');
  });

  it('answers unknown commands with E,1 and bad arguments with E,2; an overlong line is one E,1', async () => {
    const { out, ask, send, clock } = raw();
    expect(await ask('JUMP')).toBe('E,1');
    expect(await ask('ABS 1 2')).toBe('E,2');
    expect(await ask('ABS 1 2 x')).toBe('E,2');
    const n = out.length;
    send(`${'X'.repeat(200)}\r\nPOS\r`);
    await clock.runFor(20);
    expect(out.slice(n).map((o) => o.text)).toEqual(['E,1', '1000000\t1000000\t500000']);
  });

  it('never throws on garbage and answers normally after the next CR', async () => {
    const { clock, out, send, ask } = raw();
    const rnd = prng(99);
    for (let i = 0; i < 200; i++) {
      const chunk = Buffer.from(Array.from({ length: 1 + Math.floor(rnd() * 30) }, () => Math.floor(rnd() * 256)));
      expect(() => send(chunk)).not.toThrow();
      await clock.runFor(rnd() * 20);
    }
    send('\r');
    await clock.runFor(60_000); // let any move the garbage started finish
    out.length = 0;
    expect(await ask('scientifica')).toBe('Y519');
  });
});

const LIMITS: ManipulatorLimits = { min: [0, 0, 0], max: [25_000, 25_000, 25_000], maxSpeed: 2_000 };

async function open(emu: Partial<ScientificaEmulatorOptions> = {}, drv: Partial<ScientificaOptions> = {}) {
  const fx = createFixture('sim:scientifica', (clock) => createScientificaEmulator({ clock, initial: START, ...emu }), BAUD);
  const m = await fx.run(openScientifica({ path: fx.path, binding: fx.binding, clock: fx.clock, limits: LIMITS, ...drv }));
  const sent = (): string => fx.binding.byteLog(fx.path).concat('in').toString('latin1');
  return { fx, m, sent };
}

describe('Scientifica driver', () => {
  it('detects the firmware with ver and uses its units and position command', async () => {
    const v2 = await open({ version: 2 });
    expect(v2.m.resolution).toBeCloseTo(0.1, 12);
    expect(await v2.fx.run(v2.m.position())).toEqual(START);
    expect(v2.sent()).toContain('ver\r');
    expect(v2.sent()).toContain('POS\r');
    const v3 = await open({ version: 3 });
    expect(v3.m.resolution).toBeCloseTo(0.01, 12);
    const p = await v3.fx.run(v3.m.moveTo([10_000.37, 9_999.99, 5_000.01], { speed: 500 }));
    expect(p[0]).toBeCloseTo(10_000.37, 9);
    expect(v3.sent()).toContain('P\r');
    expect(v3.sent()).not.toContain('POS\r');
  });

  it('the version option skips detection', async () => {
    const { fx, m, sent } = await open({ version: 2 }, { version: 2 });
    expect(sent()).not.toContain('ver');
    expect(await fx.run(m.position())).toEqual(START);
  });

  it('sets TOP in position units per second, rounding down', async () => {
    const { fx, m, sent } = await open({ version: 2 });
    await fx.run(m.moveBy([12.34, 0, 0], { speed: 123.45 }));
    expect(sent()).toContain('TOP 1234\r');
    expect(fx.device.moves[0].speed).toBeCloseTo(123.4, 9);
    // Unchanged speed: TOP is not sent again.
    await fx.run(m.moveBy([-12.34, 0, 0], { speed: 123.45 }));
    expect(sent().split('TOP').length - 1).toBe(1);
  });

  it('does not take the early idle reply for the end of the move', async () => {
    const { fx, m } = await open({ version: 3 }, { pollIntervalMs: 10 });
    const target: Vec3 = [START[0], START[1] + 300, START[2]];
    const t0 = fx.clock.now();
    const landed = await fx.run(m.moveTo(target, { speed: 100 }));
    expect(fx.device.earlyIdleReplies).toBe(1);
    expect(fx.clock.now() - t0).toBeGreaterThanOrEqual(3_000);
    expect(landed).toEqual(target);
  });

  it("a stage stopped by its controller's own stop is an 'interrupted' error saying where it stopped", async () => {
    const { fx, m } = await open({ version: 3 });
    const move = m.moveTo([START[0] + 1_000, START[1], START[2]], { speed: 100 });
    move.catch(() => {});
    await fx.clock.runFor(2_000);
    fx.device.externalStop(); // the operator's stop button on the control cube
    const stoppedAt = fx.device.motion().positionAt(fx.clock.now());
    const err = await fx.expectError(move, ['interrupted']);
    expect(err.message).toMatch(/stopped short at \(\d+\.\d+, 10000\.00, 5000\.00\) µm, target \(11000\.00, 10000\.00, 5000\.00\)/);
    expect(err.message).toContain(stoppedAt[0].toFixed(2));
    expect(stoppedAt[0]).toBeGreaterThan(START[0] + 150);
    expect(stoppedAt[0]).toBeLessThan(START[0] + 250);
    expect(m.busy).toBe(false);
    expect(fx.device.stops).toBe(0);
    const p = await fx.run(m.position());
    for (let i = 0; i < 3; i++) expect(p[i]).toBeCloseTo(stoppedAt[i], 2);
  });

  it("a move that runs into the end of travel (a limit switch) is an 'interrupted' error at the switch", async () => {
    const limitSwitches = { min: [0, 0, 0] as Vec3, max: [START[0] + 500, 25_000, 25_000] as Vec3 };
    const { fx, m } = await open({ version: 2, limitSwitches });
    const err = await fx.expectError(m.moveTo([START[0] + 1_000, START[1], START[2]], { speed: 500 }), ['interrupted']);
    expect(err.message).toMatch(/stopped short at \(10500\.00, 10000\.00, 5000\.00\) µm/);
    expect(fx.device.motion().positionAt(fx.clock.now())).toEqual([START[0] + 500, START[1], START[2]]);
    // a move inside the travel still lands
    expect(await fx.run(m.moveTo([START[0] + 400, START[1], START[2]], { speed: 500 }))).toEqual([START[0] + 400, START[1], START[2]]);
  });

  it('a move that overruns its deadline is stopped and reported as a timeout', async () => {
    const { fx, m } = await open({ version: 3 });
    const move = m.moveTo([START[0] + 100, START[1], START[2]], { speed: 100 });
    move.catch(() => {});
    await fx.clock.runFor(200);
    // The stage crawls (a stalled motor): far slower than it was told.
    const stage = fx.device.motion();
    stage.moveTo([START[0] + 100, START[1], START[2]], 1, () => {});
    const err = await fx.expectError(move, ['timeout']);
    expect(err.message).toMatch(/still moving/);
    expect(stage.moving).toBe(false);
    expect(fx.device.stops).toBe(1);
  });

  it('device errors come back typed', async () => {
    const { fx, m } = await open({ version: 2, travel: [15_000, 15_000, 15_000] });
    const err = await fx.expectError(m.moveTo([16_000, START[1], START[2]], { speed: 500 }), ['device']);
    expect(err.message).toMatch(/E,3: target outside the travel range/);
    expect(m.busy).toBe(false);
  });

  it('stop also cancels a move still waiting behind another', async () => {
    const { fx, m } = await open({ version: 3 });
    const first = m.moveTo([START[0] + 500, START[1], START[2]], { speed: 100 });
    const second = m.moveTo([START[0], START[1] + 500, START[2]], { speed: 100 });
    first.catch(() => {});
    second.catch(() => {});
    await fx.clock.runFor(1_000);
    await fx.run(m.stop());
    await fx.expectError(first, ['interrupted']);
    await fx.expectError(second, ['interrupted']);
    expect(fx.device.moves).toHaveLength(1);
    expect(fx.device.motion().moving).toBe(false);
  });

  it('refuses a speed below one position unit per second without sending anything', async () => {
    const { fx, m } = await open({ version: 2 });
    const before = fx.bytesIn();
    await fx.expectError(m.moveTo(START, { speed: 0.05 }), ['invalid']);
    expect(fx.bytesIn()).toBe(before);
  });

  it('a device that does not identify as Scientifica is refused at open', async () => {
    const fx = createFixture('sim:other', (clock) => createScientificaEmulator({ clock }), BAUD);
    // Garble the identification reply by injecting a different line first.
    const opening = openScientifica({ path: fx.path, binding: fx.binding, clock: fx.clock, limits: LIMITS });
    opening.catch(() => {});
    for (let i = 0; i < 100 && fx.bytesIn() === 0; i++) await fx.clock.runFor(1);
    fx.binding.injectToHost(fx.path, Buffer.from('Y520\r'));
    const err = await fx.expectError(opening, ['malformed']);
    expect(err.message).toMatch(/Y519/);
  });
});
