/**
 * Hardware operations of one pipette in controller terms: world-frame moves
 * that wait at the coordination gate and reserve their path, pressure with the
 * setpoint-then-valve sequence and operator overrides, amplifier settings in
 * preset units, and the one safe-state path every exit goes through.
 *
 * Every limit is checked here before a driver is called (and the driver checks
 * again before a byte is sent).
 */
import type { Clock } from '../clock/clock.ts';
import { sleep } from '../clock/clock.ts';
import { DeviceError, isDeviceError } from '../../drivers/errors.ts';
import { checkMoveTarget, checkPressure } from '../../drivers/core/limits.ts';
import type { PipetteHardware, Vec3 } from '../../drivers/types.ts';
import { toManipulator, toWorld } from '../geometry.ts';
import type { PipetteGeometry, Waypoint } from './paths.ts';
import { retractLegs } from './paths.ts';
import type { RigEventInput } from './event-sink.ts';
import { MAX_BIAS_PA } from '../protocol/envelope.ts';

export interface MotionCoordinator {
  /** resolves once this pipette may start a gated move */
  waitForGate(pipetteId: string, signal?: AbortSignal): Promise<void>;
  gateOpen(pipetteId: string): boolean;
  /** called when the gate closes for this pipette; returns unsubscribe */
  onGateClose(pipetteId: string, listener: () => void): () => void;
  /** reserve the swept path from → to; waits while another pipette's shaft is in the way */
  reservePath(pipetteId: string, from: Vec3, to: Vec3, signal?: AbortSignal): Promise<() => void>;
  /** exclusive use of a shared resource (e.g. a cleaning well) */
  acquire(resource: string, pipetteId: string, signal?: AbortSignal): Promise<() => void>;
  /** tell the coordinator where the tip is (world µm) */
  reportPosition(pipetteId: string, world: Vec3): void;
}

export interface PipetteOpsOptions {
  pipetteId: string;
  hw: PipetteHardware;
  geometry: PipetteGeometry;
  clock: Clock;
  coordinator: MotionCoordinator;
  emit: (event: RigEventInput) => void;
  /** delay between writing a setpoint and opening the valve to the regulator, ms */
  valveSettleMs: number;
  /** speeds for the safe-state retraction, µm/s */
  safeSpeeds: { tissue: number; bath: number };
  /** the amplifier's voltage-clamp envelope: holding + test-pulse step must stay within ±this, mV */
  maxCommand_mV: number;
}

/** the preset's test-pulse settings, in its units */
export interface TestPulseSetup {
  amplitude_mV: number;
  width_ms: number;
  rate_Hz: number;
  sample_rate_kHz: number;
}

export interface SafeStateResult {
  complete: boolean;
  errors: string[];
}

export interface PipetteOps {
  readonly pipetteId: string;
  readonly geometry: PipetteGeometry;
  /** last known tip position, world µm (for display: may be where a move started) */
  readonly position: Vec3 | null;
  /**
   * Where the tip is, to plan from: the device is asked again if a move was under
   * way or ended without a reply saying where (an interrupted leg stops anywhere on it).
   */
  restingPosition(): Promise<Vec3>;
  readPosition(): Promise<Vec3>;
  /** follow waypoints; gated moves wait for the coordination gate and resume after it reopens */
  follow(legs: Waypoint[], options: { gated: boolean; signal?: AbortSignal }): Promise<Vec3>;
  /** urgent stop of any motion (does not throw) */
  stopMotion(): Promise<void>;
  /**
   * line pressure: 0 → atmosphere, else regulator at mbar (setpoint first, valve
   * after the settle delay). A vent while it waits, or `signal` aborting, keeps
   * the valve shut (an aborted signal rejects with an AbortError).
   */
  pressure(mbar: number, signal?: AbortSignal): Promise<void>;
  /** valve to atmosphere at once (also ends a pulse in progress, and any regulator switch still settling) */
  atmosphere(): Promise<void>;
  pulse(mbar: number, ms: number): Promise<void>;
  voltageClamp(holding_mV: number): Promise<void>;
  /** holding potential; sent in voltage clamp only (in IC or I=0 it applies on the way back to VC), as is a holding override */
  holding(mV: number): Promise<void>;
  /** test pulse on in VC at the preset's settings and the given rate */
  testPulse(settings: TestPulseSetup): Promise<void>;
  testPulseRate(rate_Hz: number): Promise<void>;
  zap(ms: number, mV: number): Promise<void>;
  autoOffset(): Promise<number>;
  /** operator overrides: while set, automation's requests are remembered but not applied */
  overridePressure(mbar: number | null): Promise<void>;
  overrideHolding(mV: number | null): Promise<void>;
  readonly overrides: { pressureMbar: number | null; holdingMv: number | null };
  readonly pressureState: { mbar: number; source: 'regulator' | 'atmosphere' } | null;
  /** where the tip is working: above/in the prep, or in a cleaning well (safe retraction goes higher) */
  location: 'prep' | 'well';
  readonly holdingState: { mode: 'VC' | 'IC' | 'I0'; value: number } | null;
  /** stop, atmosphere, VC at 0 mV, retract along the axis out of tissue or a well */
  safeState(reason: string, options?: { retract?: boolean }): Promise<SafeStateResult>;
  /** test pulse off (the recorder's current-clamp sweeps) */
  testPulseOff(): Promise<void>;
  /** I=0: no current injected; the way between voltage and current clamp */
  zeroCurrent(): Promise<void>;
  /** current clamp holding a bias, pA (within ±MAX_BIAS_PA, checked before anything is sent) */
  currentClamp(bias_pA: number): Promise<void>;
  /**
   * Back to voltage clamp at `holding_mV` with the test pulse on, from wherever a
   * recording or a resting-potential measurement left the amplifier: from current
   * clamp the bias is released first and the way goes through I=0 for `settleMs`
   * (a recording's own way back); from I=0 straight to VC. Waits for `after` (the
   * work that was switching the clamp) to settle first. Gives way to any clamp
   * change or safe state asked for after this call: the safe state owns the amplifier.
   */
  restoreVoltageClamp(o: { holding_mV: number; testPulse: TestPulseSetup; settleMs: number; after?: Promise<unknown> }): Promise<void>;
  /** emergency stop: from now on every move is refused (a safe state still running stops short of retracting) */
  halt(): void;
}

class Aborted extends Error {
  constructor(reason?: unknown) {
    super(reason instanceof Error ? reason.message : 'aborted');
    this.name = 'AbortError';
  }
}

export function isAbort(e: unknown): boolean {
  return e instanceof Error && e.name === 'AbortError';
}

export function createPipetteOps(options: PipetteOpsOptions): PipetteOps {
  const { pipetteId, hw, geometry, clock, coordinator, emit } = options;
  const { manipulator, pressure: pch, amplifier } = hw;
  let position: Vec3 | null = null;
  /** `position` is where the stage stands (no move since it was read) */
  let settled = false;
  let desiredPressure = 0;
  let desiredHolding = 0;
  /** the test-pulse step riding on the holding, mV */
  let step_mV = 0;
  let pressureState: { mbar: number; source: 'regulator' | 'atmosphere' } | null = null;
  let holdingState: { mode: 'VC' | 'IC' | 'I0'; value: number } | null = null;
  let testPulseOn = false;
  /**
   * Bumped by every clamp change asked for (and by the safe state). A restore
   * re-checks it before each command: whatever was asked after it wins.
   */
  let clampGeneration = 0;
  const overrides = { pressureMbar: null as number | null, holdingMv: null as number | null };

  const notePosition = (manip: Vec3): Vec3 => {
    position = toWorld(geometry.mount, manip);
    settled = true;
    coordinator.reportPosition(pipetteId, position);
    emit({ type: 'pipette.position', pipetteId, world: position, manipulator: manip });
    return position;
  };

  const readPosition = async (): Promise<Vec3> => notePosition(await manipulator.position());
  const restingPosition = async (): Promise<Vec3> => (settled && position ? position : readPosition());

  const checkLeg = (leg: Waypoint): Vec3 => {
    const target = toManipulator(geometry.mount, leg.to);
    checkMoveTarget(manipulator.model, `move (${leg.label})`, target, leg.speed, manipulator.limits);
    return target;
  };

  let halted = false;

  const moveLeg = async (leg: Waypoint, gated: boolean, signal?: AbortSignal): Promise<Vec3> => {
    const target = checkLeg(leg);
    for (;;) {
      if (halted) throw new DeviceError('interrupted', `pipette ${pipetteId}`, `move (${leg.label})`, 'emergency stop: no motion');
      if (signal?.aborted) throw new Aborted(signal.reason);
      if (gated) await coordinator.waitForGate(pipetteId, signal);
      const from = await restingPosition();
      const release = await coordinator.reservePath(pipetteId, from, leg.to, signal);
      let gateClosed = false;
      const offGate = gated
        ? coordinator.onGateClose(pipetteId, () => {
            gateClosed = true;
            void manipulator.stop().catch(() => {});
          })
        : () => {};
      const onAbort = (): void => void manipulator.stop().catch(() => {});
      signal?.addEventListener('abort', onAbort, { once: true });
      try {
        settled = false;
        const landed = await manipulator.moveTo(target, { speed: leg.speed });
        return notePosition(landed);
      } catch (e) {
        if (isDeviceError(e, 'interrupted')) {
          await readPosition().catch(() => {});
          if (signal?.aborted) throw new Aborted(signal.reason);
          if (gateClosed) continue; // paused by coordination: resume the same leg when the gate reopens
        }
        throw e;
      } finally {
        signal?.removeEventListener('abort', onAbort);
        offGate();
        release();
      }
    }
  };

  /**
   * Bumped by every vent. A regulator switch waiting out its settle delay
   * re-checks it before opening the valve: a vent (atmosphere, safe state)
   * that came meanwhile wins, and the line stays at atmosphere.
   */
  let pressureGeneration = 0;

  const vent = async (): Promise<void> => {
    pressureGeneration++;
    await pch.setSource('atmosphere');
    pressureState = { mbar: 0, source: 'atmosphere' };
    emit({ type: 'pipette.pressure', pipetteId, mbar: 0, source: 'atmosphere' });
  };

  const applyPressure = async (mbar: number, signal?: AbortSignal): Promise<void> => {
    checkPressure(pch.limits === undefined ? 'pressure' : `pressure ch${pch.channel}`, 'set pressure', mbar, pch.limits);
    if (mbar === 0) return vent();
    const generation = pressureGeneration;
    /** a vent or an abort came while this request was on its way: it must not open the valve */
    const superseded = (): boolean => {
      if (signal?.aborted) throw new Aborted(signal.reason);
      return generation !== pressureGeneration;
    };
    if (superseded()) return;
    await pch.setPressure(mbar);
    if (superseded()) return;
    if (pch.commanded.source !== 'regulator') {
      // Setpoint first, valve after the regulator has settled: opening onto an
      // unsettled regulator gives the tip a pressure transient.
      await sleep(clock, options.valveSettleMs, signal);
      if (superseded()) return;
      await pch.setSource('regulator');
      // A vent sent while the switch was on the wire went out after it: the line is at atmosphere.
      if (superseded()) return;
    }
    pressureState = { mbar, source: 'regulator' };
    emit({ type: 'pipette.pressure', pipetteId, mbar: pressureState.mbar, source: pressureState.source });
  };

  const applyHolding = async (mV: number): Promise<void> => {
    await amplifier.setHolding(mV / 1000);
    holdingState = { mode: 'VC', value: mV / 1000 }; // SI, as the pipette.holding event
    emit({ type: 'pipette.holding', pipetteId, mode: 'VC', holding: mV / 1000 });
  };

  const toVoltageClamp = async (holding_mV: number): Promise<void> => {
    desiredHolding = holding_mV;
    await amplifier.setMode('VC');
    await applyHolding(overrides.holdingMv ?? holding_mV);
  };

  const toZeroCurrent = async (): Promise<void> => {
    await amplifier.setMode('I0');
    holdingState = { mode: 'I0', value: 0 };
    emit({ type: 'pipette.holding', pipetteId, mode: 'I0', holding: 0 });
  };

  /** the bias held in current clamp (the mode is IC already) */
  const holdBias = async (bias_pA: number): Promise<void> => {
    await amplifier.setHolding(bias_pA * 1e-12);
    holdingState = { mode: 'IC', value: bias_pA * 1e-12 }; // SI, as the pipette.holding event
    emit({ type: 'pipette.holding', pipetteId, mode: 'IC', holding: bias_pA * 1e-12 });
  };

  /** A holding potential is sent only in voltage clamp; in IC or I=0 it waits for the way back to VC. */
  const inVoltageClamp = (): boolean => holdingState === null || holdingState.mode === 'VC';

  const startTestPulse = async (s: TestPulseSetup): Promise<void> => {
    step_mV = s.amplitude_mV;
    await amplifier.setTestPulse({
      enabled: true,
      amplitude: s.amplitude_mV / 1000,
      widthMs: s.width_ms,
      rateHz: s.rate_Hz,
      sampleRateHz: s.sample_rate_kHz * 1000,
    });
    testPulseOn = true;
  };

  const ops: PipetteOps = {
    pipetteId,
    geometry,
    location: 'prep',
    get position() {
      return position;
    },
    get overrides() {
      return overrides;
    },
    get pressureState() {
      return pressureState;
    },
    get holdingState() {
      return holdingState;
    },
    readPosition,
    restingPosition,
    async follow(legs, { gated, signal }) {
      // Check every leg before the first moves: a plan that would break a limit half-way never starts.
      for (const leg of legs) checkLeg(leg);
      let last = await restingPosition();
      for (const leg of legs) last = await moveLeg(leg, gated, signal);
      return last;
    },
    async stopMotion() {
      await manipulator.stop().catch(() => {});
    },
    async pressure(mbar, signal) {
      desiredPressure = mbar;
      if (overrides.pressureMbar !== null) return;
      await applyPressure(mbar, signal);
    },
    async atmosphere() {
      desiredPressure = 0;
      if (overrides.pressureMbar !== null) return;
      await vent();
    },
    async pulse(mbar, ms) {
      checkPressure(`pressure ch${pch.channel}`, 'pulse', mbar, pch.limits);
      if (overrides.pressureMbar !== null) return;
      const before = pressureState;
      const during = { mbar, source: 'regulator' as const };
      pressureState = during; // the snapshot says what the stream says
      emit({ type: 'pipette.pressure', pipetteId, ...during });
      try {
        await pch.pulse(mbar, ms);
      } finally {
        // a vent during the pulse (which ends it) has already said where the line is
        if (pressureState === during) {
          pressureState = before;
          emit({ type: 'pipette.pressure', pipetteId, mbar: before?.mbar ?? 0, source: before?.source ?? 'atmosphere' });
        }
      }
    },
    async voltageClamp(holding_mV) {
      clampGeneration++;
      await toVoltageClamp(holding_mV);
    },
    async holding(mV) {
      desiredHolding = mV;
      if (overrides.holdingMv !== null || !inVoltageClamp()) return;
      await applyHolding(mV);
    },
    testPulse: startTestPulse,
    async testPulseRate(rate_Hz) {
      await amplifier.setTestPulse({ rateHz: rate_Hz });
    },
    async zap(ms, mV) {
      await amplifier.zap(ms, mV / 1000);
    },
    async autoOffset() {
      return amplifier.autoPipetteOffset();
    },
    async overridePressure(mbar) {
      if (mbar !== null) checkPressure(`pressure ch${pch.channel}`, 'override', mbar, pch.limits);
      overrides.pressureMbar = mbar;
      await applyPressure(mbar ?? desiredPressure);
    },
    async overrideHolding(mV) {
      if (mV !== null && (!Number.isFinite(mV) || Math.abs(mV) + Math.abs(step_mV) > options.maxCommand_mV)) {
        const room = options.maxCommand_mV - Math.abs(step_mV);
        throw new DeviceError('limit', 'amplifier', 'holding override', `${mV} mV is outside ±${room} mV (the amplifier takes ±${options.maxCommand_mV} mV, the test pulse adds ${step_mV} mV)`);
      }
      overrides.holdingMv = mV;
      if (!inVoltageClamp()) return; // in IC it would be a current: it applies on the way back to VC
      await applyHolding(mV ?? desiredHolding);
    },
    halt() {
      halted = true;
    },
    async safeState(reason, { retract = true } = {}) {
      const errors: string[] = [];
      const attempt = async (what: string, work: () => Promise<unknown>): Promise<void> => {
        try {
          await work();
        } catch (e) {
          errors.push(`${what}: ${(e as Error).message}`);
        }
      };
      clampGeneration++; // a restore still under way stops here
      emit({ type: 'log', level: 'warn', pipetteId, message: `safe state: ${reason}` });
      await attempt('stop motion', () => manipulator.stop());
      // Safety outranks an operator override: the line goes to atmosphere.
      overrides.pressureMbar = null;
      await attempt('pressure to atmosphere', async () => {
        desiredPressure = 0;
        await vent();
      });
      await attempt('amplifier to VC 0 mV', async () => {
        overrides.holdingMv = null;
        await amplifier.setMode('VC');
        await applyHolding(0);
      });
      if (retract) {
        await attempt('retract along the axis', async () => {
          const here = await readPosition();
          const toZ = ops.location === 'well' ? geometry.travelZ : geometry.standoffZ;
          const legs = retractLegs(here, geometry, options.safeSpeeds, toZ);
          for (const leg of legs) await moveLeg(leg, false);
        });
      }
      if (errors.length > 0) {
        // An incomplete safe state needs a person: say exactly what could not be done.
        emit({ type: 'log', level: 'error', pipetteId, message: `safe state incomplete: ${errors.join('; ')}` });
      }
      return { complete: errors.length === 0, errors };
    },
    async testPulseOff() {
      await amplifier.setTestPulse({ enabled: false });
      testPulseOn = false;
    },
    async zeroCurrent() {
      clampGeneration++;
      await toZeroCurrent();
    },
    async currentClamp(bias_pA) {
      const mine = ++clampGeneration;
      if (!Number.isFinite(bias_pA) || Math.abs(bias_pA) > MAX_BIAS_PA) {
        throw new DeviceError('limit', 'amplifier', 'current clamp', `bias ${bias_pA} pA is outside ±${MAX_BIAS_PA} pA`);
      }
      await amplifier.setMode('IC');
      // A safe state (or any other clamp change) that began while the mode went out owns the amplifier now.
      if (mine !== clampGeneration) throw new Aborted('clamp changed while switching to current clamp');
      await holdBias(bias_pA);
    },
    async restoreVoltageClamp({ holding_mV, testPulse, settleMs, after }) {
      // Taken now, before waiting: a safe state that starts meanwhile must win.
      const mine = ++clampGeneration;
      await after?.catch(() => {});
      const superseded = (): boolean => mine !== clampGeneration;
      const mode = holdingState?.mode;
      if (mode === 'IC') {
        if (superseded()) return;
        await holdBias(0); // no bias left behind for the next switch to current clamp
        if (superseded()) return;
        await toZeroCurrent();
        await sleep(clock, settleMs);
      }
      if (superseded()) return;
      if (mode !== 'VC' || holdingState?.value !== (overrides.holdingMv ?? holding_mV) / 1000) await toVoltageClamp(holding_mV);
      if (superseded() || testPulseOn) return;
      await startTestPulse(testPulse);
    },
  };
  return ops;
}
