import { describe, expect, it } from 'vitest';
import { createVirtualClock } from '../../../src/clock/index.ts';
import { createFixture } from '../../conformance/fixture.ts';
import type { ManipulatorLimits, Vec3 } from '../../types.ts';
import { createSm10Emulator, type Sm10EmulatorOptions } from './emulator.ts';
import { openSm10, openSm10Controller, splitRelative, type Sm10Options } from './driver.ts';
import { BAUD_SM10, BAUD_SM5, STATUS_AT_END, STATUS_MOVING, STATUS_STOPPED, crc16xmodem } from './protocol.ts';

const START: Vec3 = [10_000, 10_000, 5_000];

// Frames are built and read here independently of the driver, straight from the documented layout.
function frame(cmd: number, data: number[] | Buffer, start = 0x16): Buffer {
  const body = Buffer.from(data);
  const crc = crc16xmodem(body);
  return Buffer.from([start, cmd >> 8, cmd & 0xff, body.length, ...body, crc >> 8, crc & 0xff]);
}
const f32 = (axis: number, v: number): Buffer => {
  const b = Buffer.alloc(5);
  b[0] = axis;
  b.writeFloatLE(v, 1);
  return b;
};
interface Decoded {
  start: number;
  cmd: number;
  data: Buffer;
  crcOk: boolean;
}
function decode(bytes: Buffer): Decoded[] {
  const out: Decoded[] = [];
  let i = 0;
  while (i + 6 <= bytes.length) {
    const len = bytes[i + 3];
    const data = bytes.subarray(i + 4, i + 4 + len);
    out.push({ start: bytes[i], cmd: bytes.readUInt16BE(i + 1), data, crcOk: crc16xmodem(data) === bytes.readUInt16BE(i + 4 + len) });
    i += 6 + len;
  }
  return out;
}

function raw(options: Partial<Sm10EmulatorOptions> = {}) {
  const clock = createVirtualClock();
  const dev = createSm10Emulator({ clock, initial: START, ...options });
  const out: Buffer[] = [];
  dev.connect({ clock, send: (b) => out.push(Buffer.from(b)) });
  const replies = (): Decoded[] => decode(Buffer.concat(out));
  const ask = async (cmd: number, data: number[] | Buffer): Promise<Decoded> => {
    const n = replies().length;
    dev.receive(frame(cmd, data));
    await clock.runFor(5);
    const r = replies();
    if (r.length !== n + 1) throw new Error(`expected one reply, got ${r.length - n}`);
    return r[n];
  };
  return { clock, dev, out, replies, ask };
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

describe('L&N protocol helpers', () => {
  it('CRC-16/XMODEM matches the standard check value', () => {
    expect(crc16xmodem(Buffer.from('123456789'))).toBe(0x31c3);
    expect(crc16xmodem(Buffer.alloc(0))).toBe(0);
  });

  it('splits relative moves into equal segments of at most 255 µm that add up exactly', () => {
    const delta: Vec3 = [600, -300.3, 10];
    const parts = splitRelative(delta);
    expect(parts).toHaveLength(3);
    for (const p of parts) for (const c of p) expect(Math.abs(c)).toBeLessThanOrEqual(255);
    for (let i = 0; i < 3; i++) expect(parts.reduce((s, p) => s + p[i], 0)).toBeCloseTo(delta[i], 9);
    expect(splitRelative([255, 0, -255])).toHaveLength(1);
    expect(splitRelative([255.01, 0, 0])).toHaveLength(2);
    expect(splitRelative([0, 0, 0])).toEqual([[0, 0, 0]]);
  });
});

describe('L&N emulator: wire protocol', () => {
  it('answers a position request with a documented ACK frame, byte for byte', async () => {
    const { dev, clock, out } = raw({ processingMs: 1 });
    dev.receive(Buffer.from([0x16, 0x01, 0x01, 0x01, 0x02, ...[crc16xmodem(Buffer.of(2)) >> 8, crc16xmodem(Buffer.of(2)) & 0xff]]));
    await clock.runFor(0.5);
    expect(out).toHaveLength(0);
    await clock.runFor(1);
    const data = Buffer.alloc(5);
    data[0] = 2;
    data.writeFloatLE(10_000, 1);
    const crc = crc16xmodem(data);
    expect([...Buffer.concat(out)]).toEqual([0x06, 0x01, 0x01, 0x05, ...data, crc >> 8, crc & 0xff]);
  });

  it('slow moves run at the velocity set per axis, are acknowledged at once and polled with 0120', async () => {
    const { clock, dev, ask } = raw();
    expect((await ask(0x0144, f32(1, 200))).data).toEqual(Buffer.of(1));
    const tMove = clock.now();
    const ackd = await ask(0x0049, f32(1, 10_400));
    expect(ackd).toMatchObject({ start: 0x06, cmd: 0x0049, crcOk: true });
    expect(dev.moves[0]).toMatchObject({ target: [10_400, 10_000, 5_000], speed: 200, unit: 1 });
    const busy = await ask(0x0120, [1, 2]);
    expect([...busy.data]).toEqual([1, STATUS_MOVING, 2, 0]);
    await clock.runUntilTime(tMove + 1_990);
    expect((await ask(0x0120, [1])).data[1] & STATUS_MOVING).toBe(STATUS_MOVING);
    await clock.runUntilTime(tMove + 2_000);
    expect([...(await ask(0x0120, [1])).data]).toEqual([1, 0]);
    expect((await ask(0x0101, [1])).data.readFloatLE(1)).toBe(10_400);
  });

  it('fast moves run at the fast speed; relative moves above 255 µm are refused', async () => {
    const { clock, dev, ask } = raw({ fastSpeed: 2_000 });
    await ask(0x004a, f32(3, -200));
    await clock.runFor(101);
    expect(dev.motion(1).positionAt(clock.now())[2]).toBe(4_800);
    const nak = await ask(0x004b, f32(3, 255.5));
    expect(nak).toMatchObject({ start: 0x15, cmd: 0x004b, crcOk: true });
    expect([...nak.data]).toEqual([3]);
    expect(dev.moves).toHaveLength(1);
  });

  it('00FF stops the listed axes together and flags them', async () => {
    const { clock, dev, ask } = raw();
    await ask(0x0144, f32(1, 100));
    await ask(0x0144, f32(2, 100));
    await ask(0x0049, f32(1, 11_000));
    await ask(0x0049, f32(2, 11_000));
    await clock.runFor(1_000);
    const r = await ask(0x00ff, [1, 2]);
    expect(r).toMatchObject({ start: 0x06, cmd: 0x00ff });
    expect(r.data).toHaveLength(0);
    expect(dev.stops).toBe(1);
    expect(dev.motion(1).moving).toBe(false);
    expect([...(await ask(0x0120, [1, 2, 3])).data]).toEqual([1, STATUS_STOPPED, 2, STATUS_STOPPED, 3, 0]);
  });

  it('NAKs a bad CRC (1), unknown command (2), bad argument (3) and absent axis (4), executing nothing', async () => {
    const { clock, dev, ask, replies } = raw({ manipulators: 1 });
    const bad = frame(0x0049, f32(1, 11_000));
    bad[bad.length - 1] ^= 0xff;
    dev.receive(bad);
    await clock.runFor(5);
    expect(replies()[0]).toMatchObject({ start: 0x15, cmd: 0x0049, data: Buffer.of(1) });
    expect(dev.badFrames).toBe(1);
    expect([...(await ask(0x0777, [])).data]).toEqual([2]);
    expect([...(await ask(0x0101, [1, 2])).data]).toEqual([3]);
    expect([...(await ask(0x0144, f32(1, 0))).data]).toEqual([3]);
    expect([...(await ask(0x0101, [4])).data]).toEqual([4]);
    expect([...(await ask(0x0120, [1, 7])).data]).toEqual([4]);
    expect(dev.moves).toHaveLength(0);
  });

  it('a move past the end of travel stops there and is flagged', async () => {
    const { clock, ask } = raw({ travel: [12_000, 12_000, 12_000], fastSpeed: 3_000 });
    await ask(0x0048, f32(1, 13_000));
    await clock.runFor(1_000);
    expect((await ask(0x0101, [1])).data.readFloatLE(1)).toBe(12_000);
    expect([...(await ask(0x0120, [1])).data]).toEqual([1, STATUS_AT_END]);
  });

  it('axes 4–6 belong to the second manipulator', async () => {
    const { clock, dev, ask } = raw();
    await ask(0x0048, f32(5, 9_000));
    await clock.runFor(1_000);
    expect(dev.motion(2).positionAt(clock.now())).toEqual([10_000, 9_000, 5_000]);
    expect(dev.motion(1).positionAt(clock.now())).toEqual(START);
    expect(dev.moves[0].unit).toBe(2);
  });

  it('SM-5: nothing but 0400 without a session, and the session lapses after 3 s without a frame', async () => {
    const { clock, ask } = raw({ model: 'SM-5' });
    expect([...(await ask(0x0101, [1])).data]).toEqual([5]);
    expect(await ask(0x0400, [])).toMatchObject({ start: 0x06, data: Buffer.of(5) });
    for (let i = 0; i < 5; i++) {
      await clock.runFor(2_000);
      expect((await ask(0x0101, [1])).start).toBe(0x06);
    }
    await clock.runFor(3_001);
    expect([...(await ask(0x0101, [1])).data]).toEqual([5]);
    // An SM-10 has no session to lose.
    const sm10 = raw();
    await sm10.clock.runFor(10_000);
    expect((await sm10.ask(0x0101, [1])).start).toBe(0x06);
    expect((await sm10.ask(0x0400, [])).data).toEqual(Buffer.of(10));
  });

  it('drops a frame left incomplete for 50 ms, and joins one whose parts arrive in time', async () => {
    const { clock, dev, replies } = raw();
    const f = frame(0x0101, [1]);
    dev.receive(f.subarray(0, 4));
    await clock.runFor(60);
    dev.receive(f.subarray(4));
    dev.receive(f);
    await clock.runFor(5);
    expect(replies()).toHaveLength(1);
    dev.receive(f.subarray(0, 3));
    await clock.runFor(40);
    dev.receive(f.subarray(3));
    await clock.runFor(5);
    expect(replies()).toHaveLength(2);
    expect(dev.ignoredBytes).toBe(4 + 3);
  });

  it('never throws on garbage and answers a good frame afterwards', async () => {
    const { clock, dev, replies, out } = raw();
    const rnd = prng(7);
    for (let i = 0; i < 300; i++) {
      const chunk = Buffer.from(Array.from({ length: 1 + Math.floor(rnd() * 12) }, () => (rnd() < 0.1 ? 0x16 : Math.floor(rnd() * 256))));
      expect(() => dev.receive(chunk)).not.toThrow();
      await clock.runFor(rnd() * 20);
    }
    await clock.runFor(100);
    out.length = 0;
    dev.receive(frame(0x0101, [1]));
    await clock.runFor(5);
    expect(replies()).toHaveLength(1);
    expect(replies()[0]).toMatchObject({ start: 0x06, cmd: 0x0101, crcOk: true });
  });

  it("test hook: 'crc' damages replies of executed commands, 'nak' refuses commands", async () => {
    const { dev, ask } = raw();
    dev.corruptNextReplies(1);
    const damaged = await ask(0x0048, f32(1, 10_100));
    expect(damaged.crcOk).toBe(false);
    expect(dev.moves).toHaveLength(1);
    expect((await ask(0x0101, [1])).crcOk).toBe(true);
    dev.corruptNextReplies(2, 'nak');
    expect(await ask(0x0048, f32(1, 10_200))).toMatchObject({ start: 0x15, data: Buffer.of(1), crcOk: true });
    expect(await ask(0x0048, f32(1, 10_200))).toMatchObject({ start: 0x15 });
    expect(dev.moves).toHaveLength(1);
    expect((await ask(0x0048, f32(1, 10_200))).start).toBe(0x06);
  });
});

const LIMITS: ManipulatorLimits = { min: [0, 0, 0], max: [25_000, 25_000, 25_000], maxSpeed: 2_000 };

function fixture(emu: Partial<Sm10EmulatorOptions> = {}) {
  return createFixture('sim:ln', (clock) => createSm10Emulator({ clock, initial: START, ...emu }), emu.model === 'SM-5' ? BAUD_SM5 : BAUD_SM10);
}
async function open(emu: Partial<Sm10EmulatorOptions> = {}, drv: Partial<Sm10Options> = {}) {
  const fx = fixture(emu);
  const m = await fx.run(openSm10({ path: fx.path, binding: fx.binding, clock: fx.clock, limits: LIMITS, model: emu.model, ...drv }));
  const sentFrames = (): Decoded[] => decode(fx.binding.byteLog(fx.path).concat('in'));
  return { fx, m, sentFrames };
}

describe('L&N driver', () => {
  it('resends after replies with a bad CRC, up to 5 times', async () => {
    const { fx, m } = await open();
    const before = fx.device.frames['0101'];
    fx.device.corruptNextReplies(3);
    expect(await fx.run(m.position())).toEqual(START);
    expect(fx.device.frames['0101'] - before).toBe(3 + 3); // three axes, three resends
    fx.device.corruptNextReplies(6);
    const err = await fx.expectError(m.position(), ['malformed']);
    expect(err.message).toMatch(/CRC.*gave up after 5 resends/);
    expect(err.bytes.length).toBeGreaterThan(0);
    expect(await fx.run(m.position())).toEqual(START);
  });

  it('resends a command the controller NAKed as damaged, and it is executed once', async () => {
    const { fx, m } = await open();
    await fx.run(m.position());
    fx.device.corruptNextReplies(4, 'nak');
    const target: Vec3 = [START[0] + 300, START[1] - 200, START[2]];
    expect(await fx.run(m.moveTo(target, { speed: 500 }))).toEqual(target);
    expect(fx.device.moves).toHaveLength(2); // x and y, once each
  });

  it('moves in a straight line: per-axis velocities in proportion, all axes arriving together', async () => {
    const { fx, m, sentFrames } = await open();
    const target: Vec3 = [START[0] + 300, START[1] - 400, START[2]];
    const t0 = fx.clock.now();
    await fx.run(m.moveTo(target, { speed: 100 }));
    expect(fx.clock.now() - t0).toBeGreaterThanOrEqual(5_000);
    const velocities = sentFrames()
      .filter((f) => f.cmd === 0x0144)
      .map((f) => [f.data[0], f.data.readFloatLE(1)]);
    expect(velocities).toEqual([
      [1, Math.fround(60)],
      [2, Math.fround(80)],
    ]);
    const [mx, my] = fx.device.moves;
    // Each axis takes 5 s; the second starts one exchange after the first.
    expect(my.t - mx.t).toBeLessThan(5);
    expect(fx.device.moves.some((mv) => mv.target[2] !== START[2])).toBe(false);
  });

  it('splits relative moves over 255 µm into segments and lands on the total', async () => {
    const { fx, m, sentFrames } = await open();
    const landed = await fx.run(m.moveBy([600, -300, 0], { speed: 500 }));
    expect(landed[0]).toBeCloseTo(START[0] + 600, 2);
    expect(landed[1]).toBeCloseTo(START[1] - 300, 2);
    const rel = sentFrames().filter((f) => f.cmd === 0x004b);
    expect(rel).toHaveLength(6); // 3 segments × 2 axes
    for (const f of rel) expect(Math.abs(f.data.readFloatLE(1))).toBeLessThanOrEqual(255);
    expect(rel.filter((f) => f.data[0] === 1).reduce((s, f) => s + f.data.readFloatLE(1), 0)).toBeCloseTo(600, 3);
  });

  it('does not resend a relative move whose ACK arrived damaged (it was executed)', async () => {
    const { fx, m } = await open();
    await fx.run(m.moveBy([50, 50, 0], { speed: 200 }));
    const before = fx.device.frames['004b'];
    // Same direction, so the axis velocities are already set: the next frame is the x move.
    fx.device.corruptNextReplies(1);
    const landed = await fx.run(m.moveBy([50, 50, 0], { speed: 200 }));
    expect(fx.device.frames['004b'] - before).toBe(2);
    expect(landed[0]).toBeCloseTo(START[0] + 100, 2);
    expect(landed[1]).toBeCloseTo(START[1] + 100, 2);
  });

  it('SM-5: re-establishes the session after idling, and after the device dropped it early', async () => {
    const { fx, m } = await open({ model: 'SM-5', manipulators: 1 });
    expect(fx.device.frames['0400']).toBe(1);
    await fx.clock.runFor(5_000);
    expect(fx.device.sessionOpen).toBe(false);
    expect(await fx.run(m.position())).toEqual(START);
    expect(fx.device.frames['0400']).toBe(2);
    // A driver that trusts the session longer than the device keeps it gets NAK 5 and recovers.
    const lazy = await open({ model: 'SM-5', manipulators: 1 }, { sessionIdleMs: 60_000 });
    await lazy.fx.clock.runFor(5_000);
    expect(await lazy.fx.run(lazy.m.position())).toEqual(START);
    expect(lazy.fx.device.frames['0400']).toBe(2);
  });

  it('SM-5: polling keeps the session alive through a long move', async () => {
    const { fx, m } = await open({ model: 'SM-5', manipulators: 1 });
    await fx.run(m.moveTo([START[0] + 1_000, START[1], START[2]], { speed: 100 }));
    expect(fx.device.frames['0400']).toBe(1);
  });

  it('two manipulators on one port move at the same time', async () => {
    const fx = fixture();
    const lnc = await fx.run(openSm10Controller({ path: fx.path, binding: fx.binding, clock: fx.clock }));
    const a = lnc.manipulator(1, LIMITS);
    const b = lnc.manipulator(2, LIMITS);
    const ta: Vec3 = [START[0] + 500, START[1], START[2]];
    const tb: Vec3 = [START[0], START[1], START[2] - 500];
    const t0 = fx.clock.now();
    const [pa, pb] = await fx.run(Promise.all([a.moveTo(ta, { speed: 250 }), b.moveTo(tb, { speed: 250 })]));
    expect(pa).toEqual(ta);
    expect(pb).toEqual(tb);
    // Overlapping 2 s moves: well under the 4 s they would take one after the other.
    expect(fx.clock.now() - t0).toBeLessThan(2_500);
    expect(fx.device.motion(2).positionAt(fx.clock.now())).toEqual(tb);
    // Stopping one leaves the other alone.
    const slow = a.moveTo(START, { speed: 100 });
    slow.catch(() => {});
    const other = b.moveTo(START, { speed: 100 });
    await fx.clock.runFor(1_000);
    await fx.run(a.stop());
    await fx.expectError(slow, ['interrupted']);
    expect(await fx.run(other)).toEqual(START);
  });

  it('refuses to open a controller of the other model', async () => {
    const fx = fixture({ model: 'SM-5' });
    const err = await fx.expectError(openSm10({ path: fx.path, binding: fx.binding, clock: fx.clock, limits: LIMITS, baudRate: BAUD_SM5 }), ['invalid']);
    expect(err.message).toMatch(/SM-5/);
  });

  it('opening a manipulator the controller does not have fails at open', async () => {
    const fx = fixture({ manipulators: 1 });
    const err = await fx.expectError(openSm10({ path: fx.path, binding: fx.binding, clock: fx.clock, limits: LIMITS, manipulator: 2 }), ['device']);
    expect(err.message).toMatch(/no such axis/);
  });

  it('a NAK other than a damaged request is a device error, not a resend', async () => {
    const fx = fixture({ manipulators: 1 });
    const lnc = await fx.run(openSm10Controller({ path: fx.path, binding: fx.binding, clock: fx.clock }));
    const m2 = lnc.manipulator(2, LIMITS);
    const before = fx.device.frames['0101'] ?? 0;
    const err = await fx.expectError(m2.position(), ['device']);
    expect(err.message).toMatch(/no such axis/);
    expect((fx.device.frames['0101'] ?? 0) - before).toBe(1);
    // the error carries the NAK frame as it came off the wire: NAK, 0101, len 1, reason 4, CRC
    expect(err.device).toBe(lnc.connection.label);
    expect(err.command).toBe('0101 (position axis 4)');
    expect([...err.bytes]).toEqual([...frame(0x0101, [4], 0x15)]);
  });

  it('NAKs that exhaust the resends carry the last NAK frame', async () => {
    const { fx, m } = await open();
    fx.device.corruptNextReplies(6, 'nak');
    const err = await fx.expectError(m.position(), ['device']);
    expect(err.message).toMatch(/request CRC error.*gave up after 5 resends/);
    expect([...err.bytes]).toEqual([...frame(0x0101, [1], 0x15)]);
  });
});
