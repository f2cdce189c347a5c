/**
 * Rules that tie the bytes to what the controller said it was doing: the
 * pipette's state changes and test-pulse readings (its events), against the
 * pressure line and amplifier channel replayed from the decoded commands.
 *
 * - gigaseal (seal → cellAttached): the line is at atmosphere one test-pulse
 *   period (1 / test_pulse.rate_Hz) after the transition, and nothing puts
 *   negative pressure on it until the pipette enters breakIn or the attempt
 *   ends;
 * - holding: during seal, seal.holding_mV is in force on the channel one
 *   test-pulse period after the first reading at which R, filtered as the
 *   preset defines it (an exponential average with seal.holding_tau_s, started
 *   at seal entry), reaches seal.holding_at_MOhm;
 * - whole cell (any transition into wholeCell): the line is at atmosphere one
 *   test-pulse period later (at break_in_rate_Hz after breakIn), and for the
 *   rest of the attempt no zap and no suction except the preset's clear-access
 *   pulses (whole_cell.clear_access_mbar for clear_access_ms, at most
 *   clear_access_max, while in wholeCell);
 * - safe: when the pipette leaves safe (or the session ends) its line is at
 *   atmosphere and its channel in VC at 0 mV, and once both held nothing
 *   changed them (no valve to the regulator, pulse, holding or mode change,
 *   zap) until it left safe;
 * - end: when the session ends every line is at atmosphere.
 */
import type { PipetteStateName, RigEvent } from '../../../src/control/events.ts';
import type { AutopatchPreset } from '../../../src/protocol/types.ts';
import type { PipetteWire } from './capture.ts';
import type { Violation } from './limits.ts';
import { AMP_POWER_UP, LINE_POWER_UP, ampTimeline, effectivePressure, lineTimeline, stateAt, suctionOn, type AmpState, type LineState } from './timeline.ts';

/** The events the rules need, slimmed (a session has hundreds of thousands of readings). */
export type SessionEvent =
  | { type: 'pipette.state'; t: number; pipetteId: string; attemptId: string | null; from: PipetteStateName; to: PipetteStateName }
  | { type: 'pipette.testpulse'; t: number; pipetteId: string; r: number }
  | { type: 'attempt.ended'; t: number; pipetteId: string; attemptId: string };

export function sessionEvent(e: RigEvent): SessionEvent | null {
  switch (e.type) {
    case 'pipette.state':
      return { type: e.type, t: e.t, pipetteId: e.pipetteId, attemptId: e.attemptId, from: e.from, to: e.to };
    case 'pipette.testpulse':
      return { type: e.type, t: e.t, pipetteId: e.pipetteId, r: e.reading.r };
    case 'attempt.ended':
      return { type: e.type, t: e.t, pipetteId: e.record.pipetteId, attemptId: e.record.attemptId };
    default:
      return null;
  }
}

export type RuleName = 'gigaseal' | 'holding' | 'wholeCell' | 'safe' | 'end';

export interface RuleReport {
  violations: Violation[];
  /** how many instances of each rule the session gave to check */
  checked: Record<RuleName, number>;
}

const describeLine = (s: LineState): string => {
  const e = effectivePressure(s);
  return e.source === 'atmosphere' ? 'at atmosphere' : `on the regulator at ${e.mbar} mbar${s.pulse ? ' (pulse)' : ''}`;
};
const describeAmp = (a: AmpState): string => `${a.mode}, VC holding ${a.holdVC} mV`;

/** Exponential average over irregular readings, α = 1 − exp(−Δt/τ), started by the first reading. */
function firstFilteredCrossing(readings: ReadonlyArray<{ t: number; r: number }>, tauS: number, threshold: number): { t: number; value: number } | null {
  let value: number | null = null;
  let last = 0;
  for (const x of readings) {
    if (value === null) {
      value = x.r;
      last = x.t;
    } else if (x.t > last) {
      value += (tauS > 0 ? 1 - Math.exp(-(x.t - last) / (tauS * 1000)) : 1) * (x.r - value);
      last = x.t;
    }
    if (value >= threshold) return { t: x.t, value };
  }
  return null;
}

export function ruleViolations(wire: PipetteWire, events: readonly SessionEvent[], preset: AutopatchPreset, endT: number): RuleReport {
  const id = wire.pipetteId;
  const violations: Violation[] = [];
  const checked: Record<RuleName, number> = { gigaseal: 0, holding: 0, wholeCell: 0, safe: 0, end: 0 };
  const v = (rule: string, t: number, detail: string) => violations.push({ rule, pipetteId: id, t, detail });
  const mine = events.filter((e) => e.pipetteId === id);
  const states = mine.filter((e): e is Extract<SessionEvent, { type: 'pipette.state' }> => e.type === 'pipette.state');
  const readings = mine.filter((e): e is Extract<SessionEvent, { type: 'pipette.testpulse' }> => e.type === 'pipette.testpulse');
  const ends = new Map(mine.flatMap((e) => (e.type === 'attempt.ended' ? [[e.attemptId, e.t] as const] : [])));
  const attemptEnd = (attemptId: string | null): number => (attemptId === null ? endT : (ends.get(attemptId) ?? endT));
  const stateOf = (t: number): PipetteStateName => {
    let s: PipetteStateName = 'idle';
    for (const e of states) {
      if (e.t > t) break;
      s = e.to;
    }
    return s;
  };
  /** the first state event after t matching `when`, or endT */
  const nextState = (t: number, when: (e: (typeof states)[number]) => boolean): number => states.find((e) => e.t > t && when(e))?.t ?? endT;

  const line = lineTimeline(wire.pressure.commands);
  const amp = ampTimeline(wire.amplifier.commands);
  const lineAt = (t: number) => stateAt(line, t, LINE_POWER_UP);
  const ampAt = (t: number) => stateAt(amp, t, AMP_POWER_UP);
  const wireSince = (from: number, to: number): string =>
    [...wire.pressure.commands, ...wire.amplifier.commands]
      .filter((c) => c.t > from && c.t <= to && c.kind !== 'query')
      .map((c) => `${c.t.toFixed(1)} ${c.wire}`)
      .join('; ') || 'none';
  const tpPeriod = 1000 / preset.test_pulse.rate_Hz;
  const breakInPeriod = 1000 / preset.test_pulse.break_in_rate_Hz;

  // ----- gigaseal: vent within one period, no suction until break-in
  for (const e of states) {
    if (e.from !== 'seal' || e.to !== 'cellAttached') continue;
    checked.gigaseal++;
    const at = lineAt(e.t + tpPeriod);
    if (effectivePressure(at).source !== 'atmosphere') {
      v('gigaseal-vent', e.t, `line ${describeLine(at)} ${tpPeriod.toFixed(1)} ms after the gigaseal; commands since: ${wireSince(e.t, e.t + tpPeriod)}`);
    }
    const end = Math.min(nextState(e.t, (x) => x.to === 'breakIn'), attemptEnd(e.attemptId));
    for (const ch of line) {
      if (ch.t > e.t && ch.t < end && suctionOn(ch.state)) {
        v('suction-after-gigaseal', ch.t, `${ch.cause?.wire ?? 'end of a pulse'} puts ${effectivePressure(ch.state).mbar} mbar on the sealed cell (gigaseal at ${e.t.toFixed(1)})`);
      }
    }
  }

  // ----- holding potential at the holding threshold
  const holdingAt = preset.seal.holding_at_MOhm * 1e6;
  for (const e of states) {
    if (e.to !== 'seal') continue;
    const exit = nextState(e.t, () => true);
    const during = readings.filter((r) => r.t >= e.t && r.t <= exit);
    const crossing = firstFilteredCrossing(during, preset.seal.holding_tau_s, holdingAt);
    if (!crossing) continue;
    const due = crossing.t + tpPeriod;
    // A pipette sent to safe meanwhile is held at 0 mV by the safe rule instead.
    if (states.some((x) => x.to === 'safe' && x.t > e.t && x.t <= due)) continue;
    checked.holding++;
    const a = ampAt(due);
    if (a.mode !== 'VC' || a.holdVC !== preset.seal.holding_mV) {
      v(
        'holding-at-threshold',
        crossing.t,
        `filtered R ${(crossing.value / 1e6).toFixed(1)} MΩ ≥ ${preset.seal.holding_at_MOhm} MΩ at ${crossing.t.toFixed(1)}, but ${tpPeriod.toFixed(1)} ms later the channel is ${describeAmp(a)} (want VC ${preset.seal.holding_mV} mV); commands: ${wireSince(e.t, due)}`,
      );
    }
  }

  // ----- whole cell: vent, then no zap and no suction but clear-access pulses
  const wc = preset.whole_cell;
  for (const e of states) {
    if (e.to !== 'wholeCell') continue;
    checked.wholeCell++;
    const period = e.from === 'breakIn' ? breakInPeriod : tpPeriod;
    const at = lineAt(e.t + period);
    if (effectivePressure(at).source !== 'atmosphere') {
      v('whole-cell-vent', e.t, `line ${describeLine(at)} ${period.toFixed(1)} ms after ${e.from} → wholeCell; commands since: ${wireSince(e.t, e.t + period)}`);
    }
    const end = attemptEnd(e.attemptId);
    let clearing = 0;
    for (const c of wire.pressure.commands) {
      if (c.t <= e.t || c.t >= end || c.kind !== 'pulse' || c.mbar >= 0) continue;
      const clearAccess = stateOf(c.t) === 'wholeCell' && c.mbar === wc.clear_access_mbar && c.ms === wc.clear_access_ms && ++clearing <= wc.clear_access_max;
      if (!clearAccess) v('pulse-after-break-in', c.t, `${c.wire} in ${stateOf(c.t)} after ${e.from} → wholeCell at ${e.t.toFixed(1)}`);
    }
    for (const ch of line) {
      if (ch.t <= e.t || ch.t >= end || !suctionOn(ch.state) || ch.cause?.kind === 'pulse') continue;
      v('suction-after-break-in', ch.t, `${ch.cause?.wire ?? 'end of a pulse'} puts ${effectivePressure(ch.state).mbar} mbar on the whole-cell recording`);
    }
    for (const c of wire.amplifier.commands) {
      if (c.kind === 'zap' && c.t > e.t && c.t < end) v('zap-after-break-in', c.t, `${c.wire} after ${e.from} → wholeCell at ${e.t.toFixed(1)}`);
    }
  }

  // ----- safe: ends at atmosphere and VC 0 mV, and stays there
  const safeAt = (t: number): boolean => effectivePressure(lineAt(t)).source === 'atmosphere' && ampAt(t).mode === 'VC' && ampAt(t).holdVC === 0;
  for (const e of states) {
    if (e.to !== 'safe') continue;
    checked.safe++;
    const exit = nextState(e.t, (x) => x.from === 'safe');
    if (effectivePressure(lineAt(exit)).source !== 'atmosphere') v('safe-final-pressure', exit, `line ${describeLine(lineAt(exit))} when leaving safe (entered ${e.t.toFixed(1)}); commands: ${wireSince(e.t, exit)}`);
    const a = ampAt(exit);
    if (a.mode !== 'VC' || a.holdVC !== 0) v('safe-final-holding', exit, `channel ${describeAmp(a)} when leaving safe (entered ${e.t.toFixed(1)}); commands: ${wireSince(e.t, exit)}`);
    const candidates = [e.t, ...line.map((c) => c.t), ...amp.map((c) => c.t)].filter((t) => t >= e.t && t <= exit).sort((x, y) => x - y);
    const secured = candidates.find(safeAt);
    if (secured === undefined) continue;
    for (const ch of line) {
      if (ch.t > secured && ch.t <= exit && effectivePressure(ch.state).source !== 'atmosphere') {
        v('safe-pressure-after-secured', ch.t, `${ch.cause?.wire ?? 'end of a pulse'}: line ${describeLine(ch.state)} after the safe state was reached at ${secured.toFixed(1)}`);
      }
    }
    for (const ch of amp) {
      if (ch.t > secured && ch.t <= exit && (ch.state.mode !== 'VC' || ch.state.holdVC !== 0)) {
        v('safe-holding-after-secured', ch.t, `${ch.cause.wire}: channel ${describeAmp(ch.state)} after the safe state was reached at ${secured.toFixed(1)}`);
      }
    }
    for (const c of wire.amplifier.commands) {
      if (c.kind === 'zap' && c.t > secured && c.t <= exit) v('safe-holding-after-secured', c.t, `${c.wire} in safe`);
    }
  }

  // ----- end of the session: vented
  checked.end++;
  if (effectivePressure(lineAt(endT)).source !== 'atmosphere') {
    const last = [...wire.pressure.commands].reverse().find((c) => c.kind !== 'query');
    v('line-on-at-end', endT, `line ${describeLine(lineAt(endT))} when the session ended (in ${stateOf(endT)}); last command ${last ? `${last.t.toFixed(1)} ${last.wire}` : 'none'}`);
  }
  return { violations, checked };
}
