/**
 * autopatch pressure box host → device stream, read from
 * drivers/pressure/autopatch-pbox/PROTOCOL.md: ASCII, one command per line
 * ending in LF, CR ignored anywhere, case-insensitive words separated by
 * spaces, at most 64 characters; blank lines ignored. Channels 1…N.
 *
 * A line the box would answer with ERR 1, 2, 4 or 6 (unknown command, bad
 * channel, bad argument, too long) is refused here: a host that sends one has
 * lost track of the protocol. Values out of range (ERR 3) decode, and are the
 * checks' business.
 */
import { BAUD, CR, LF, MAX_LINE } from '../../../drivers/pressure/autopatch-pbox/protocol.ts';
import type { PressureCommand } from './commands.ts';
import { joinChunks, printable, type Decoded, type WireChunk } from './stream.ts';

const MBAR = /^[+-]?\d+(\.\d+)?$/;
const MS = /^\d+$/;
const CHANNEL = /^\d+$/;

export function decodePbox(device: string, input: readonly WireChunk[], channels: number, baud = BAUD): Decoded<PressureCommand> {
  const s = joinChunks(device, input, 10_000 / baud);
  const b = s.bytes;
  const commands: PressureCommand[] = [];
  let i = 0;
  const done = (error: ReturnType<typeof s.fail> | null): Decoded<PressureCommand> => ({ commands, error });
  while (i < s.length) {
    const end = b.indexOf(LF, i);
    if (end < 0) return done(s.fail(i, 'command line not terminated by LF'));
    const raw = Buffer.from(b.subarray(i, end).filter((x) => x !== CR));
    const text = raw.toString('latin1');
    const t = s.timeOf(end);
    const fail = (detail: string) => done(s.fail(i, `"${printable(raw)}": ${detail}`));
    if (raw.length > MAX_LINE) return fail(`${raw.length} characters (longest ${MAX_LINE})`);
    if (!/^[\x20-\x7e]*$/.test(text)) return fail('non-printable byte');
    const words = text.split(/ +/).filter((w) => w !== '');
    i = end + 1;
    if (words.length === 0) continue;
    const name = words[0].toUpperCase();
    const args = words.slice(1);
    const channel = (k: number): number | null => {
      if (!CHANNEL.test(args[k] ?? '')) return null;
      const ch = Number(args[k]);
      return ch >= 1 && ch <= channels ? ch : null;
    };
    const arity: Record<string, number[]> = {
      'ID?': [0],
      PING: [0],
      SET: [2],
      'SET?': [1],
      VALVE: [2],
      'VALVE?': [1],
      READ: [1],
      PULSE: [3],
      ABORT: [1],
      'STAT?': [0, 1],
    };
    if (!arity[name]) return fail('unknown command');
    if (!arity[name].includes(args.length)) return fail(`${args.length} arguments`);
    const ch = args.length > 0 ? channel(0) : null;
    if (args.length > 0 && ch === null) return fail(`no channel ${args[0]} (1–${channels})`);
    const wire = text.trim();
    switch (name) {
      case 'SET':
        if (!MBAR.test(args[1])) return fail(`"${args[1]}" is not a pressure`);
        commands.push({ kind: 'set', t, channel: ch!, mbar: Number(args[1]), wire });
        break;
      case 'VALVE': {
        const v = args[1].toUpperCase();
        if (v !== 'REG' && v !== 'ATM') return fail(`valve position "${args[1]}"`);
        commands.push({ kind: 'valve', t, channel: ch!, source: v === 'REG' ? 'regulator' : 'atmosphere', wire });
        break;
      }
      case 'PULSE':
        if (!MBAR.test(args[1])) return fail(`"${args[1]}" is not a pressure`);
        if (!MS.test(args[2])) return fail(`"${args[2]}" is not a whole number of ms`);
        commands.push({ kind: 'pulse', t, channel: ch!, mbar: Number(args[1]), ms: Number(args[2]), wire });
        break;
      case 'ABORT':
        commands.push({ kind: 'abort', t, channel: ch!, wire });
        break;
      default:
        commands.push({ kind: 'query', t, channel: ch, wire });
    }
  }
  return done(null);
}
