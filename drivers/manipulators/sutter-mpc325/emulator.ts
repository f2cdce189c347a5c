/**
 * Sutter MPC-325 emulator: the controller as seen from its USB serial port,
 * with one stage (MotionModel) per connected drive.
 *
 * Timing quirks kept (see protocol.ts): a move is answered only when it has
 * finished; a move below 16 µsteps on every axis is ignored without a reply;
 * bytes arriving within 30 ms of the 'S' speed byte are lost and abandon the
 * command; during a move only 0x03 is read.
 */
import type { DeviceIO } from '../../core/emulator-binding.ts';
import { createMotionModel, type MotionModel } from '../../core/motion-model.ts';
import type { Clock, TimerHandle } from '../../../src/clock/clock.ts';
import type { Vec3 } from '../../types.ts';
import type { DecodedMove, ManipulatorEmulator } from '../emulator-common.ts';
import {
  CMD,
  CR,
  ERR,
  ETX,
  LF,
  MAX_DRIVES,
  MINIMUM_MOVE_USTEPS,
  SPEED_SETTLE_MS,
  SPEED_TABLE_UM_S,
  STATUS_FLAG_IGNORED,
  STATUS_FLAG_INTERRUPTED,
  TRAVEL_USTEPS,
  USTEPS_PER_UM,
} from './protocol.ts';

export interface Mpc325EmulatorOptions {
  clock: Clock;
  /** power-up position of every drive, µm */
  initial?: Vec3;
  /** drives plugged into the controller (1–4) */
  drives?: readonly number[];
  /** per-axis speed of an 'M' fast move, µm/s */
  fastSpeed?: number;
  /** command processing time before a reply, ms */
  processingMs?: number;
  /** time the controller needs after the 'S' speed byte, ms */
  settleMs?: number;
  /** firmware version reported by 'K' */
  firmware?: readonly [number, number];
}

export interface Mpc325Emulator extends ManipulatorEmulator {
  readonly selectedDrive: number;
  /** moves decoded but ignored because they were below the 16-µstep minimum */
  readonly ignoredMoves: readonly DecodedMove[];
  /** bytes lost because they arrived inside the 'S' settle window */
  readonly lostBytes: number;
  /** bytes other than 0x03 received (and discarded) during a move */
  readonly discardedBytes: number;
}

interface PendingCommand {
  cmd: number;
  need: number;
  got: number[];
  /** 'S': when the speed byte arrived, and whether bytes were lost after it */
  speedAt?: number;
  lost?: boolean;
  settleTimer?: TimerHandle;
}

export function createMpc325Emulator(options: Mpc325EmulatorOptions): Mpc325Emulator {
  const { clock } = options;
  const processingMs = options.processingMs ?? 1;
  const settleMs = options.settleMs ?? SPEED_SETTLE_MS;
  const fastSpeed = options.fastSpeed ?? 3000;
  const firmware = options.firmware ?? [1, 20];
  const travelUm = TRAVEL_USTEPS / USTEPS_PER_UM;
  const connected = [...new Set(options.drives ?? [1, 2])].filter((d) => d >= 1 && d <= MAX_DRIVES).sort((a, b) => a - b);
  if (connected.length === 0) throw new Error('an MPC-325 emulator needs at least one drive (1–4)');
  const stages = new Map<number, MotionModel>();
  for (const d of connected) {
    stages.set(
      d,
      createMotionModel({ clock, initial: options.initial ?? [12_500, 12_500, 5_000], travelMin: [0, 0, 0], travelMax: [travelUm, travelUm, travelUm] }),
    );
  }
  const moves: DecodedMove[] = [];
  const ignoredMoves: DecodedMove[] = [];
  let stops = 0;
  let lostBytes = 0;
  let discardedBytes = 0;
  let io: DeviceIO | undefined;
  let selected = connected[0];
  let pending: PendingCommand | undefined;
  let moving: number | undefined; // drive whose move is in progress
  let lastSpeedByte = 0;
  let flags = 0;

  const stage = (d: number): MotionModel => stages.get(d)!;
  const send = (bytes: number[] | Buffer): void => io?.send(Buffer.from(bytes));
  const reply = (bytes: number[] | Buffer): void => {
    clock.setTimeout(() => send(bytes), processingMs);
  };
  const error = (code: string): void => reply([ERR, code.charCodeAt(0), CR]);
  const ustepsOf = (d: number): [number, number, number] => {
    const p = stage(d).positionAt(clock.now());
    return [Math.round(p[0] * USTEPS_PER_UM), Math.round(p[1] * USTEPS_PER_UM), Math.round(p[2] * USTEPS_PER_UM)];
  };

  const startMove = (target: [number, number, number], speedOf: (deltaUsteps: number[]) => number): void => {
    const here = ustepsOf(selected);
    const delta = target.map((v, i) => v - here[i]);
    const targetUm: Vec3 = [target[0] / USTEPS_PER_UM, target[1] / USTEPS_PER_UM, target[2] / USTEPS_PER_UM];
    const speed = speedOf(delta);
    const decoded: DecodedMove = { t: clock.now(), target: targetUm, speed, unit: selected };
    flags &= ~(STATUS_FLAG_IGNORED | STATUS_FLAG_INTERRUPTED);
    if (delta.every((d) => Math.abs(d) < MINIMUM_MOVE_USTEPS)) {
      // Below the controller's minimum: silently dropped, and no CR is ever sent.
      ignoredMoves.push(decoded);
      flags |= STATUS_FLAG_IGNORED;
      return;
    }
    moves.push(decoded);
    const drive = selected;
    moving = drive;
    stage(drive).moveTo(targetUm, speed, () => {
      moving = undefined;
      send([CR]);
    });
  };

  const execute = (cmd: number, data: Buffer): void => {
    switch (cmd) {
      case CMD.select: {
        const d = data[0];
        if (!stages.has(d)) {
          error('D');
          return;
        }
        selected = d;
        reply([CR]);
        return;
      }
      case CMD.fastMove:
      case CMD.straightMove: {
        const coords = cmd === CMD.straightMove ? data.subarray(1) : data;
        const target: [number, number, number] = [coords.readInt32LE(0), coords.readInt32LE(4), coords.readInt32LE(8)];
        if (target.some((v) => v < 0 || v > TRAVEL_USTEPS)) {
          error('R');
          return;
        }
        if (cmd === CMD.straightMove) {
          const v = data[0];
          if (v >= SPEED_TABLE_UM_S.length) {
            error('V');
            return;
          }
          lastSpeedByte = v;
          startMove(target, () => SPEED_TABLE_UM_S[v]);
        } else {
          // Each axis runs at the fast speed on its own; the stage model is a straight
          // line, so take the vector speed that gives the same (longest-axis) duration.
          startMove(target, (delta) => {
            const longest = Math.max(...delta.map(Math.abs));
            return longest === 0 ? fastSpeed : (fastSpeed * Math.hypot(delta[0], delta[1], delta[2])) / longest;
          });
        }
        return;
      }
    }
  };

  const interrupt = (): void => {
    stops++;
    if (moving !== undefined) {
      stage(moving).stop();
      moving = undefined;
      flags |= STATUS_FLAG_INTERRUPTED;
    }
    // One CR in all: it ends the interrupted move's command (or acknowledges an idle 0x03).
    reply([CR]);
  };

  const startCommand = (b: number): void => {
    switch (b) {
      case ETX:
        interrupt();
        return;
      case CR:
      case LF:
        return;
      case CMD.position: {
        const out = Buffer.alloc(14);
        const [x, y, z] = ustepsOf(selected);
        out[0] = selected;
        out.writeInt32LE(x, 1);
        out.writeInt32LE(y, 5);
        out.writeInt32LE(z, 9);
        out[13] = CR;
        reply(out);
        return;
      }
      case CMD.status: {
        let mask = 0;
        for (const d of stages.keys()) mask |= 1 << (d - 1);
        reply([selected, mask, lastSpeedByte, flags, CR]);
        return;
      }
      case CMD.version:
        reply([firmware[0], firmware[1], CR]);
        return;
      case CMD.select:
        pending = { cmd: b, need: 1, got: [] };
        return;
      case CMD.fastMove:
        pending = { cmd: b, need: 12, got: [] };
        return;
      case CMD.straightMove:
        pending = { cmd: b, need: 13, got: [] };
        return;
      default:
        error('U');
    }
  };

  const feed = (p: PendingCommand, b: number, t: number): void => {
    if (p.speedAt !== undefined && t < p.speedAt + settleMs) {
      lostBytes++;
      p.lost = true;
      return;
    }
    p.got.push(b);
    if (p.cmd === CMD.straightMove && p.got.length === 1) {
      p.speedAt = t;
      p.settleTimer = clock.setTimeout(() => {
        if (pending === p && p.lost) {
          pending = undefined;
          send([ERR, 'T'.charCodeAt(0), CR]);
        }
      }, settleMs);
      return;
    }
    if (p.got.length === p.need) {
      pending = undefined;
      execute(p.cmd, Buffer.from(p.got));
    }
  };

  const dropPending = (): void => {
    if (pending) clock.clearTimeout(pending.settleTimer);
    pending = undefined;
  };

  return {
    model: 'Sutter MPC-325 (emulated)',
    moves,
    ignoredMoves,
    get stops() {
      return stops;
    },
    get selectedDrive() {
      return selected;
    },
    get lostBytes() {
      return lostBytes;
    },
    get discardedBytes() {
      return discardedBytes;
    },
    motion(unit) {
      const s = stages.get(unit ?? connected[0]);
      if (!s) throw new Error(`MPC-325 emulator has no drive ${unit}`);
      return s;
    },
    connect(next) {
      io = next;
      dropPending();
    },
    disconnect() {
      io = undefined;
      // A half-received command dies with the USB link; a move completes mechanically.
      dropPending();
    },
    receive(bytes) {
      const t = clock.now();
      for (const b of bytes) {
        if (moving !== undefined) {
          if (b === ETX) interrupt();
          else discardedBytes++;
          continue;
        }
        if (pending) feed(pending, b, t);
        else startCommand(b);
      }
    },
  };
}
