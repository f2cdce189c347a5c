/**
 * Manipulator conformance kit. A driver passes when, against its emulator and
 * through the real SerialPortStream:
 *   moves land within the device's resolution, limits are refused before any
 *   byte is sent (a relative move may read the position first, nothing more),
 *   stop works mid-move and also before the move has been written, overlapping
 *   relative moves compose and never leave the limits, long slow moves do not
 *   time out yet a device gone silent mid-move times out between distance/speed
 *   and ~1 s + 1.5 × distance/speed and is told to stop, silence and garbage
 *   give typed errors naming device, command and bytes (and the driver
 *   recovers), and an unplugged port is reported and can be reconnected.
 *
 * Use from a `*.test.ts` next to the driver:
 *   manipulatorConformance({ name: 'Sutter MP-285', baudRate: 9600, makeEmulator, open });
 */
import { describe, expect, it } from 'vitest';
import type { VirtualClock } from '../../src/clock/index.ts';
import type { EmulatorBinding } from '../core/emulator-binding.ts';
import { DeviceError } from '../errors.ts';
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

/** see the silent-device case: pre-move exchanges + one poll deadline + one stop deadline, with room */
const SILENT_MOVE_MARGIN_MS = 1_500;

const dist = (a: Vec3, b: Vec3): number => Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]);

/** A failed position read names the device (its connection label) and the command. */
function expectNamed(err: DeviceError, m: Manipulator): void {
  expect(err.device).toBe(m.connection.label);
  expect(err.command).toMatch(/pos/i);
}

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
      const movesBefore = fx.device.moves.length;
      const refusedWithoutBytes = async (work: () => Promise<unknown>, kinds: ('limit' | 'invalid')[]): Promise<void> => {
        const before = fx.bytesIn();
        await fx.expectError(work(), kinds);
        expect(fx.bytesIn() - before).toBe(0);
      };
      await refusedWithoutBytes(() => m.moveTo([LIMITS.max[0] + 1, START[1], START[2]], { speed: 100 }), ['limit']);
      await refusedWithoutBytes(() => m.moveTo([START[0], LIMITS.min[1] - 0.5, START[2]], { speed: 100 }), ['limit']);
      await refusedWithoutBytes(() => m.moveTo([START[0], START[1], START[2] + 10], { speed: LIMITS.maxSpeed * 1.01 }), ['limit']);
      await refusedWithoutBytes(() => m.moveTo([Number.NaN, START[1], START[2]], { speed: 100 }), ['invalid']);
      await refusedWithoutBytes(() => m.moveTo(START, { speed: 0 }), ['invalid']);
      // A relative move may read the position first (exactly one read), and sends no move.
      const before = fx.bytesIn();
      await fx.expectError(m.moveBy([0, 0, LIMITS.max[2]], { speed: 100 }), ['limit']);
      const sentForMoveBy = fx.bytesIn() - before;
      const b = fx.bytesIn();
      await fx.run(m.position());
      const readCost = fx.bytesIn() - b;
      expect([0, readCost]).toContain(sentForMoveBy);
      expect(fx.device.moves.length).toBe(movesBefore);
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

    for (const when of ['at once', 'during the first exchange', 'while queued behind a read'] as const) {
      it(`a stop issued right after moveTo (${when}, before the move is written) cancels it`, async () => {
        const { fx, m } = await setup(h);
        const target: Vec3 = [START[0] + 3_000, START[1], START[2]];
        const read = when === 'while queued behind a read' ? m.position() : undefined;
        const move = m.moveTo(target, { speed: 500 });
        move.catch(() => {});
        if (when === 'during the first exchange') await untilWritten(fx);
        const stopped = m.stop();
        stopped.catch(() => {});
        const err = await fx.expectError(move, ['interrupted']);
        expect(err).toBeInstanceOf(DeviceError);
        expect(err.device).toBe(m.connection.label);
        await fx.run(Promise.allSettled([stopped, read]));
        // Long enough for the move to have finished had it run.
        await fx.clock.runFor(10_000);
        const stage = fx.device.motion(h.unit);
        expect(stage.moving).toBe(false);
        expect(dist(stage.positionAt(fx.clock.now()), target)).toBeGreaterThan(2_900);
        expect(m.busy).toBe(false);
        // and the driver is still usable
        const p = await fx.run(m.position());
        expect(dist(p, stage.positionAt(fx.clock.now()))).toBeLessThanOrEqual(m.resolution * Math.sqrt(3) + 1e-9);
      });
    }

    it('overlapping moveBy calls never end outside the soft limits: the later one is refused before any move bytes', async () => {
      const { fx, m } = await setup(h);
      const movesBefore = fx.device.moves.length;
      // z 5 000 → 11 000 → 17 000 µm, against a 15 000 µm limit.
      const step: Vec3 = [0, 0, 6_000];
      const first = m.moveBy(step, { speed: LIMITS.maxSpeed });
      const second = m.moveBy(step, { speed: LIMITS.maxSpeed });
      first.catch(() => {});
      second.catch(() => {});
      const landed = await fx.run(first);
      expect(Math.abs(landed[2] - (START[2] + step[2]))).toBeLessThanOrEqual(2 * m.resolution + 1e-9);
      const movesAfterFirst = fx.device.moves.length;
      await fx.expectError(second, ['limit']);
      expect(fx.device.moves.length).toBe(movesAfterFirst);
      await fx.clock.runFor(10_000);
      for (const mv of fx.device.moves.slice(movesBefore)) {
        if (h.unit !== undefined && mv.unit !== undefined && mv.unit !== h.unit) continue;
        for (let k = 0; k < 3; k++) {
          expect(mv.target[k]).toBeGreaterThanOrEqual(LIMITS.min[k] - m.resolution);
          expect(mv.target[k]).toBeLessThanOrEqual(LIMITS.max[k] + m.resolution);
        }
      }
      const stage = fx.device.motion(h.unit).positionAt(fx.clock.now());
      expect(stage[2]).toBeLessThanOrEqual(LIMITS.max[2]);
      expect(m.busy).toBe(false);
    });

    it('a device gone silent mid-move times out after the move should have ended, not before nor long after, and the stage is told to stop', async () => {
      const { fx, m } = await setup(h);
      const distanceUm = 2_000;
      const speed = 100;
      const nominalMs = (distanceUm / speed) * 1000;
      const t0 = fx.clock.now();
      const move = m.moveTo([START[0] + distanceUm, START[1], START[2]], { speed });
      move.catch(() => {});
      await fx.clock.runFor(2_000);
      expect(fx.device.motion(h.unit).moving).toBe(true);
      const stopsBefore = fx.device.stops;
      fx.binding.setMuted(fx.path, true);
      const err = await fx.expectError(move, ['timeout'], 120_000);
      const took = fx.clock.now() - t0;
      expect(err.device).toBe(m.connection.label);
      expect(took).toBeGreaterThanOrEqual(nominalMs);
      // The deadline is ~1 s + 1.5 × distance/speed from the move command. Allowed on top: the
      // exchanges before the move (position read, speed), one reply deadline of a status poll in
      // flight when the deadline passes, and one for the stop sent afterwards (≤ 500 ms each here).
      expect(took).toBeLessThanOrEqual(1_000 + 1.5 * nominalMs + SILENT_MOVE_MARGIN_MS);
      await fx.clock.runFor(100); // the stop's line time
      expect(fx.device.stops).toBeGreaterThan(stopsBefore);
      fx.binding.setMuted(fx.path, false);
      const p = await fx.run(m.position());
      expect(dist(p, fx.device.motion(h.unit).positionAt(fx.clock.now()))).toBeLessThanOrEqual(m.resolution * Math.sqrt(3) + 1e-9);
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
      expectNamed(err, m);
      expect(err.bytes.length).toBe(0);
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
      const junk = Buffer.alloc(64, 0xff);
      fx.binding.injectToHost(fx.path, junk);
      const e1 = await fx.expectError(garbage, ['malformed', 'timeout', 'device'], 60_000);
      expectNamed(e1, m);
      expect(e1.bytes.length).toBeGreaterThan(0);
      expect(e1.bytes.every((b) => b === 0xff)).toBe(true);
      const truncated = m.position();
      truncated.catch(() => {});
      await untilWritten(fx);
      const partial = Buffer.from([0x01, 0x02]);
      fx.binding.injectToHost(fx.path, partial);
      const e2 = await fx.expectError(truncated, ['malformed', 'timeout'], 60_000);
      expectNamed(e2, m);
      expect(e2.bytes.length).toBeGreaterThan(0);
      expect(e2.bytes.equals(partial.subarray(0, e2.bytes.length)), e2.message).toBe(true);
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
