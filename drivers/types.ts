/**
 * Driver contracts: what the control core may ask of rig hardware.
 *
 * Units at this boundary are fixed so no layer above has to guess:
 *   positions µm (in the manipulator's own axes), speeds µm/s,
 *   pressure mbar (gauge; negative = suction), durations ms,
 *   electrical quantities SI (V, A, Ω, F), sample rates Hz.
 * Wire formats (µsteps, 0.1 µm units, raw DAC counts, mV/pA) are each driver's
 * private business.
 *
 * Every method returns a promise that rejects with a DeviceError (drivers/errors.ts)
 * on timeout, malformed reply, device error, disconnect or limit refusal.
 */

export type Vec3 = readonly [number, number, number];

/** Lifecycle of the port behind a device. */
export type ConnectionState = 'opening' | 'open' | 'disconnected' | 'closed';

export interface DeviceConnection {
  /** human label, e.g. "Sutter MP-285 @ sim:mp285-1" */
  readonly label: string;
  readonly state: ConnectionState;
  /** called on every state change; returns an unsubscribe function */
  onStateChange(listener: (state: ConnectionState, error?: Error) => void): () => void;
  /** reopen the port after an unplug; rejects with DeviceError('disconnected') if it is still absent */
  reconnect(): Promise<void>;
  close(): Promise<void>;
}

// ---------------------------------------------------------------- manipulators

export interface ManipulatorLimits {
  /** soft travel limits per axis, µm, inclusive */
  readonly min: Vec3;
  readonly max: Vec3;
  /** fastest speed any move may be commanded at, µm/s */
  readonly maxSpeed: number;
}

export interface MoveOptions {
  /** µm/s; must be > 0 and ≤ limits.maxSpeed */
  speed: number;
}

export interface Manipulator {
  readonly model: string;
  readonly connection: DeviceConnection;
  readonly limits: ManipulatorLimits;
  /** smallest position step the device resolves, µm (a landed move is within this of its target) */
  readonly resolution: number;
  /** current position, µm; asks the device */
  position(): Promise<Vec3>;
  /**
   * Move to an absolute position. Refused with DeviceError('limit') before any
   * byte is sent if the target or speed is outside the limits. Resolves with the
   * position reported once the device says the move has ended.
   */
  moveTo(target: Vec3, options: MoveOptions): Promise<Vec3>;
  /**
   * Relative move from where the stage is once earlier moves have ended (so
   * overlapping calls compose); the resulting target is limit-checked before
   * any move byte is sent (a position read may come first).
   */
  moveBy(delta: Vec3, options: MoveOptions): Promise<Vec3>;
  /** Stop any motion now. Bypasses the command queue; a pending move rejects with 'interrupted'. */
  stop(): Promise<void>;
  /** true while a move this driver started has not ended */
  readonly busy: boolean;
}

// ------------------------------------------------------------------- pressure

export type PressureSource = 'regulator' | 'atmosphere';

export interface PressureLimits {
  /** most negative pressure (strongest suction) allowed, mbar */
  readonly min: number;
  /** most positive pressure allowed, mbar */
  readonly max: number;
}

export interface PressureChannelState {
  setpoint: number;
  source: PressureSource;
}

export interface PressureChannel {
  readonly channel: number;
  readonly limits: PressureLimits;
  /** regulator setpoint, mbar; refused with 'limit' outside limits */
  setPressure(mbar: number): Promise<void>;
  /** connect the pipette line to the regulator or to atmosphere */
  setSource(source: PressureSource): Promise<void>;
  /** sensor reading at the pipette line, mbar */
  read(): Promise<number>;
  /**
   * Device-timed pulse: regulator at `mbar` for `durationMs`, then back to the
   * previous source and setpoint. Resolves when the pulse has ended.
   */
  pulse(mbar: number, durationMs: number): Promise<void>;
  /** last commanded setpoint and source (what the controller believes) */
  readonly commanded: PressureChannelState;
}

export interface PressureController {
  readonly model: string;
  readonly connection: DeviceConnection;
  readonly channels: readonly PressureChannel[];
}

// ------------------------------------------------------------------ amplifier

export type ClampMode = 'VC' | 'IC' | 'I0';

export interface TestPulseSettings {
  enabled: boolean;
  /** step amplitude: V in VC, A in IC */
  amplitude: number;
  /** step width, ms (baseline of `baselineFraction × width` before and after) */
  widthMs: number;
  /** sweeps per second */
  rateHz: number;
  sampleRateHz: number;
}

/** A stimulus waveform to play on one channel (command in SI: A in IC, V in VC, added to holding). */
export interface StimulusWaveform {
  name: string;
  mode: ClampMode;
  sampleRateHz: number;
  samples: Float32Array;
  /** index of stimulus onset and its length in samples (for analysis and NWB metadata) */
  onsetIndex?: number;
  lengthSamples?: number;
  /** stimulus amplitude, SI (for stepped families) */
  amplitude?: number;
}

export interface Sweep {
  channel: number;
  /** device sequence number, strictly increasing per channel */
  seq: number;
  kind: 'testpulse' | 'stimulus';
  mode: ClampMode;
  /** host-clock time of the first sample, ms */
  startTime: number;
  sampleRateHz: number;
  /** response in SI: A in VC, V in IC and I0 */
  response: Float32Array;
  responseUnit: 'A' | 'V';
  /** holding command during the sweep, SI (V in VC, A in IC) */
  holding: number;
  /** test-pulse step, for kind 'testpulse' */
  step?: { amplitude: number; onsetIndex: number; lengthSamples: number };
  /** stimulus played, for kind 'stimulus' (same length as response) */
  stimulus?: StimulusWaveform;
}

export interface CapacitanceCompensation {
  /** pipette (fast) capacitance neutralised, F */
  fast: number;
  /** whole-cell (slow) capacitance compensated, F; 0 = off */
  slow: number;
}

export interface AmplifierChannelStatus {
  mode: ClampMode;
  holding: number;
  testPulse: TestPulseSettings;
  pipetteOffset: number;
  compensation: CapacitanceCompensation;
}

export interface AmplifierChannel {
  readonly channel: number;
  setMode(mode: ClampMode): Promise<void>;
  /** V in VC, A in IC; ignored in I0 */
  setHolding(value: number): Promise<void>;
  setTestPulse(settings: Partial<TestPulseSettings>): Promise<void>;
  /** every sweep the channel acquires (test pulses and stimulus responses); returns unsubscribe */
  onSweep(listener: (sweep: Sweep) => void): () => void;
  /** voltage zap of the given length; resolves when the device has applied it */
  zap(durationMs: number, amplitude: number): Promise<void>;
  /** null the pipette offset in the bath; resolves with the offset applied, V */
  autoPipetteOffset(): Promise<number>;
  setCompensation(comp: Partial<CapacitanceCompensation>): Promise<void>;
  /**
   * Play a waveform and resolve with the response sweep (the test pulse pauses
   * meanwhile). Aborting `signal` stops it on the device at once and rejects
   * with DeviceError('interrupted').
   */
  runStimulus(stimulus: StimulusWaveform, options?: { signal?: AbortSignal }): Promise<Sweep>;
  status(): Promise<AmplifierChannelStatus>;
}

export interface Amplifier {
  readonly model: string;
  readonly connection: DeviceConnection;
  readonly channels: readonly AmplifierChannel[];
}

/** The hardware one pipette uses: its manipulator and one channel of each shared device. */
export interface PipetteHardware {
  readonly pipetteId: string;
  readonly manipulator: Manipulator;
  readonly pressure: PressureChannel;
  readonly amplifier: AmplifierChannel;
}
