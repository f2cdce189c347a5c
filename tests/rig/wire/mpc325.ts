/**
 * Sutter MPC-200 / MPC-325 host → device stream, read from the protocol
 * (shared/domain/devices.md and the manipulators README): binary, no
 * terminators, commands act on the drive selected with 'I'.
 *
 *   'C'  'U'  'K'            queries (1 byte)
 *   'I' d                    select drive d (1–4)
 *   'M' x y z                fast move: every axis at the controller's fast speed
 *   'S' v (≥ 30 ms) x y z    straight-line move at speed-table entry v (0–15)
 *   0x03                     interrupt
 * Coordinates are int32 µsteps, 16 per µm. CR and LF between commands are ignored.
 * Coordinates of 'S' that arrive less than 30 ms after its speed byte are lost
 * by the controller (it then reads them as commands): such a stream is refused.
 */
import {
  BAUD,
  CMD,
  CR,
  ETX,
  LF,
  MAX_DRIVES,
  POSITION_REPLY_LENGTH,
  SPEED_SETTLE_MS,
  SPEED_TABLE_UM_S,
  USTEPS_PER_UM,
} from '../../../drivers/manipulators/sutter-mpc325/protocol.ts';
import type { Axes, ManipulatorCommand } from './commands.ts';
import { joinChunks, replyAfter, type Decoded, type WireChunk } from './stream.ts';

const COORDINATES = 12;

export function decodeMpc325(device: string, input: readonly WireChunk[], output: readonly WireChunk[], baud = BAUD): Decoded<ManipulatorCommand> {
  const ms = 10_000 / baud;
  const s = joinChunks(device, input, ms);
  const out = joinChunks(`${device} (replies)`, output, ms);
  const b = s.bytes;
  const commands: ManipulatorCommand[] = [];
  let drive: number | null = null;
  let i = 0;
  const done = (error: ReturnType<typeof s.fail> | null): Decoded<ManipulatorCommand> => ({ commands, error });
  const coordinates = (at: number): Axes => [0, 1, 2].map((k) => b.readInt32LE(at + 4 * k) / USTEPS_PER_UM) as Axes;
  const rawCoordinates = (at: number): string => [0, 1, 2].map((k) => b.readInt32LE(at + 4 * k)).join(' ');
  while (i < s.length) {
    const c = b[i];
    if (c === CR || c === LF) {
      i += 1;
      continue;
    }
    if (c === ETX) {
      if (drive === null) return done(s.fail(i, 'interrupt before any drive was selected'));
      commands.push({ kind: 'stop', t: s.timeOf(i), unit: drive, wire: '^C' });
      i += 1;
      continue;
    }
    if (c === CMD.select) {
      if (i + 2 > s.length) return done(s.fail(i, "'I' without its drive byte"));
      const d = b[i + 1];
      if (d < 1 || d > MAX_DRIVES) return done(s.fail(i + 1, `'I' selects drive ${d}, not 1–${MAX_DRIVES}`));
      drive = d;
      i += 2;
      continue;
    }
    if (c === CMD.position) {
      const t = s.timeOf(i);
      const reply = replyAfter(out, t, POSITION_REPLY_LENGTH);
      if (reply && reply.bytes[POSITION_REPLY_LENGTH - 1] === CR) {
        const d = reply.bytes[0];
        const raw = [0, 1, 2].map((k) => reply.bytes.readInt32LE(1 + 4 * k));
        commands.push({
          kind: 'position',
          t: out.timeOf(reply.at + POSITION_REPLY_LENGTH - 1),
          unit: d,
          position: raw.map((v) => v / USTEPS_PER_UM) as Axes,
          wire: `C → drive ${d} ${raw.join(' ')}`,
        });
      }
      i += 1;
      continue;
    }
    if (c === CMD.status || c === CMD.version) {
      i += 1;
      continue;
    }
    if (c === CMD.fastMove || c === CMD.straightMove) {
      const straight = c === CMD.straightMove;
      const head = straight ? 2 : 1;
      if (i + head + COORDINATES > s.length) return done(s.fail(i, `'${String.fromCharCode(c)}' needs ${head + COORDINATES} bytes, the stream ends after ${s.length - i}`));
      if (drive === null) return done(s.fail(i, 'move before any drive was selected'));
      let speed: number | null = null;
      if (straight) {
        const v = b[i + 1];
        if (v >= SPEED_TABLE_UM_S.length) return done(s.fail(i + 1, `'S' speed byte ${v}, not 0–${SPEED_TABLE_UM_S.length - 1}`));
        const gap = s.timeOf(i + 2) - s.timeOf(i + 1);
        if (gap < SPEED_SETTLE_MS) return done(s.fail(i + 2, `'S' coordinates ${gap.toFixed(2)} ms after the speed byte: the controller loses bytes for ${SPEED_SETTLE_MS} ms`));
        speed = SPEED_TABLE_UM_S[v];
      }
      const at = i + head;
      commands.push({
        kind: 'move',
        t: s.timeOf(at + COORDINATES - 1),
        unit: drive,
        target: coordinates(at),
        relative: false,
        speed,
        ...(straight ? {} : { speedNote: "'M' runs every axis at the controller's fast speed" }),
        resolution: 1 / USTEPS_PER_UM,
        wire: `${String.fromCharCode(c)}${straight ? ` v=${b[i + 1]}` : ''} ${rawCoordinates(at)}`,
      });
      i = at + COORDINATES;
      continue;
    }
    return done(s.fail(i, `unknown command byte 0x${c.toString(16).padStart(2, '0')}`));
  }
  return done(null);
}
