/**
 * Scientifica PatchStar / LinLab driver. The device acknowledges a move at
 * once, so the driver polls S until the stage is idle, and confirms "idle"
 * (position at target, or a second idle reading) because the first S of a
 * move may answer 0 too early. Other commands (position reads) may run while
 * a move is being polled; moves themselves run one at a time.
 *
 * A poll lost on the line (no reply, garbled reply) does not end a move: only
 * the move's deadline does (then STOP, and a timeout). Two idle readings away
 * from the target without our own stop mean the stage stopped short (its
 * controller's stop, a limit switch): 'interrupted', saying where it stopped.
 */
import type { BindingInterface } from '@serialport/bindings-interface';
import type { Clock } from '../../../src/clock/clock.ts';
import { sleep } from '../../../src/clock/clock.ts';
import { DeviceError, isDeviceError } from '../../errors.ts';
import { checkMoveDelta, checkMoveTarget, distance } from '../../core/limits.ts';
import { moveTimeoutMs, openSerialLink, withReconnectHook, type ReplyParser, type SerialLink } from '../../core/serial-link.ts';
import type { Manipulator, ManipulatorLimits, MoveOptions, Vec3 } from '../../types.ts';
import { add3, createMutex } from '../driver-common.ts';
import { ACK, BAUD, CR, ERROR_CODES, IDENT_COMMAND, IDENT_REPLY, LF, MAX_LINE, TAB, UNIT_UM } from './protocol.ts';

export interface ScientificaOptions {
  path: string;
  binding: BindingInterface;
  clock: Clock;
  limits: ManipulatorLimits;
  /** 9600 (default) or 38400, as set on the controller */
  baudRate?: number;
  /** firmware generation; read with `ver` when not given */
  version?: 2 | 3;
  /** reply deadline for a command, ms */
  commandTimeoutMs?: number;
  /** how often S is polled during a move, ms */
  pollIntervalMs?: number;
}

/** One reply line (LFs dropped); `E,<n>` is a device error; binary bytes are malformed. */
const lineParser: ReplyParser<string> = (buf) => {
  for (let i = 0; i < buf.length; i++) {
    const b = buf[i];
    if (b === CR) {
      const text = buf.subarray(0, i).toString('latin1').replace(/\n/g, '').trim();
      const err = /^E,(\d+)$/.exec(text);
      if (err) {
        const code = Number(err[1]);
        return { status: 'device-error', detail: `E,${code}: ${ERROR_CODES[code] ?? 'unknown error code'}`, consumed: i + 1 };
      }
      return { status: 'done', value: text, consumed: i + 1 };
    }
    if (b !== LF && b !== TAB && (b < 0x20 || b > 0x7e)) {
      return { status: 'malformed', detail: `byte 0x${b.toString(16)} in a text reply`, consumed: i + 1 };
    }
  }
  return buf.length > MAX_LINE ? { status: 'malformed', detail: `no CR within ${MAX_LINE} bytes`, consumed: buf.length } : { status: 'more' };
};

interface MoveInProgress {
  stopRequested: boolean;
  wake: AbortController;
}

export async function openScientifica(options: ScientificaOptions): Promise<Manipulator> {
  const { clock, limits } = options;
  const label = `Scientifica @ ${options.path}`;
  const timeoutMs = options.commandTimeoutMs ?? 500;
  const pollIntervalMs = options.pollIntervalMs ?? 50;
  const link: SerialLink = await openSerialLink({ label, path: options.path, baudRate: options.baudRate ?? BAUD, binding: options.binding, clock });

  const query = (text: string, urgent = false, name = text.split(' ')[0]): Promise<string> =>
    link.request({ name, bytes: Buffer.from(`${text}\r`, 'latin1'), parse: lineParser, timeoutMs, urgent });
  const command = async (text: string, urgent = false): Promise<void> => {
    const r = await query(text, urgent);
    if (r !== ACK) throw new DeviceError('malformed', label, text.split(' ')[0], `expected "${ACK}", got "${r}"`, Buffer.from(r, 'latin1'));
  };
  const integer = (name: string, text: string): number => {
    if (!/^[+-]?\d+$/.test(text)) throw new DeviceError('malformed', label, name, `expected an integer, got "${text}"`, Buffer.from(text, 'latin1'));
    return Number.parseInt(text, 10);
  };

  let version: 2 | 3;
  try {
    const ident = await query(IDENT_COMMAND);
    if (ident !== IDENT_REPLY) throw new DeviceError('malformed', label, IDENT_COMMAND, `expected "${IDENT_REPLY}", got "${ident}"`, Buffer.from(ident, 'latin1'));
    if (options.version) {
      version = options.version;
    } else {
      const ver = await query('ver');
      const major = /^(\d+)\./.exec(ver);
      if (!major) throw new DeviceError('malformed', label, 'ver', `unreadable firmware version "${ver}"`, Buffer.from(ver, 'latin1'));
      version = Number(major[1]) >= 3 ? 3 : 2;
    }
  } catch (e) {
    await link.close();
    throw e;
  }
  const unit = UNIT_UM[version];
  const positionCommand = version >= 3 ? 'P' : 'POS';

  const moveLock = createMutex();
  let lastKnown: Vec3 | undefined;
  let topSet: number | undefined;
  let moving = 0;
  let current: MoveInProgress | undefined;
  let stopGeneration = 0;

  const positionName = `${positionCommand} (position)`;
  const position = async (): Promise<Vec3> => {
    const r = await query(positionCommand, false, positionName);
    const parts = r.split('\t');
    if (parts.length !== 3) throw new DeviceError('malformed', label, positionName, `expected 3 tab-separated values, got "${r}"`, Buffer.from(r, 'latin1'));
    const p = parts.map((s) => integer(positionName, s) * unit) as unknown as Vec3;
    lastKnown = p;
    return p;
  };

  /** A poll exchange, or the line error it failed with (timeout, garbled reply): those do not end a move. */
  const onTheLine = async <T>(work: () => Promise<T>): Promise<{ ok: T } | { failed: DeviceError }> => {
    try {
      return { ok: await work() };
    } catch (e) {
      if (isDeviceError(e, 'timeout') || isDeviceError(e, 'malformed')) return { failed: e };
      throw e;
    }
  };

  const run = async (target: Vec3, speed: number, move: MoveInProgress, from: Vec3): Promise<Vec3> => {
    const top = Math.floor(speed / unit + 1e-9);
    if (top !== topSet) {
      topSet = undefined;
      await command(`TOP ${top}`);
      topSet = top;
    }
    const units = target.map((c) => Math.round(c / unit));
    if (move.stopRequested) throw new DeviceError('interrupted', label, 'ABS', 'stopped before the move started');
    lastKnown = undefined;
    await command(`ABS ${units.join(' ')}`);
    const allowedMs = moveTimeoutMs(distance(from, target), top * unit);
    const deadline = clock.now() + allowedMs;
    let idleReadings = 0;
    for (;;) {
      await sleep(clock, pollIntervalMs, move.wake.signal).catch(() => {});
      if (move.stopRequested) break;
      // A poll lost on the line does not end the move: keep polling until its deadline.
      const s = await onTheLine(async () => {
        if (integer('S', await query('S')) !== 0) return 'moving' as const;
        return position();
      });
      if (move.stopRequested) break;
      if ('ok' in s && s.ok !== 'moving') {
        const p = s.ok;
        if (p.every((c, i) => Math.round(c / unit) === units[i])) return p;
        // Idle twice away from the target, and not by our stop: the stage stopped short
        // (its controller's own stop, a limit switch).
        if (++idleReadings >= 2) {
          throw new DeviceError('interrupted', label, 'ABS', `the stage stopped short at (${p.map((c) => c.toFixed(2)).join(', ')}) µm, target (${target.map((c) => c.toFixed(2)).join(', ')}) µm`);
        }
      } else if ('ok' in s) {
        idleReadings = 0;
      }
      if (clock.now() > deadline) {
        await command('STOP').catch(() => {});
        if ('failed' in s) throw new DeviceError('timeout', label, 'ABS', `no status reply ${Math.round(allowedMs)} ms after the move started (${s.failed.message})`, s.failed.bytes);
        throw new DeviceError('timeout', label, 'ABS', `still moving ${Math.round(allowedMs)} ms after the move started`);
      }
    }
    // Stopped. A STOP that overtook a queued ABS would leave the stage moving: stop again.
    await command('STOP');
    await position().catch(() => {});
    throw new DeviceError('interrupted', label, 'ABS', 'move stopped before reaching its target');
  };

  /** One move at a time; `targetFrom` turns the position known inside the lock into the (limit-checked) target. */
  const exclusiveMove = async (speed: number, targetFrom: (from: Vec3) => Vec3): Promise<Vec3> => {
    const generation = stopGeneration;
    moving++;
    try {
      return await moveLock.run(async () => {
        if (generation !== stopGeneration) throw new DeviceError('interrupted', label, 'ABS', 'stopped before the move started');
        const move: MoveInProgress = { stopRequested: false, wake: new AbortController() };
        current = move;
        try {
          const from = lastKnown ?? (await position());
          const target = targetFrom(from);
          checkMoveTarget(label, 'ABS (move)', target, speed, limits);
          return await run(target, speed, move, from);
        } finally {
          current = undefined;
        }
      });
    } finally {
      moving--;
    }
  };

  const checkSpeed = (speed: number): void => {
    if (Math.floor(speed / unit + 1e-9) < 1) throw new DeviceError('invalid', label, 'TOP', `speed ${speed} µm/s is below one position unit per second`);
  };

  const moveTo = async (target: Vec3, { speed }: MoveOptions): Promise<Vec3> => {
    checkMoveTarget(label, 'ABS (move)', target, speed, limits);
    checkSpeed(speed);
    return exclusiveMove(speed, () => target);
  };

  const moveBy = async (delta: Vec3, { speed }: MoveOptions): Promise<Vec3> => {
    checkMoveDelta(label, 'ABS (relative move)', delta, speed, limits);
    checkSpeed(speed);
    return exclusiveMove(speed, (from) => add3(from, delta));
  };

  const connection = withReconnectHook(link, async () => {
    // The controller may still be running a move we no longer track.
    await command('STOP');
    lastKnown = undefined;
    topSet = undefined;
  });

  return {
    model: `Scientifica (v${version} firmware)`,
    connection,
    limits,
    resolution: unit,
    get busy() {
      return moving > 0;
    },
    position,
    moveTo,
    moveBy,
    async stop() {
      stopGeneration++;
      if (current) {
        current.stopRequested = true;
        current.wake.abort();
      }
      await command('STOP', true);
    },
  };
}
