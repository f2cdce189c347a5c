/**
 * Scientifica PatchStar / LinLab host → device stream, read from the protocol
 * (shared/domain/devices.md and the manipulators README): ASCII lines ending
 * in CR (LF ignored), case-insensitive words separated by spaces, integer
 * arguments in position units (0.1 µm on v2 firmware, 0.01 µm on v3); TOP is
 * the speed in position units per second.
 *
 * The unit is not on the host side of the wire: it comes from the reply to
 * `ver` (major ≥ 3: v3), or from the device answering `P`, which only v3
 * firmware does (v2 answers E,1).
 */
import { BAUD, CR, LF, MAX_LINE, TAB, UNIT_UM } from '../../../drivers/manipulators/scientifica/protocol.ts';
import type { Axes, ManipulatorCommand } from './commands.ts';
import { joinChunks, printable, replyLineAfter, type Decoded, type WireChunk } from './stream.ts';

const INTEGER = /^[+-]?\d+$/;
/** commands with no effect on motion, and how many arguments each may take */
const QUERIES: Record<string, number[]> = {
  SCIENTIFICA: [0],
  DESC: [0],
  TYPE: [0],
  DATE: [0],
  S: [0],
  POS: [0],
  P: [0],
  PX: [0],
  PY: [0],
  PZ: [0],
  FIRST: [0, 1],
  ACC: [0, 1],
};

export function decodeScientifica(device: string, input: readonly WireChunk[], output: readonly WireChunk[], baud = BAUD): Decoded<ManipulatorCommand> {
  const ms = 10_000 / baud;
  const s = joinChunks(device, input, ms);
  const out = joinChunks(`${device} (replies)`, output, ms);
  const b = s.bytes;
  const commands: ManipulatorCommand[] = [];
  let unit: number | null = null;
  let top: number | null = null;
  let i = 0;
  const done = (error: ReturnType<typeof s.fail> | null): Decoded<ManipulatorCommand> => ({ commands, error });
  while (i < s.length) {
    const end = b.indexOf(CR, i);
    if (end < 0) return done(s.fail(i, 'command line not terminated by CR'));
    let raw = b.subarray(i, end);
    if (raw.includes(LF)) raw = Buffer.from(raw.filter((x) => x !== LF));
    const t = s.timeOf(end);
    const text = raw.toString('latin1');
    if (raw.length > MAX_LINE) return done(s.fail(i, `line of ${raw.length} characters (longest ${MAX_LINE})`));
    if (!/^[\x20-\x7e]*$/.test(text)) return done(s.fail(i, `non-printable byte in "${printable(raw)}"`));
    const words = text.trim().split(/ +/).filter((w) => w !== '');
    if (words.length === 0) return done(s.fail(i, 'empty command line'));
    const name = words[0].toUpperCase();
    const args = words.slice(1);
    if (!args.every((a) => INTEGER.test(a))) return done(s.fail(i, `"${text}": arguments must be integers`));
    const n = args.map(Number);
    const bad = (): ReturnType<typeof done> => done(s.fail(i, `"${text}": wrong number of arguments for ${name}`));
    const reply = () => replyLineAfter(out, t, CR, MAX_LINE);
    /** a move's target in position units, and whether it is relative */
    let move: { target: Axes; relative: boolean } | null = null;
    switch (name) {
      case 'ABS':
        if (n.length !== 3) return bad();
        move = { target: [n[0], n[1], n[2]], relative: false };
        break;
      case 'ABSZ':
        if (n.length !== 1) return bad();
        move = { target: [null, null, n[0]], relative: false };
        break;
      case 'REL':
        if (n.length !== 3) return bad();
        move = { target: [n[0], n[1], n[2]], relative: true };
        break;
      case 'TOP':
        if (n.length > 1) return bad();
        if (n.length === 1) {
          if (n[0] < 1) return done(s.fail(i, `"${text}": TOP must be ≥ 1`));
          top = n[0];
        }
        break;
      case 'STOP':
        if (n.length !== 0) return bad();
        commands.push({ kind: 'stop', t, unit: 1, wire: text });
        break;
      case 'ZERO':
        if (n.length !== 0) return bad();
        commands.push({ kind: 'origin', t, unit: 1, wire: text });
        break;
      case 'VER': {
        if (n.length !== 0) return bad();
        const major = /^(\d+)\./.exec(reply()?.line ?? '');
        if (!major) return done(s.fail(i, 'no "major.minor" reply to ver'));
        unit = Number(major[1]) >= 3 ? UNIT_UM[3] : UNIT_UM[2];
        break;
      }
      default: {
        const counts = QUERIES[name];
        if (!counts) return done(s.fail(i, `unknown command "${text}"`));
        if (!counts.includes(n.length)) return bad();
        if (name !== 'P' && name !== 'POS') break;
        const r = reply();
        const fields = r?.line.split(String.fromCharCode(TAB)) ?? [];
        if (r && fields.length === 3 && fields.every((f) => INTEGER.test(f))) {
          // Only v3 firmware answers P with a position.
          if (name === 'P') unit = UNIT_UM[3];
          const u = unit;
          if (u !== null) {
            const position = fields.map((f) => Number(f) * u) as Axes;
            commands.push({ kind: 'position', t: out.timeOf(r.at + r.line.length), unit: 1, position, wire: `${name} → ${fields.join(' ')}` });
          }
        }
      }
    }
    if (move) {
      if (unit === null) return done(s.fail(i, `"${text}" before the firmware's position unit is known (no ver or P reply)`));
      const u = unit;
      commands.push({
        kind: 'move',
        t,
        unit: 1,
        target: move.target.map((v) => (v === null ? null : v * u)) as Axes,
        relative: move.relative,
        speed: top === null ? null : top * u,
        ...(top === null ? { speedNote: 'no TOP sent: the device runs at its default top speed' } : {}),
        resolution: u,
        wire: text,
      });
    }
    i = end + 1;
  }
  return done(null);
}
