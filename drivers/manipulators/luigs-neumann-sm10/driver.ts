/**
 * Luigs & Neumann SM-10 / SM-5 driver. One controller (one serial port)
 * hosts up to two manipulators, so the port is opened once as a controller
 * and each manipulator is a Manipulator handle on it:
 *
 *   const lnc = await openSm10Controller({ path, binding, clock });
 *   const left = lnc.manipulator(1, limitsLeft);   // axes 1–3
 *   const right = lnc.manipulator(2, limitsRight); // axes 4–6
 *
 * Every command is a self-contained frame (axis numbers inside), so the two
 * handles share the link without selecting anything, and their moves may
 * overlap. `openSm10({ ..., manipulator })` is the one-manipulator shorthand.
 *
 * A straight move at speed v sets each axis's velocity to v·|dᵢ|/|d| (0144)
 * and starts one slow move per axis; the axes start a few ms apart (one
 * exchange each), which bends the line by at most v × that skew.
 *
 * Resends (up to `maxResends`): after a NAK "request CRC error" (the command
 * was not executed), after a NAK "no session" (SM-5; the session is
 * re-established first), and after a reply that fails its CRC. A relative
 * move is not idempotent, so a well-framed ACK whose CRC fails is taken as
 * accepted for it (the controller only ACKs what it executed) instead of
 * being resent.
 */
import type { BindingInterface } from '@serialport/bindings-interface';
import type { Clock } from '../../../src/clock/clock.ts';
import { sleep } from '../../../src/clock/clock.ts';
import { DeviceError, isDeviceError, type DeviceErrorKind } from '../../errors.ts';
import { checkMoveDelta, checkMoveTarget } from '../../core/limits.ts';
import { moveTimeoutMs, openSerialLink, withReconnectHook, type ReplyParser, type SerialLink } from '../../core/serial-link.ts';
import type { DeviceConnection, Manipulator, ManipulatorLimits, MoveOptions, Vec3 } from '../../types.ts';
import { add3, createMutex } from '../driver-common.ts';
import {
  ACK,
  AXES_PER_MANIPULATOR,
  BAUD_SM10,
  BAUD_SM5,
  CMD,
  CONTROLLER_TYPE,
  FRAME_OVERHEAD,
  MAX_DATA,
  MAX_RELATIVE_UM,
  NAK,
  NAK_CRC,
  NAK_NO_SESSION,
  NAK_REASONS,
  STATUS_MOVING,
  SYN,
  crc16xmodem,
  type Sm10Model,
} from './protocol.ts';

export interface Sm10ControllerOptions {
  path: string;
  binding: BindingInterface;
  clock: Clock;
  /** 'SM-10' (default) or 'SM-5' (38400 baud, session that times out) */
  model?: Sm10Model;
  /** defaults to the model's rate */
  baudRate?: number;
  /** reply deadline per frame, ms */
  commandTimeoutMs?: number;
  /** how often axis status is polled during a move, ms */
  pollIntervalMs?: number;
  /** SM-5: re-establish the session before a command after this much quiet, ms (the device drops it after ~3 s) */
  sessionIdleMs?: number;
  /** resends after a bad ACK (NAK or CRC error) */
  maxResends?: number;
}

export interface Sm10Controller {
  readonly model: string;
  readonly connection: DeviceConnection;
  /** a Manipulator for manipulator n (1: axes 1–3, 2: axes 4–6); one handle per manipulator */
  manipulator(n: 1 | 2, limits: ManipulatorLimits): Manipulator;
  close(): Promise<void>;
}

export interface Sm10Options extends Sm10ControllerOptions {
  limits: ManipulatorLimits;
  manipulator?: 1 | 2;
}

/** Split a relative move into equal segments no axis of which exceeds `maxStep` µm. */
export function splitRelative(delta: Vec3, maxStep = MAX_RELATIVE_UM): Vec3[] {
  const n = Math.max(1, Math.ceil(Math.max(...delta.map(Math.abs)) / maxStep - 1e-9));
  const segments: Vec3[] = [];
  const done = [0, 0, 0];
  for (let k = 1; k <= n; k++) {
    // Cut points at k/n of the way, so rounding never accumulates past the total.
    const next = delta.map((d) => (k === n ? d : (d * k) / n));
    segments.push([next[0] - done[0], next[1] - done[1], next[2] - done[2]]);
    for (let i = 0; i < 3; i++) done[i] = next[i];
  }
  return segments;
}

type Reply = { kind: 'ack'; data: Buffer } | { kind: 'nak'; reason: number; frame: Buffer } | { kind: 'corrupt'; acked: boolean; data: Buffer; frame: Buffer };

const hex = (cmd: number): string => cmd.toString(16).padStart(4, '0');

function requestFrame(cmd: number, data: Buffer | number[]): Buffer {
  const body = Buffer.from(data);
  const out = Buffer.alloc(FRAME_OVERHEAD + body.length);
  out[0] = SYN;
  out.writeUInt16BE(cmd, 1);
  out[3] = body.length;
  body.copy(out, 4);
  out.writeUInt16BE(crc16xmodem(body), 4 + body.length);
  return out;
}

const axisFloat = (axis: number, value: number): Buffer => {
  const b = Buffer.alloc(5);
  b[0] = axis;
  b.writeFloatLE(value, 1);
  return b;
};

function replyParser(cmd: number): ReplyParser<Reply> {
  return (buf) => {
    if (buf[0] !== ACK && buf[0] !== NAK) return { status: 'malformed', detail: `reply starts with 0x${buf[0].toString(16)}, not ACK or NAK`, consumed: 1 };
    if (buf.length < 4) return { status: 'more' };
    const len = buf[3];
    if (len > MAX_DATA) return { status: 'malformed', detail: `impossible reply length ${len}`, consumed: 1 };
    const total = len + FRAME_OVERHEAD;
    if (buf.length < total) return { status: 'more' };
    const frame = Buffer.from(buf.subarray(0, total));
    const id = frame.readUInt16BE(1);
    if (id !== cmd) return { status: 'malformed', detail: `reply is for command ${hex(id)}, expected ${hex(cmd)}`, consumed: total };
    const data = frame.subarray(4, 4 + len);
    if (crc16xmodem(data) !== frame.readUInt16BE(4 + len)) return { status: 'done', value: { kind: 'corrupt', acked: frame[0] === ACK, data, frame }, consumed: total };
    if (frame[0] === NAK) return { status: 'done', value: { kind: 'nak', reason: data[0] ?? 0, frame }, consumed: total };
    return { status: 'done', value: { kind: 'ack', data }, consumed: total };
  };
}

interface ExchangeOptions {
  urgent?: boolean;
  /** not idempotent: a well-framed ACK with a bad CRC is taken as accepted rather than resent */
  once?: boolean;
}

interface MoveInProgress {
  stopRequested: boolean;
  wake: AbortController;
}

/** below this an axis is not commanded at all, µm */
const AXIS_EPSILON_UM = 1e-3;

export async function openSm10Controller(options: Sm10ControllerOptions): Promise<Sm10Controller> {
  const { clock } = options;
  const model = options.model ?? 'SM-10';
  const label = `Luigs & Neumann ${model} @ ${options.path}`;
  const timeoutMs = options.commandTimeoutMs ?? 300;
  const pollIntervalMs = options.pollIntervalMs ?? 50;
  const sessionIdleMs = options.sessionIdleMs ?? 2_000;
  const maxResends = options.maxResends ?? 5;
  const needsSession = model === 'SM-5';
  const link: SerialLink = await openSerialLink({
    label,
    path: options.path,
    baudRate: options.baudRate ?? (model === 'SM-5' ? BAUD_SM5 : BAUD_SM10),
    binding: options.binding,
    clock,
  });

  let sessionOpen = false;
  let lastHeardAt = -Infinity;
  let establishing: Promise<void> | undefined;

  const exchange = async (cmd: number, data: Buffer | number[], name: string, opts: ExchangeOptions = {}): Promise<Buffer> => {
    let last: { kind: DeviceErrorKind; detail: string; bytes?: Buffer } | undefined;
    for (let attempt = 0; attempt <= maxResends; attempt++) {
      if (cmd === CMD.stop) {
        // A stop goes out even if the session cannot be re-established (a silent
        // controller may still be listening); without a session it is NAKed and resent.
        await ensureSession(opts.urgent).catch(() => {});
      } else if (cmd !== CMD.connect) {
        await ensureSession(opts.urgent);
      }
      const reply = await link.request({ name, bytes: requestFrame(cmd, data), parse: replyParser(cmd), timeoutMs, urgent: opts.urgent });
      if (reply.kind === 'ack') {
        lastHeardAt = clock.now();
        return reply.data;
      }
      if (reply.kind === 'corrupt') {
        lastHeardAt = clock.now();
        if (opts.once && reply.acked) return reply.data;
        last = { kind: 'malformed', detail: 'reply failed its CRC', bytes: reply.frame };
        continue;
      }
      if (reply.reason === NAK_CRC) {
        lastHeardAt = clock.now();
        last = { kind: 'device', detail: `NAK: ${NAK_REASONS[NAK_CRC]}`, bytes: reply.frame };
        continue;
      }
      if (reply.reason === NAK_NO_SESSION && needsSession && cmd !== CMD.connect) {
        sessionOpen = false;
        last = { kind: 'device', detail: `NAK: ${NAK_REASONS[NAK_NO_SESSION]}`, bytes: reply.frame };
        continue;
      }
      throw new DeviceError('device', label, name, `NAK: ${NAK_REASONS[reply.reason] ?? `reason ${reply.reason}`}`, reply.frame);
    }
    throw new DeviceError(last!.kind, label, name, `${last!.detail} (gave up after ${maxResends} resends)`, last!.bytes);
  };

  const establish = (urgent?: boolean): Promise<void> => {
    establishing ??= (async () => {
      try {
        const reply = await exchange(CMD.connect, [], '0400 (connect)', { urgent });
        if (reply.length !== 1) throw new DeviceError('malformed', label, '0400 (connect)', `expected a 1-byte controller type, got ${reply.length} bytes`, reply);
        if (reply[0] !== CONTROLLER_TYPE[model]) {
          const actual = Object.entries(CONTROLLER_TYPE).find(([, t]) => t === reply[0])?.[0] ?? `type ${reply[0]}`;
          throw new DeviceError('invalid', label, '0400 (connect)', `the controller is an ${actual}: open it with model '${actual}'`);
        }
        sessionOpen = true;
      } finally {
        establishing = undefined;
      }
    })();
    return establishing;
  };

  const ensureSession = async (urgent?: boolean): Promise<void> => {
    if (!needsSession) return;
    if (sessionOpen && clock.now() - lastHeardAt < sessionIdleMs) return;
    await establish(urgent);
  };

  try {
    await establish();
  } catch (e) {
    await link.close();
    throw e;
  }

  interface Unit {
    axes: number[];
    forget(): void;
  }
  const units = new Map<number, Unit>();

  const stopAxes = async (axes: number[], urgent: boolean): Promise<void> => {
    await exchange(CMD.stop, axes, '00FF (stop)', { urgent });
  };

  // After an unplug the axes may still run to targets we no longer track:
  // stop every manipulator handed out and forget what we knew.
  const connection = withReconnectHook(link, async () => {
    sessionOpen = false;
    await establish();
    for (const u of units.values()) {
      await stopAxes(u.axes, false);
      u.forget();
    }
  });

  const makeManipulator = (n: 1 | 2, limits: ManipulatorLimits): Manipulator => {
    if (n !== 1 && n !== 2) throw new DeviceError('invalid', label, 'manipulator', `manipulator must be 1 or 2 (got ${String(n)})`);
    if (units.has(n)) throw new DeviceError('invalid', label, 'manipulator', `manipulator ${n} already has a handle`);
    const axes = [1, 2, 3].map((a) => a + AXES_PER_MANIPULATOR * (n - 1));
    const moveLock = createMutex();
    let velocitySet: (number | undefined)[] = [undefined, undefined, undefined];
    let lastKnown: Vec3 | undefined;
    let moving = 0;
    let current: MoveInProgress | undefined;
    let stopGeneration = 0;
    units.set(n, {
      axes,
      forget() {
        velocitySet = [undefined, undefined, undefined];
        lastKnown = undefined;
      },
    });

    const position = async (): Promise<Vec3> => {
      const p: number[] = [];
      for (const axis of axes) {
        const r = await exchange(CMD.position, [axis], `0101 (position axis ${axis})`);
        if (r.length !== 5 || r[0] !== axis) throw new DeviceError('malformed', label, `0101 (position axis ${axis})`, `unexpected position data`, r);
        p.push(r.readFloatLE(1));
      }
      lastKnown = [p[0], p[1], p[2]];
      return lastKnown;
    };

    const idle = async (): Promise<boolean> => {
      const r = await exchange(CMD.status, axes, '0120 (status)');
      if (r.length !== 2 * axes.length || axes.some((a, i) => r[2 * i] !== a)) throw new DeviceError('malformed', label, '0120 (status)', 'unexpected status data', r);
      return axes.every((_, i) => (r[2 * i + 1] & STATUS_MOVING) === 0);
    };

    /** axes (indices 0–2) that move, with the velocity each needs for a straight line at `speed` */
    const plan = async (d: Vec3, speed: number): Promise<number[]> => {
      const dist = Math.hypot(d[0], d[1], d[2]);
      const active = [0, 1, 2].filter((i) => Math.abs(d[i]) > AXIS_EPSILON_UM);
      for (const i of active) {
        const v = Math.fround((speed * Math.abs(d[i])) / dist);
        if (velocitySet[i] === v) continue;
        velocitySet[i] = undefined;
        await exchange(CMD.velocity, axisFloat(axes[i], v), `0144 (velocity axis ${axes[i]})`);
        velocitySet[i] = v;
      }
      return active;
    };

    /**
     * Poll until every axis is idle; on stop, make sure they are stopped and report it.
     * A poll lost on the line (no reply, garbled) does not end the move: only its deadline does.
     */
    const waitIdle = async (move: MoveInProgress, allowedMs: number): Promise<void> => {
      const deadline = clock.now() + allowedMs;
      for (;;) {
        await sleep(clock, pollIntervalMs, move.wake.signal).catch(() => {});
        if (move.stopRequested) break;
        let done = false;
        let lost: DeviceError | undefined;
        try {
          done = await idle();
        } catch (e) {
          if (!isDeviceError(e, 'timeout') && !isDeviceError(e, 'malformed')) throw e;
          lost = e;
        }
        if (move.stopRequested) break;
        if (done) return;
        if (clock.now() > deadline) {
          await stopAxes(axes, false).catch(() => {});
          if (lost) throw new DeviceError('timeout', label, 'move', `no status reply ${Math.round(allowedMs)} ms after the move started (${lost.message})`, lost.bytes);
          throw new DeviceError('timeout', label, 'move', `still moving ${Math.round(allowedMs)} ms after the move started`);
        }
      }
      // A stop that overtook a queued axis command would leave that axis running: stop again.
      await stopAxes(axes, false);
      await position().catch(() => {});
      throw new DeviceError('interrupted', label, 'move', 'move stopped before reaching its target');
    };

    /** Run `work` as this manipulator's one move at a time, cancelled by an earlier stop. */
    const exclusive = async (work: (move: MoveInProgress) => Promise<Vec3>): Promise<Vec3> => {
      const generation = stopGeneration;
      moving++;
      try {
        return await moveLock.run(async () => {
          if (generation !== stopGeneration) throw new DeviceError('interrupted', label, 'move', 'stopped before the move started');
          const move: MoveInProgress = { stopRequested: false, wake: new AbortController() };
          current = move;
          try {
            return await work(move);
          } finally {
            current = undefined;
          }
        });
      } finally {
        moving--;
      }
    };

    const interruptedBeforeStart = (move: MoveInProgress): void => {
      if (move.stopRequested) throw new DeviceError('interrupted', label, 'move', 'stopped before the move started');
    };

    const moveTo = async (target: Vec3, { speed }: MoveOptions): Promise<Vec3> => {
      checkMoveTarget(label, '0049 (move)', target, speed, limits);
      return exclusive(async (move) => {
        const from = await position();
        const d: Vec3 = [target[0] - from[0], target[1] - from[1], target[2] - from[2]];
        const active = await plan(d, speed);
        if (active.length === 0) return from;
        interruptedBeforeStart(move);
        lastKnown = undefined;
        for (const i of active) await exchange(CMD.absoluteSlow, axisFloat(axes[i], target[i]), `0049 (move axis ${axes[i]})`);
        await waitIdle(move, moveTimeoutMs(Math.hypot(...d), speed));
        return position();
      });
    };

    const moveBy = async (delta: Vec3, { speed }: MoveOptions): Promise<Vec3> => {
      checkMoveDelta(label, '004B (relative move)', delta, speed, limits);
      return exclusive(async (move) => {
        // 004B moves from wherever the stage is when it runs: check the limits from
        // there (read now, inside the lock), not from where it was when asked.
        const from = await position();
        checkMoveTarget(label, '004B (relative move)', add3(from, delta), speed, limits);
        interruptedBeforeStart(move);
        const active = await plan(delta, speed);
        if (active.length === 0) return position();
        lastKnown = undefined;
        for (const segment of splitRelative(delta)) {
          interruptedBeforeStart(move);
          for (const i of active) {
            await exchange(CMD.relativeSlow, axisFloat(axes[i], segment[i]), `004B (relative move axis ${axes[i]})`, { once: true });
          }
          await waitIdle(move, moveTimeoutMs(Math.hypot(...segment), speed));
        }
        return position();
      });
    };

    return {
      model: `Luigs & Neumann ${model} manipulator ${n}`,
      connection,
      limits,
      resolution: 0.01,
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
        await stopAxes(axes, true);
      },
    };
  };

  return {
    model: `Luigs & Neumann ${model}`,
    connection,
    manipulator: makeManipulator,
    close: () => link.close(),
  };
}

/** One manipulator on its own controller: opens the port, checks the manipulator answers. */
export async function openSm10(options: Sm10Options): Promise<Manipulator> {
  const controller = await openSm10Controller(options);
  try {
    const m = controller.manipulator(options.manipulator ?? 1, options.limits);
    await m.position();
    return m;
  } catch (e) {
    await controller.close();
    throw e;
  }
}
