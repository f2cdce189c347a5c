/**
 * Luigs & Neumann SM-10 / SM-5 emulator: a controller with one or two
 * manipulators (axes 1–3, 4–6), each axis moving on its own.
 *
 * Timing quirks kept: replies take `processingMs`; moves are acknowledged at
 * once and run on (poll 0120); an incomplete frame is dropped after
 * `frameTimeoutMs`; an SM-5 answers nothing but 0400 without a session and
 * drops the session after `sessionTimeoutMs` without a valid frame.
 * Test hook: `corruptNextReplies(n, mode)` damages the next n replies.
 */
import type { DeviceIO } from '../../core/emulator-binding.ts';
import type { Clock, TimerHandle } from '../../../src/clock/clock.ts';
import type { Vec3 } from '../../types.ts';
import type { DecodedMove, ManipulatorEmulator } from '../emulator-common.ts';
import { createAxisMotion, type AxisMotion } from './axis-motion.ts';
import {
  ACK,
  AXES_PER_MANIPULATOR,
  CMD,
  CONTROLLER_TYPE,
  FRAME_OVERHEAD,
  FRAME_TIMEOUT_MS,
  MAX_DATA,
  MAX_RELATIVE_UM,
  NAK,
  NAK_ARGUMENT,
  NAK_AXIS,
  NAK_CRC,
  NAK_NO_SESSION,
  NAK_UNKNOWN,
  SESSION_TIMEOUT_MS,
  STATUS_AT_END,
  STATUS_MOVING,
  STATUS_STOPPED,
  SYN,
  crc16xmodem,
  type Sm10Model,
} from './protocol.ts';

export interface Sm10EmulatorOptions {
  clock: Clock;
  model?: Sm10Model;
  /** manipulators connected: 1 (axes 1–3) or 2 (axes 1–6) */
  manipulators?: 1 | 2;
  /** power-up position of every manipulator, µm */
  initial?: Vec3;
  /** travel per axis from 0, µm */
  travel?: Vec3;
  /** speed of fast moves (0048/004A), µm/s */
  fastSpeed?: number;
  /** highest velocity 0144 accepts, µm/s */
  maxVelocity?: number;
  /** velocity of slow moves at power-up, µm/s */
  initialVelocity?: number;
  processingMs?: number;
  frameTimeoutMs?: number;
  sessionTimeoutMs?: number;
}

export type CorruptionMode = 'crc' | 'nak';

export interface Sm10Emulator extends ManipulatorEmulator {
  readonly controllerModel: Sm10Model;
  readonly sessionOpen: boolean;
  /** request frames with a good CRC, by command id (hex, e.g. "004b") */
  readonly frames: Readonly<Record<string, number>>;
  /** request frames that failed their CRC */
  readonly badFrames: number;
  /** bytes outside any frame (and incomplete frames dropped), ignored */
  readonly ignoredBytes: number;
  /**
   * Test hook. 'crc': the next n replies go out with a damaged CRC (the
   * commands were executed). 'nak': the next n requests are treated as if
   * they had arrived damaged: not executed, answered NAK reason 1.
   */
  corruptNextReplies(n: number, mode?: CorruptionMode): void;
  motion(unit?: number): AxisMotion;
}

const hex = (cmd: number): string => cmd.toString(16).padStart(4, '0');

export function createSm10Emulator(options: Sm10EmulatorOptions): Sm10Emulator {
  const { clock } = options;
  const model = options.model ?? 'SM-10';
  const manipulatorCount = options.manipulators ?? 2;
  const travel = options.travel ?? [25_000, 25_000, 25_000];
  const fastSpeed = options.fastSpeed ?? 3_000;
  const maxVelocity = options.maxVelocity ?? 3_000;
  const processingMs = options.processingMs ?? 1;
  const frameTimeoutMs = options.frameTimeoutMs ?? FRAME_TIMEOUT_MS;
  const sessionTimeoutMs = options.sessionTimeoutMs ?? SESSION_TIMEOUT_MS;
  const needsSession = model === 'SM-5';
  const stages: AxisMotion[] = [];
  for (let m = 0; m < manipulatorCount; m++) {
    stages.push(createAxisMotion({ clock, initial: options.initial ?? [12_500, 12_500, 5_000], travelMin: [0, 0, 0], travelMax: travel }));
  }
  const axisCount = manipulatorCount * AXES_PER_MANIPULATOR;
  const velocity: number[] = Array(axisCount + 1).fill(options.initialVelocity ?? 500);
  const stoppedFlag: boolean[] = Array(axisCount + 1).fill(false);
  const moves: DecodedMove[] = [];
  const frames: Record<string, number> = {};
  let stops = 0;
  let badFrames = 0;
  let ignoredBytes = 0;
  let io: DeviceIO | undefined;
  let frame: number[] = [];
  let frameTimer: TimerHandle | undefined;
  let session = !needsSession;
  let sessionTimer: TimerHandle | undefined;
  let crcDamage = 0;
  let nakDamage = 0;

  /** manipulator stage and axis index (0–2) of axis number 1–6 */
  const locate = (axis: number): { stage: AxisMotion; i: number; unit: number } => ({
    stage: stages[Math.floor((axis - 1) / AXES_PER_MANIPULATOR)],
    i: (axis - 1) % AXES_PER_MANIPULATOR,
    unit: Math.floor((axis - 1) / AXES_PER_MANIPULATOR) + 1,
  });
  const validAxis = (axis: number): boolean => Number.isInteger(axis) && axis >= 1 && axis <= axisCount;

  const sendFrame = (start: number, cmd: number, data: number[] | Buffer): void => {
    const body = Buffer.from(data);
    const out = Buffer.alloc(FRAME_OVERHEAD + body.length);
    out[0] = start;
    out.writeUInt16BE(cmd, 1);
    out[3] = body.length;
    body.copy(out, 4);
    let crc = crc16xmodem(body);
    if (crcDamage > 0) {
      crcDamage--;
      crc ^= 0x0001;
    }
    out.writeUInt16BE(crc, 4 + body.length);
    clock.setTimeout(() => io?.send(out), processingMs);
  };
  const ack = (cmd: number, data: number[] | Buffer = []): void => sendFrame(ACK, cmd, data);
  const nak = (cmd: number, reason: number): void => sendFrame(NAK, cmd, [reason]);

  const refreshSession = (): void => {
    if (!needsSession) return;
    clock.clearTimeout(sessionTimer);
    sessionTimer = clock.setTimeout(() => {
      session = false;
    }, sessionTimeoutMs);
  };
  const closeSession = (): void => {
    if (!needsSession) return;
    clock.clearTimeout(sessionTimer);
    session = false;
  };

  const axisList = (cmd: number, data: Buffer): number[] | undefined => {
    if (data.length < 1 || data.length > axisCount) {
      nak(cmd, NAK_ARGUMENT);
      return undefined;
    }
    const axes = [...data];
    if (!axes.every(validAxis)) {
      nak(cmd, NAK_AXIS);
      return undefined;
    }
    return axes;
  };

  const move = (cmd: number, data: Buffer): void => {
    if (data.length !== 5) return nak(cmd, NAK_ARGUMENT);
    const axis = data[0];
    if (!validAxis(axis)) return nak(cmd, NAK_AXIS);
    const value = data.readFloatLE(1);
    const relative = cmd === CMD.relativeFast || cmd === CMD.relativeSlow;
    if (!Number.isFinite(value) || (relative && Math.abs(value) > MAX_RELATIVE_UM)) return nak(cmd, NAK_ARGUMENT);
    const { stage, i, unit } = locate(axis);
    const target = relative ? stage.positionAt(clock.now())[i] + value : value;
    const speed = cmd === CMD.absoluteFast || cmd === CMD.relativeFast ? fastSpeed : velocity[axis];
    stoppedFlag[axis] = false;
    stage.moveAxis(i, target, speed);
    moves.push({ t: clock.now(), target: [stage.axisTarget(0), stage.axisTarget(1), stage.axisTarget(2)], speed, unit });
    ack(cmd, [axis]);
  };

  const execute = (cmd: number, data: Buffer): void => {
    switch (cmd) {
      case CMD.connect:
        if (data.length !== 0) return nak(cmd, NAK_ARGUMENT);
        session = true;
        refreshSession();
        return ack(cmd, [CONTROLLER_TYPE[model]]);
      case CMD.position: {
        if (data.length !== 1) return nak(cmd, NAK_ARGUMENT);
        if (!validAxis(data[0])) return nak(cmd, NAK_AXIS);
        const { stage, i } = locate(data[0]);
        const out = Buffer.alloc(5);
        out[0] = data[0];
        out.writeFloatLE(stage.positionAt(clock.now())[i], 1);
        return ack(cmd, out);
      }
      case CMD.absoluteFast:
      case CMD.absoluteSlow:
      case CMD.relativeFast:
      case CMD.relativeSlow:
        return move(cmd, data);
      case CMD.velocity: {
        if (data.length !== 5) return nak(cmd, NAK_ARGUMENT);
        if (!validAxis(data[0])) return nak(cmd, NAK_AXIS);
        const v = data.readFloatLE(1);
        if (!Number.isFinite(v) || v <= 0 || v > maxVelocity) return nak(cmd, NAK_ARGUMENT);
        velocity[data[0]] = v;
        return ack(cmd, [data[0]]);
      }
      case CMD.status: {
        const axes = axisList(cmd, data);
        if (!axes) return;
        const out: number[] = [];
        for (const axis of axes) {
          const { stage, i } = locate(axis);
          const moving = stage.axisMoving(i);
          const flags = (moving ? STATUS_MOVING : 0) | (stoppedFlag[axis] ? STATUS_STOPPED : 0) | (!moving && stage.clampedAtEnd(i) ? STATUS_AT_END : 0);
          out.push(axis, flags);
        }
        return ack(cmd, out);
      }
      case CMD.stop: {
        const axes = axisList(cmd, data);
        if (!axes) return;
        stops++;
        for (const axis of axes) {
          const { stage, i } = locate(axis);
          if (stage.stopAxis(i)) stoppedFlag[axis] = true;
        }
        return ack(cmd);
      }
      default:
        return nak(cmd, NAK_UNKNOWN);
    }
  };

  const handle = (bytes: number[]): void => {
    const cmd = (bytes[1] << 8) | bytes[2];
    const len = bytes[3];
    const data = Buffer.from(bytes.slice(4, 4 + len));
    const crc = (bytes[4 + len] << 8) | bytes[5 + len];
    if (crc16xmodem(data) !== crc) {
      badFrames++;
      return nak(cmd, NAK_CRC);
    }
    if (nakDamage > 0) {
      nakDamage--;
      return nak(cmd, NAK_CRC);
    }
    frames[hex(cmd)] = (frames[hex(cmd)] ?? 0) + 1;
    if (!session && cmd !== CMD.connect) return nak(cmd, NAK_NO_SESSION);
    refreshSession();
    execute(cmd, data);
  };

  const resetFrame = (): void => {
    clock.clearTimeout(frameTimer);
    frameTimer = undefined;
    frame = [];
  };

  return {
    model: `Luigs & Neumann ${model} (emulated)`,
    controllerModel: model,
    moves,
    frames,
    get stops() {
      return stops;
    },
    get sessionOpen() {
      return session;
    },
    get badFrames() {
      return badFrames;
    },
    get ignoredBytes() {
      return ignoredBytes;
    },
    corruptNextReplies(n, mode = 'crc') {
      if (mode === 'crc') crcDamage += n;
      else nakDamage += n;
    },
    motion(unit) {
      const s = stages[(unit ?? 1) - 1];
      if (!s) throw new Error(`${model} emulator has no manipulator ${unit}`);
      return s;
    },
    connect(next) {
      io = next;
      resetFrame();
      closeSession();
    },
    disconnect() {
      io = undefined;
      resetFrame();
      closeSession();
      // Axes keep running to their targets: the controller does not know the host left.
    },
    receive(bytes) {
      const queue = [...bytes];
      while (queue.length > 0) {
        const b = queue.shift()!;
        if (frame.length === 0) {
          if (b === SYN) frame.push(b);
          else ignoredBytes++;
          continue;
        }
        frame.push(b);
        if (frame.length === 4 && frame[3] > MAX_DATA) {
          // Cannot be a frame: drop its start byte and look for one in what followed.
          ignoredBytes++;
          queue.unshift(...frame.slice(1));
          frame = [];
          continue;
        }
        if (frame.length >= 4 && frame.length === frame[3] + FRAME_OVERHEAD) {
          const complete = frame;
          resetFrame();
          handle(complete);
        }
      }
      if (frame.length > 0) {
        // An incomplete frame is dropped if the rest does not follow promptly.
        clock.clearTimeout(frameTimer);
        frameTimer = clock.setTimeout(() => {
          ignoredBytes += frame.length;
          frame = [];
          frameTimer = undefined;
        }, frameTimeoutMs);
      }
    },
  };
}
