/**
 * Runs one pipette: its machine actor, the test-pulse stream feeding it, the
 * services the machine delegates (through PipetteOps), and the bookkeeping
 * that turns state changes into events and attempt records.
 *
 * Fault isolation: anything that goes wrong here — a device error, an
 * exception in a service, a crashed actor — ends in this pipette's safe
 * state and a `fault` event; it never propagates to other pipettes.
 */
import { createActor, type Actor } from 'xstate';
import type { Clock } from '../clock/clock.ts';
import { sleep } from '../clock/clock.ts';
import type { PipetteHardware, Sweep } from '../../drivers/types.ts';
import { analyzeTestPulse } from '../analysis/testpulse.ts';
import type { AutopatchPreset } from '../protocol/types.ts';
import type { AttemptRecord, PipetteStateName, TestPulseReading } from './events.ts';
import { HISTORY_LIMIT, type LiveTrace } from './api.ts';
import { pipetteHealth, type PipetteHealth } from './health.ts';
import type { RigEventInput } from './event-sink.ts';
import { createPipetteMachine, faultReason, type MachineServices, type PipetteContext, type RecordResult, type Target } from './pipette-machine.ts';
import { isAbort, type PipetteOps } from './pipette-ops.ts';
import { alongAxis, alongAxisToZ, descentLegs, goToStart, pastTarget, retractLegs, startPointFor, wellLegs, leaveWellLegs } from './paths.ts';
import { distance, type Vec3 } from '../geometry.ts';
import { createSignalConditioner, testPulseOptions, type Signals } from './signals.ts';
import type { Region } from '../sim/types.ts';

export interface Recorder {
  /**
   * Run the preset's stimulus sets on a whole-cell recording; emits its own
   * sweep events. Mode and holding go through `ops` (events and limit checks).
   */
  record(args: { pipetteId: string; attemptId: string; hw: PipetteHardware; ops: PipetteOps; preset: AutopatchPreset; signal: AbortSignal }): Promise<RecordResult>;
}

export interface RunnerCoordination {
  /** the next target for this pipette, or null when the session is finishing */
  nextTarget(pipetteId: string): Promise<Target | null>;
  sealing(pipetteId: string, on: boolean): void;
  gateOpen(pipetteId: string): boolean;
  /** the gate of this pipette opened or closed; returns unsubscribe */
  onGateChange(pipetteId: string, listener: (open: boolean) => void): () => void;
  waitForBreakInPartners(pipetteId: string, signal: AbortSignal): Promise<void>;
  acquire(resource: string, pipetteId: string, signal?: AbortSignal): Promise<() => void>;
  /** this pipette's machine is gone: drop its sealing flag, path reservation and locks */
  release(pipetteId: string): void;
}

export interface CleaningStation {
  detergent: Region;
  rinse: Region;
}

export interface PipetteRunnerOptions {
  pipetteId: string;
  preset: AutopatchPreset;
  clock: Clock;
  hw: PipetteHardware;
  ops: PipetteOps;
  coordination: RunnerCoordination;
  recorder: Recorder;
  emit: (event: RigEventInput) => void;
  /** where the pipette waits between attempts (world µm, on the standoff plane) */
  home: Vec3;
  wells: CleaningStation | null;
  /** µm/s for trips on the travel plane */
  travelSpeed: number;
  /** store one test-pulse sweep per this many ms (plus one at every state change) */
  tpSweepStoreEveryMs?: number;
  /** every test-pulse sweep, for live display only (never stored) */
  onTrace?: (trace: LiveTrace) => void;
  /** id generator for attempts (deterministic in virtual time) */
  newAttemptId: () => string;
  /** called once the machine reaches `done` */
  onDone?: () => void;
}

export interface PipetteRunner {
  readonly pipetteId: string;
  readonly state: PipetteStateName;
  readonly stateSince: number;
  readonly reason: string;
  readonly attemptId: string | null;
  readonly attempts: number;
  readonly cleanCount: number;
  readonly lastReading: TestPulseReading | null;
  readonly health: PipetteHealth;
  readonly history: Array<[number, number]>;
  /** emit `pipette.overrides` if the operator overrides changed since last said */
  noteOverrides(): void;
  start(): void;
  send(event: Parameters<Actor<ReturnType<typeof createPipetteMachine>>['send']>[0]): void;
  /**
   * Stop the machine and put the pipette in its safe state (exit actions do not
   * run on stop, so this does it). `retract: false` for an emergency stop.
   */
  shutdown(reason: string, options?: { retract?: boolean }): Promise<void>;
  /** the latest signals (for tests and the dashboard) */
  readonly signals: Signals | null;
  readonly finished: boolean;
}

export function createPipetteRunner(options: PipetteRunnerOptions): PipetteRunner {
  const { pipetteId, preset, clock, hw, ops, coordination, emit } = options;
  const conditioner = createSignalConditioner(preset);
  const analysisOptions = testPulseOptions(preset);
  const geometry = ops.geometry;
  const storeEvery = options.tpSweepStoreEveryMs ?? 1000;

  let state: PipetteStateName = 'idle';
  let stateSince = clock.now();
  /** start of the time in this state not yet added to `durations` (an attempt's end counts it early) */
  let countedFrom = stateSince;
  let reason = 'created';
  /** the machine's last note, seen by the subscription */
  let noted = reason;
  let attemptId: string | null = null;
  let attempts = 0;
  let attemptStart = { t: clock.now(), epochMs: clock.epochMs() };
  let durations: Partial<Record<PipetteStateName, number>> = {};
  let lastReading: TestPulseReading | null = null;
  let lastStoredTp = -Infinity;
  let storeNextTp = false;
  let finished = false;
  let shuttingDown = false;
  /** R readings since the current attempt started (the snapshot's history policy) */
  let history: Array<[number, number]> = [];
  let health: PipetteHealth = 'ok';
  let cleanCount = 0;
  let saidOverrides = { pressureMbar: null as number | null, holdingMv: null as number | null };

  /** Health by the one rule (health.ts); every change is streamed. */
  const noteHealth = (ctx: PipetteContext | null): void => {
    const q = ctx?.qcSum;
    const access = ctx?.facts.qc.ra ?? (q && q.n > 0 ? (q.ra / q.n) * 1e6 : null);
    const now = pipetteHealth(state, access, preset.whole_cell.ra_max_MOhm * 1e6);
    if (now === health) return;
    health = now;
    emit({ type: 'pipette.health', pipetteId, health });
  };

  const noteOverrides = (): void => {
    const o = ops.overrides;
    if (o.pressureMbar === saidOverrides.pressureMbar && o.holdingMv === saidOverrides.holdingMv) return;
    saidOverrides = { ...o };
    emit({ type: 'pipette.overrides', pipetteId, ...saidOverrides });
  };

  /** Fire-and-forget hardware work from machine actions; a failure becomes a DEVICE_ERROR for the machine. */
  /** fire-and-forget hardware work still under way (the pipette is done only once it has answered) */
  const inflight = new Set<Promise<unknown>>();
  const background = (label: string, work: () => Promise<unknown>): void => {
    const p = work().catch((e: unknown) => {
      if (isAbort(e)) return;
      const message = e instanceof Error ? e.message : String(e);
      emit({ type: 'fault', pipetteId, device: label, kind: (e as { kind?: string }).kind ?? 'error', message });
      actor.send({ type: 'DEVICE_ERROR', error: faultReason(e) });
    });
    inflight.add(p);
    void p.finally(() => inflight.delete(p));
  };

  /**
   * The service switching the clamp now (resting potential, recording). Skipped,
   * it stops at its next step, perhaps with one command still on its way: the
   * way back to voltage clamp waits for it.
   */
  let clampWork: Promise<unknown> = Promise.resolve();
  const switchingClamp = <T>(work: Promise<T>): Promise<T> => {
    clampWork = work;
    return work;
  };

  /** I=0 (no injected current), settle, average a short quiet sweep; back to VC at the seal holding. */
  const restingPotential = async (signal: AbortSignal): Promise<number> => {
    await ops.zeroCurrent();
    await sleep(clock, preset.record.i0_settle_ms, signal);
    const fs = preset.test_pulse.sample_rate_kHz * 1000;
    const n = Math.round((fs * preset.whole_cell.vrest_window_ms) / 1000);
    const sweep = await hw.amplifier.runStimulus({ name: 'vrest', mode: 'I0', sampleRateHz: fs, samples: new Float32Array(n) }, { signal });
    // skipped or aborted as the sweep came in: whoever stopped it sets the clamp
    if (signal.aborted) throw Object.assign(new Error('resting potential aborted'), { name: 'AbortError' });
    let sum = 0;
    for (let i = 0; i < sweep.response.length; i++) sum += sweep.response[i];
    emit({ type: 'sweep', pipetteId, attemptId, sweep });
    await ops.voltageClamp(preset.seal.holding_mV);
    return sum / Math.max(1, sweep.response.length);
  };

  const regionEnd = (target: Target): Vec3 =>
    target.kind === 'blind'
      ? alongAxisToZ(target.position, geometry.axis, preset.descent.region_depth_um)
      : alongAxis(target.position, geometry.axis, -preset.descent.stop_before_target_um);

  const startPoint = (target: Target): Vec3 =>
    target.kind === 'blind' ? alongAxisToZ(target.position, geometry.axis, geometry.standoffZ) : startPointFor(target.position, geometry);

  const here = (): Promise<Vec3> => ops.restingPosition();

  const services: MachineServices = {
    resetSignals: (which) => {
      if (which === 'baseline') conditioner.resetBaseline();
      else if (which === 'window') conditioner.resetWindow();
      else if (which === 'window-off') conditioner.closeWindow();
      else conditioner.resetSeal();
    },
    lastSignals: () => conditioner.last,
    holdBaseline: (on) => (on ? conditioner.freezeBaseline() : conditioner.resumeBaseline()),
    now: () => clock.now(),
    gateOpen: () => coordination.gateOpen(pipetteId),
    async prepareCheck(target, signal) {
      const speeds = { bath: preset.descent.speed_bath_um_per_s, tissue: preset.retract.speed_tissue_um_per_s };
      await ops.follow(goToStart(await here(), startPoint(target), geometry, speeds), { gated: true, signal });
      await ops.pressure(preset.pipette_check.pressure_mbar, signal);
      await ops.voltageClamp(0);
      await ops.testPulse({ ...preset.test_pulse });
      await ops.autoOffset();
    },
    async descend(target, signal) {
      await ops.pressure(preset.descent.high_pressure_mbar, signal);
      const speeds = { bath: preset.descent.speed_bath_um_per_s, tissue: preset.descent.speed_tissue_um_per_s };
      await ops.follow(descentLegs(await here(), regionEnd(target), geometry, speeds), { gated: true, signal });
      await ops.pressure(preset.descent.low_pressure_mbar, signal);
    },
    async hunt(target, signal) {
      const h = preset.hunt;
      const origin = await here();
      const travelled = (p: Vec3): number =>
        target.kind === 'blind' ? distance(p, origin) : Math.max(0, pastTarget(p, target.position, geometry.axis));
      if (h.mode === 'continuous') {
        const remaining = target.kind === 'blind' ? h.max_travel_um : h.max_travel_um - pastTarget(origin, target.position, geometry.axis);
        if (remaining <= 0) return;
        const end = alongAxis(origin, geometry.axis, remaining);
        await ops.follow([{ to: end, speed: h.speed_um_per_s, label: 'continuous hunt' }], { gated: true, signal });
        return;
      }
      // Targets are cumulative from where the hunt began, not from the reported position:
      // a device that ignores moves below its minimum (MPC-325: 1 µm per axis) still
      // advances once the steps add up, instead of being asked for the same tiny step forever.
      for (let k = 1; ; k++) {
        const next = alongAxis(origin, geometry.axis, k * h.step_um);
        if (travelled(next) > h.max_travel_um + 1e-6) return;
        await ops.follow([{ to: next, speed: h.speed_um_per_s, label: 'hunt step' }], { gated: true, signal });
        await sleep(clock, h.step_dwell_ms, signal);
      }
    },
    stopMotion: () => background('manipulator stop', () => ops.stopMotion()),
    pressure: (mbar) => background('pressure', () => ops.pressure(mbar)),
    atmosphere: () => background('pressure', () => ops.atmosphere()),
    holding: (mV) => background('amplifier holding', () => ops.holding(mV)),
    testPulseRate: (rate) => background('amplifier test pulse', () => ops.testPulseRate(rate)),
    async breakInAttempt(n, signal) {
      const b = preset.break_in;
      const mbar = Math.max(b.pulse_mbar + (n - 1) * b.pulse_step_mbar, b.max_pulse_mbar);
      for (let k = 0; k < b.pulses_per_attempt; k++) {
        if (signal.aborted) return;
        await ops.pulse(mbar, b.pulse_ms);
        if (signal.aborted) return;
        await sleep(clock, b.pulse_interval_s * 1000, signal).catch(() => {});
      }
      if (b.zap_from_attempt > 0 && n >= b.zap_from_attempt && !signal.aborted) {
        await ops.zap(b.zap_ms, b.zap_mV);
        await sleep(clock, b.pulse_interval_s * 1000, signal).catch(() => {});
      }
    },
    async clearAccess() {
      await ops.pulse(preset.whole_cell.clear_access_mbar, preset.whole_cell.clear_access_ms);
    },
    measureVrest: (signal) => switchingClamp(restingPotential(signal)),
    record(signal) {
      return switchingClamp(options.recorder.record({ pipetteId, attemptId: attemptId ?? 'none', hw, ops, preset, signal }));
    },
    restoreVoltageClamp: () =>
      background('amplifier', () =>
        ops.restoreVoltageClamp({ holding_mV: preset.seal.holding_mV, testPulse: preset.test_pulse, settleMs: preset.record.i0_settle_ms, after: clampWork }),
      ),
    async retract(signal) {
      const r = preset.retract;
      await ops.pressure(r.pressure_mbar, signal);
      const pos = await here();
      const speeds = { bath: r.speed_bath_um_per_s, tissue: r.speed_tissue_um_per_s };
      const legs = pos[2] > 0 ? [{ to: alongAxis(pos, geometry.axis, -r.withdraw_um), speed: r.speed_tissue_um_per_s, label: 'withdraw from the cell' }] : [];
      const after = legs.length ? legs[0].to : pos;
      await ops.follow([...legs, ...retractLegs(after, geometry, speeds)], { gated: true, signal });
    },
    async clean(signal) {
      const wells = options.wells;
      if (!wells) throw new Error('no cleaning wells are configured for this rig');
      const c = preset.clean;
      const speeds = { bath: preset.retract.speed_bath_um_per_s, tissue: preset.retract.speed_tissue_um_per_s, travel: options.travelSpeed };
      const inside = (w: Region): Vec3 => [w.center[0], w.center[1], w.center[2] - w.depthUm / 2];
      const releaseDetergent = await coordination.acquire(`well:${wells.detergent.name}`, pipetteId, signal);
      try {
        // From here until it is back over the prep, the safe path must lift the tip
        // to the travel plane, above any well's liquid — even if stopped on the way in.
        ops.location = 'well';
        await ops.follow(wellLegs(await here(), inside(wells.detergent), geometry, speeds), { gated: true, signal });
        for (let i = 0; i < c.cycles; i++) {
          for (const step of c.detergent) {
            await ops.pressure(step.mbar, signal);
            await sleep(clock, step.ms, signal);
          }
        }
        await ops.atmosphere();
      } finally {
        releaseDetergent();
      }
      const releaseRinse = await coordination.acquire(`well:${wells.rinse.name}`, pipetteId, signal);
      try {
        await ops.follow(wellLegs(await here(), inside(wells.rinse), geometry, speeds), { gated: true, signal });
        for (const step of c.rinse) {
          await ops.pressure(step.mbar, signal);
          await sleep(clock, step.ms, signal);
        }
        await ops.atmosphere();
        await ops.follow(leaveWellLegs(await here(), options.home, geometry, speeds), { gated: true, signal });
        ops.location = 'prep';
      } finally {
        releaseRinse();
      }
    },
    async safeState(why) {
      // the safe state releases operator overrides
      const result = await ops.safeState(why);
      noteOverrides();
      return result;
    },
    reportFault(e) {
      if (isAbort(e)) return;
      const d = e as { kind?: string; device?: string };
      emit({ type: 'fault', pipetteId, device: d.device ?? 'controller', kind: d.kind ?? 'error', message: e instanceof Error ? e.message : String(e) });
    },
    waitForBreakInPartners: (signal) => coordination.waitForBreakInPartners(pipetteId, signal),
    sealing: (on) => coordination.sealing(pipetteId, on),
    requestTarget() {
      if (shuttingDown) return;
      targetPending = true;
      const settle = (event: MachineEvent): void => {
        targetPending = false;
        deliver(event);
        if (finishDeferred) {
          finishDeferred = false;
          deliver({ type: 'FINISH' });
        }
      };
      void coordination.nextTarget(pipetteId).then(
        (target) => settle(target ? { type: 'START', target } : { type: 'FINISH' }),
        () => settle({ type: 'FINISH' }),
      );
    },
    attemptEnded(context, finalState) {
      if (!attemptId) return;
      noteDuration();
      emit({ type: 'attempt.ended', record: toRecord(context, finalState) });
      attemptId = null;
    },
  };

  const toRecord = (c: PipetteContext, finalState: PipetteStateName, abandoned?: { reason: string; in: PipetteStateName }): AttemptRecord => {
    const f = abandoned ? { ...c.facts, failureReason: c.facts.failureReason ?? abandoned.reason, failedIn: c.facts.failedIn ?? abandoned.in } : c.facts;
    const recorded = f.failureReason === null && f.stage === 'recorded';
    return {
      attemptId: attemptId!,
      pipetteId,
      target: c.target?.position ?? null,
      targetCellId: c.target?.cellId ?? null,
      startEpochMs: attemptStart.epochMs,
      endEpochMs: clock.epochMs(),
      startT: attemptStart.t,
      endT: clock.now(),
      stageReached: f.stage,
      outcome: recorded ? 'recorded' : finalState === 'safe' ? 'aborted' : 'failed',
      failureReason: recorded ? null : (f.failureReason ?? 'not-recorded'),
      failedIn: f.failedIn,
      r0: f.r0 === null ? null : f.r0 * 1e6,
      cleanCount: c.cleanCount,
      peakSeal: f.peakSeal === null ? null : f.peakSeal * 1e6,
      timeToSeal: f.timeToSeal,
      breakInAttempts: f.breakInAttempts,
      spontaneousBreakIn: f.spontaneousBreakIn,
      ra: f.qc.ra,
      rm: f.qc.rm,
      cm: f.qc.cm,
      ihold: f.qc.ihold,
      vrest: f.qc.vrest,
      recordingDuration: f.record?.durationS ?? null,
      sweepsRecorded: f.record?.sweeps ?? 0,
      stateDurations: durations,
      features: f.record?.features,
    };
  };

  const noteDuration = (): void => {
    const now = clock.now();
    durations[state] = (durations[state] ?? 0) + (now - countedFrom) / 1000;
    countedFrom = now;
  };

  const machine = createPipetteMachine(services);
  const actor = createActor(machine, { input: { pipetteId, preset }, clock });
  // Late answers (a target found after the session ended, a FINISH to a pipette
  // already done) are expected; xstate would warn about each, so drop them here.
  type MachineEvent = Parameters<typeof actor.send>[0];
  let targetPending = false;
  let finishDeferred = false;
  function deliver(event: MachineEvent): void {
    if (actor.getSnapshot().status === 'active') actor.send(event);
  }

  /** the machine's last context, for the record of an attempt it can no longer end itself */
  let lastContext: PipetteContext | null = null;

  /**
   * The machine is gone (stopped for an emergency stop, or crashed): do what its
   * exits would have done — safe state, coordination released — and close the
   * books, so the attempt has its record and the session can end.
   */
  const abandon = async (why: string, o: { secure: boolean; retract: boolean }): Promise<void> => {
    shuttingDown = true;
    offSweep();
    offGate();
    coordination.release(pipetteId);
    const from = state;
    if (attemptId) noteDuration();
    if (o.secure) {
      state = 'safe';
      stateSince = countedFrom = clock.now();
      reason = why;
      emit({ type: 'pipette.state', pipetteId, attemptId, from, to: 'safe', reason: why });
      noteHealth(null);
      const result = await ops.safeState(why, { retract: o.retract });
      noteOverrides();
      if (!result.complete) emit({ type: 'log', level: 'error', pipetteId, message: `safe state incomplete: ${result.errors.join('; ')}` });
    }
    if (attemptId && lastContext) {
      noteDuration();
      emit({ type: 'attempt.ended', record: toRecord(lastContext, 'safe', { reason: why, in: from }) });
      attemptId = null;
    }
    finished = true;
  };

  actor.subscribe({
    next(snapshot) {
      const value = snapshot.value;
      const top = (typeof value === 'string' ? value : Object.keys(value)[0]) as PipetteStateName;
      const ctx = snapshot.context;
      lastContext = ctx;
      if (top !== state) {
        const from = state;
        if (attemptId) noteDuration();
        stateSince = countedFrom = clock.now();
        state = top;
        reason = ctx.reason;
        if (top === 'pipetteCheck' && from !== 'pipetteCheck') {
          attempts++;
          attemptId = options.newAttemptId();
          attemptStart = { t: clock.now(), epochMs: clock.epochMs() };
          durations = {};
          history = [];
          emit({ type: 'attempt.started', pipetteId, attemptId, target: ctx.target?.position ?? null, targetCellId: ctx.target?.cellId ?? null });
        }
        emit({ type: 'pipette.state', pipetteId, attemptId, from, to: top, reason: ctx.reason });
        storeNextTp = true;
        noteHealth(ctx);
        if (top === 'done') {
          finished = true;
          // e.g. the vent on entering `done`: the session ends after the devices took it
          void Promise.allSettled([...inflight]).then(() => options.onDone?.());
        }
      } else {
        // A note inside a state (a clear-access pulse, partners ready) is logged; the
        // snapshot's reason stays that of the last state change, as the stream has it.
        if (ctx.reason !== noted) emit({ type: 'log', level: 'info', pipetteId, message: `${top}: ${ctx.reason}` });
        noteHealth(ctx);
      }
      noted = ctx.reason;
      if (ctx.cleanCount !== cleanCount) {
        cleanCount = ctx.cleanCount;
        emit({ type: 'pipette.cleanCount', pipetteId, cleanCount });
      }
    },
    error(err) {
      // The actor is dead after an error: secure the hardware ourselves, release what
      // it held (others would wait on its sealing flag or locks forever), end its attempt.
      const message = err instanceof Error ? err.message : String(err);
      emit({ type: 'fault', pipetteId, device: 'controller', kind: 'crash', message });
      void abandon(`controller error: ${message}`, { secure: true, retract: true }).then(() => options.onDone?.());
    },
  });

  const onSweep = (sweep: Sweep): void => {
    if (sweep.kind !== 'testpulse' || shuttingDown) return;
    options.onTrace?.({ t: clock.now(), pipetteId, attemptId, sweep });
    if (sweep.mode !== 'VC') return;
    let reading: TestPulseReading;
    try {
      reading = analyzeTestPulse(sweep, analysisOptions);
    } catch (e) {
      emit({ type: 'log', level: 'warn', pipetteId, message: `test pulse not analysable: ${(e as Error).message}` });
      return;
    }
    lastReading = reading;
    const t = clock.now();
    const s = conditioner.update(reading, t);
    history.push([t, reading.r]);
    // Trim in blocks: shifting one element per reading would be O(n) at every reading.
    if (history.length > 2 * HISTORY_LIMIT) history.splice(0, history.length - HISTORY_LIMIT);
    emit({ type: 'pipette.testpulse', pipetteId, attemptId, reading });
    if (storeNextTp || t - lastStoredTp >= storeEvery) {
      storeNextTp = false;
      lastStoredTp = t;
      emit({ type: 'sweep', pipetteId, attemptId, sweep });
    }
    if (!finished) actor.send({ type: 'TP', s });
  };
  const offSweep = hw.amplifier.onSweep(onSweep);
  const offGate = coordination.onGateChange(pipetteId, (open) => deliver({ type: open ? 'GATE_OPENED' : 'GATE_CLOSED' }));

  return {
    pipetteId,
    get state() {
      return state;
    },
    get stateSince() {
      return stateSince;
    },
    get reason() {
      return reason;
    },
    get attemptId() {
      return attemptId;
    },
    get attempts() {
      return attempts;
    },
    get cleanCount() {
      return cleanCount;
    },
    get lastReading() {
      return lastReading;
    },
    get health() {
      return health;
    },
    get history() {
      return history.length > HISTORY_LIMIT ? history.slice(-HISTORY_LIMIT) : history;
    },
    noteOverrides,
    get signals() {
      return conditioner.last;
    },
    get finished() {
      return finished;
    },
    start() {
      actor.start();
    },
    send(event) {
      // A FINISH must not overtake a target already handed out (the last
      // attempts of a limit would be lost): it follows the START instead.
      if (event.type === 'FINISH' && targetPending) {
        finishDeferred = true;
        return;
      }
      deliver(event);
    },
    async shutdown(why, { retract = true } = {}) {
      if (shuttingDown) return;
      // An emergency stop also halts a safe state already running (no retraction).
      if (!retract) ops.halt();
      const wasActive = !finished && state !== 'safe';
      actor.stop();
      await abandon(why, { secure: wasActive, retract });
    },
  };
}
