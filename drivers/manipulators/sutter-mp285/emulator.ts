/**
 * Sutter MP-285 emulator: the controller box as seen from its RS-232 port.
 * Timing quirk kept: a move is answered only when it has finished. Commands
 * that arrive during a move wait in the box's input buffer, except Ctrl-C.
 * With `lineEnding: 'crlf'` every reply ends CR LF (the stray LF the driver
 * must tolerate).
 */
import type { DeviceIO } from '../../core/emulator-binding.ts';
import { createMotionModel, type MotionModel } from '../../core/motion-model.ts';
import type { Clock } from '../../../src/clock/clock.ts';
import type { Vec3 } from '../../types.ts';
import type { DecodedMove, ManipulatorEmulator } from '../emulator-common.ts';
import { CR, ETX, FINE_BIT, LF, STATUS_USTEPS_OFFSET } from './protocol.ts';

export interface Mp285EmulatorOptions {
  clock: Clock;
  /** power-up position, µm */
  initial?: Vec3;
  ustepsPerUm?: number;
  /** stage travel, µm (25 mm per axis) */
  travel?: Vec3;
  /** fastest the stage moves whatever it is told, µm/s */
  maxSpeed?: number;
  /** command processing time, ms */
  processingMs?: number;
  /** 'crlf': every reply's closing CR is followed by an LF, as some units and USB adapters send (default 'cr') */
  lineEnding?: 'cr' | 'crlf';
}

/** Payload bytes after the command byte, including the closing CR. */
const PAYLOAD: Record<string, number> = { c: 1, m: 13, V: 3, s: 1, a: 1, b: 1, o: 1, n: 1, r: 1 };

export function createMp285Emulator(options: Mp285EmulatorOptions): ManipulatorEmulator {
  const { clock } = options;
  const ustepsPerUm = options.ustepsPerUm ?? 25;
  const travel = options.travel ?? [25_000, 25_000, 25_000];
  const maxSpeed = options.maxSpeed ?? 2900;
  const processingMs = options.processingMs ?? 1;
  const motion: MotionModel = createMotionModel({
    clock,
    initial: options.initial ?? [12_500, 12_500, 5_000],
    travelMin: [0, 0, 0],
    travelMax: travel,
  });
  const moves: DecodedMove[] = [];
  let stops = 0;
  let io: DeviceIO | undefined;
  let input: Buffer = Buffer.alloc(0);
  let relative = false;
  let speedWord = 1000;
  let origin: Vec3 = [0, 0, 0];
  let moving = false;
  let busyUntilProcessed = false;

  const crlf = options.lineEnding === 'crlf';
  const send = (bytes: Buffer | number[]): void => io?.send(crlf ? Buffer.from([...bytes, LF]) : Buffer.from(bytes));
  const reply = (bytes: Buffer | number[]): void => {
    clock.setTimeout(() => send(bytes), processingMs);
  };
  const error = (code: string): void => reply([code.charCodeAt(0), CR]);
  const speed = (): number => Math.min(maxSpeed, Math.max(1, speedWord & ~FINE_BIT));
  /** µsteps relative to the origin, as the device reports them */
  const ustepsNow = (): [number, number, number] => {
    const p = motion.positionAt(clock.now());
    return [0, 1, 2].map((i) => Math.round((p[i] - origin[i]) * ustepsPerUm)) as [number, number, number];
  };

  const execute = (cmd: string, payload: Buffer): void => {
    switch (cmd) {
      case 'c': {
        const out = Buffer.alloc(13);
        const [x, y, z] = ustepsNow();
        out.writeInt32LE(x, 0);
        out.writeInt32LE(y, 4);
        out.writeInt32LE(z, 8);
        out[12] = CR;
        reply(out);
        return;
      }
      case 'm': {
        const raw = [payload.readInt32LE(0), payload.readInt32LE(4), payload.readInt32LE(8)];
        const here = ustepsNow();
        const target = raw.map((v, i) => (relative ? here[i] + v : v) / ustepsPerUm + origin[i]) as unknown as Vec3;
        moves.push({ t: clock.now(), target, speed: speed() });
        moving = true;
        motion.moveTo(target, speed(), () => {
          moving = false;
          send([CR]);
          drain();
        });
        return;
      }
      case 'V':
        speedWord = payload.readUInt16LE(0);
        reply([CR]);
        return;
      case 's': {
        const out = Buffer.alloc(33);
        out[0] = relative ? 0x01 : 0x00;
        out.writeUInt16LE(speedWord, 4);
        out.writeUInt16LE(ustepsPerUm, STATUS_USTEPS_OFFSET);
        out[32] = CR;
        reply(out);
        return;
      }
      case 'a':
        relative = false;
        reply([CR]);
        return;
      case 'b':
        relative = true;
        reply([CR]);
        return;
      case 'o':
        origin = motion.positionAt(clock.now());
        reply([CR]);
        return;
      case 'n':
        reply([CR]);
        return;
      case 'r':
        // Reset: the box reboots silently; coordinates and settings return to power-up values.
        relative = false;
        speedWord = 1000;
        origin = [0, 0, 0];
        return;
    }
  };

  /** Parse whatever complete commands the input buffer holds; a move blocks the rest. */
  const drain = (): void => {
    while (input.length > 0 && !moving) {
      const first = input[0];
      if (first === LF || first === CR) {
        input = input.subarray(1);
        continue;
      }
      const cmd = String.fromCharCode(first);
      const need = PAYLOAD[cmd];
      if (need === undefined) {
        // Unknown command: skip to the end of its line, then complain.
        const end = input.indexOf(CR);
        if (end < 0) return;
        input = input.subarray(end + 1);
        error('4');
        continue;
      }
      if (input.length < 1 + need) return;
      const payload = input.subarray(1, 1 + need);
      input = input.subarray(1 + need);
      if (payload[need - 1] !== CR) {
        // Wrong length for this command: resynchronise on the next CR.
        const end = input.indexOf(CR);
        input = end < 0 ? Buffer.alloc(0) : input.subarray(end + 1);
        error('4');
        continue;
      }
      execute(cmd, payload);
    }
  };

  return {
    model: 'Sutter MP-285 (emulated)',
    moves,
    get stops() {
      return stops;
    },
    motion: () => motion,
    connect(next) {
      io = next;
      input = Buffer.alloc(0);
    },
    disconnect() {
      io = undefined;
      // The box keeps running; a move in progress completes mechanically.
    },
    receive(bytes) {
      for (const b of bytes) {
        // ^C interrupts only while the stage moves (it is polled during motion); an idle
        // box reads 0x03 inside a command's binary payload as data, and ignores it at a
        // command boundary.
        if (b === ETX && (moving || input.length === 0)) {
          stops++;
          if (moving) {
            motion.stop();
            moving = false;
            error('8');
            clock.setTimeout(drain, processingMs);
          }
          continue;
        }
        input = Buffer.concat([input, Buffer.of(b)]);
      }
      if (!busyUntilProcessed) {
        busyUntilProcessed = true;
        clock.setTimeout(() => {
          busyUntilProcessed = false;
          drain();
        }, 0);
      }
    },
  };
}
