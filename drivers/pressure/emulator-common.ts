/**
 * What every pressure-controller emulator exposes besides its wire protocol:
 * the pressure in each pipette line over time (for the physics model) and the
 * commands it decoded off the wire (so tests assert on what the device
 * actually received, not on what the controller meant to send).
 */
import type { EmulatedDevice } from '../core/emulator-binding.ts';
import type { PressureSource } from '../types.ts';

export interface DecodedPressureCommand {
  /** clock time the command took effect (or was refused), ms */
  t: number;
  /** 0-based channel index */
  channel: number;
  kind: 'setpoint' | 'valve' | 'pulse' | 'abort';
  /** mbar as the device understood it (before DAC quantisation), for setpoint and pulse */
  mbar?: number;
  /** for valve */
  source?: PressureSource;
  /** pulse length, ms */
  ms?: number;
  /** the device's error code when it refused the command; absent when applied */
  refused?: number;
}

export interface PressureObserver {
  /** called at clock time `t`, before a setpoint/valve change takes effect: `pressureAt` still gives the old course */
  beforeChange(t: number): void;
}

export interface PressureChannelTruth {
  /** regulator setpoint in force (DAC-quantised), mbar */
  setpoint: number;
  source: PressureSource;
  /** a device-timed pulse is running */
  pulsing: boolean;
}

export interface PressureEmulator extends EmulatedDevice {
  readonly channelCount: number;
  /** pressure at the pipette line of `channel` (0-based) at clock time `t`, mbar */
  pressureAt(channel: number, t: number): number;
  /** notified before any change of setpoint or valve (including pulse ends, resets, power loss) */
  readonly observers: PressureObserver[];
  /** every command decoded, in order */
  readonly commands: readonly DecodedPressureCommand[];
  /** the device's own state of a channel now */
  state(channel: number): PressureChannelTruth;
  /** number of resets (power-ups) so far */
  readonly resets: number;
}
