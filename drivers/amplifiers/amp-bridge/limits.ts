/**
 * The electrical envelope of an amp-bridge channel (what the amplifier can
 * do safely), checked by the driver before any byte is sent and again by the
 * bridge. These are device limits, not protocol thresholds: presets choose
 * values inside them. Defaults follow a MultiClamp 700B-class headstage;
 * override them for another amplifier.
 */
import { DeviceError } from '../../errors.ts';

export interface AmpBridgeLimits {
  /** largest |command| in voltage clamp (holding + step or stimulus), V */
  maxVoltageV: number;
  /** largest |command| in current clamp, A */
  maxCurrentA: number;
  maxZapMs: number;
  /** largest |zap amplitude|, V */
  maxZapV: number;
  /** largest |pipette offset| the nulling circuit reaches, V */
  maxPipetteOffsetV: number;
  /** fast (pipette) capacitance compensation range, F */
  maxFastF: number;
  /** slow (whole-cell) capacitance compensation range, F */
  maxSlowF: number;
}

export const DEFAULT_AMP_LIMITS: AmpBridgeLimits = {
  maxVoltageV: 1.0,
  maxCurrentA: 20e-9,
  maxZapMs: 50,
  maxZapV: 1.5,
  maxPipetteOffsetV: 0.15,
  maxFastF: 50e-12,
  maxSlowF: 1000e-12,
};

/** Throws DeviceError('invalid') unless `value` is a finite number. */
export function requireFinite(device: string, command: string, what: string, value: unknown): asserts value is number {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new DeviceError('invalid', device, command, `${what} must be a finite number (got ${String(value)})`);
  }
}

/** Throws DeviceError('limit') when |value| > max. */
export function requireWithin(device: string, command: string, what: string, value: number, max: number, unit: string): void {
  if (Math.abs(value) > max) {
    throw new DeviceError('limit', device, command, `${what} ${value} ${unit} is outside ±${max} ${unit}`);
  }
}
