/**
 * Luigs & Neumann SM-10 / SM-5 streams, read from the protocol
 * (shared/domain/devices.md and the manipulators README): every request is a
 * frame 0x16 id_hi id_lo len data crc_hi crc_lo, CRC-16/XMODEM over the data;
 * replies are the same frames starting 0x06 (ACK) or 0x15 (NAK).
 * Axes 1–3 are x, y, z of manipulator 1, 4–6 of manipulator 2; floats are
 * float32 LE in µm and µm/s.
 *
 *   0101 [axis]          position              0144 [axis, v]      slow-move velocity of the axis
 *   0048 / 0049 [axis, p] absolute fast / slow  004A / 004B [axis, d] relative fast / slow (|d| ≤ 255)
 *   0120 [axes…]         status                00FF [axes…]        stop   0400 [] connect
 *
 * Each axis moves on its own: the move commands a host sends for one
 * manipulator between two status polls make one motion, whose straight-line
 * speed is √Σ vᵢ² over the axes that move (the per-axis velocities in force).
 * A fast move runs at the controller's fast speed, which the wire never states.
 */
import { ACK, AXES_PER_MANIPULATOR, CMD, MAX_AXIS, MAX_DATA, MAX_RELATIVE_UM, NAK, SYN, BAUD_SM10 } from '../../../drivers/manipulators/luigs-neumann-sm10/protocol.ts';
import type { Axes, ManipulatorCommand } from './commands.ts';
import { joinChunks, type ByteStream, type Decoded, type WireChunk, type WireDecodeError } from './stream.ts';

/** CRC-16/XMODEM: polynomial 0x1021, initial 0, no reflection, no final XOR ("123456789" → 0x31C3). */
export function xmodemCrc16(data: Uint8Array): number {
  let crc = 0;
  for (const byte of data) {
    crc ^= byte << 8;
    for (let k = 0; k < 8; k++) crc = (crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1) & 0xffff;
  }
  return crc;
}

interface Frame {
  start: number;
  /** index of the last byte */
  last: number;
  id: number;
  data: Buffer;
}

/** Read every frame of a stream; stops at the first byte that is not a well-formed frame. */
function frames(s: ByteStream, starts: readonly number[]): { frames: Frame[]; error: WireDecodeError | null } {
  const out: Frame[] = [];
  const b = s.bytes;
  let i = 0;
  while (i < s.length) {
    if (!starts.includes(b[i])) return { frames: out, error: s.fail(i, `byte 0x${b[i].toString(16).padStart(2, '0')} outside a frame`) };
    if (i + 4 > s.length) return { frames: out, error: s.fail(i, 'frame header cut short') };
    const len = b[i + 3];
    if (len > MAX_DATA) return { frames: out, error: s.fail(i + 3, `frame data length ${len} > ${MAX_DATA}`) };
    const last = i + 4 + len + 1;
    if (last >= s.length) return { frames: out, error: s.fail(i, `frame of ${len} data bytes cut short`) };
    const data = b.subarray(i + 4, i + 4 + len);
    const crc = (b[last - 1] << 8) | b[last];
    const want = xmodemCrc16(data);
    if (crc !== want) return { frames: out, error: s.fail(last - 1, `CRC 0x${crc.toString(16)} where the data give 0x${want.toString(16)}`) };
    out.push({ start: i, last, id: (b[i + 1] << 8) | b[i + 2], data });
    i = last + 1;
  }
  return { frames: out, error: null };
}

const hex4 = (id: number): string => id.toString(16).padStart(4, '0').toUpperCase();
const manipulatorOf = (axis: number): number => Math.ceil(axis / AXES_PER_MANIPULATOR);
const indexOf = (axis: number): number => (axis - 1) % AXES_PER_MANIPULATOR;

interface Motion {
  t: number;
  unit: number;
  target: Axes;
  relative: boolean;
  fast: boolean;
  /** velocity in force for each commanded axis, null if never set */
  velocity: Array<number | null>;
  wire: string[];
}

export function decodeSm10(device: string, input: readonly WireChunk[], output: readonly WireChunk[], baud = BAUD_SM10): Decoded<ManipulatorCommand> {
  const ms = 10_000 / baud;
  const s = joinChunks(device, input, ms);
  const commands: ManipulatorCommand[] = [];
  const velocity = new Map<number, number>();
  const open = new Map<number, Motion>();

  const close = (unit: number): void => {
    const m = open.get(unit);
    if (!m) return;
    open.delete(unit);
    const moving = m.velocity.filter((_, k) => m.target[k] !== null);
    const known = !m.fast && moving.every((v) => v !== null);
    commands.push({
      kind: 'move',
      t: m.t,
      unit,
      target: m.target,
      relative: m.relative,
      speed: known ? Math.hypot(...(moving as number[])) : null,
      ...(known ? {} : { speedNote: m.fast ? 'fast move: the controller runs it at its fast speed' : 'an axis moved with no velocity (0144) set' }),
      // float32 µm: exact to a few nm over the travel
      resolution: 0.005,
      wire: m.wire.join('; '),
    });
  };

  const read = frames(s, [SYN]);
  let error: WireDecodeError | null = read.error;
  for (const f of read.frames) {
    const t = s.timeOf(f.last);
    const d = f.data;
    const fail = (detail: string): WireDecodeError => s.fail(f.start, `${hex4(f.id)}: ${detail}`);
    const axis = (k: number): number | null => (d[k] >= 1 && d[k] <= MAX_AXIS ? d[k] : null);
    const axesList = (): number[] | null => {
      if (d.length < 1 || d.length > MAX_AXIS) return null;
      const list = [...d];
      return list.every((a) => a >= 1 && a <= MAX_AXIS) ? list : null;
    };
    let bad: string | null = null;
    switch (f.id) {
      case CMD.absoluteFast:
      case CMD.absoluteSlow:
      case CMD.relativeFast:
      case CMD.relativeSlow: {
        const a = d.length === 5 ? axis(0) : null;
        if (a === null) {
          bad = 'expects [axis 1–6, float32]';
          break;
        }
        const value = d.readFloatLE(1);
        const relative = f.id === CMD.relativeFast || f.id === CMD.relativeSlow;
        const fast = f.id === CMD.absoluteFast || f.id === CMD.relativeFast;
        if (!Number.isFinite(value)) bad = `non-finite coordinate ${value}`;
        else if (relative && Math.abs(value) > MAX_RELATIVE_UM) bad = `relative move of ${value} µm (the controller takes ≤ ${MAX_RELATIVE_UM})`;
        if (bad) break;
        const unit = manipulatorOf(a);
        const k = indexOf(a);
        let m = open.get(unit);
        // A second command for an axis, or a different kind of move, starts a new motion.
        if (m && (m.target[k] !== null || m.relative !== relative || m.fast !== fast)) {
          close(unit);
          m = undefined;
        }
        if (!m) {
          m = { t, unit, target: [null, null, null], relative, fast, velocity: [null, null, null], wire: [] };
          open.set(unit, m);
        }
        m.target[k] = value;
        m.velocity[k] = velocity.get(a) ?? null;
        m.wire.push(`${hex4(f.id)} axis ${a} ${value}`);
        break;
      }
      case CMD.velocity: {
        const a = d.length === 5 ? axis(0) : null;
        if (a === null) {
          bad = 'expects [axis 1–6, float32]';
          break;
        }
        const v = d.readFloatLE(1);
        if (!(v > 0) || !Number.isFinite(v)) {
          bad = `velocity ${v} µm/s`;
          break;
        }
        // A velocity for an axis already in the open motion belongs to the next one.
        if (open.get(manipulatorOf(a))?.target[indexOf(a)] != null) close(manipulatorOf(a));
        velocity.set(a, v);
        break;
      }
      case CMD.status:
      case CMD.stop: {
        const list = axesList();
        if (!list) {
          bad = 'expects 1–6 axes 1–6';
          break;
        }
        const units = [...new Set(list.map(manipulatorOf))];
        for (const u of units) close(u);
        if (f.id === CMD.stop) for (const u of units) commands.push({ kind: 'stop', t, unit: u, wire: `00FF axes ${list.join(',')}` });
        break;
      }
      case CMD.position:
        if (d.length !== 1 || axis(0) === null) bad = 'expects [axis 1–6]';
        else close(manipulatorOf(d[0]));
        break;
      case CMD.connect:
        if (d.length !== 0) bad = 'expects no data';
        break;
      default:
        bad = 'unknown command';
    }
    if (bad) {
      error = fail(bad);
      break;
    }
  }
  for (const u of [...open.keys()]) close(u);

  // Positions: ACK frames of 0101 carry [axis, float32 µm].
  const out = joinChunks(`${device} (replies)`, output, ms);
  const replies = frames(out, [ACK, NAK]);
  for (const f of replies.frames) {
    if (out.bytes[f.start] !== ACK || f.id !== CMD.position || f.data.length !== 5) continue;
    const a = f.data[0];
    if (a < 1 || a > MAX_AXIS) continue;
    const position: Axes = [null, null, null];
    position[indexOf(a)] = f.data.readFloatLE(1);
    commands.push({ kind: 'position', t: out.timeOf(f.last), unit: manipulatorOf(a), position, wire: `0101 → axis ${a} ${position[indexOf(a)]}` });
  }
  commands.sort((x, y) => x.t - y.t);
  return { commands, error: error ?? replies.error };
}
