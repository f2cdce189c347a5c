/**
 * Sutter MP-285 driver. The reference example for "how to add a driver"
 * (README): open a SerialLink, describe each command as bytes + a reply
 * parser + a deadline, check limits before anything is sent.
 */
import type { BindingInterface } from '@serialport/bindings-interface';
import type { Clock } from '../../../src/clock/clock.ts';
import { DeviceError, isDeviceError } from '../../errors.ts';
import { checkMoveTarget, distance } from '../../core/limits.ts';
import { fixedLength, moveTimeoutMs, openSerialLink, withReconnectHook, type ParseResult, type SerialLink } from '../../core/serial-link.ts';
import { sleep } from '../../../src/clock/clock.ts';
import type { Manipulator, ManipulatorLimits, MoveOptions, Vec3 } from '../../types.ts';
import { BAUD, CR, ERROR_CODES, ETX, FINE_BIT, POSITION_REPLY_LENGTH, STATUS_REPLY_LENGTH, STATUS_USTEPS_OFFSET } from './protocol.ts';

export interface Mp285Options {
  path: string;
  binding: BindingInterface;
  clock: Clock;
  limits: ManipulatorLimits;
  baudRate?: number;
  /** reply deadline for short commands, ms */
  commandTimeoutMs?: number;
}

const isErrorReply = (b: Buffer): boolean => b.length === 2 && b[1] === CR && ERROR_CODES[String.fromCharCode(b[0])] !== undefined;
const describeError = (code: number): string => ERROR_CODES[String.fromCharCode(code)] ?? `error byte 0x${code.toString(16)}`;

/** Reply that is a lone CR (or an error byte + CR). */
const ackParser = (buf: Buffer): ParseResult<void> => {
  if (buf[0] === CR) return { status: 'done', value: undefined, consumed: 1 };
  if (buf.length < 2) return { status: 'more' };
  if (isErrorReply(buf.subarray(0, 2))) return { status: 'device-error', detail: describeError(buf[0]), consumed: 2 };
  return { status: 'malformed', detail: `expected CR, got 0x${buf[0].toString(16)}`, consumed: 1 };
};

export async function openMp285(options: Mp285Options): Promise<Manipulator> {
  const { clock, limits } = options;
  const label = `Sutter MP-285 @ ${options.path}`;
  const shortTimeout = options.commandTimeoutMs ?? 500;
  const link: SerialLink = await openSerialLink({
    label,
    path: options.path,
    baudRate: options.baudRate ?? BAUD,
    binding: options.binding,
    clock,
  });

  // A fixed-length binary reply may be preempted by a 2-byte error reply; the
  // protocol gives no way to tell them apart until the reply stops short. So a
  // timeout whose bytes are exactly an error reply is reported as that error.
  const withErrorReplies = async <T>(work: Promise<T>): Promise<T> => {
    try {
      return await work;
    } catch (e) {
      if (isDeviceError(e, 'timeout') && isErrorReply(e.bytes)) {
        throw new DeviceError('device', e.device, e.command, describeError(e.bytes[0]), e.bytes);
      }
      throw e;
    }
  };

  const ack = (name: string, bytes: number[] | Buffer): Promise<void> =>
    link.request({ name, bytes: Buffer.from(bytes), parse: ackParser, timeoutMs: shortTimeout });

  const status = await withErrorReplies(
    link.request({
      name: 's (status)',
      bytes: Buffer.from('s\r'),
      timeoutMs: shortTimeout,
      parse: fixedLength(STATUS_REPLY_LENGTH, (b) =>
        b[STATUS_REPLY_LENGTH - 1] !== CR
          ? { status: 'malformed', detail: 'status reply does not end in CR', consumed: STATUS_REPLY_LENGTH }
          : { status: 'done', value: b.readUInt16LE(STATUS_USTEPS_OFFSET), consumed: STATUS_REPLY_LENGTH },
      ),
    }),
  );
  if (status < 1 || status > 1000) {
    await link.close();
    throw new DeviceError('malformed', label, 's (status)', `implausible µsteps per µm: ${status}`);
  }
  const ustepsPerUm = status;
  await ack('a (absolute mode)', Buffer.from('a\r'));

  let speedSet = -1;
  let busy = false;
  let stopRequested = false;
  let lastKnown: Vec3 | undefined;

  const position = async (): Promise<Vec3> => {
    const p = await withErrorReplies(
      link.request({
        name: 'c (position)',
        bytes: Buffer.from('c\r'),
        timeoutMs: shortTimeout,
        parse: fixedLength(POSITION_REPLY_LENGTH, (b): ParseResult<Vec3> =>
          b[12] !== CR
            ? { status: 'malformed', detail: 'position reply does not end in CR', consumed: POSITION_REPLY_LENGTH }
            : {
                status: 'done',
                value: [b.readInt32LE(0) / ustepsPerUm, b.readInt32LE(4) / ustepsPerUm, b.readInt32LE(8) / ustepsPerUm],
                consumed: POSITION_REPLY_LENGTH,
              },
        ),
      }),
    );
    lastKnown = p;
    return p;
  };

  const moveTo = async (target: Vec3, { speed }: MoveOptions): Promise<Vec3> => {
    checkMoveTarget(label, 'm (move)', target, speed, limits);
    const from = lastKnown ?? (await position());
    const word = Math.min(0x7fff, Math.round(speed));
    if (word !== speedSet) {
      const v = Buffer.alloc(4);
      v[0] = 'V'.charCodeAt(0);
      v.writeUInt16LE(word | FINE_BIT, 1);
      v[3] = CR;
      await ack('V (speed)', v);
      speedSet = word;
    }
    const m = Buffer.alloc(14);
    m[0] = 'm'.charCodeAt(0);
    for (let i = 0; i < 3; i++) m.writeInt32LE(Math.round(target[i] * ustepsPerUm), 1 + 4 * i);
    m[13] = CR;
    busy = true;
    stopRequested = false;
    lastKnown = undefined;
    try {
      await link.request({
        name: 'm (move)',
        bytes: m,
        timeoutMs: moveTimeoutMs(distance(from, target), speed),
        parse: ackParser,
      });
    } catch (e) {
      if (isDeviceError(e, 'device') && e.bytes[0] === '8'.charCodeAt(0)) {
        throw new DeviceError('interrupted', label, 'm (move)', 'move stopped before reaching its target', e.bytes);
      }
      if (isDeviceError(e, 'timeout')) {
        // The stage may still be moving: stop it rather than leave it running unattended.
        await stopNow().catch(() => {});
      }
      throw e;
    } finally {
      busy = false;
    }
    if (stopRequested) throw new DeviceError('interrupted', label, 'm (move)', 'move stopped before reaching its target');
    return position();
  };

  const stopNow = (): Promise<void> =>
    link.request({ name: 'ETX (stop)', bytes: Buffer.of(ETX), parse: null, timeoutMs: shortTimeout, urgent: true });

  // After an unplug the box may still be executing a move we no longer track:
  // stop it, let its interrupt reply drain, and forget what we knew.
  const connection = withReconnectHook(link, async () => {
    await stopNow();
    await sleep(clock, 50);
    lastKnown = undefined;
    speedSet = -1;
    await ack('a (absolute mode)', Buffer.from('a\r'));
  });

  return {
    model: 'Sutter MP-285',
    connection,
    limits,
    resolution: 1 / ustepsPerUm,
    get busy() {
      return busy;
    },
    position,
    moveTo,
    async moveBy(delta, opts) {
      const from = lastKnown ?? (await position());
      return moveTo([from[0] + delta[0], from[1] + delta[1], from[2] + delta[2]], opts);
    },
    async stop() {
      stopRequested = busy;
      await stopNow();
    },
  };
}
