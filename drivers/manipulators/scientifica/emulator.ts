/**
 * Scientifica PatchStar / LinLab emulator: an ASCII line device that
 * acknowledges a move at once and is polled for completion.
 *
 * Timing quirks kept: replies take `processingMs`; a move is acknowledged
 * before it runs; the first S within `earlyIdleMs` of a move's start answers 0
 * although the stage is moving. TOP sets the speed the stage moves at; FIRST
 * and ACC are stored and reported but the stage model has no ramps, so moves
 * run at TOP throughout.
 */
import type { DeviceIO } from '../../core/emulator-binding.ts';
import { createMotionModel, type MotionModel } from '../../core/motion-model.ts';
import type { Clock } from '../../../src/clock/clock.ts';
import type { Vec3 } from '../../types.ts';
import type { DecodedMove, ManipulatorEmulator } from '../emulator-common.ts';
import { CR, EARLY_IDLE_MS, IDENT_REPLY, LF, MAX_LINE, UNIT_UM } from './protocol.ts';

export type ScientificaModel = 'PatchStar' | 'LinLab';

export interface ScientificaEmulatorOptions {
  clock: Clock;
  /** firmware generation: v2 reports 0.1 µm units, v3 0.01 µm */
  version?: 2 | 3;
  model?: ScientificaModel;
  /** power-up position, µm */
  initial?: Vec3;
  /** stage travel per axis, µm */
  travel?: Vec3;
  /** fastest TOP the firmware accepts, µm/s */
  maxSpeed?: number;
  /** command processing time, ms */
  processingMs?: number;
  /** window after a move starts in which the first S wrongly answers 0, ms (0 = no quirk) */
  earlyIdleMs?: number;
  /**
   * Mechanical end of travel (limit switches), µm, if it is narrower than the
   * range the firmware accepts: a move that runs into it stops there, short
   * of its target, and the firmware still reports idle.
   */
  limitSwitches?: { min: Vec3; max: Vec3 };
}

export interface ScientificaEmulator extends ManipulatorEmulator {
  readonly version: 2 | 3;
  /** µm per position unit */
  readonly unitUm: number;
  /** S queries answered 0 while the stage was in fact moving */
  readonly earlyIdleReplies: number;
  /** the stop on the controller itself (its control cube or joystick), not a host command */
  externalStop(): void;
}

const FIRMWARE: Record<2 | 3, { ver: string; date: string }> = {
  2: { ver: '2.14', date: 'Jun 12 2019' },
  3: { ver: '3.08', date: 'Mar 03 2022' },
};
const DESCRIPTION: Record<ScientificaModel, { desc: string; type: string }> = {
  PatchStar: { desc: 'PatchStar Motorised Manipulator', type: 'PATCHSTAR' },
  LinLab: { desc: 'LinLab Motion Controller', type: 'LINLAB' },
};

const INTEGER = /^[+-]?\d+$/;

export function createScientificaEmulator(options: ScientificaEmulatorOptions): ScientificaEmulator {
  const { clock } = options;
  const version = options.version ?? 3;
  const unit = UNIT_UM[version];
  const model = options.model ?? 'PatchStar';
  const travel = options.travel ?? [25_000, 25_000, 25_000];
  const maxTop = Math.round((options.maxSpeed ?? 3_000) / unit);
  const processingMs = options.processingMs ?? 2;
  const earlyIdleMs = options.earlyIdleMs ?? EARLY_IDLE_MS;
  const motion: MotionModel = createMotionModel({
    clock,
    initial: options.initial ?? [12_500, 12_500, 5_000],
    travelMin: options.limitSwitches?.min ?? [0, 0, 0],
    travelMax: options.limitSwitches?.max ?? travel,
  });
  const moves: DecodedMove[] = [];
  let stops = 0;
  let earlyIdleReplies = 0;
  let io: DeviceIO | undefined;
  let line = '';
  let overflow = false;
  let origin: Vec3 = [0, 0, 0];
  let top = Math.round(1_000 / unit);
  let first = Math.round(500 / unit);
  let acc = Math.round(5_000 / unit);
  let current: { from: Vec3; to: Vec3; startedAt: number; firstStatusSeen: boolean } | undefined;

  const reply = (text: string): void => {
    clock.setTimeout(() => io?.send(Buffer.from(`${text}\r`, 'latin1')), processingMs);
  };
  const error = (code: number): void => reply(`E,${code}`);
  const here = (): Vec3 => motion.positionAt(clock.now());
  const toUnits = (p: Vec3): number[] => [0, 1, 2].map((i) => Math.round((p[i] - origin[i]) / unit));
  const ints = (args: string[], n: number): number[] | undefined =>
    args.length === n && args.every((a) => INTEGER.test(a)) ? args.map((a) => Number.parseInt(a, 10)) : undefined;

  const startMove = (units: number[]): void => {
    const target = [0, 1, 2].map((i) => origin[i] + units[i] * unit) as unknown as Vec3;
    if (target.some((v, i) => v < 0 || v > travel[i])) {
      error(3);
      return;
    }
    const speed = top * unit;
    moves.push({ t: clock.now(), target, speed });
    current = { from: here(), to: target, startedAt: clock.now(), firstStatusSeen: false };
    motion.moveTo(target, speed, () => {});
    reply('A');
  };

  const setting = (args: string[], get: () => number, set: (n: number) => void, max: number): void => {
    if (args.length === 0) {
      reply(String(get()));
      return;
    }
    const n = ints(args, 1);
    if (!n || n[0] < 1 || n[0] > max) {
      error(2);
      return;
    }
    set(n[0]);
    reply('A');
  };

  const status = (): string => {
    if (!motion.moving || !current) return '0';
    if (!current.firstStatusSeen) {
      current.firstStatusSeen = true;
      if (clock.now() - current.startedAt < earlyIdleMs) {
        earlyIdleReplies++;
        return '0';
      }
    }
    let bits = 0;
    for (let i = 0; i < 3; i++) if (current.to[i] !== current.from[i]) bits |= 1 << i;
    return String(bits);
  };

  const execute = (text: string): void => {
    const [word = '', ...args] = text.trim().split(/ +/);
    const cmd = word.toUpperCase();
    switch (cmd) {
      case 'SCIENTIFICA':
        return reply(IDENT_REPLY);
      case 'DESC':
        return reply(DESCRIPTION[model].desc);
      case 'TYPE':
        return reply(DESCRIPTION[model].type);
      case 'VER':
        return reply(FIRMWARE[version].ver);
      case 'DATE':
        return reply(FIRMWARE[version].date);
      case 'P':
        // v3's short form of POS
        return version < 3 ? error(1) : reply(toUnits(here()).join('\t'));
      case 'POS':
        return reply(toUnits(here()).join('\t'));
      case 'PX':
      case 'PY':
      case 'PZ':
        return reply(String(toUnits(here())['XYZ'.indexOf(cmd[1])]));
      case 'ABS': {
        const n = ints(args, 3);
        return n ? startMove(n) : error(2);
      }
      case 'ABSZ': {
        const n = ints(args, 1);
        if (!n) return error(2);
        const u = toUnits(motion.moving && current ? current.to : here());
        return startMove([u[0], u[1], n[0]]);
      }
      case 'REL': {
        const n = ints(args, 3);
        if (!n) return error(2);
        const u = toUnits(here());
        return startMove([u[0] + n[0], u[1] + n[1], u[2] + n[2]]);
      }
      case 'S':
        return reply(status());
      case 'STOP':
        stops++;
        motion.stop();
        current = undefined;
        return reply('A');
      case 'TOP':
        return setting(args, () => top, (n) => (top = n), maxTop);
      case 'FIRST':
        return setting(args, () => first, (n) => (first = n), maxTop);
      case 'ACC':
        return setting(args, () => acc, (n) => (acc = n), 1_000_000_000);
      case 'ZERO':
        if (motion.moving) return error(4);
        origin = here();
        return reply('A');
      default:
        return error(1);
    }
  };

  return {
    model: `Scientifica ${model} v${version} (emulated)`,
    version,
    unitUm: unit,
    moves,
    get stops() {
      return stops;
    },
    get earlyIdleReplies() {
      return earlyIdleReplies;
    },
    externalStop() {
      motion.stop();
      current = undefined;
    },
    motion: () => motion,
    connect(next) {
      io = next;
      line = '';
      overflow = false;
    },
    disconnect() {
      io = undefined;
      // The controller keeps running; a move in progress completes.
    },
    receive(bytes) {
      for (const b of bytes) {
        if (b === LF) continue;
        if (b === CR) {
          const text = line;
          line = '';
          if (overflow) {
            overflow = false;
            error(1);
          } else if (text.trim().length > 0) {
            execute(text);
          }
          continue;
        }
        if (overflow) continue;
        line += String.fromCharCode(b);
        if (line.length > MAX_LINE) {
          // The input buffer is full: the line is lost, and reported when it ends.
          overflow = true;
          line = '';
        }
      }
    },
  };
}
