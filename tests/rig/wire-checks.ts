/**
 * Checks on what the emulated devices actually received: the raw host →
 * device bytes the emulator binding recorded, decoded by readers written from
 * the protocol documents (tests/rig/wire/*), never by the drivers' encoders or
 * the emulators' own decoding.
 *
 * `checkWire` is the whole check of a session: decoding (any byte that does
 * not parse is reported), limits (rig configuration and preset), and the rules
 * that tie the bytes to the session's events (tests/rig/wire/rules.ts).
 * `limitViolations` is the limit part alone, straight from a rig's byte logs,
 * for sessions that did not capture from the start (the amplifier bridges'
 * logs keep only recent entries, so it leaves them out).
 */
import type { AutopatchPreset } from '../../src/protocol/types.ts';
import type { RigConfig } from '../../src/rig/config.ts';
import type { SimulatedRig } from '../../src/rig/simulated-rig.ts';
import { decodeRig, type PortStreams } from './wire/capture.ts';
import { amplifierViolations, manipulatorViolations, pressureViolations, type Violation } from './wire/limits.ts';
import { ruleViolations, type RuleName, type SessionEvent } from './wire/rules.ts';

export type { Violation } from './wire/limits.ts';
export { captureWire } from './wire/capture.ts';
export { sessionEvent, type SessionEvent } from './wire/rules.ts';

export interface WireReport {
  /** bytes a decoder could not read (with their time, offset and the bytes around them) */
  decodeErrors: string[];
  /** commands addressed to a drive or channel no pipette owns */
  strays: string[];
  limits: Violation[];
  rules: Violation[];
  counts: { moves: number; inTissueMoves: number; pressureSetpoints: number; ampSettings: number; commandsPerPort: Record<string, number> };
  /** instances of each rule the session gave to check */
  checked: Record<RuleName, number>;
}

export function checkWire(input: { config: RigConfig; preset: AutopatchPreset; streams: Map<string, PortStreams>; events: readonly SessionEvent[]; endT: number }): WireReport {
  const { config, preset } = input;
  const decoded = decodeRig(config, input.streams);
  const limits: Violation[] = [];
  const rules: Violation[] = [];
  const counts = { moves: 0, inTissueMoves: 0, pressureSetpoints: 0, ampSettings: 0, commandsPerPort: Object.fromEntries(decoded.counts) };
  const checked: Record<RuleName, number> = { gigaseal: 0, holding: 0, wholeCell: 0, safe: 0, end: 0 };
  for (const wire of decoded.pipettes) {
    const spec = config.pipettes.find((p) => p.id === wire.pipetteId)!;
    const box = config.pressureBoxes.find((b) => b.id === spec.pressure.box)!;
    const m = manipulatorViolations(spec, wire.manipulator.commands, preset);
    const p = pressureViolations(spec.id, box.limits, wire.pressure.commands);
    const a = amplifierViolations(spec.id, wire.amplifier.commands);
    limits.push(...m.violations, ...p.violations, ...a.violations);
    counts.moves += m.moves;
    counts.inTissueMoves += m.inTissue;
    counts.pressureSetpoints += p.setpoints;
    counts.ampSettings += a.checked;
    const r = ruleViolations(wire, input.events, preset, input.endT);
    rules.push(...r.violations);
    for (const k of Object.keys(checked) as RuleName[]) checked[k] += r.checked[k];
  }
  return { decodeErrors: decoded.errors.map((e) => e.message), strays: decoded.strays, limits, rules, counts, checked };
}

/**
 * Manipulator and pressure limits from the byte logs of `sim` (complete from
 * the start of the rig; the simulated rig, or the same emulators on PTYs), with the in-tissue speed rule when a preset is given.
 */
export function limitViolations(sim: Pick<SimulatedRig, 'config' | 'paths' | 'byteLog'>, preset?: AutopatchPreset): { violations: Array<Violation | string>; moves: number; pressureCommands: number } {
  const streams = new Map<string, PortStreams>();
  for (const path of sim.paths()) {
    const log = sim.byteLog(path);
    const chunks = (dir: 'in' | 'out') => log.entries.filter((e) => e.dir === dir).map((e) => ({ t: e.t, bytes: e.bytes }));
    streams.set(path, log.dropped === 0 ? { in: chunks('in'), out: chunks('out') } : { in: [], out: [] });
  }
  const config = sim.config;
  const decoded = decodeRig(config, streams);
  const violations: Array<Violation | string> = [...decoded.errors.map((e) => e.message)];
  for (const path of sim.paths()) {
    const log = sim.byteLog(path);
    if (log.dropped > 0 && !sim.config.amplifiers.some((a) => a.path === path)) violations.push(`${path}: byte log dropped ${log.dropped} entries, its commands cannot all be checked`);
  }
  let moves = 0;
  let pressureCommands = 0;
  for (const wire of decoded.pipettes) {
    const spec = config.pipettes.find((p) => p.id === wire.pipetteId)!;
    const box = config.pressureBoxes.find((b) => b.id === spec.pressure.box)!;
    const m = manipulatorViolations(spec, wire.manipulator.commands, preset ?? null);
    const p = pressureViolations(spec.id, box.limits, wire.pressure.commands);
    violations.push(...m.violations, ...p.violations);
    moves += m.moves;
    pressureCommands += p.setpoints;
  }
  return { violations, moves, pressureCommands };
}
