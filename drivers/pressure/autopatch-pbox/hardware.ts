/**
 * The box's analog side, per channel: a DAC-driven regulator, a 3-way valve,
 * the pipette line behind it (first-order, see line-model.ts) and a noisy
 * sensor on that line. Device-timed pulses run here on the clock.
 *
 * Line dynamics: with the valve at REG the line approaches the regulator
 * setpoint with τ = tauRegulatorMs (the regulator's flow limit charging the
 * tubing); at ATM it vents towards 0 mbar with the much shorter
 * τ = tauAtmosphereMs (a wide-open vent). The regulator's own output is not
 * modelled separately: switching to REG starts the approach from wherever the
 * line is.
 */
import type { Clock, TimerHandle } from '../../../src/clock/clock.ts';
import type { PressureSource } from '../../types.ts';
import type { PressureObserver } from '../emulator-common.ts';
import { createLineModel, type LineModel } from '../line-model.ts';
import { DAC_CODES_PER_STEP, DAC_MAX, DAC_MBAR_PER_STEP, DAC_ZERO } from './protocol.ts';

export interface HardwareOptions {
  clock: Clock;
  channels: number;
  tauRegulatorMs: number;
  tauAtmosphereMs: number;
  /** σ of the sensor noise, mbar */
  sensorNoiseMbar: number;
  /** standard normal samples (seeded) */
  normal: () => number;
  observers: readonly PressureObserver[];
  historyKeep: number;
}

interface Pulse {
  endAt: number;
  timer: TimerHandle;
  restoreRaw: number;
  restoreSource: PressureSource;
}

interface ChannelHw {
  raw: number;
  source: PressureSource;
  line: LineModel;
  pulse?: Pulse;
}

export interface BoxHardware {
  readonly channelCount: number;
  /** DAC code in force */
  raw(ch: number): number;
  /** setpoint in force, mbar (DAC-quantised) */
  setpoint(ch: number): number;
  source(ch: number): PressureSource;
  /** ms until the running pulse ends; 0 when none */
  pulseRemaining(ch: number): number;
  pressureAt(ch: number, t: number): number;
  /** one sensor sample now: line pressure + noise, mbar */
  sense(ch: number): number;
  setRaw(ch: number, raw: number): void;
  setSource(ch: number, source: PressureSource): void;
  /** regulator to `raw` and valve to REG for `ms`, then back to what was in force */
  startPulse(ch: number, raw: number, ms: number): void;
  /** end a running pulse now; false if none ran */
  abortPulse(ch: number): boolean;
  /** power-up / power-loss state: every valve at ATM, every setpoint 0, pulses forgotten */
  reset(): void;
}

export const mbarToRaw = (mbar: number): number =>
  Math.min(DAC_MAX, Math.max(0, Math.round((mbar * DAC_CODES_PER_STEP) / DAC_MBAR_PER_STEP + DAC_ZERO)));
export const rawToMbar = (raw: number): number => ((raw - DAC_ZERO) * DAC_MBAR_PER_STEP) / DAC_CODES_PER_STEP;

export function createBoxHardware(o: HardwareOptions): BoxHardware {
  const { clock } = o;
  const chans: ChannelHw[] = Array.from({ length: o.channels }, () => ({
    raw: DAC_ZERO,
    source: 'atmosphere' as PressureSource,
    line: createLineModel(clock.now(), 0, o.historyKeep),
  }));

  const chan = (ch: number): ChannelHw => {
    const c = chans[ch];
    if (!c) throw new RangeError(`no channel ${ch} (0…${o.channels - 1})`);
    return c;
  };
  const notify = (): void => {
    const t = clock.now();
    for (const obs of [...o.observers]) obs.beforeChange(t);
  };
  /** the line follows whatever the valve now connects it to */
  const retarget = (c: ChannelHw): void => {
    if (c.source === 'regulator') c.line.change(clock.now(), rawToMbar(c.raw), o.tauRegulatorMs);
    else c.line.change(clock.now(), 0, o.tauAtmosphereMs);
  };
  const endPulse = (c: ChannelHw): void => {
    const p = c.pulse;
    if (!p) return;
    clock.clearTimeout(p.timer);
    c.pulse = undefined;
    c.raw = p.restoreRaw;
    c.source = p.restoreSource;
    retarget(c);
  };

  return {
    channelCount: o.channels,
    raw: (ch) => chan(ch).raw,
    setpoint: (ch) => rawToMbar(chan(ch).raw),
    source: (ch) => chan(ch).source,
    pulseRemaining(ch) {
      const p = chan(ch).pulse;
      return p ? Math.max(0, p.endAt - clock.now()) : 0;
    },
    pressureAt: (ch, t) => chan(ch).line.at(t),
    sense(ch) {
      return chan(ch).line.at(clock.now()) + o.sensorNoiseMbar * o.normal();
    },
    setRaw(ch, raw) {
      const c = chan(ch);
      notify();
      c.raw = raw;
      retarget(c);
    },
    setSource(ch, source) {
      const c = chan(ch);
      notify();
      c.source = source;
      retarget(c);
    },
    startPulse(ch, raw, ms) {
      const c = chan(ch);
      notify();
      const restoreRaw = c.raw;
      const restoreSource = c.source;
      c.raw = raw;
      c.source = 'regulator';
      retarget(c);
      const timer = clock.setTimeout(() => {
        if (c.pulse?.timer !== timer) return;
        notify();
        endPulse(c);
      }, ms);
      c.pulse = { endAt: clock.now() + ms, timer, restoreRaw, restoreSource };
    },
    abortPulse(ch) {
      const c = chan(ch);
      if (!c.pulse) return false;
      notify();
      endPulse(c);
      return true;
    },
    reset() {
      notify();
      for (const c of chans) {
        if (c.pulse) clock.clearTimeout(c.pulse.timer);
        c.pulse = undefined;
        c.raw = DAC_ZERO;
        c.source = 'atmosphere';
        retarget(c);
      }
    },
  };
}
