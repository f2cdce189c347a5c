/**
 * A stand-in RigControl for testing the layer above control: it records
 * every call, answers commands with a settable result, keeps a snapshot that
 * follows the events it emits (like the real supervisor: state first, then
 * the event), and emits scripted events on demand.
 */
import type { Sweep } from '../../drivers/types.ts';
import type { Clock } from '../../src/clock/clock.ts';
import {
  HISTORY_LIMIT,
  type CommandResult,
  type LiveTrace,
  type PipetteCommand,
  type PipetteSnapshot,
  type RigControl,
  type SessionSnapshot,
  type StartOptions,
} from '../../src/control/api.ts';
import type { AttemptRecord, PipetteStateName, RigEvent, TestPulseReading } from '../../src/control/events.ts';

export interface FakeCall {
  method: 'start' | 'pause' | 'resume' | 'abort' | 'emergencyStop' | 'pipette';
  args: unknown[];
}

export interface FakeRig extends RigControl {
  readonly calls: FakeCall[];
  readonly state: SessionSnapshot;
  /** what the next commands answer; null = behave (apply and succeed) */
  result: CommandResult | null;
  /** commands throw this when set */
  failWith: Error | null;
  emit(event: RigEvent): void;
  /** a live trace (display-only test-pulse sweep), as the runner's tap sends it */
  emitTrace(trace: LiveTrace): void;
  listenerCount(): number;
  /** t/epochMs for an event now */
  stamp(): { t: number; epochMs: number };
  snapshotCalls(): number;
}

export interface FakeRigOptions {
  pipettes?: number;
  clock?: Clock;
  thresholds?: SessionSnapshot['thresholds'];
  /** what presets() answers */
  presets?: string[];
}

export function pipetteIds(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `p${i + 1}`);
}

function pipetteSnapshot(pipetteId: string, t: number): PipetteSnapshot {
  return {
    pipetteId,
    state: 'idle',
    stateSince: t,
    lastReason: 'startup',
    attemptId: null,
    attempts: 0,
    health: 'ok',
    lastReading: null,
    pressure: { mbar: 0, source: 'atmosphere' },
    position: [0, 0, 0],
    holding: { mode: 'VC', value: 0 },
    cleanCount: 0,
    overrides: { pressureMbar: null, holdingMv: null },
    history: [],
  };
}

export function createFakeRig(options: FakeRigOptions = {}): FakeRig {
  const clock = options.clock;
  let fakeT = 0;
  const now = (): number => (clock ? clock.now() : fakeT);
  const epoch = (): number => (clock ? clock.epochMs() : Date.UTC(2026, 0, 1) + fakeT);
  const listeners = new Set<(e: RigEvent) => void>();
  const traceListeners = new Set<(t: LiveTrace) => void>();
  const calls: FakeCall[] = [];
  let sessions = 0;
  let snapshots = 0;

  const state: SessionSnapshot = {
    sessionId: null,
    phase: 'idle',
    preset: null,
    startedAt: null,
    endedAt: null,
    now: now(),
    epochMs: epoch(),
    virtual: clock ? clock.kind === 'virtual' : true,
    pipettes: pipetteIds(options.pipettes ?? 4).map((id) => pipetteSnapshot(id, now())),
    funnel: { attempts: 0, approached: 0, detected: 0, sealed: 0, wholeCell: 0, recorded: 0 },
    cellsPerHour: 0,
    thresholds: options.thresholds ?? { holdingAt: 100e6, gigaseal: 1e9, breakIn: 500e6, holdingMv: -70 },
    historyLimit: HISTORY_LIMIT,
    limits: { durationMs: null, maxAttempts: null },
    attemptsStarted: 0,
  };

  const pip = (id: string): PipetteSnapshot | undefined => state.pipettes.find((p) => p.pipetteId === id);

  /** Keeps the snapshot in step with the stream, as the real supervisor does. */
  function apply(e: RigEvent): void {
    switch (e.type) {
      case 'session.started':
        state.sessionId = e.sessionId;
        state.phase = 'running';
        state.preset = e.preset;
        state.startedAt = e.t;
        state.endedAt = null;
        state.limits = e.limits;
        state.attemptsStarted = 0;
        state.pipettes = e.pipettes.map((id) => pipetteSnapshot(id, e.t));
        break;
      case 'session.paused':
        state.phase = 'paused';
        break;
      case 'session.resumed':
        state.phase = 'running';
        break;
      case 'session.ended':
        state.phase = e.reason === 'estop' ? 'estopped' : 'ended';
        state.endedAt = e.t;
        break;
      case 'estop':
        state.phase = 'estopped';
        break;
      case 'pipette.state': {
        const p = pip(e.pipetteId);
        if (p) {
          p.state = e.to;
          p.stateSince = e.t;
          p.lastReason = e.reason;
          p.attemptId = e.attemptId;
        }
        break;
      }
      // health, overrides and cleanings are as the rig says (no rule of its own here)
      case 'pipette.health': {
        const p = pip(e.pipetteId);
        if (p) p.health = e.health;
        break;
      }
      case 'pipette.overrides': {
        const p = pip(e.pipetteId);
        if (p) p.overrides = { pressureMbar: e.pressureMbar, holdingMv: e.holdingMv };
        break;
      }
      case 'pipette.cleanCount': {
        const p = pip(e.pipetteId);
        if (p) p.cleanCount = e.cleanCount;
        break;
      }
      case 'pipette.testpulse': {
        const p = pip(e.pipetteId);
        if (p) {
          p.lastReading = e.reading;
          p.history.push([e.t, e.reading.r]);
          if (p.history.length > HISTORY_LIMIT) p.history.splice(0, p.history.length - HISTORY_LIMIT);
        }
        break;
      }
      case 'pipette.pressure': {
        const p = pip(e.pipetteId);
        if (p) p.pressure = { mbar: e.mbar, source: e.source };
        break;
      }
      case 'pipette.position': {
        const p = pip(e.pipetteId);
        if (p) p.position = e.world;
        break;
      }
      case 'pipette.holding': {
        const p = pip(e.pipetteId);
        if (p) p.holding = { mode: e.mode, value: e.holding };
        break;
      }
      case 'attempt.started': {
        const p = pip(e.pipetteId);
        if (p) {
          p.attemptId = e.attemptId;
          p.attempts++;
          p.history = [];
        }
        state.attemptsStarted++;
        break;
      }
      case 'attempt.ended': {
        const r = e.record;
        const order = ['approached', 'detected', 'sealed', 'wholeCell', 'recorded'] as const;
        const reached = order.indexOf(r.stageReached as (typeof order)[number]);
        state.funnel.attempts++;
        for (let i = 0; i <= reached; i++) state.funnel[order[i]]++;
        break;
      }
      default:
        break;
    }
  }

  function emit(event: RigEvent): void {
    if (!clock) fakeT = Math.max(fakeT, event.t);
    apply(event);
    for (const l of listeners) l(event);
  }

  const stamp = (): { t: number; epochMs: number } => {
    if (!clock) fakeT += 1;
    return { t: now(), epochMs: epoch() };
  };

  async function command(method: FakeCall['method'], args: unknown[], behave: () => CommandResult): Promise<CommandResult> {
    calls.push({ method, args });
    if (rig.failWith) throw rig.failWith;
    if (rig.result) return rig.result;
    return behave();
  }

  const rig: FakeRig = {
    calls,
    state,
    result: null,
    failWith: null,
    emit,
    stamp,
    listenerCount: () => listeners.size,
    snapshotCalls: () => snapshots,
    snapshot() {
      snapshots++;
      state.now = now();
      state.epochMs = epoch();
      const hours = state.startedAt === null ? 0 : ((state.endedAt ?? state.now) - state.startedAt) / 3_600_000;
      state.cellsPerHour = hours > 0 ? state.funnel.recorded / hours : 0;
      return structuredClone(state);
    },
    onEvent(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    onTrace(listener) {
      traceListeners.add(listener);
      return () => traceListeners.delete(listener);
    },
    emitTrace(trace) {
      for (const l of traceListeners) l(trace);
    },
    presets: async () => options.presets ?? ['acute-slice'],
    start(opts: StartOptions, by: string) {
      return command('start', [opts, by], () => {
        if (state.phase === 'running' || state.phase === 'paused') return { ok: false, error: 'a session is already running' };
        sessions++;
        emit({
          ...stamp(),
          type: 'session.started',
          sessionId: `fake-${sessions}`,
          preset: opts.preset,
          pipettes: state.pipettes.map((p) => p.pipetteId),
          seed: 1,
          rig: 'fake',
          operator: opts.operator,
          virtual: true,
          limits: { durationMs: opts.durationMin == null ? null : opts.durationMin * 60_000, maxAttempts: null },
        });
        return { ok: true };
      });
    },
    pause(by) {
      return command('pause', [by], () => {
        if (state.phase !== 'running') return { ok: false, error: `cannot pause while ${state.phase}` };
        emit({ ...stamp(), type: 'session.paused', sessionId: state.sessionId ?? '', by });
        return { ok: true };
      });
    },
    resume(by) {
      return command('resume', [by], () => {
        if (state.phase !== 'paused') return { ok: false, error: `cannot resume while ${state.phase}` };
        emit({ ...stamp(), type: 'session.resumed', sessionId: state.sessionId ?? '', by });
        return { ok: true };
      });
    },
    abort(by) {
      return command('abort', [by], () => {
        emit({ ...stamp(), type: 'session.ended', sessionId: state.sessionId ?? '', reason: 'aborted' });
        return { ok: true };
      });
    },
    emergencyStop(by) {
      return command('emergencyStop', [by], () => {
        emit({ ...stamp(), type: 'estop', by });
        if (state.sessionId) emit({ ...stamp(), type: 'session.ended', sessionId: state.sessionId, reason: 'estop' });
        return { ok: true };
      });
    },
    pipette(pipetteId: string, cmd: PipetteCommand, by: string) {
      return command('pipette', [pipetteId, cmd, by], () => {
        const p = pip(pipetteId);
        if (!p) return { ok: false, error: `no pipette ${pipetteId}` };
        if (cmd.action === 'pressure' || cmd.action === 'holding') {
          const o = { ...p.overrides, ...(cmd.action === 'pressure' ? { pressureMbar: cmd.mbar } : { holdingMv: cmd.mV }) };
          emit({ ...stamp(), type: 'pipette.overrides', pipetteId, ...o });
        }
        return { ok: true };
      });
    },
  };
  return rig;
}

// ------------------------------------------------------------ event builders

export function reading(r: number, extra: Partial<TestPulseReading> = {}): TestPulseReading {
  return { r, ra: null, cm: null, rm: null, ihold: -20e-12, fitQuality: 0.9, mode: 'VC', ...extra };
}

/**
 * A VC test-pulse response (A): baseline, a step with a capacitive transient
 * decaying to the steady-state current amplitude/R, and the return.
 * Deterministic: no noise, so tests can compare samples.
 */
export function testPulseSweep(opts: {
  channel?: number;
  seq: number;
  startTime: number;
  samples?: number;
  sampleRateHz?: number;
  r?: number;
  amplitudeV?: number;
  kind?: Sweep['kind'];
}): Sweep {
  const n = opts.samples ?? 2000;
  const rate = opts.sampleRateHz ?? 20_000;
  const amp = opts.amplitudeV ?? 0.01;
  const r = opts.r ?? 5e6;
  const onset = Math.floor(n / 4);
  const length = Math.floor(n / 2);
  const tauSamples = Math.max(1, n / 200);
  const response = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    if (i >= onset && i < onset + length) {
      const k = i - onset;
      response[i] = amp / r + (amp / 1e6) * Math.exp(-k / tauSamples);
    } else if (i >= onset + length) {
      const k = i - onset - length;
      response[i] = -(amp / 1e6) * Math.exp(-k / tauSamples);
    }
  }
  return {
    channel: opts.channel ?? 0,
    seq: opts.seq,
    kind: opts.kind ?? 'testpulse',
    mode: 'VC',
    startTime: opts.startTime,
    sampleRateHz: rate,
    response,
    responseUnit: 'A',
    holding: -0.07,
    step: { amplitude: amp, onsetIndex: onset, lengthSamples: length },
  };
}

export function attemptRecord(over: Partial<AttemptRecord> & { attemptId: string; pipetteId: string }): AttemptRecord {
  return {
    target: null,
    targetCellId: null,
    startEpochMs: Date.UTC(2026, 0, 1),
    endEpochMs: Date.UTC(2026, 0, 1) + 60_000,
    startT: 0,
    endT: 60_000,
    stageReached: 'sealed',
    outcome: 'failed',
    failureReason: 'seal-stalled',
    failedIn: 'seal' as PipetteStateName,
    r0: 5e6,
    cleanCount: 0,
    peakSeal: 400e6,
    timeToSeal: null,
    breakInAttempts: 0,
    spontaneousBreakIn: false,
    ra: null,
    rm: null,
    cm: null,
    ihold: null,
    vrest: null,
    recordingDuration: null,
    sweepsRecorded: 0,
    stateDurations: { descent: 10, hunt: 20, seal: 30 },
    ...over,
  };
}
