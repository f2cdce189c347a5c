/**
 * What a pressure channel and an amplifier channel were doing at any time,
 * replayed from the decoded host commands with the devices' documented
 * behaviour (PROTOCOL.md of each), starting from their power-up state.
 */
import { HW_MAX_MBAR, HW_MIN_MBAR, PULSE_MAX_MS, PULSE_MIN_MS } from '../../../drivers/pressure/autopatch-pbox/protocol.ts';
import type { AmpCommand, ClampMode, PressureCommand } from './commands.ts';
import { countUntil } from './stream.ts';

// ------------------------------------------------------------ pressure line

/** The box acts on a line when it replies, 1–2 ms after the line arrived (PROTOCOL.md); take the later bound. */
export const PBOX_PROCESSING_MS = 2;

export interface LineState {
  valve: 'regulator' | 'atmosphere';
  setpoint: number;
  /** a device-timed pulse in progress, and what it restores */
  pulse: { mbar: number; until: number; valve: 'regulator' | 'atmosphere'; setpoint: number } | null;
}

export interface LineChange {
  /** clock ms the box applied it */
  t: number;
  state: LineState;
  /** the command that caused it; null when a pulse ended on its own */
  cause: PressureCommand | null;
}

/** Power-up and reset: every valve to atmosphere, every setpoint 0. */
export const LINE_POWER_UP: LineState = { valve: 'atmosphere', setpoint: 0, pulse: null };

export function effectivePressure(s: LineState): { source: 'regulator' | 'atmosphere'; mbar: number } {
  if (s.pulse) return { source: 'regulator', mbar: s.pulse.mbar };
  return s.valve === 'regulator' ? { source: 'regulator', mbar: s.setpoint } : { source: 'atmosphere', mbar: 0 };
}

/** the pipette line is open onto negative pressure */
export const suctionOn = (s: LineState): boolean => {
  const e = effectivePressure(s);
  return e.source === 'regulator' && e.mbar < 0;
};

const inRange = (mbar: number): boolean => mbar >= HW_MIN_MBAR && mbar <= HW_MAX_MBAR;

/** Changes of one channel's line over time, commands for that channel only, in time order. */
export function lineTimeline(commands: readonly PressureCommand[]): LineChange[] {
  const changes: LineChange[] = [];
  let s: LineState = LINE_POWER_UP;
  const endPulseBefore = (t: number): void => {
    if (s.pulse && s.pulse.until <= t) {
      const at = s.pulse.until;
      s = { valve: s.pulse.valve, setpoint: s.pulse.setpoint, pulse: null };
      changes.push({ t: at, state: s, cause: null });
    }
  };
  for (const c of commands) {
    const t = c.t + PBOX_PROCESSING_MS;
    endPulseBefore(t);
    const busy = s.pulse !== null;
    let next: LineState | null = null;
    switch (c.kind) {
      case 'set':
        // refused while pulsing (ERR 5) or outside the hardware range (ERR 3)
        if (!busy && inRange(c.mbar)) next = { ...s, setpoint: c.mbar };
        break;
      case 'valve':
        if (!busy) next = { ...s, valve: c.source };
        break;
      case 'pulse':
        if (!busy && inRange(c.mbar) && c.ms >= PULSE_MIN_MS && c.ms <= PULSE_MAX_MS) {
          next = { ...s, pulse: { mbar: c.mbar, until: t + c.ms, valve: s.valve, setpoint: s.setpoint } };
        }
        break;
      case 'abort':
        if (s.pulse) next = { valve: s.pulse.valve, setpoint: s.pulse.setpoint, pulse: null };
        break;
      case 'query':
        break;
    }
    if (next) {
      s = next;
      changes.push({ t, state: s, cause: c });
    }
  }
  endPulseBefore(Infinity);
  return changes;
}

/** State in force at time t (changes at exactly t included). */
export function stateAt<S>(changes: ReadonlyArray<{ t: number; state: S }>, t: number, initial: S): S {
  const k = countUntil(changes, t);
  return k === 0 ? initial : changes[k - 1].state;
}

// ------------------------------------------------------- amplifier channel

export interface AmpState {
  /** the mode last commanded (a VC↔IC switch passes through I=0, but settings already apply to the target mode) */
  mode: ClampMode;
  /** holding kept per mode: mV in VC, pA in IC */
  holdVC: number;
  holdIC: number;
  tpOn: boolean;
  /** test-pulse step kept per mode: mV, pA */
  tpVC: number;
  tpIC: number;
}

export interface AmpChange {
  t: number;
  state: AmpState;
  cause: AmpCommand;
}

/** Power-up settings (PROTOCOL.md §9): VC, holdings 0, test pulse off at 10 mV / −50 pA. */
export const AMP_POWER_UP: AmpState = { mode: 'VC', holdVC: 0, holdIC: 0, tpOn: false, tpVC: 10, tpIC: -50 };

/** The channel's settings after command `c`, or null if `c` changes none of them. */
export function nextAmpState(s: AmpState, c: AmpCommand): AmpState | null {
  switch (c.kind) {
    case 'mode':
      return { ...s, mode: c.mode };
    case 'holding': {
      // Without a mode it sets the current mode's holding; in I=0 nothing is held and it is ignored.
      const mode = c.mode ?? s.mode;
      if (mode === 'VC') return { ...s, holdVC: c.value };
      if (mode === 'IC') return { ...s, holdIC: c.value };
      return null;
    }
    case 'tp': {
      // The amplitude is kept for the named (or current) mode; in I=0 there is no step.
      const mode = c.mode ?? s.mode;
      if (mode === 'VC') return { ...s, tpOn: c.on, tpVC: c.amplitude };
      if (mode === 'IC') return { ...s, tpOn: c.on, tpIC: c.amplitude };
      return { ...s, tpOn: c.on };
    }
    default:
      return null;
  }
}

/** Changes of one amplifier channel's settings, commands for that channel only, in time order. */
export function ampTimeline(commands: readonly AmpCommand[]): AmpChange[] {
  const changes: AmpChange[] = [];
  let s: AmpState = AMP_POWER_UP;
  for (const c of commands) {
    const next = nextAmpState(s, c);
    if (next) {
      s = next;
      changes.push({ t: c.t, state: s, cause: c });
    }
  }
  return changes;
}
