/**
 * Sutter MP-285 host → device stream, read from the protocol
 * (shared/domain/devices.md): binary, little-endian, every command ends in CR.
 *
 *   'm' x y z CR   (14 bytes, int32 µsteps; absolute or relative per 'a'/'b')
 *   'V' u16 CR     (bits 0–14 speed µm/s, bit 15 fine resolution)
 *   'c' 's' 'a' 'b' 'o' 'n' 'r' + CR,  0x03 alone = interrupt
 *
 * µsteps per µm are not on the host side of the wire: they come from the
 * device's reply to 's' (bytes 24–25). Positions come from the reply to 'c'.
 */
import { BAUD, CR, ETX, LF, POSITION_REPLY_LENGTH, STATUS_REPLY_LENGTH, STATUS_USTEPS_OFFSET } from '../../../drivers/manipulators/sutter-mp285/protocol.ts';
import type { Axes, ManipulatorCommand } from './commands.ts';
import { joinChunks, printable, replyAfter, type Decoded, type WireChunk } from './stream.ts';

const SPEED_MASK = 0x7fff;
const MOVE_LENGTH = 14;
const SPEED_LENGTH = 4;

export function decodeMp285(device: string, input: readonly WireChunk[], output: readonly WireChunk[], baud = BAUD): Decoded<ManipulatorCommand> {
  const ms = 10_000 / baud;
  const s = joinChunks(device, input, ms);
  const out = joinChunks(`${device} (replies)`, output, ms);
  const commands: ManipulatorCommand[] = [];
  let usteps: number | null = null;
  let absolute: boolean | null = null;
  let speed: number | null = null;
  const b = s.bytes;
  let i = 0;
  const done = (error: ReturnType<typeof s.fail> | null): Decoded<ManipulatorCommand> => ({ commands, error });
  while (i < s.length) {
    const c = b[i];
    if (c === ETX) {
      commands.push({ kind: 'stop', t: s.timeOf(i), unit: 1, wire: '^C' });
      i += 1;
      continue;
    }
    if (c === LF) {
      if (i > 0 && b[i - 1] === CR) {
        i += 1;
        continue;
      }
      return done(s.fail(i, 'LF that does not follow a CR'));
    }
    const letter = String.fromCharCode(c);
    if (letter === 'm') {
      if (i + MOVE_LENGTH > s.length) return done(s.fail(i, `'m' needs ${MOVE_LENGTH} bytes, the stream ends after ${s.length - i}`));
      if (b[i + MOVE_LENGTH - 1] !== CR) return done(s.fail(i + MOVE_LENGTH - 1, `'m' not terminated by CR`));
      const t = s.timeOf(i + MOVE_LENGTH - 1);
      if (usteps === null) return done(s.fail(i, `'m' before the device reported its µsteps per µm (no 's' reply yet)`));
      if (absolute === null) return done(s.fail(i, `'m' before 'a' or 'b' chose absolute or relative coordinates`));
      const raw = [0, 1, 2].map((k) => b.readInt32LE(i + 1 + 4 * k));
      const target = raw.map((v) => v / usteps!) as Axes;
      commands.push({
        kind: 'move',
        t,
        unit: 1,
        target,
        relative: !absolute,
        speed,
        ...(speed === null ? { speedNote: "no 'V' since power-up or reset: the device's default speed" } : {}),
        resolution: 1 / usteps,
        wire: `m ${raw.join(' ')}`,
      });
      i += MOVE_LENGTH;
      continue;
    }
    if (letter === 'V') {
      if (i + SPEED_LENGTH > s.length) return done(s.fail(i, `'V' needs ${SPEED_LENGTH} bytes`));
      if (b[i + SPEED_LENGTH - 1] !== CR) return done(s.fail(i + SPEED_LENGTH - 1, `'V' not terminated by CR`));
      const word = b.readUInt16LE(i + 1);
      speed = word & SPEED_MASK;
      i += SPEED_LENGTH;
      continue;
    }
    if ('csabonr'.includes(letter)) {
      if (i + 2 > s.length || b[i + 1] !== CR) return done(s.fail(i, `'${letter}' not followed by CR`));
      const t = s.timeOf(i + 1);
      if (letter === 's') {
        const reply = replyAfter(out, t, STATUS_REPLY_LENGTH);
        if (!reply || reply.bytes[STATUS_REPLY_LENGTH - 1] !== CR) return done(s.fail(i, `no ${STATUS_REPLY_LENGTH}-byte status reply to 's'`));
        usteps = reply.bytes.readUInt16LE(STATUS_USTEPS_OFFSET);
        if (usteps < 1) return done(s.fail(i, `status reply gives ${usteps} µsteps per µm`));
      } else if (letter === 'c') {
        const reply = replyAfter(out, t, POSITION_REPLY_LENGTH);
        // An error reply (digit + CR) carries no position; a position needs the units first.
        if (reply && reply.bytes[POSITION_REPLY_LENGTH - 1] === CR && usteps !== null) {
          const raw = [0, 1, 2].map((k) => reply.bytes.readInt32LE(4 * k));
          commands.push({ kind: 'position', t: out.timeOf(reply.at + POSITION_REPLY_LENGTH - 1), unit: 1, position: raw.map((v) => v / usteps!) as Axes, wire: `c → ${raw.join(' ')}` });
        }
      } else if (letter === 'a' || letter === 'b') {
        absolute = letter === 'a';
      } else if (letter === 'o') {
        commands.push({ kind: 'origin', t, unit: 1, wire: 'o' });
      } else if (letter === 'r') {
        // A reset returns speed and coordinate mode to the device's defaults, which the wire does not state.
        speed = null;
        absolute = null;
      }
      i += 2;
      continue;
    }
    return done(s.fail(i, `unknown command byte 0x${c.toString(16).padStart(2, '0')} (${printable(b.subarray(i, i + 1))})`));
  }
  return done(null);
}
