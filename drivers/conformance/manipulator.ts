/**
 * Manipulator conformance kit. A driver passes when, against its emulator and
 * through the real SerialPortStream:
 *   moves land within the device's resolution, limits are refused before any
 *   byte is sent, stop works mid-move, long slow moves do not time out,
 *   silence and garbage give typed errors (and the driver recovers), and an
 *   unplugged port is reported and can be reconnected.
 *
 * Use from a `*.test.ts` next to the driver:
 *   manipulatorConformance({ name: 'Sutter MP-285', baudRate: 9600, makeEmulator, open });
 */
import { describe, expect, it } from 'vitest';
import type { VirtualClock } from '../../src/clock/index.ts';
import type { EmulatorBinding } from '../core/emulator-binding.ts';
import type { Manipulator, ManipulatorLimits, Vec3 } from '../types.ts';
import type { ManipulatorEmulator } from '../manipulators/emulator-common.ts';
import { createFixture, type EmulatedFixture } from './fixture.ts';

export interface ManipulatorHarness {
  name: string;
  /** the device's line rate (the driver must open at it) */
  baudRate: number;
  /** the emulator starts at `start` (µm, device axes) */
  makeEmulator(clock: VirtualClock, start: Vec3): ManipulatorEmulator;
  open(args: { path: string; binding: EmulatorBinding; clock: VirtualClock; limits: ManipulatorLimits }): Promise<Manipulator>;
  /** drive/axis group the driver controls on a multi-drive emulator */
  unit?: number;
  /** smallest move the device executes, µm (MPC-325 ignores < 1 µm) */
  minimumMove?: number;
}

const START: Vec3 = [10_000, 10_000, 5_000];
const LIMITS: ManipulatorLimits = { min: [2_000, 2_000, 1_000], max: [20_000, 20_000, 15_000], maxSpeed: 1_000 };

async function setup(h: ManipulatorHarness) {
  const fx: EmulatedFixture<ManipulatorEmulator> = createFixture('sim:conformance', (clock) => h.makeEmulator(clock, START), h.baudRate);
  const m = await fx.run(h.open({ path: fx.path, binding: fx.binding, clock: fx.clock, limits: LIMITS }));
  return { fx, m };
}

/** Advance virtual time until the device has received a new command (the link may first resync). */
async function untilWritten(fx: EmulatedFixture<ManipulatorEmulator>): Promise<void> {
  const before = fx.bytesIn();
  for (let i = 0; i < 1_000 && fx.bytesIn() === before; i++) await fx.clock.runFor(1);
  if (fx.bytesIn() === before) throw new Error('the driver never sent the command');
}

const dist = (a: Vec3, b: Vec3): number => Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]);

export function manipulatorConformance(h: ManipulatorHarness): void {
  describe(`${h.name}: manipulator conformance`, () => {
    it('reports the stage position within its resolution', async () => {
      const { fx, m } = await setup(h);
      const p = await fx.run(m.position());
      expect(dist(p, START)).toBeLessThanOrEqual(m.resolution * Math.sqrt(3) + 1e-9);
    });

    it('absolute and relative moves land on target within resolution', async () => {
      const { fx, m } = await setup(h);
      const target: Vec3 = [10_250.5, 9_870.25, 5_432.1];
      const landed = await fx.run(m.moveTo(target, { speed: 500 }));
      expect(dist(landed, target)).toBeLessThanOrEqual(m.resolution * Math.sqrt(3) + 1e-9);
      const stage = fx.device.motion(h.unit).positionAt(fx.clock.now());
      expect(dist(stage, target)).toBeLessThanOrEqual(m.resolution * Math.sqrt(3) + 1e-9);
      const after = await fx.run(m.moveBy([-100, 50, 20], { speed: 200 }));
      expect(dist(after, [target[0] - 100, target[1] + 50, target[2] + 20])).toBeLessThanOrEqual(2 * m.resolution * Math.sqrt(3) + 1e-9);
      expect(m.busy).toBe(false);
    });

    it('a move takes the time its distance and speed imply', async () => {
      const { fx, m } = await setup(h);
      const t0 = fx.clock.now();
      await fx.run(m.moveTo([START[0] + 1_000, START[1], START[2]], { speed: 100 }));
      const took = fx.clock.now() - t0;
      expect(took).toBeGreaterThanOrEqual(10_000);
      expect(took).toBeLessThan(11_500);
    });

    it('refuses targets and speeds outside the limits before sending a byte', async () => {
      const { fx, m } = await setup(h);
      const before = fx.bytesIn();
      const movesBefore = fx.device.moves.length;
      await fx.expectError(m.moveTo([LIMITS.max[0] + 1, START[1], START[2]], { speed: 100 }), ['limit']);
      await fx.expectError(m.moveTo([START[0], LIMITS.min[1] - 0.5, START[2]], { speed: 100 }), ['limit']);
      await fx.expectError(m.moveTo([START[0], START[1], START[2] + 10], { speed: LIMITS.maxSpeed * 1.01 }), ['limit']);
      await fx.expectError(m.moveBy([0, 0, LIMITS.max[2]], { speed: 100 }), ['limit']);
      await fx.expectError(m.moveTo([Number.NaN, START[1], START[2]], { speed: 100 }), ['invalid']);
      await fx.expectError(m.moveTo(START, { speed: 0 }), ['invalid']);
      // moveBy may read the position first; it must not send any move.
      expect(fx.device.moves.length).toBe(movesBefore);
      const sentOnlyReads = fx.bytesIn() - before;
      const readCost = await (async () => {
        const b = fx.bytesIn();
        await fx.run(m.position());
        return fx.bytesIn() - b;
      })();
      expect(sentOnlyReads).toBeLessThanOrEqual(readCost);
    });

    it('stop interrupts a move in progress and leaves the stage still', async () => {
      const { fx, m } = await setup(h);
      const target: Vec3 = [START[0] + 5_000, START[1], START[2]];
      const move = m.moveTo(target, { speed: 100 });
      move.catch(() => {});
      await fx.clock.runFor(3_000);
      expect(m.busy).toBe(true);
      await fx.run(m.stop());
      await fx.expectError(move, ['interrupted']);
      const stage = fx.device.motion(h.unit);
      expect(stage.moving).toBe(false);
      const here = stage.positionAt(fx.clock.now());
      expect(here[0]).toBeGreaterThan(START[0] + 200);
      expect(here[0]).toBeLessThan(target[0] - 1_000);
      await fx.clock.runFor(5_000);
      expect(dist(stage.positionAt(fx.clock.now()), here)).toBe(0);
      const p = await fx.run(m.position());
      expect(dist(p, here)).toBeLessThanOrEqual(m.resolution * Math.sqrt(3) + 1e-9);
    });

    it('a long slow move does not time out (deadline scales with distance)', async () => {
      const { fx, m } = await setup(h);
      const target: Vec3 = [START[0] + 8_000, START[1], START[2]];
      const landed = await fx.run(m.moveTo(target, { speed: 20 }));
      expect(dist(landed, target)).toBeLessThanOrEqual(m.resolution * Math.sqrt(3) + 1e-9);
    });

    it('serialises concurrent commands on one port', async () => {
      const { fx, m } = await setup(h);
      const results = await fx.run(Promise.all([m.position(), m.position(), m.position()]));
      for (const p of results) expect(dist(p, START)).toBeLessThanOrEqual(m.resolution * Math.sqrt(3) + 1e-9);
    });

    it('a silent device gives a timeout, not a hang, and the driver recovers', async () => {
      const { fx, m } = await setup(h);
      fx.binding.setMuted(fx.path, true);
      const err = await fx.expectError(m.position(), ['timeout'], 60_000);
      expect(err.message).toMatch(/no reply|incomplete/);
      fx.binding.setMuted(fx.path, false);
      const p = await fx.run(m.position());
      expect(dist(p, START)).toBeLessThanOrEqual(m.resolution * Math.sqrt(3) + 1e-9);
    });

    it('garbage and truncated replies give typed errors and the next command works', async () => {
      const { fx, m } = await setup(h);
      fx.binding.setMuted(fx.path, true);
      const garbage = m.position();
      garbage.catch(() => {});
      await untilWritten(fx);
      fx.binding.injectToHost(fx.path, Buffer.alloc(64, 0xff));
      const e1 = await fx.expectError(garbage, ['malformed', 'timeout', 'device'], 60_000);
      expect(e1.bytes.length).toBeGreaterThan(0);
      const truncated = m.position();
      truncated.catch(() => {});
      await untilWritten(fx);
      fx.binding.injectToHost(fx.path, Buffer.from([0x01, 0x02]));
      const e2 = await fx.expectError(truncated, ['malformed', 'timeout'], 60_000);
      expect(e2.bytes.length).toBeGreaterThan(0);
      fx.binding.setMuted(fx.path, false);
      const p = await fx.run(m.position());
      expect(dist(p, START)).toBeLessThanOrEqual(m.resolution * Math.sqrt(3) + 1e-9);
    });

    it('reports an unplug, refuses commands meanwhile, and reconnects after replug', async () => {
      const { fx, m } = await setup(h);
      const states: string[] = [];
      m.connection.onStateChange((s) => states.push(s));
      const move = m.moveTo([START[0] + 2_000, START[1], START[2]], { speed: 100 });
      move.catch(() => {});
      await fx.clock.runFor(1_000);
      fx.binding.unplug(fx.path);
      await fx.expectError(move, ['disconnected']);
      expect(m.connection.state).toBe('disconnected');
      await fx.expectError(m.position(), ['disconnected']);
      await fx.expectError(m.connection.reconnect(), ['disconnected']);
      fx.binding.replug(fx.path);
      await fx.run(m.connection.reconnect());
      expect(m.connection.state).toBe('open');
      // The controller lost track of the stage while unplugged: reconnect leaves it still.
      await fx.clock.runFor(100);
      expect(fx.device.motion(h.unit).moving).toBe(false);
      const p = await fx.run(m.position());
      expect(dist(p, fx.device.motion(h.unit).positionAt(fx.clock.now()))).toBeLessThanOrEqual(m.resolution * Math.sqrt(3) + 1e-9);
      expect(states).toContain('disconnected');
      expect(states[states.length - 1]).toBe('open');
    });

    it('a host at the wrong baud rate gets a typed error, not a hang', async () => {
      const fx = createFixture('sim:conformance', (clock) => h.makeEmulator(clock, START), h.baudRate === 9600 ? 19200 : 9600);
      let caught: unknown;
      try {
        const m = await fx.run(h.open({ path: fx.path, binding: fx.binding, clock: fx.clock, limits: LIMITS }), 60_000);
        await fx.run(m.position(), 60_000);
      } catch (e) {
        caught = e;
      }
      expect(caught).toBeInstanceOf(Error);
      expect((caught as { kind?: string }).kind).toMatch(/^(timeout|malformed|device)$/);
    });

    it('same commands give byte-identical traffic (deterministic in virtual time)', async () => {
      const digests: string[] = [];
      for (let i = 0; i < 2; i++) {
        const { fx, m } = await setup(h);
        await fx.run(m.moveTo([START[0] + 123.4, START[1] - 55, START[2] + 7], { speed: 300 }));
        await fx.run(m.position());
        digests.push(fx.binding.byteLog(fx.path).digest());
      }
      expect(digests[0]).toBe(digests[1]);
    });

    if (h.minimumMove) {
      const minimum = h.minimumMove;
      it(`a move below the device's ${minimum} µm minimum does not wait forever`, async () => {
        const { fx, m } = await setup(h);
        const p = await fx.run(m.moveBy([minimum / 4, 0, 0], { speed: 100 }), 10_000);
        expect(dist(p, START)).toBeLessThanOrEqual(minimum);
      });
    }
  });
}
