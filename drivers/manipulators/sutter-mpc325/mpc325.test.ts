import { describe, expect, it } from 'vitest';
import { createVirtualClock, type VirtualClock } from '../../../src/clock/index.ts';
import { createFixture } from '../../conformance/fixture.ts';
import type { ManipulatorLimits, Vec3 } from '../../types.ts';
import { createMpc325Emulator, type Mpc325Emulator, type Mpc325EmulatorOptions } from './emulator.ts';
import { openMpc325, openMpc325Controller, speedIndexFor } from './driver.ts';
import { BAUD, CR, ETX, SPEED_TABLE_UM_S, STATUS_FLAG_IGNORED, STATUS_FLAG_INTERRUPTED } from './protocol.ts';

/** The emulator on its own, bytes in and out with their clock times (no serial line). */
function raw(options: Partial<Mpc325EmulatorOptions> = {}) {
  const clock: VirtualClock = createVirtualClock();
  const dev: Mpc325Emulator = createMpc325Emulator({ clock, initial: [10_000, 10_000, 5_000], ...options });
  const out: { t: number; bytes: Buffer }[] = [];
  dev.connect({ clock, send: (bytes) => out.push({ t: clock.now(), bytes: Buffer.from(bytes) }) });
  const sent = (): Buffer => Buffer.concat(out.map((o) => o.bytes));
  return { clock, dev, out, sent, send: (bytes: number[] | Buffer) => dev.receive(Buffer.from(bytes)) };
}

const coords = (...usteps: number[]): number[] => {
  const b = Buffer.alloc(12);
  usteps.forEach((v, i) => b.writeInt32LE(v, 4 * i));
  return [...b];
};

/** A seeded xorshift PRNG (tests must be deterministic). */
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

describe('MPC-325 emulator: wire protocol', () => {
  it("answers 'C' with drive, x, y, z as int32 LE µsteps and CR, after its processing time", async () => {
    const { clock, out, sent, send } = raw({ processingMs: 2 });
    send([0x43]);
    await clock.runFor(1);
    expect(out).toHaveLength(0);
    await clock.runFor(5);
    const r = sent();
    expect(r).toHaveLength(14);
    expect(r[0]).toBe(1);
    expect([r.readInt32LE(1), r.readInt32LE(5), r.readInt32LE(9)]).toEqual([160_000, 160_000, 80_000]);
    expect(r[13]).toBe(CR);
  });

  it("'S' after the pause moves in a straight line at the table speed and answers CR only at the end", async () => {
    const { clock, dev, out, sent, send } = raw();
    const speedByte = SPEED_TABLE_UM_S.indexOf(100);
    send([0x53, speedByte]);
    await clock.runFor(31);
    const t0 = clock.now();
    send(coords(160_000 + 16_000, 160_000, 80_000)); // +1000 µm in x
    expect(dev.moves).toHaveLength(1);
    expect(dev.moves[0]).toMatchObject({ target: [11_000, 10_000, 5_000], speed: 100, unit: 1 });
    await clock.runFor(9_990);
    expect(out).toHaveLength(0);
    expect(dev.motion(1).moving).toBe(true);
    await clock.runFor(20);
    expect([...sent()]).toEqual([CR]);
    expect(out[0].t - t0).toBeCloseTo(10_000, 6);
    expect(dev.motion(1).positionAt(clock.now())).toEqual([11_000, 10_000, 5_000]);
  });

  it("loses coordinates that arrive within 30 ms of the 'S' speed byte, abandons the move and answers E T CR", async () => {
    const { clock, dev, out, sent, send } = raw();
    send([0x53, 4, ...coords(176_000, 160_000, 80_000)]);
    await clock.runFor(29);
    expect(out).toHaveLength(0);
    await clock.runFor(2);
    expect(sent().toString('latin1')).toBe('ET\r');
    expect(out[0].t).toBe(30);
    expect(dev.lostBytes).toBe(12);
    expect(dev.moves).toHaveLength(0);
    expect(dev.motion(1).moving).toBe(false);
    // The controller reads commands again afterwards.
    out.length = 0;
    send([0x43]);
    await clock.runFor(5);
    expect(sent()).toHaveLength(14);
  });

  it('reads the late part of an early coordinate block as commands (garbled, no move)', async () => {
    const { clock, dev, sent, send } = raw();
    const block = coords(176_000, 160_000, 80_000);
    send([0x53, 4, ...block.slice(0, 6)]);
    await clock.runFor(40);
    send(block.slice(6));
    await clock.runFor(10);
    expect(dev.lostBytes).toBe(6);
    expect(dev.moves).toHaveLength(0);
    const r = sent().toString('latin1');
    expect(r.startsWith('ET\r')).toBe(true);
    // The six late bytes (02 00 80 38 01 00) are not commands: one 'unknown command' each.
    expect(r.slice(3)).toBe('EU\r'.repeat(6));
  });

  it('ignores a move below 16 µsteps on every axis and never answers it', async () => {
    const { clock, dev, out, send } = raw();
    send([0x4d, ...coords(160_015, 159_990, 80_000)]);
    await clock.runFor(60_000);
    expect(out).toHaveLength(0);
    expect(dev.moves).toHaveLength(0);
    expect(dev.ignoredMoves).toHaveLength(1);
    expect(dev.motion(1).positionAt(clock.now())).toEqual([10_000, 10_000, 5_000]);
    send([0x55]);
    await clock.runFor(5);
    expect(out[0].bytes[3] & STATUS_FLAG_IGNORED).toBe(STATUS_FLAG_IGNORED);
    // 16 µsteps on one axis is enough.
    out.length = 0;
    send([0x4d, ...coords(160_016, 160_000, 80_000)]);
    await clock.runFor(100);
    expect(dev.moves).toHaveLength(1);
    expect([...out[0].bytes]).toEqual([CR]);
  });

  it('0x03 interrupts a move with a single CR; other bytes during a move are discarded', async () => {
    const { clock, dev, sent, send, out } = raw();
    send([0x53, SPEED_TABLE_UM_S.indexOf(100)]);
    await clock.runFor(31);
    send(coords(176_000, 160_000, 80_000));
    await clock.runFor(2_000);
    send([0x43, 0x4b]);
    await clock.runFor(100);
    expect(out).toHaveLength(0);
    expect(dev.discardedBytes).toBe(2);
    send([ETX]);
    await clock.runFor(20_000);
    expect([...sent()]).toEqual([CR]);
    expect(dev.stops).toBe(1);
    const here = dev.motion(1).positionAt(clock.now());
    expect(here[0]).toBeGreaterThan(10_190);
    expect(here[0]).toBeLessThan(10_220);
    send([0x55]);
    await clock.runFor(5);
    expect(out[1].bytes[3] & STATUS_FLAG_INTERRUPTED).toBe(STATUS_FLAG_INTERRUPTED);
  });

  it("'M' moves every axis at the fast speed (duration set by the longest axis)", async () => {
    const { clock, dev, out, send } = raw({ fastSpeed: 2_000 });
    send([0x4d, ...coords(160_000 + 32_000, 160_000 + 16_000, 80_000)]); // +2000 µm, +1000 µm
    await clock.runFor(999);
    expect(out).toHaveLength(0);
    await clock.runFor(2);
    expect(out).toHaveLength(1);
    expect(dev.motion(1).positionAt(clock.now())).toEqual([12_000, 11_000, 5_000]);
  });

  it("'I' selects a drive with its own stage; an absent drive gives E D CR and keeps the selection", async () => {
    const { clock, dev, out, sent, send } = raw({ drives: [1, 2] });
    send([0x49, 2]);
    await clock.runFor(5);
    expect([...sent()]).toEqual([CR]);
    expect(dev.selectedDrive).toBe(2);
    send([0x4d, ...coords(0, 16_000, 16_000)]);
    await clock.runFor(20_000);
    out.length = 0;
    send([0x43]);
    await clock.runFor(5);
    const r = sent();
    expect(r[0]).toBe(2);
    expect([r.readInt32LE(1), r.readInt32LE(5), r.readInt32LE(9)]).toEqual([0, 16_000, 16_000]);
    expect(dev.motion(1).positionAt(clock.now())).toEqual([10_000, 10_000, 5_000]);
    expect(dev.moves[0].unit).toBe(2);
    out.length = 0;
    send([0x49, 3]);
    await clock.runFor(5);
    expect(sent().toString('latin1')).toBe('ED\r');
    expect(dev.selectedDrive).toBe(2);
  });

  it("'U' and 'K' replies have the documented layouts", async () => {
    const { clock, out, send } = raw({ drives: [1, 3], firmware: [2, 5] });
    send([0x49, 3, 0x55, 0x4b]);
    await clock.runFor(5);
    expect([...out[1].bytes]).toEqual([3, 0b101, 0, 0, CR]);
    expect([...out[2].bytes]).toEqual([2, 5, CR]);
  });

  it('rejects out-of-travel targets (E R), bad speed bytes (E V) and unknown commands (E U); an idle 0x03 answers CR', async () => {
    const { clock, dev, sent, send } = raw();
    send([0x4d, ...coords(400_001, 0, 0)]);
    send([0x53, 16]);
    await clock.runFor(31);
    send(coords(100_000, 100_000, 100_000));
    send([0x5a, CR, 0x0a, ETX]);
    await clock.runFor(5);
    expect(sent().toString('latin1')).toBe('ER\rEV\rEU\r\r');
    expect(dev.moves).toHaveLength(0);
    expect(dev.stops).toBe(1);
  });

  it('never throws on garbage and answers normally once flushed', async () => {
    const { clock, dev, out, send } = raw();
    const rnd = prng(1234);
    for (let i = 0; i < 200; i++) {
      const chunk = Array.from({ length: 1 + Math.floor(rnd() * 20) }, () => Math.floor(rnd() * 256));
      expect(() => send(chunk)).not.toThrow();
      await clock.runFor(rnd() * 50);
    }
    // Complete whatever command is half-read, then interrupt whatever moves.
    send(Array(14).fill(CR));
    await clock.runFor(100);
    send([ETX]);
    await clock.runFor(100);
    expect(dev.motion(1).moving).toBe(false);
    out.length = 0;
    send([0x43]);
    await clock.runFor(5);
    expect(Buffer.concat(out.map((o) => o.bytes))).toHaveLength(14);
  });
});

const LIMITS: ManipulatorLimits = { min: [0, 0, 0], max: [25_000, 25_000, 25_000], maxSpeed: 1_300 };
const START: Vec3 = [10_000, 10_000, 5_000];

function fixture(options: Partial<Mpc325EmulatorOptions> = {}) {
  return createFixture('sim:mpc', (clock) => createMpc325Emulator({ clock, initial: START, ...options }), BAUD);
}

describe('MPC-325 driver', () => {
  it('maps speeds to the fastest table entry not above them', () => {
    for (const s of [20, 100, 200, 300, 500, 1000]) expect(SPEED_TABLE_UM_S[speedIndexFor(s)]).toBe(s);
    expect(SPEED_TABLE_UM_S[speedIndexFor(250)]).toBe(200);
    expect(SPEED_TABLE_UM_S[speedIndexFor(99.9)]).toBe(50);
    expect(speedIndexFor(1e6)).toBe(15);
    expect(SPEED_TABLE_UM_S[speedIndexFor(2)]).toBe(2);
    expect(SPEED_TABLE_UM_S[speedIndexFor(4)]).toBe(2);
    expect(speedIndexFor(0.5)).toBe(-1);
    for (let i = 1; i < SPEED_TABLE_UM_S.length; i++) expect(SPEED_TABLE_UM_S[i]).toBeGreaterThan(SPEED_TABLE_UM_S[i - 1]);
  });

  it('moves at the table speed below the one requested, and refuses speeds below the table', async () => {
    const fx = fixture();
    const m = await fx.run(openMpc325({ path: fx.path, binding: fx.binding, clock: fx.clock, limits: LIMITS }));
    const t0 = fx.clock.now();
    await fx.run(m.moveTo([START[0] + 400, START[1], START[2]], { speed: 250 }));
    expect(fx.device.moves[0].speed).toBe(200);
    expect(fx.clock.now() - t0).toBeGreaterThanOrEqual(2_000);
    const before = fx.bytesIn();
    await fx.expectError(m.moveTo(START, { speed: 0.5 }), ['invalid']);
    expect(fx.bytesIn()).toBe(before);
  });

  it("pauses at least 30 ms between the 'S' speed byte and the coordinates", async () => {
    const fx = fixture();
    const m = await fx.run(openMpc325({ path: fx.path, binding: fx.binding, clock: fx.clock, limits: LIMITS }));
    await fx.run(m.moveTo([START[0] + 100, START[1], START[2]], { speed: 500 }));
    const ins = fx.binding.byteLog(fx.path).entries.filter((e) => e.dir === 'in');
    const sAt = ins.findIndex((e) => e.bytes[0] === 0x53 && e.bytes.length === 2);
    expect(sAt).toBeGreaterThanOrEqual(0);
    expect(ins[sAt + 1].bytes).toHaveLength(12);
    expect(ins[sAt + 1].t - ins[sAt].t).toBeGreaterThanOrEqual(30);
    expect(fx.device.lostBytes).toBe(0);
  });

  it('without the pause the controller rejects the move and the driver reports the device error', async () => {
    const fx = fixture();
    const m = await fx.run(openMpc325({ path: fx.path, binding: fx.binding, clock: fx.clock, limits: LIMITS, speedPauseMs: 0 }));
    const err = await fx.expectError(m.moveTo([START[0] + 100, START[1], START[2]], { speed: 500 }), ['device']);
    expect(err.message).toMatch(/30 ms/);
    expect(fx.device.moves).toHaveLength(0);
    expect(fx.device.lostBytes).toBe(12);
  });

  it('a stop during the speed pause waits until the command is whole, then interrupts it', async () => {
    const fx = fixture();
    const m = await fx.run(openMpc325({ path: fx.path, binding: fx.binding, clock: fx.clock, limits: LIMITS }));
    const move = m.moveTo([START[0] + 2_000, START[1], START[2]], { speed: 100 });
    move.catch(() => {});
    // Let the position read go out and the speed byte be written, then stop inside the pause.
    for (let i = 0; i < 100 && !fx.binding.byteLog(fx.path).entries.some((e) => e.dir === 'in' && e.bytes[0] === 0x53); i++) await fx.clock.runFor(1);
    await fx.clock.runFor(5);
    await fx.run(m.stop());
    await fx.expectError(move, ['interrupted']);
    expect(fx.device.lostBytes).toBe(0);
    expect(fx.device.stops).toBe(1);
    expect(fx.device.motion(1).moving).toBe(false);
    expect(fx.binding.byteLog(fx.path).concat('out').includes('E')).toBe(false);
    const p = await fx.run(m.position());
    expect(p[0] - START[0]).toBeLessThan(10);
  });

  it('a stop during the pre-move position read cancels the move before anything moves', async () => {
    const fx = fixture();
    const m = await fx.run(openMpc325({ path: fx.path, binding: fx.binding, clock: fx.clock, limits: LIMITS }));
    const move = m.moveTo([START[0] + 2_000, START[1], START[2]], { speed: 100 });
    move.catch(() => {});
    await fx.clock.runFor(0.5); // the 'C' is out, its reply is not back
    await fx.run(m.stop());
    await fx.expectError(move, ['interrupted']);
    expect(fx.binding.byteLog(fx.path).concat('in').includes(0x53)).toBe(false);
    expect(fx.device.moves).toHaveLength(0);
  });

  it('a stop with nothing moving sends an interrupt the controller acknowledges, and the link stays in step', async () => {
    const fx = fixture();
    const m = await fx.run(openMpc325({ path: fx.path, binding: fx.binding, clock: fx.clock, limits: LIMITS }));
    await fx.run(m.stop());
    expect(fx.device.stops).toBe(1);
    expect(await fx.run(m.position())).toEqual(START);
  });

  it('does not send a move below the 1 µm minimum (the controller would never answer it)', async () => {
    const fx = fixture();
    const m = await fx.run(openMpc325({ path: fx.path, binding: fx.binding, clock: fx.clock, limits: LIMITS }));
    const t0 = fx.clock.now();
    const p = await fx.run(m.moveBy([0.5, -0.5, 0.9], { speed: 100 }));
    expect(fx.clock.now() - t0).toBeLessThan(50);
    expect(p).toEqual(START);
    expect(fx.binding.byteLog(fx.path).concat('in').includes(0x53)).toBe(false);
    expect(fx.device.ignoredMoves).toHaveLength(0);
  });

  it('two drives on one port: commands are serialised, each drive selected before use', async () => {
    const fx = fixture({ drives: [1, 2] });
    const mpc = await fx.run(openMpc325Controller({ path: fx.path, binding: fx.binding, clock: fx.clock }));
    expect(mpc.firmware).toBe('1.20');
    const a = mpc.drive(1, LIMITS);
    const b = mpc.drive(2, LIMITS);
    const ta: Vec3 = [START[0] + 500, START[1], START[2]];
    const tb: Vec3 = [START[0], START[1] - 300, START[2] + 100];
    const [pa, pb] = await fx.run(Promise.all([a.moveTo(ta, { speed: 500 }), b.moveTo(tb, { speed: 500 })]));
    expect(pa).toEqual(ta);
    expect(pb).toEqual(tb);
    expect(fx.device.motion(1).positionAt(fx.clock.now())).toEqual(ta);
    expect(fx.device.motion(2).positionAt(fx.clock.now())).toEqual(tb);
    const [m1, m2] = fx.device.moves;
    expect(m1.unit).toBe(1);
    expect(m2.unit).toBe(2);
    // Drive 2's move started only after drive 1's had ended (1 s at 500 µm/s).
    expect(m2.t - m1.t).toBeGreaterThanOrEqual(1_000);
    const sent = fx.binding.byteLog(fx.path).concat('in');
    expect(sent.indexOf(Buffer.of(0x49, 2))).toBeGreaterThan(sent.indexOf(Buffer.of(0x49, 1)));
    // Positions come from the right drive whatever was selected last.
    expect(await fx.run(a.position())).toEqual(ta);
    expect(await fx.run(b.position())).toEqual(tb);
  });

  it("stopping an idle drive does not interrupt another drive's move", async () => {
    const fx = fixture({ drives: [1, 2] });
    const mpc = await fx.run(openMpc325Controller({ path: fx.path, binding: fx.binding, clock: fx.clock }));
    const a = mpc.drive(1, LIMITS);
    const b = mpc.drive(2, LIMITS);
    const target: Vec3 = [START[0] + 1_000, START[1], START[2]];
    const move = a.moveTo(target, { speed: 500 });
    await fx.clock.runFor(500);
    await fx.run(b.stop());
    expect(await fx.run(move)).toEqual(target);
    expect(fx.device.stops).toBe(0);
  });

  it('a drive the controller does not have is reported when opened', async () => {
    const fx = fixture({ drives: [1, 2] });
    const err = await fx.expectError(openMpc325({ path: fx.path, binding: fx.binding, clock: fx.clock, limits: LIMITS, drive: 3 }), ['device']);
    expect(err.message).toMatch(/no such drive/);
  });
});
