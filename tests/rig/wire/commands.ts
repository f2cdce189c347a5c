/**
 * What the wire decoders read off the host → device streams, in one shape per
 * kind of device (µm, µm/s, mbar, mV/pA/ms as the protocols carry them), so
 * the checks never depend on which manipulator or box a pipette has.
 * Every command carries the clock time its last byte reached the device and
 * `wire`, a printable form of the bytes it came from.
 */

/** Per axis (x, y, z of the manipulator); null where the command leaves that axis alone. */
export type Axes = [number | null, number | null, number | null];

export type ManipulatorCommand =
  | {
      kind: 'move';
      t: number;
      /** drive (MPC-325) or manipulator (SM-10) the command addresses; 1 where a port drives one */
      unit: number;
      /** absolute target, µm, or the displacement if `relative` */
      target: Axes;
      relative: boolean;
      /** straight-line speed as the wire sets it, µm/s; null when the wire leaves it to the device (a fast move, no speed ever sent) */
      speed: number | null;
      /** why `speed` is null */
      speedNote?: string;
      /** one wire unit, µm (the target is exact to this) */
      resolution: number;
      wire: string;
    }
  | { kind: 'stop'; t: number; unit: number; wire: string }
  /** the device's coordinates were redefined (set origin / zero): positions before and after do not compare */
  | { kind: 'origin'; t: number; unit: number; wire: string }
  /** a position the device reported (reply to a position query), µm */
  | { kind: 'position'; t: number; unit: number; position: Axes; wire: string };

export type PressureCommand =
  | { kind: 'set'; t: number; channel: number; mbar: number; wire: string }
  | { kind: 'valve'; t: number; channel: number; source: 'regulator' | 'atmosphere'; wire: string }
  | { kind: 'pulse'; t: number; channel: number; mbar: number; ms: number; wire: string }
  | { kind: 'abort'; t: number; channel: number; wire: string }
  /** reads and identification: no effect on the line */
  | { kind: 'query'; t: number; channel: number | null; wire: string };

export type ClampMode = 'VC' | 'IC' | 'I0';

export type AmpCommand =
  | { kind: 'mode'; t: number; channel: number; mode: ClampMode; wire: string }
  /** mV in VC, pA in IC; `mode` null = the channel's current mode */
  | { kind: 'holding'; t: number; channel: number; value: number; mode: 'VC' | 'IC' | null; wire: string }
  | {
      kind: 'tp';
      t: number;
      channel: number;
      on: boolean;
      /** mV (VC) or pA (IC); `mode` null = the channel's current mode */
      amplitude: number;
      widthMs: number;
      rateHz: number;
      sampleRateHz: number;
      mode: 'VC' | 'IC' | null;
      wire: string;
    }
  | { kind: 'zap'; t: number; channel: number; ms: number; mV: number; wire: string }
  /** set the pipette offset (mV), or null: measure it */
  | { kind: 'offset'; t: number; channel: number; mV: number | null; wire: string }
  | { kind: 'comp'; t: number; channel: number; fastPF: number; slowPF: number; wire: string }
  | { kind: 'stim'; t: number; channel: number; id: number; samples: number; sampleRateHz: number; mode: ClampMode; wire: string }
  /** a stimulus chunk frame: samples in SI (V for VC, A for IC/I0) */
  | { kind: 'chunk'; t: number; channel: number; id: number; mode: ClampMode; offset: number; total: number; samples: Float32Array; wire: string }
  | { kind: 'run'; t: number; channel: number; id: number; wire: string }
  /** stop the stimulus being played on a channel (PROTOCOL.md §4) */
  | { kind: 'abort'; t: number; channel: number; wire: string }
  | { kind: 'query'; t: number; channel: number | null; wire: string };
