/**
 * Sutter MP-285 driver. The reference example for "how to add a driver"
 * (README): open a SerialLink, describe each command as bytes + a reply
 * parser + a deadline, check limits before anything is sent.
 *
 * Moves run one at a time under a lock (speed then move must not interleave
 * with another caller's). `stop()` bumps a generation counter: a move that
 * has not been written yet when it sees the change gives up, and one whose
 * bytes were already queued on the link is interrupted the moment they are
 * written, so a stop is never lost in the gap before the move reaches the box.
 */
import type { BindingInterface } from '@serialport/bindings-interface';
import type { Clock } from '../../../src/clock/clock.ts';
import { DeviceError, isDeviceError } from '../../errors.ts';
import { checkMoveDelta, checkMoveTarget, distance } from '../../core/limits.ts';
import { moveTimeoutMs, openSerialLink, withReconnectHook, type ParseResult, type ReplyParser, type SerialLink } from '../../core/serial-link.ts';
import { sleep } from '../../../src/clock/clock.ts';
import type { Manipulator, ManipulatorLimits, MoveOptions, Vec3 } from '../../types.ts';
import { add3, createMutex } from '../driver-common.ts';
import {
  BAUD,
  CR,
  ERROR_BITS,
  ERROR_INTERRUPTED,
  ERROR_MAX,
  ERROR_MIN,
  ETX,
  FINE_BIT,
  LF,
  POSITION_REPLY_LENGTH,
  STATUS_REPLY_LENGTH,
  STATUS_USTEPS_OFFSET,
  SPEED_MAX_WORD,
} from './protocol.ts';

export interface Mp285Options {
  path: string;
  binding: BindingInterface;
  clock: Clock;
  limits: ManipulatorLimits;
  baudRate?: number;
  /** reply deadline for short commands, ms */
  commandTimeoutMs?: number;
}

const isErrorByte = (b: number | undefined): boolean => b !== undefined && b >= ERROR_MIN && b <= ERROR_MAX;

/** What an error byte says: the codes are OR'd flags on '0' (which alone means serial overrun). */
export function describeMp285Error(code: number): string {
  const bits = code - ERROR_MIN;
  if (bits === 0) return `error '0': serial overrun`;
  const flags = ERROR_BITS.filter((f) => (bits & f.bit) !== 0).map((f) => f.text);
  return `error '${String.fromCharCode(code)}': ${flags.join(' + ')}`;
}

/** An error reply (one ASCII byte 0x30–0x3F, CR), allowing a stray LF before and after it; or null. */
function errorReplyIn(bytes: Buffer): number | null {
  let b = bytes;
  if (b[0] === LF) b = b.subarray(1);
  if (b[b.length - 1] === LF) b = b.subarray(0, b.length - 1);
  return b.length === 2 && isErrorByte(b[0]) && b[1] === CR ? b[0] : null;
}

/**
 * Some units (and USB adapters) send CR LF: the LF of the previous reply then
 * heads this one. Skip a leading LF that cannot be the start of this reply.
 * A fixed-length reply may itself start with 0x0A (a coordinate byte), so there
 * the LF is taken as stray only if the reply does not end in CR where it should.
 */
function skippingStrayLf<T>(parse: ReplyParser<T>, fixedLength?: number): ReplyParser<T> {
  const parser: ReplyParser<T> = (buf) => {
    if (buf[0] !== LF) return parse(buf);
    if (fixedLength !== undefined) {
      if (buf.length < fixedLength) return { status: 'more' };
      if (buf[fixedLength - 1] === CR) return parse(buf);
    }
    if (buf.length < 2) return { status: 'more' };
    const rest = parser(buf.subarray(1));
    return rest.status === 'more' ? rest : { ...rest, consumed: rest.consumed + 1 };
  };
  return parser;
}

/** Reply that is a lone CR (or an error byte + CR). */
const ackParser = skippingStrayLf<void>((buf) => {
  if (buf[0] === CR) return { status: 'done', value: undefined, consumed: 1 };
  if (buf.length < 2) return { status: 'more' };
  if (isErrorByte(buf[0]) && buf[1] === CR) return { status: 'device-error', detail: describeMp285Error(buf[0]), consumed: 2 };
  return { status: 'malformed', detail: `expected CR, got 0x${buf[0].toString(16)}`, consumed: 1 };
});

/** `n` bytes ending in CR, decoded. */
const binaryReply = <T>(name: string, n: number, decode: (b: Buffer) => T): ReplyParser<T> =>
  skippingStrayLf((buf): ParseResult<T> => {
    if (buf.length < n) return { status: 'more' };
    if (buf[n - 1] !== CR) return { status: 'malformed', detail: `${name} reply does not end in CR`, consumed: n };
    return { status: 'done', value: decode(buf.subarray(0, n)), consumed: n };
  }, n);

interface MoveInProgress {
  written: boolean;
  stopRequested: boolean;
}

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
      const code = isDeviceError(e, 'timeout') ? errorReplyIn(e.bytes) : null;
      if (isDeviceError(e) && code !== null) throw new DeviceError('device', e.device, e.command, describeMp285Error(code), e.bytes);
      throw e;
    }
  };

  const ack = (name: string, bytes: number[] | Buffer): Promise<void> =>
    link.request({ name, bytes: Buffer.from(bytes), parse: ackParser, timeoutMs: shortTimeout });

  let ustepsPerUm: number;
  try {
    ustepsPerUm = await withErrorReplies(
      link.request({
        name: 's (status)',
        bytes: Buffer.from('s\r'),
        timeoutMs: shortTimeout,
        parse: binaryReply('status', STATUS_REPLY_LENGTH, (b) => b.readUInt16LE(STATUS_USTEPS_OFFSET)),
      }),
    );
    if (ustepsPerUm < 1 || ustepsPerUm > 1000) throw new DeviceError('malformed', label, 's (status)', `implausible µsteps per µm: ${ustepsPerUm}`);
    await ack('a (absolute mode)', Buffer.from('a\r'));
  } catch (e) {
    await link.close();
    throw e;
  }

  const moveLock = createMutex();
  let speedSet = -1;
  let moves = 0; // moves started and not yet ended (queued ones included)
  let current: MoveInProgress | undefined;
  let stopGeneration = 0;
  let lastKnown: Vec3 | undefined;

  const position = async (): Promise<Vec3> => {
    const p = await withErrorReplies(
      link.request({
        name: 'c (position)',
        bytes: Buffer.from('c\r'),
        timeoutMs: shortTimeout,
        parse: binaryReply('position', POSITION_REPLY_LENGTH, (b): Vec3 => [
          b.readInt32LE(0) / ustepsPerUm,
          b.readInt32LE(4) / ustepsPerUm,
          b.readInt32LE(8) / ustepsPerUm,
        ]),
      }),
    );
    lastKnown = p;
    return p;
  };

  const stopNow = (): Promise<void> =>
    link.request({ name: 'ETX (stop)', bytes: Buffer.of(ETX), parse: null, timeoutMs: shortTimeout, urgent: true });

  const interrupted = (detail: string, bytes?: Buffer): DeviceError => new DeviceError('interrupted', label, 'm (move)', detail, bytes);

  /** The V word for a speed, or a refusal: V 0 is no speed at all. */
  const speedWord = (speed: number): number => {
    const word = Math.min(SPEED_MAX_WORD, Math.round(speed));
    if (word < 1) throw new DeviceError('invalid', label, 'V (speed)', `speed ${speed} µm/s is below the 1 µm/s the controller can be set to`);
    return word;
  };

  /** Speed, then the move; resolves when the box answers the move. Holds the lock. */
  const runMove = async (move: MoveInProgress, target: Vec3, word: number, from: Vec3): Promise<Vec3> => {
    if (word !== speedSet) {
      const v = Buffer.alloc(4);
      v[0] = 'V'.charCodeAt(0);
      v.writeUInt16LE(word | FINE_BIT, 1);
      v[3] = CR;
      speedSet = -1;
      await ack('V (speed)', v);
      speedSet = word;
    }
    if (move.stopRequested) throw interrupted('stopped before the move started');
    const m = Buffer.alloc(14);
    m[0] = 'm'.charCodeAt(0);
    for (let i = 0; i < 3; i++) m.writeInt32LE(Math.round(target[i] * ustepsPerUm), 1 + 4 * i);
    m[13] = CR;
    lastKnown = undefined;
    try {
      await link.request({
        name: 'm (move)',
        bytes: m,
        timeoutMs: moveTimeoutMs(distance(from, target), word),
        parse: ackParser,
        onWritten: () => {
          move.written = true;
          // A stop that came while the move waited on the link: interrupt it now it has arrived.
          if (move.stopRequested) void stopNow().catch(() => {});
        },
      });
    } catch (e) {
      const code = isDeviceError(e, 'device') ? errorReplyIn(e.bytes) : null;
      if (isDeviceError(e) && code !== null && ((code - ERROR_MIN) & ERROR_INTERRUPTED) !== 0) {
        throw interrupted('move stopped before reaching its target', e.bytes);
      }
      if (isDeviceError(e, 'timeout')) {
        // The stage may still be moving: stop it rather than leave it running unattended.
        await stopNow().catch(() => {});
      }
      throw e;
    }
    if (move.stopRequested) throw interrupted('move stopped before reaching its target');
    return position();
  };

  /** Run a move as the one move at a time; `plan` gives its target once the lock is held. */
  const exclusive = async (plan: (move: MoveInProgress) => Promise<{ target: Vec3; word: number; from: Vec3 }>): Promise<Vec3> => {
    const generation = stopGeneration;
    moves++;
    try {
      return await moveLock.run(async () => {
        if (generation !== stopGeneration) throw interrupted('stopped before the move started');
        const move: MoveInProgress = { written: false, stopRequested: false };
        current = move;
        try {
          const { target, word, from } = await plan(move);
          if (move.stopRequested) throw interrupted('stopped before the move started');
          return await runMove(move, target, word, from);
        } finally {
          current = undefined;
        }
      });
    } finally {
      moves--;
    }
  };

  const moveTo = async (target: Vec3, { speed }: MoveOptions): Promise<Vec3> => {
    checkMoveTarget(label, 'm (move)', target, speed, limits);
    const word = speedWord(speed);
    return exclusive(async () => ({ target, word, from: lastKnown ?? (await position()) }));
  };

  const moveBy = async (delta: Vec3, { speed }: MoveOptions): Promise<Vec3> => {
    checkMoveDelta(label, 'm (relative move)', delta, speed, limits);
    const word = speedWord(speed);
    // From where the stage is once earlier moves have ended, not where it was when asked.
    return exclusive(async () => {
      const from = lastKnown ?? (await position());
      const target = add3(from, delta);
      checkMoveTarget(label, 'm (relative move)', target, speed, limits);
      return { target, word, from };
    });
  };

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
      return moves > 0;
    },
    position,
    moveTo,
    moveBy,
    async stop() {
      stopGeneration++;
      if (current) current.stopRequested = true;
      await stopNow();
    },
  };
}
