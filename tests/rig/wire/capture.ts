/**
 * The raw byte streams of every port of a simulated rig, and their decoding
 * per pipette.
 *
 * The binding's byte log is the record: where it kept every entry (dropped
 * = 0) both directions come from it. The amplifier bridges' logs keep only
 * their most recent entries (sample frames are big), so for them the host's
 * bytes are the log's entries up to the moment capture began (still complete
 * then) followed by every host write the binding saw afterwards
 * (`onHostWrite`, stamped with the write time; at 12 Mbaud the line time is
 * under a µs per byte). Where the log is complete the two sources are compared.
 */
import type { Clock } from '../../../src/clock/clock.ts';
import type { RigConfig } from '../../../src/rig/config.ts';
import type { SimulatedRig } from '../../../src/rig/simulated-rig.ts';
import { BAUD_SM5, BAUD_SM10 } from '../../../drivers/manipulators/luigs-neumann-sm10/protocol.ts';
import { decodeAmpBridge } from './amp-bridge.ts';
import type { AmpCommand, ManipulatorCommand, PressureCommand } from './commands.ts';
import { decodeMp285 } from './mp285.ts';
import { decodeMpc325 } from './mpc325.ts';
import { decodePbox } from './pbox.ts';
import { decodeScientifica } from './scientifica.ts';
import { decodeSm10 } from './sm10.ts';
import type { Decoded, WireChunk, WireDecodeError } from './stream.ts';

export interface PortStreams {
  /** host → device */
  in: WireChunk[];
  /** device → host (empty where the log did not keep it) */
  out: WireChunk[];
}

export interface WireCapture {
  streams(): Map<string, PortStreams>;
  /** ports whose byte log is complete but whose host writes differ from its host → device entries */
  disagreements(): string[];
  stop(): void;
}

/** Start capturing every port of `sim`; call before the session starts (the logs must still be complete). */
export function captureWire(sim: SimulatedRig, clock: Clock): WireCapture {
  const initial = new Map<string, { inCount: number; in: WireChunk[] }>();
  for (const path of sim.paths()) {
    const log = sim.binding.byteLog(path);
    if (log.dropped > 0) throw new Error(`${path}: the byte log already dropped ${log.dropped} entries; capture must start earlier`);
    const entries = log.entries.filter((e) => e.dir === 'in');
    initial.set(path, { inCount: entries.length, in: entries.map((e) => ({ t: e.t, bytes: e.bytes })) });
  }
  const writes = new Map<string, WireChunk[]>(sim.paths().map((p) => [p, []]));
  const stop = sim.binding.onHostWrite((path, bytes) => writes.get(path)!.push({ t: clock.now(), bytes: Buffer.from(bytes) }));
  return {
    streams() {
      const out = new Map<string, PortStreams>();
      for (const path of sim.paths()) {
        const log = sim.binding.byteLog(path);
        if (log.dropped === 0) {
          const chunk = (dir: 'in' | 'out') => log.entries.filter((e) => e.dir === dir).map((e) => ({ t: e.t, bytes: e.bytes }));
          out.set(path, { in: chunk('in'), out: chunk('out') });
        } else {
          out.set(path, { in: [...initial.get(path)!.in, ...writes.get(path)!], out: [] });
        }
      }
      return out;
    },
    disagreements() {
      const bad: string[] = [];
      for (const path of sim.paths()) {
        const log = sim.binding.byteLog(path);
        if (log.dropped > 0) continue;
        const logged = Buffer.concat(log.entries.filter((e) => e.dir === 'in').slice(initial.get(path)!.inCount).map((e) => e.bytes));
        const written = Buffer.concat(writes.get(path)!.map((w) => w.bytes));
        if (!logged.equals(written)) bad.push(path);
      }
      return bad;
    },
    stop,
  };
}

// ------------------------------------------------------------------ decoding

export interface PipetteWire {
  pipetteId: string;
  manipulator: { path: string; unit: number; commands: ManipulatorCommand[] };
  /** channel numbered as on the wire (1…N) */
  pressure: { path: string; channel: number; commands: PressureCommand[] };
  amplifier: { path: string; channel: number; commands: AmpCommand[] };
}

export interface DecodedRig {
  pipettes: PipetteWire[];
  /** bytes a decoder could not read, one per port at most */
  errors: WireDecodeError[];
  /** commands that reached a drive, manipulator or channel no pipette owns */
  strays: string[];
  /** commands decoded per port */
  counts: Map<string, number>;
}

const empty: PortStreams = { in: [], out: [] };

/** Decode every port of the rig described by `config` and sort the commands out by pipette. */
export function decodeRig(config: RigConfig, streams: Map<string, PortStreams>): DecodedRig {
  const errors: WireDecodeError[] = [];
  const strays: string[] = [];
  const counts = new Map<string, number>();
  const cache = new Map<string, Decoded<unknown>>();
  const decodeOnce = <C>(path: string, decode: (s: PortStreams) => Decoded<C>): C[] => {
    let d = cache.get(path) as Decoded<C> | undefined;
    if (!d) {
      d = decode(streams.get(path) ?? empty);
      cache.set(path, d);
      counts.set(path, d.commands.length);
      if (d.error) errors.push(d.error);
    }
    return d.commands;
  };

  const manipulatorCommands = (spec: RigConfig['pipettes'][number]['manipulator']): ManipulatorCommand[] =>
    decodeOnce(spec.path, (s) => {
      switch (spec.driver) {
        case 'sutter-mp285':
          return decodeMp285(spec.path, s.in, s.out, spec.baudRate);
        case 'sutter-mpc325':
          return decodeMpc325(spec.path, s.in, s.out, spec.baudRate);
        case 'scientifica':
          return decodeScientifica(spec.path, s.in, s.out, spec.baudRate);
        case 'luigs-neumann-sm10':
          return decodeSm10(spec.path, s.in, s.out, spec.model === 'SM-5' ? BAUD_SM5 : BAUD_SM10);
      }
    });

  const pipettes = config.pipettes.map((p): PipetteWire => {
    const m = p.manipulator;
    const unit = m.driver === 'sutter-mpc325' ? m.drive : m.driver === 'luigs-neumann-sm10' ? m.manipulator : 1;
    const box = config.pressureBoxes.find((b) => b.id === p.pressure.box);
    const amp = config.amplifiers.find((a) => a.id === p.amplifier.bridge);
    if (!box || !amp) throw new Error(`${p.id}: no pressure box ${p.pressure.box} or amplifier ${p.amplifier.bridge} in the rig`);
    const channel = p.pressure.channel + 1;
    return {
      pipetteId: p.id,
      manipulator: { path: m.path, unit, commands: manipulatorCommands(m).filter((c) => c.unit === unit) },
      pressure: { path: box.path, channel, commands: decodeOnce(box.path, (s) => decodePbox(box.path, s.in, box.channels)).filter((c) => c.channel === channel) },
      amplifier: {
        path: amp.path,
        channel: p.amplifier.channel,
        commands: decodeOnce(amp.path, (s) => decodeAmpBridge(amp.path, s.in, amp.channels)).filter((c) => c.channel === p.amplifier.channel),
      },
    };
  });

  // Anything addressed to a unit or channel that no pipette owns.
  const owned = (path: string, key: number) => pipettes.some((p) => (p.manipulator.path === path && p.manipulator.unit === key) || (p.pressure.path === path && p.pressure.channel === key) || (p.amplifier.path === path && p.amplifier.channel === key));
  for (const [path, d] of cache) {
    for (const c of d.commands as Array<{ unit?: number; channel?: number | null; kind: string; t: number; wire: string }>) {
      const key = c.unit ?? c.channel;
      if (key === undefined || key === null || c.kind === 'position' || c.kind === 'query') continue;
      if (!owned(path, key)) strays.push(`${path} @ ${c.t.toFixed(3)} ms: ${c.wire}`);
    }
  }
  return { pipettes, errors, strays, counts };
}
