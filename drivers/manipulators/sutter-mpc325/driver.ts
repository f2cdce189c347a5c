/**
 * Sutter MPC-325 driver. One controller (one serial port) hosts up to four
 * drives, so the port is opened once as a controller and each drive is a
 * Manipulator handle on it:
 *
 *   const mpc = await openMpc325Controller({ path, binding, clock });
 *   const left = mpc.drive(1, limitsLeft);
 *   const right = mpc.drive(2, limitsRight);
 *
 * Every operation takes the controller lock, selects its drive if another was
 * selected, and runs its commands; so commands for different drives never
 * interleave on the link (a move holds the lock until it ends: the controller
 * can only move one drive at a time and reads nothing but 0x03 meanwhile).
 * `openMpc325({ ..., drive })` is the one-drive shorthand.
 */
import type { BindingInterface } from '@serialport/bindings-interface';
import type { Clock } from '../../../src/clock/clock.ts';
import { sleep } from '../../../src/clock/clock.ts';
import { DeviceError, isDeviceError } from '../../errors.ts';
import { checkMoveDelta, checkMoveTarget, distance } from '../../core/limits.ts';
import { fixedLength, moveTimeoutMs, openSerialLink, withReconnectHook, type ParseResult, type ReplyParser, type SerialLink } from '../../core/serial-link.ts';
import type { DeviceConnection, Manipulator, ManipulatorLimits, MoveOptions, Vec3 } from '../../types.ts';
import { add3, createMutex } from '../driver-common.ts';
import {
  BAUD,
  CMD,
  CR,
  ERR,
  ERROR_CODES,
  ERROR_REPLY_LENGTH,
  ETX,
  MAX_DRIVES,
  MINIMUM_MOVE_USTEPS,
  POSITION_REPLY_LENGTH,
  SPEED_SETTLE_MS,
  SPEED_TABLE_UM_S,
  TRAVEL_USTEPS,
  USTEPS_PER_UM,
  VERSION_REPLY_LENGTH,
} from './protocol.ts';

export interface Mpc325ControllerOptions {
  path: string;
  binding: BindingInterface;
  clock: Clock;
  baudRate?: number;
  /** reply deadline for short commands, ms */
  commandTimeoutMs?: number;
  /** pause between the 'S' speed byte and the coordinates, ms (the controller needs 30) */
  speedPauseMs?: number;
  /** quiet time after an interrupt so a crossing completion CR is not read as a reply, ms */
  interruptSettleMs?: number;
}

export interface Mpc325Controller {
  readonly model: string;
  readonly connection: DeviceConnection;
  /** firmware version reported by 'K', e.g. "1.20" */
  readonly firmware: string;
  /** a Manipulator for drive n (1–4); one handle per drive */
  drive(n: number, limits: ManipulatorLimits): Manipulator;
  close(): Promise<void>;
}

export interface Mpc325Options extends Mpc325ControllerOptions {
  limits: ManipulatorLimits;
  /** drive to control, 1–4 (default 1) */
  drive?: number;
}

/** Index of the fastest speed-table entry not above `speed`, or -1 if even the slowest is faster. */
export function speedIndexFor(speed: number): number {
  let best = -1;
  for (let i = 0; i < SPEED_TABLE_UM_S.length; i++) if (SPEED_TABLE_UM_S[i] <= speed * (1 + 1e-12)) best = i;
  return best;
}

const describeError = (code: number): string => ERROR_CODES[String.fromCharCode(code)] ?? `error code 0x${code.toString(16)}`;

/** An 'E' code CR error reply at the head of `buf`, or 'more' / null. */
const errorReply = (buf: Buffer): ParseResult<never> | null => {
  if (buf[0] !== ERR) return null;
  if (buf.length < ERROR_REPLY_LENGTH) return { status: 'more' };
  if (buf[2] !== CR) return { status: 'malformed', detail: 'error reply does not end in CR', consumed: ERROR_REPLY_LENGTH };
  return { status: 'device-error', detail: describeError(buf[1]), consumed: ERROR_REPLY_LENGTH };
};

const ackParser: ReplyParser<void> = (buf) => {
  if (buf[0] === CR) return { status: 'done', value: undefined, consumed: 1 };
  return errorReply(buf) ?? { status: 'malformed', detail: `expected CR, got 0x${buf[0].toString(16)}`, consumed: 1 };
};

interface PositionReply {
  drive: number;
  usteps: [number, number, number];
}

/** 'C' reply: drive byte, three int32 µstep coordinates, CR. */
const positionParser: ReplyParser<PositionReply> = (buf) => {
  const err = errorReply(buf);
  if (err) return err;
  if (buf[0] < 1 || buf[0] > MAX_DRIVES) return { status: 'malformed', detail: `position reply starts with 0x${buf[0].toString(16)}, not a drive number`, consumed: 1 };
  return fixedLength(POSITION_REPLY_LENGTH, (b): ParseResult<PositionReply> =>
    b[13] !== CR
      ? { status: 'malformed', detail: 'position reply does not end in CR', consumed: POSITION_REPLY_LENGTH }
      : { status: 'done', value: { drive: b[0], usteps: [b.readInt32LE(1), b.readInt32LE(5), b.readInt32LE(9)] }, consumed: POSITION_REPLY_LENGTH },
  )(buf);
};

const coordinates = (usteps: readonly number[]): Buffer => {
  const b = Buffer.alloc(12);
  for (let i = 0; i < 3; i++) b.writeInt32LE(usteps[i], 4 * i);
  return b;
};

interface ActiveMove {
  drive: number;
  written: boolean;
  stopRequested: boolean;
}

interface DriveState {
  lastKnown?: Vec3;
  /** bumped by stop(): moves queued before it see the change and give up */
  stopGeneration: number;
}

export async function openMpc325Controller(options: Mpc325ControllerOptions): Promise<Mpc325Controller> {
  const { clock } = options;
  const label = `Sutter MPC-325 @ ${options.path}`;
  const shortTimeout = options.commandTimeoutMs ?? 300;
  const speedPauseMs = options.speedPauseMs ?? SPEED_SETTLE_MS + 5;
  const interruptSettleMs = options.interruptSettleMs ?? 50;
  const link: SerialLink = await openSerialLink({ label, path: options.path, baudRate: options.baudRate ?? BAUD, binding: options.binding, clock });

  const lock = createMutex();
  let selected: number | undefined;
  let active: ActiveMove | undefined;
  const drives = new Map<number, DriveState>();

  const ack = (name: string, bytes: number[], timeoutMs = shortTimeout): Promise<void> =>
    link.request({ name, bytes: Buffer.from(bytes), parse: ackParser, timeoutMs });

  let firmware: string;
  try {
    firmware = await link.request({
      name: 'K (version)',
      bytes: Buffer.of(CMD.version),
      timeoutMs: shortTimeout,
      parse: (buf) =>
        errorReply(buf) ??
        fixedLength(VERSION_REPLY_LENGTH, (b): ParseResult<string> =>
          b[2] !== CR
            ? { status: 'malformed', detail: 'version reply does not end in CR', consumed: VERSION_REPLY_LENGTH }
            : { status: 'done', value: `${b[0]}.${String(b[1]).padStart(2, '0')}`, consumed: VERSION_REPLY_LENGTH },
        )(buf),
    });
  } catch (e) {
    await link.close();
    throw e;
  }

  // Callers hold the lock.
  const select = async (drive: number): Promise<void> => {
    if (selected === drive) return;
    selected = undefined;
    await ack(`I (select drive ${drive})`, [CMD.select, drive]);
    selected = drive;
  };

  const readPosition = async (drive: number): Promise<Vec3> => {
    await select(drive);
    const reply = await link.request({ name: 'C (position)', bytes: Buffer.of(CMD.position), parse: positionParser, timeoutMs: shortTimeout });
    if (reply.drive !== drive) {
      selected = undefined;
      throw new DeviceError('malformed', label, 'C (position)', `reply is for drive ${reply.drive}, expected drive ${drive}`);
    }
    const p: Vec3 = [reply.usteps[0] / USTEPS_PER_UM, reply.usteps[1] / USTEPS_PER_UM, reply.usteps[2] / USTEPS_PER_UM];
    drives.get(drive)!.lastKnown = p;
    return p;
  };

  const interruptNow = (): Promise<void> =>
    link.request({ name: 'ETX (interrupt)', bytes: Buffer.of(ETX), parse: null, timeoutMs: shortTimeout, urgent: true });

  /** Refusals that need no position: speed, and (for absolute moves) the target. */
  const speedIndex = (speed: number): number => {
    const v = speedIndexFor(speed);
    if (v < 0) throw new DeviceError('invalid', label, 'S (move)', `speed ${speed} µm/s is below the slowest the controller offers (${SPEED_TABLE_UM_S[0]} µm/s)`);
    return v;
  };
  const checkedUsteps = (limits: ManipulatorLimits, target: Vec3, speed: number): number[] => {
    checkMoveTarget(label, 'S (move)', target, speed, limits);
    const targetUsteps = target.map((c) => Math.round(c * USTEPS_PER_UM));
    if (targetUsteps.some((c) => c < 0 || c > TRAVEL_USTEPS)) {
      throw new DeviceError('limit', label, 'S (move)', `target is outside the controller's travel (0–${TRAVEL_USTEPS / USTEPS_PER_UM} µm)`);
    }
    return targetUsteps;
  };

  /**
   * One move under the controller lock. `targetFrom` turns the position read
   * inside the lock into the target (a relative move starts where the stage
   * is once earlier moves have ended) and is limit-checked before any move byte.
   */
  const move = async (drive: number, limits: ManipulatorLimits, speed: number, targetFrom: (from: Vec3) => Vec3): Promise<Vec3> => {
    const v = speedIndex(speed);
    const state = drives.get(drive)!;
    const generation = state.stopGeneration;
    return lock.run(async () => {
      if (state.stopGeneration !== generation) throw new DeviceError('interrupted', label, 'S (move)', 'stopped before the move started');
      const current: ActiveMove = { drive, written: false, stopRequested: false };
      active = current;
      try {
        const from = await readPosition(drive);
        const target = targetFrom(from);
        await runMove(drive, current, from, target, checkedUsteps(limits, target, speed), v);
      } finally {
        active = undefined;
      }
      if (current.stopRequested) {
        // The move's CR and an idle interrupt's CR can cross: let a second one arrive as a stray.
        await sleep(clock, interruptSettleMs);
        await readPosition(drive).catch(() => {});
        throw new DeviceError('interrupted', label, 'S (move)', 'move stopped before reaching its target');
      }
      return readPosition(drive);
    });
  };

  /** The 'S' command from `from`; resolves when the controller answers it. Holds the lock. */
  const runMove = async (drive: number, current: ActiveMove, from: Vec3, target: Vec3, targetUsteps: number[], v: number): Promise<void> => {
    const fromUsteps = from.map((c) => Math.round(c * USTEPS_PER_UM));
    if (targetUsteps.every((c, i) => Math.abs(c - fromUsteps[i]) < MINIMUM_MOVE_USTEPS)) {
      // The controller would ignore this move and never answer: do not send it.
      return;
    }
    if (current.stopRequested) return;
    try {
      await link.request({
        name: 'S (move)',
        bytes: [{ bytes: Buffer.of(CMD.straightMove, v), pauseMs: speedPauseMs }, { bytes: coordinates(targetUsteps) }],
        parse: ackParser,
        timeoutMs: moveTimeoutMs(distance(from, target), SPEED_TABLE_UM_S[v]),
        onWritten: () => {
          current.written = true;
          // A stop that came during the speed pause waited for the command to be whole.
          if (current.stopRequested) void interruptNow().catch(() => {});
        },
      });
    } catch (e) {
      if (isDeviceError(e, 'timeout')) {
        // The stage may still be moving: stop it rather than leave it running unattended.
        await ack('ETX (interrupt)', [ETX]).catch(() => {});
        selected = undefined;
      }
      throw e;
    }
  };

  const stop = async (drive: number): Promise<void> => {
    const state = drives.get(drive)!;
    state.stopGeneration++;
    if (active?.drive === drive) {
      active.stopRequested = true;
      if (active.written) await interruptNow();
      return;
    }
    // Only one drive moves at a time: while another drive's move holds the
    // controller, this drive is still and an interrupt would stop the wrong stage.
    if (active) return;
    await lock.run(async () => {
      if (active) return;
      await ack('ETX (interrupt)', [ETX]);
    });
  };

  // After an unplug the controller may still be running a move we no longer
  // track: interrupt it (it answers CR moving or not), let stray CRs drain,
  // and forget what we knew.
  const connection = withReconnectHook(link, () =>
    lock.run(async () => {
      selected = undefined;
      active = undefined;
      await ack('ETX (interrupt)', [ETX]);
      await sleep(clock, interruptSettleMs);
      for (const s of drives.values()) s.lastKnown = undefined;
    }),
  );

  const makeDrive = (n: number, limits: ManipulatorLimits): Manipulator => {
    if (!Number.isInteger(n) || n < 1 || n > MAX_DRIVES) throw new DeviceError('invalid', label, 'drive', `drive must be 1–${MAX_DRIVES} (got ${n})`);
    if (drives.has(n)) throw new DeviceError('invalid', label, 'drive', `drive ${n} already has a handle`);
    const state: DriveState = { stopGeneration: 0 };
    drives.set(n, state);
    let moves = 0; // moves of this drive started and not yet ended (queued ones included)
    const guarded = async (work: () => Promise<Vec3>): Promise<Vec3> => {
      moves++;
      try {
        return await work();
      } finally {
        moves--;
      }
    };
    return {
      model: `Sutter MPC-325 drive ${n}`,
      connection,
      limits,
      resolution: 1 / USTEPS_PER_UM,
      get busy() {
        return moves > 0;
      },
      position: () => lock.run(() => readPosition(n)),
      moveTo: (target: Vec3, { speed }: MoveOptions) =>
        guarded(async () => {
          checkedUsteps(limits, target, speed);
          return move(n, limits, speed, () => target);
        }),
      moveBy: (delta: Vec3, { speed }: MoveOptions) =>
        guarded(async () => {
          checkMoveDelta(label, 'S (relative move)', delta, speed, limits);
          return move(n, limits, speed, (from) => add3(from, delta));
        }),
      stop: () => stop(n),
    };
  };

  return {
    model: 'Sutter MPC-325',
    connection,
    firmware,
    drive: makeDrive,
    close: () => link.close(),
  };
}

/** One drive on its own controller: opens the port, checks the drive answers. */
export async function openMpc325(options: Mpc325Options): Promise<Manipulator> {
  const controller = await openMpc325Controller(options);
  const m = controller.drive(options.drive ?? 1, options.limits);
  try {
    await m.position();
  } catch (e) {
    await controller.close();
    throw e;
  }
  return m;
}
