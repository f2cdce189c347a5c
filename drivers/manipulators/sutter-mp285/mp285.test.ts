import { describe, expect, it } from 'vitest';
import { createVirtualClock, type VirtualClock } from '../../../src/clock/index.ts';
import { createFixture } from '../../conformance/fixture.ts';
import type { ManipulatorEmulator } from '../emulator-common.ts';
import type { ManipulatorLimits, Vec3 } from '../../types.ts';
import { createMp285Emulator, type Mp285EmulatorOptions } from './emulator.ts';
import { describeMp285Error, openMp285 } from './driver.ts';
import { BAUD, CR, ETX, FINE_BIT, LF, STATUS_USTEPS_OFFSET } from './protocol.ts';

const START: Vec3 = [10_000, 10_000, 5_000];
const LIMITS: ManipulatorLimits = { min: [0, 0, 0], max: [25_000, 25_000, 25_000], maxSpeed: 2_000 };

/** The emulator on its own, bytes in and out with their clock times (no serial line). */
function raw(options: Partial<Mp285EmulatorOptions> = {}) {
  const clock: VirtualClock = createVirtualClock();
  const dev: ManipulatorEmulator = createMp285Emulator({ clock, initial: START, ...options });
  const out: { t: number; bytes: Buffer }[] = [];
  dev.connect({ clock, send: (bytes) => out.push({ t: clock.now(), bytes: Buffer.from(bytes) }) });
  const sent = (): Buffer => Buffer.concat(out.map((o) => o.bytes));
  const send = (bytes: number[] | Buffer | string): void => dev.receive(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : Buffer.from(bytes));
  return { clock, dev, out, sent, send };
}

const int32s = (...v: number[]): number[] => {
  const b = Buffer.alloc(4 * v.length);
  v.forEach((x, i) => b.writeInt32LE(x, 4 * i));
  return [...b];
};
const speedCommand = (word: number): number[] => {
  const b = Buffer.alloc(4);
  b[0] = 0x56;
  b.writeUInt16LE(word, 1);
  b[3] = CR;
  return [...b];
};

async function open(emulator: Partial<Mp285EmulatorOptions> = {}) {
  const fx = createFixture('sim:mp285', (clock) => createMp285Emulator({ clock, initial: START, ...emulator }), BAUD);
  const m = await fx.run(openMp285({ path: fx.path, binding: fx.binding, clock: fx.clock, limits: LIMITS }));
  const ins = (): Buffer[] => fx.binding.byteLog(fx.path).entries.filter((e) => e.dir === 'in').map((e) => e.bytes);
  return { fx, m, ins };
}

/** Start `work`, wait until its command reached the (muted) device, then inject `reply` as the device's answer. */
async function answeredWith<T>(fx: ReturnType<typeof createFixture<ManipulatorEmulator>>, work: () => Promise<T>, reply: Buffer): Promise<{ pending: Promise<T> }> {
  fx.binding.setMuted(fx.path, true);
  const before = fx.bytesIn();
  const p = work();
  p.catch(() => {});
  for (let i = 0; i < 1_000 && fx.bytesIn() === before; i++) await fx.clock.runFor(1);
  await fx.clock.runFor(5);
  fx.binding.injectToHost(fx.path, reply);
  return { pending: p };
}

describe('MP-285 emulator: wire protocol', () => {
  it("answers 'c' with x, y, z as int32 LE µsteps and CR (13 bytes), after its processing time", async () => {
    const { clock, out, send } = raw();
    send('c\r');
    await clock.runFor(5);
    expect(out).toHaveLength(1);
    expect(out[0].t).toBe(1);
    expect([...out[0].bytes]).toEqual([...int32s(250_000, 250_000, 125_000), CR]);
  });

  it("answers 's' with 32 status bytes and CR; bytes 24–25 hold the µsteps per µm", async () => {
    const { clock, out, send } = raw({ ustepsPerUm: 50 });
    send('s\r');
    await clock.runFor(5);
    const reply = out[0].bytes;
    expect(reply).toHaveLength(33);
    expect(reply[32]).toBe(CR);
    expect(reply.readUInt16LE(STATUS_USTEPS_OFFSET)).toBe(50);
  });

  it("'V' takes a uint16 whose bits 0–14 are the speed in µm/s (bit 15 the resolution), and 'm' moves at it, answering CR only when it ends", async () => {
    for (const resolution of [FINE_BIT, 0]) {
      const { clock, dev, out, send } = raw();
      send(speedCommand(200 | resolution));
      await clock.runFor(5);
      expect([...out[0].bytes]).toEqual([CR]);
      send([0x6d, ...int32s(250_000 + 25 * 400, 250_000, 125_000), CR]); // +400 µm in x
      await clock.runFor(1_990);
      expect(out).toHaveLength(1); // still moving: no reply yet
      expect(dev.motion().moving).toBe(true);
      await clock.runFor(20);
      expect(out).toHaveLength(2);
      expect([...out[1].bytes]).toEqual([CR]);
      expect(out[1].t).toBeGreaterThanOrEqual(2_000);
      expect(dev.moves[0].speed).toBe(200);
      expect(dev.motion().positionAt(clock.now())[0]).toBeCloseTo(START[0] + 400, 9);
    }
  });

  it("answers an unknown command or a command of the wrong length with '4' CR", async () => {
    const { clock, out, send } = raw();
    send('x\r');
    await clock.runFor(5);
    send([0x56, 0x01, 0x02, 0x03, CR]); // V with a byte too many before its CR
    await clock.runFor(5);
    expect(out.map((o) => [...o.bytes])).toEqual([[0x34, CR], [0x34, CR]]);
    send('c\r'); // and it is back in step
    await clock.runFor(5);
    expect(out[2].bytes).toHaveLength(13);
  });

  it("^C during a move stops the stage and answers '8' CR instead of the move's CR", async () => {
    const { clock, dev, out, send } = raw();
    send(speedCommand(100 | FINE_BIT));
    await clock.runFor(5);
    send([0x6d, ...int32s(250_000 + 25 * 1_000, 250_000, 125_000), CR]);
    await clock.runFor(2_000);
    send([ETX]);
    await clock.runFor(5);
    expect([...out[1].bytes]).toEqual([0x38, CR]);
    expect(dev.motion().moving).toBe(false);
    expect(dev.stops).toBe(1);
    const stoppedAt = dev.motion().positionAt(clock.now())[0];
    expect(stoppedAt).toBeGreaterThan(START[0] + 190);
    expect(stoppedAt).toBeLessThan(START[0] + 210);
    await clock.runFor(20_000);
    expect(out).toHaveLength(2);
  });

  it("'r' resets without a reply", async () => {
    const { clock, out, send } = raw();
    send('b\r');
    await clock.runFor(5);
    send('r\r');
    await clock.runFor(1_000);
    expect(out).toHaveLength(1);
    send('s\r'); // back in absolute mode after the reset
    await clock.runFor(5);
    expect(out[1].bytes[0]).toBe(0x00);
  });

  it('a command sent during a move waits until the move has ended', async () => {
    const { clock, out, send } = raw();
    send(speedCommand(100 | FINE_BIT));
    await clock.runFor(5);
    send([0x6d, ...int32s(250_000 + 25 * 100, 250_000, 125_000), CR]); // 1 s
    await clock.runFor(100);
    send('c\r');
    await clock.runFor(800);
    expect(out).toHaveLength(1);
    await clock.runFor(200);
    expect(out.map((o) => o.bytes.length)).toEqual([1, 1, 13]);
    expect(out[1].t).toBeLessThanOrEqual(out[2].t);
    expect(out[2].bytes.readInt32LE(0)).toBe(250_000 + 2_500); // read after the move, where it ended
  });

  it("with lineEnding 'crlf' every reply ends CR LF", async () => {
    const { clock, out, send } = raw({ lineEnding: 'crlf' });
    send('a\r');
    send('c\r');
    send('x\r');
    await clock.runFor(10);
    expect(out.map((o) => o.bytes.length)).toEqual([2, 14, 3]);
    for (const o of out) expect([...o.bytes.subarray(-2)]).toEqual([CR, LF]);
  });
});

describe('MP-285 driver', () => {
  it('writes the documented byte layouts: s and a at open, then V (speed | fine bit) and m with µsteps', async () => {
    const { fx, m, ins } = await open();
    expect(ins().slice(0, 2).map((b) => b.toString('latin1'))).toEqual(['s\r', 'a\r']);
    await fx.run(m.moveTo([10_001, 9_999.5, 5_000.04], { speed: 300 }));
    const sent = ins();
    const v = sent.find((b) => b[0] === 0x56)!;
    expect([...v]).toEqual(speedCommand(300 | FINE_BIT));
    const move = sent.find((b) => b[0] === 0x6d)!;
    expect([...move]).toEqual([0x6d, ...int32s(250_025, 249_988, 125_001), CR]);
  });

  it("decodes the OR'd error byte (0x30–0x3F) as a device error instead of calling it malformed", async () => {
    expect(describeMp285Error(0x30)).toMatch(/serial overrun/);
    expect(describeMp285Error(0x36)).toBe("error '6': buffer overrun + bad command");
    expect(describeMp285Error(0x3f)).toBe("error '?': frame error + buffer overrun + bad command + move interrupted");
    for (const [code, text] of [['6', /buffer overrun \+ bad command/], ['0', /serial overrun/], ['1', /frame error/]] as const) {
      const { fx, m } = await open();
      const { pending: read } = await answeredWith(fx, () => m.position(), Buffer.from(`${code}\r`));
      const err = await fx.expectError(read, ['device']);
      expect(err.message).toMatch(text);
      expect(err.command).toBe('c (position)');
      expect([...err.bytes]).toEqual([code.charCodeAt(0), CR]);
    }
  });

  it("a move answered with an error byte carrying the interrupt flag ('<' = bad command + interrupted) is 'interrupted'", async () => {
    const { fx, m } = await open();
    await fx.run(m.moveTo([START[0] + 10, START[1], START[2]], { speed: 1_000 }));
    // same speed: the next move is the 'm' alone
    const { pending: move } = await answeredWith(fx, () => m.moveTo([START[0] + 20, START[1], START[2]], { speed: 1_000 }), Buffer.from('<\r'));
    const err = await fx.expectError(move, ['interrupted']);
    expect([...err.bytes]).toEqual([0x3c, CR]);
    fx.binding.setMuted(fx.path, false);
  });

  it('skips a stray LF after a CR, and still reads a position whose first byte is 0x0A', async () => {
    // x = 0.4 µm is 10 µsteps: the position reply starts with 0x0A.
    for (const lineEnding of ['cr', 'crlf'] as const) {
      const fx = createFixture('sim:mp285', (clock) => createMp285Emulator({ clock, initial: [0.4, 10_000, 5_000], lineEnding }), BAUD);
      const m = await fx.run(openMp285({ path: fx.path, binding: fx.binding, clock: fx.clock, limits: LIMITS }));
      const reads = await fx.run(Promise.all([m.position(), m.position(), m.position()]));
      for (const p of reads) expect(p).toEqual([0.4, 10_000, 5_000]);
      const landed = await fx.run(m.moveTo([0.4, 10_010, 5_000], { speed: 500 }));
      expect(landed).toEqual([0.4, 10_010, 5_000]);
      await fx.run(m.moveBy([0, -10, 0], { speed: 400 }));
      expect(await fx.run(m.position())).toEqual([0.4, 10_000, 5_000]);
    }
  });

  it('an LF injected ahead of a reply is skipped, for acks and fixed-length replies alike', async () => {
    const { fx, m } = await open();
    const { pending: read } = await answeredWith(fx, () => m.position(), Buffer.from([LF, ...int32s(25, 50, 75), CR]));
    expect(await fx.run(read)).toEqual([1, 2, 3]);
    const { pending: errRead } = await answeredWith(fx, () => m.position(), Buffer.from([LF, 0x34, CR, LF]));
    const err = await fx.expectError(errRead, ['device']);
    expect(err.message).toMatch(/bad command/);
  });

  it('refuses a speed that would be sent as V 0 (below 0.5 µm/s), sending nothing; 0.5 µm/s goes out as 1', async () => {
    const { fx, m, ins } = await open();
    await fx.run(m.position());
    const before = fx.bytesIn();
    const err = await fx.expectError(m.moveTo([START[0] + 1, START[1], START[2]], { speed: 0.4 }), ['invalid']);
    expect(err.command).toMatch(/V/);
    await fx.expectError(m.moveBy([1, 0, 0], { speed: 0.49 }), ['invalid']);
    expect(fx.bytesIn()).toBe(before);
    const move = m.moveTo([START[0] + 0.2, START[1], START[2]], { speed: 0.5 });
    move.catch(() => {});
    await fx.clock.runFor(100);
    expect([...ins().find((b) => b[0] === 0x56)!]).toEqual(speedCommand(1 | FINE_BIT));
    await fx.run(move);
  });
});
