/**
 * What the controller wrote to each emulated device, taken at the serial
 * binding (every host write, the instant it leaves the controller), decoded
 * here with each device's documented wire format — independently of both the
 * drivers and the emulators. Each driver hands the port one whole command
 * per write (an MPC-325 straight move is two: 'S'+speed, then after the
 * settle pause its coordinates), so writes are decoded one at a time; a write
 * that is none of a device's commands is reported as unknown, never guessed.
 */
import type { Clock } from '../../src/clock/clock.ts';
import type { ManipulatorDriverName } from '../../src/rig/config.ts';
import type { SimulatedRig } from '../../src/rig/simulated-rig.ts';

export interface HostWrite {
  /** rig clock ms */
  t: number;
  bytes: Buffer;
}

export interface WireRecorder {
  readonly writes: ReadonlyMap<string, HostWrite[]>;
  /** how many writes each port has had so far: the "before/after" line for a moment */
  mark(): Map<string, number>;
  stop(): void;
}

export function recordHostWrites(sim: SimulatedRig, clock: Clock): WireRecorder {
  const writes = new Map<string, HostWrite[]>(sim.paths().map((p) => [p, []]));
  const off = sim.binding.onHostWrite((path, bytes) => writes.get(path)?.push({ t: clock.now(), bytes: Buffer.from(bytes) }));
  return {
    writes,
    mark: () => new Map([...writes].map(([p, w]) => [p, w.length])),
    stop: off,
  };
}

/** One command found in a port's byte stream, with the index of the write it began in. */
export interface Decoded<T> {
  write: number;
  command: T;
}

/**
 * The writes of one port as one stream (a driver may hand the port two
 * urgent stops at once), cut into commands by `next`: it returns the length
 * of the command at `at` and what it is, or null if the bytes there are none
 * of the device's commands (then the rest is reported as one unknown).
 */
function decodeStream<T>(writes: readonly HostWrite[], next: (b: Buffer, at: number) => [number, T] | null, unknown: T): Array<Decoded<T>> {
  const bytes = Buffer.concat(writes.map((w) => w.bytes));
  const writeAt: number[] = [];
  writes.forEach((w, i) => {
    for (let k = 0; k < w.bytes.length; k++) writeAt.push(i);
  });
  const out: Array<Decoded<T>> = [];
  for (let at = 0; at < bytes.length; ) {
    const found = next(bytes, at);
    if (!found || found[0] <= 0 || at + found[0] > bytes.length) {
      out.push({ write: writeAt[at], command: unknown });
      break;
    }
    out.push({ write: writeAt[at], command: found[1] });
    at += found[0];
  }
  return out;
}

export type ManipulatorCommand = 'move' | 'stop' | 'other' | 'unknown' | 'skip';

const CR = 0x0d;
const LF = 0x0a;
const ETX = 0x03;
const ch = (c: string): number => c.charCodeAt(0);
/** MP-285 (sutter-mp285/protocol.ts): command byte → command length */
const MP285: Record<number, [number, ManipulatorCommand]> = {
  [ETX]: [1, 'stop'],
  [ch('m')]: [14, 'move'], // 'm' x y z (int32) CR
  [ch('V')]: [4, 'other'], // 'V' u16 CR
  ...Object.fromEntries(['c', 's', 'a', 'b', 'o', 'n', 'r'].map((c) => [ch(c), [2, 'other']])),
};
/** MPC-325 (sutter-mpc325/protocol.ts) */
const MPC325: Record<number, [number, ManipulatorCommand]> = {
  [ETX]: [1, 'stop'],
  [ch('S')]: [14, 'move'], // 'S' speed x y z (the coordinates after the settle pause)
  [ch('M')]: [13, 'move'],
  [ch('I')]: [2, 'other'],
  [ch('C')]: [1, 'other'],
  [ch('U')]: [1, 'other'],
  [ch('K')]: [1, 'other'],
};
const SM10_MOVES = new Set([0x0048, 0x0049, 0x004a, 0x004b]);
const SM10_STOP = 0x00ff;

/** Up to (not including) the next `end` byte, and the length with it; null if the line is not finished. */
function line(b: Buffer, at: number, end: number): [number, string] | null {
  const i = b.indexOf(end, at);
  return i < 0 ? null : [i - at + 1, b.toString('latin1', at, i)];
}

/** The commands one manipulator port received, decoded with its device's protocol (see each driver's protocol.ts). */
export function manipulatorCommands(driver: ManipulatorDriverName, writes: readonly HostWrite[]): Array<Decoded<ManipulatorCommand>> {
  const table = driver === 'sutter-mp285' ? MP285 : driver === 'sutter-mpc325' ? MPC325 : null;
  return decodeStream<ManipulatorCommand>(
    writes,
    (b, at) => {
      if (table) {
        if (b[at] === CR || b[at] === LF) return [1, 'skip']; // ignored at a command boundary
        return table[b[at]] ?? null;
      }
      if (driver === 'scientifica') {
        const l = line(b, at, CR);
        if (!l) return null;
        const word = l[1].trim().split(/\s+/)[0].toUpperCase();
        if (word === 'STOP') return [l[0], 'stop'];
        if (word === 'ABS' || word === 'ABSZ' || word === 'REL') return [l[0], 'move'];
        return /^[A-Z?]+$/.test(word) ? [l[0], 'other'] : null;
      }
      // SM-10: 0x16 id(2) len data[len] crc(2)
      if (b[at] !== 0x16 || at + 4 > b.length) return null;
      const id = b.readUInt16BE(at + 1);
      const length = 6 + b[at + 3];
      return [length, id === SM10_STOP ? 'stop' : SM10_MOVES.has(id) ? 'move' : 'other'];
    },
    'unknown',
  ).filter((d) => d.command !== 'skip');
}

export type PressureCommand =
  | { kind: 'valve'; channel: number; to: 'REG' | 'ATM' }
  | { kind: 'set'; channel: number; mbar: number }
  | { kind: 'pulse'; channel: number; mbar: number }
  | { kind: 'other'; line: string };

/** Lines of the pressure box protocol (drivers/pressure/autopatch-pbox/PROTOCOL.md). */
export function pressureCommands(writes: readonly HostWrite[]): Array<Decoded<PressureCommand>> {
  return decodeStream<PressureCommand>(
    writes,
    (b, at) => {
      const l = line(b, at, LF);
      if (!l) return null;
      const [word, chan, arg] = l[1].trim().split(/\s+/);
      if (word === 'VALVE' && (arg === 'REG' || arg === 'ATM')) return [l[0], { kind: 'valve', channel: Number(chan), to: arg }];
      if (word === 'SET') return [l[0], { kind: 'set', channel: Number(chan), mbar: Number(arg) }];
      if (word === 'PULSE') return [l[0], { kind: 'pulse', channel: Number(chan), mbar: Number(arg) }];
      return [l[0], { kind: 'other', line: l[1] }];
    },
    { kind: 'other', line: '(not a line)' },
  );
}

export interface AmpCommand {
  name: string;
  args: string[];
}

const AMP_SYNC = 0xa5;
/** amp-bridge frame: 60-byte header (sample count u16 at 24), 4 bytes per sample, CRC-32 */
const ampFrameLength = (b: Buffer, at: number): number => 60 + 4 * b.readUInt16LE(at + 24) + 4;

/** Text commands of the amp bridge (`name(a,b,…)\n`); binary stimulus uploads are stepped over. */
export function ampCommands(writes: readonly HostWrite[]): Array<Decoded<AmpCommand>> {
  return decodeStream<AmpCommand>(
    writes,
    (b, at) => {
      if (b[at] === AMP_SYNC) return at + 26 <= b.length ? [ampFrameLength(b, at), { name: '(stimulus chunk)', args: [] }] : null;
      const l = line(b, at, LF);
      const m = l && /^(\w+)\((.*)\)$/.exec(l[1].trim());
      return l && m ? [l[0], { name: m[1], args: m[2] === '' ? [] : m[2].split(',') }] : null;
    },
    { name: '(unknown)', args: [] },
  );
}
