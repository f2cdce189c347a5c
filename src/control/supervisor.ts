/**
 * The rig supervisor: one session, N pipettes (4 by default, any number).
 * It owns the runners, the coordinator, the target source and the session
 * lifecycle (start, pause, resume, abort, emergency stop, end), hands out
 * targets, watches device connections, and keeps the running figures the
 * dashboard shows. Runners never see each other: everything shared goes
 * through the coordinator, and one runner's failure stays its own.
 */
import type { Clock } from '../clock/clock.ts';
import { every } from '../clock/clock.ts';
import type { DeviceConnection, PipetteHardware } from '../../drivers/types.ts';
import type { Mount, Vec3 } from '../geometry.ts';
import type { AutopatchPreset } from '../protocol/types.ts';
import { HISTORY_LIMIT, type CommandResult, type LiveTrace, type PipetteCommand, type PipetteSnapshot, type SessionPhase, type SessionSnapshot } from './api.ts';
import type { AttemptRecord, PipetteHardwareInfo, RigEvent } from './events.ts';
import type { EventSink } from './event-sink.ts';
import { createCoordinator, type Coordinator } from './coordinator.ts';
import { geometryFor } from './paths.ts';
import { createPipetteOps, type PipetteOps } from './pipette-ops.ts';
import { createPipetteRunner, type CleaningStation, type PipetteRunner, type Recorder } from './pipette-runner.ts';
import type { TargetSource } from './targets.ts';

export interface RigPipette {
  id: string;
  hw: PipetteHardware;
  mount: Mount;
  /** region centre at the surface, world µm */
  region: Vec3;
  /** where the pipette waits, world µm (on the standoff plane) */
  home: Vec3;
  shaftLengthUm: number;
  wells: CleaningStation | null;
  /** largest voltage-clamp command (holding + step) its amplifier channel takes, mV */
  maxCommand_mV: number;
}

export interface RigSetup {
  name: string;
  pipettes: RigPipette[];
  /** plane for lateral moves above the prep, and for long trips, world z µm (negative = above the surface) */
  standoffZ: number;
  travelZ: number;
  /** every distinct device connection, watched for unplugs */
  connections: DeviceConnection[];
  valveSettleMs: number;
  /** speed of long trips on the travel plane (to and from the wells), µm/s */
  travelSpeed: number;
  /** each pipette's devices from the rig description, recorded with every session */
  devices?: readonly PipetteHardwareInfo[];
}

export interface SupervisorOptions {
  clock: Clock;
  rig: RigSetup;
  preset: AutopatchPreset;
  sink: EventSink;
  sessionId: string;
  operator: string;
  seed: number | null;
  virtual: boolean;
  targets: TargetSource;
  recorder: Recorder;
  /** stop starting attempts after this long (clock ms); null = until stopped */
  durationMs?: number | null;
  /** stop starting attempts after this many in total; null = no limit */
  maxAttempts?: number | null;
  /** reconnect attempts for unplugged devices, ms between tries */
  reconnectEveryMs?: number;
  /** test-pulse sweeps stored per pipette: one every this many ms (plus one at each state change) */
  tpSweepStoreEveryMs?: number;
  /** every test-pulse sweep of every pipette, for live display only */
  onTrace?: (trace: LiveTrace) => void;
}

export interface SessionSummary {
  sessionId: string;
  reason: 'completed' | 'aborted' | 'estop' | 'duration' | 'error';
  attempts: AttemptRecord[];
  durationS: number;
}

export interface Supervisor {
  readonly sessionId: string;
  readonly phase: SessionPhase;
  readonly runners: readonly PipetteRunner[];
  readonly ops: ReadonlyMap<string, PipetteOps>;
  readonly coordinator: Coordinator;
  readonly attempts: readonly AttemptRecord[];
  /** resolves when the session has ended and every pipette is safe */
  readonly done: Promise<SessionSummary>;
  start(): void;
  pause(by: string): Promise<CommandResult>;
  resume(by: string): Promise<CommandResult>;
  abort(by: string): Promise<CommandResult>;
  emergencyStop(by: string): Promise<CommandResult>;
  /** stop handing out new targets; running attempts finish */
  finish(reason: 'duration' | 'completed'): void;
  pipette(pipetteId: string, command: PipetteCommand, by: string): Promise<CommandResult>;
  snapshot(): SessionSnapshot;
}

const ok: CommandResult = { ok: true };
const refuse = (error: string): CommandResult => ({ ok: false, error });

export function createSupervisor(options: SupervisorOptions): Supervisor {
  const { clock, rig, preset, sink, sessionId } = options;
  let phase: SessionPhase = 'idle';
  let finishing = false;
  let endReason: SessionSummary['reason'] = 'completed';
  let startedAt: number | null = null;
  let endedAt: number | null = null;
  let issued = 0;
  const excluded = new Set<string>();
  const records: AttemptRecord[] = [];
  const cleanups: Array<() => void> = [];
  let resolveDone!: (s: SessionSummary) => void;
  const done = new Promise<SessionSummary>((r) => (resolveDone = r));

  const emit = sink.emit;
  const limits = { durationMs: options.durationMs ?? null, maxAttempts: options.maxAttempts ?? null };
  const coordinator = createCoordinator({
    clock,
    pipettes: rig.pipettes.map((p) => ({ id: p.id, axis: geometryFor(p.mount, rig.standoffZ, rig.travelZ).axis, shaftLengthUm: p.shaftLengthUm })),
    clearanceUm: preset.coordination.clearance_um,
    pauseOthersWhileSealing: preset.coordination.pause_others_while_sealing,
    pathWaitMs: preset.coordination.path_wait_s * 1000,
  });

  const opsById = new Map<string, PipetteOps>();
  const resumeWaiters = new Set<() => void>();

  // ---- synchronized rounds (coordination.synchronized_rounds): the k-th attempts start together
  const roundWaiters = new Map<string, () => void>();
  let round = 0;
  /** taking part in rounds: not done, not kept out, not waiting for a person (safe) or a new pipette */
  const inRounds = (r: PipetteRunner): boolean => !r.finished && !excluded.has(r.pipetteId) && r.state !== 'safe' && r.state !== 'needsPipette' && r.state !== 'done';
  /** start the next round once every pipette in rounds is ready (or the session is finishing) */
  const releaseRound = (): void => {
    if (roundWaiters.size === 0) return;
    if (!finishing && !runners.filter(inRounds).every((r) => roundWaiters.has(r.pipetteId))) return;
    const ready = [...roundWaiters.keys()].sort();
    const go = [...roundWaiters.values()];
    roundWaiters.clear();
    if (!finishing) emit({ type: 'log', level: 'info', pipetteId: null, message: `round ${++round}: ${ready.join(', ')} start together` });
    for (const g of go) g();
  };
  const waitForRound = (pipetteId: string): Promise<void> =>
    new Promise<void>((resolve) => {
      roundWaiters.set(pipetteId, resolve);
      releaseRound();
    });

  const paused = (): boolean => phase === 'paused';
  const nextTarget = async (pipetteId: string) => {
    options.targets.release(pipetteId);
    // While paused, no new attempt starts.
    while (paused()) await new Promise<void>((r) => resumeWaiters.add(r));
    const limitReached = (): boolean => options.maxAttempts != null && issued >= options.maxAttempts;
    if (preset.coordination.synchronized_rounds && !finishing && !limitReached() && phase === 'running' && !excluded.has(pipetteId)) {
      await waitForRound(pipetteId);
      while (paused()) await new Promise<void>((r) => resumeWaiters.add(r));
    }
    if (finishing || phase !== 'running' || excluded.has(pipetteId)) return null;
    if (limitReached()) {
      finish('completed');
      return null;
    }
    const t = options.targets.next(pipetteId);
    if (t) issued++;
    return t;
  };

  let attemptCounter = 0;
  const runners: PipetteRunner[] = rig.pipettes.map((p) => {
    const geometry = geometryFor(p.mount, rig.standoffZ, rig.travelZ);
    const ops = createPipetteOps({
      pipetteId: p.id,
      hw: p.hw,
      geometry,
      clock,
      coordinator,
      emit,
      valveSettleMs: rig.valveSettleMs,
      maxCommand_mV: p.maxCommand_mV,
      safeSpeeds: { tissue: preset.retract.speed_tissue_um_per_s, bath: preset.retract.speed_bath_um_per_s },
    });
    opsById.set(p.id, ops);
    return createPipetteRunner({
      pipetteId: p.id,
      preset,
      clock,
      hw: p.hw,
      ops,
      emit,
      home: p.home,
      wells: p.wells,
      travelSpeed: rig.travelSpeed,
      recorder: options.recorder,
      tpSweepStoreEveryMs: options.tpSweepStoreEveryMs,
      onTrace: options.onTrace,
      coordination: {
        nextTarget,
        sealing: (id, on) => coordinator.setSealing(id, on),
        gateOpen: (id) => coordinator.gateOpen(id),
        onGateChange: (id, listener) => coordinator.onGateChange(id, listener),
        waitForBreakInPartners: (id, signal) => coordinator.waitForNoOtherSealing(id, signal),
        acquire: (resource, id, signal) => coordinator.acquire(resource, id, signal),
        release: (id) => coordinator.forget(id),
      },
      newAttemptId: () => `${sessionId}-${p.id}-${String(++attemptCounter).padStart(4, '0')}`,
      onDone: () => checkAllDone(),
    });
  });

  cleanups.push(
    sink.subscribe((e: RigEvent) => {
      if (e.type === 'attempt.ended') records.push(e.record);
      // a pipette leaving the rounds (safe, needsPipette, done) may be the one the others wait for
      if (e.type === 'pipette.state' && roundWaiters.size > 0) releaseRound();
    }),
  );

  const end = (reason: SessionSummary['reason'], detail?: string): void => {
    if (phase === 'ended' || phase === 'estopped') return;
    phase = reason === 'estop' ? 'estopped' : 'ended';
    for (const c of cleanups.splice(0)) c();
    // the event's own time, so the snapshot and the event stream agree exactly
    endedAt = emit({ type: 'session.ended', sessionId, reason, detail }).t;
    resolveDone({ sessionId, reason, attempts: [...records], durationS: (clock.now() - (startedAt ?? clock.now())) / 1000 });
  };

  function checkAllDone(): void {
    releaseRound();
    if (runners.every((r) => r.finished)) end(endReason);
  }

  const finish = (reason: 'duration' | 'completed'): void => {
    if (finishing) return;
    finishing = true;
    endReason = reason;
    emit({ type: 'log', level: 'info', pipetteId: null, message: `session finishing (${reason}): no new attempts` });
    for (const r of runners) r.send({ type: 'FINISH' });
    for (const w of resumeWaiters) w();
    resumeWaiters.clear();
    releaseRound();
  };

  const watchConnections = (): void => {
    const everyMs = options.reconnectEveryMs ?? 2000;
    for (const conn of rig.connections) {
      let stopRetry: (() => void) | null = null;
      const off = conn.onStateChange((state, error) => {
        // One fault when the device goes away; failed reconnection attempts stay quiet.
        if (state === 'disconnected' && !stopRetry) {
          emit({ type: 'fault', pipetteId: null, device: conn.label, kind: 'disconnected', message: error?.message ?? 'device disconnected' });
          stopRetry = every(clock, everyMs, () => {
            conn.reconnect().then(
              () => {
                stopRetry?.();
                stopRetry = null;
                emit({ type: 'log', level: 'info', pipetteId: null, message: `${conn.label} reconnected` });
              },
              () => {},
            );
          });
        }
      });
      cleanups.push(() => {
        off();
        stopRetry?.();
      });
    }
  };

  const pipetteSnapshot = (r: PipetteRunner): PipetteSnapshot => {
    const ops = opsById.get(r.pipetteId)!;
    return {
      pipetteId: r.pipetteId,
      state: r.state,
      stateSince: r.stateSince,
      lastReason: r.reason,
      attemptId: r.attemptId,
      attempts: r.attempts,
      health: r.health,
      lastReading: r.lastReading,
      pressure: ops.pressureState,
      position: ops.position,
      holding: ops.holdingState,
      cleanCount: r.cleanCount,
      overrides: { ...ops.overrides },
      history: r.history.slice(),
    };
  };

  const supervisor: Supervisor = {
    sessionId,
    get phase() {
      return phase;
    },
    runners,
    ops: opsById,
    coordinator,
    get attempts() {
      return records;
    },
    done,
    start() {
      if (phase !== 'idle') return;
      phase = 'running';
      // the event's own time, as for the end
      startedAt = emit({
        type: 'session.started',
        sessionId,
        preset: preset.name,
        pipettes: rig.pipettes.map((p) => p.id),
        seed: options.seed,
        rig: rig.name,
        operator: options.operator,
        virtual: options.virtual,
        limits,
        ...(rig.devices ? { hardware: [...rig.devices] } : {}),
        presetSettings: preset,
      }).t;
      watchConnections();
      if (options.durationMs != null) {
        const timer = clock.setTimeout(() => finish('duration'), options.durationMs);
        cleanups.push(() => clock.clearTimeout(timer));
      }
      for (const r of runners) r.start();
    },
    async pause(by) {
      if (phase !== 'running') return refuse(`cannot pause a session that is ${phase}`);
      phase = 'paused';
      coordinator.setPaused(true);
      emit({ type: 'session.paused', sessionId, by });
      return ok;
    },
    async resume(by) {
      if (phase !== 'paused') return refuse(`cannot resume a session that is ${phase}`);
      phase = 'running';
      coordinator.setPaused(false);
      for (const w of resumeWaiters) w();
      resumeWaiters.clear();
      emit({ type: 'session.resumed', sessionId, by });
      return ok;
    },
    async abort(by) {
      if (phase === 'ended' || phase === 'estopped' || phase === 'idle') return refuse(`no running session to abort (${phase})`);
      emit({ type: 'log', level: 'warn', pipetteId: null, message: `session aborted by ${by}` });
      endReason = 'aborted';
      finishing = true;
      if (phase === 'paused') {
        phase = 'running';
        coordinator.setPaused(false);
      }
      for (const w of resumeWaiters) w();
      resumeWaiters.clear();
      releaseRound();
      for (const r of runners) {
        r.send({ type: 'ABORT', reason: `session aborted by ${by}` });
        r.send({ type: 'FINISH' });
      }
      return ok;
    },
    async emergencyStop(by) {
      if (phase === 'estopped') return ok;
      emit({ type: 'estop', by });
      // However the last pipette ends while devices are being stopped, the session ends as an e-stop.
      endReason = 'estop';
      finishing = true;
      releaseRound();
      coordinator.closeAll();
      // Motion first, on every pipette at once; then pressure and amplifiers.
      await Promise.all(rig.pipettes.map((p) => p.hw.manipulator.stop().catch(() => {})));
      await Promise.all(runners.map((r) => r.shutdown(`emergency stop by ${by}`, { retract: false })));
      end('estop', `emergency stop by ${by}`);
      return ok;
    },
    finish,
    async pipette(pipetteId, command, by) {
      const runner = runners.find((r) => r.pipetteId === pipetteId);
      const ops = opsById.get(pipetteId);
      if (!runner || !ops) return refuse(`no pipette ${pipetteId}`);
      if (phase === 'ended' || phase === 'estopped') return refuse(`session is ${phase}`);
      emit({ type: 'log', level: 'info', pipetteId, message: `${command.action} by ${by}` });
      try {
        switch (command.action) {
          case 'skip':
            runner.send({ type: 'SKIP', reason: `skipped by ${by}` });
            return ok;
          case 'retry':
            excluded.delete(pipetteId);
            runner.send({ type: 'RETRY' });
            return ok;
          case 'abort':
            excluded.add(pipetteId);
            runner.send({ type: 'ABORT', reason: `aborted by ${by}` });
            releaseRound();
            return ok;
          case 'clean':
            if (runner.state !== 'idle') return refuse(`pipette ${pipetteId} is ${runner.state}; clean when idle`);
            runner.send({ type: 'CLEAN_NOW' });
            return ok;
          case 'replaced':
            runner.send({ type: 'REPLACED' });
            return ok;
          case 'pressure':
            await ops.overridePressure(command.mbar);
            runner.noteOverrides();
            return ok;
          case 'holding':
            await ops.overrideHolding(command.mV);
            runner.noteOverrides();
            return ok;
        }
      } catch (e) {
        return refuse((e as Error).message);
      }
    },
    snapshot() {
      const funnel = { attempts: records.length, approached: 0, detected: 0, sealed: 0, wholeCell: 0, recorded: 0 };
      const order = ['approached', 'detected', 'sealed', 'wholeCell', 'recorded'] as const;
      for (const r of records) {
        const reached = order.indexOf(r.stageReached as (typeof order)[number]);
        for (let i = 0; i <= reached; i++) funnel[order[i]]++;
      }
      // session time up to its end, so the rate stops moving once the session is over
      const hours = startedAt === null ? 0 : ((endedAt ?? clock.now()) - startedAt) / 3_600_000;
      return {
        sessionId,
        phase,
        preset: preset.name,
        startedAt,
        endedAt,
        now: clock.now(),
        epochMs: clock.epochMs(),
        virtual: options.virtual,
        pipettes: runners.map(pipetteSnapshot),
        funnel,
        cellsPerHour: hours > 0 ? funnel.recorded / hours : 0,
        thresholds: presetThresholds(preset),
        historyLimit: HISTORY_LIMIT,
        limits,
        attemptsStarted: issued,
      };
    },
  };
  return supervisor;
}

/** What the resistance plot draws, from the preset (the snapshot's `thresholds`). */
export function presetThresholds(preset: AutopatchPreset): SessionSnapshot['thresholds'] {
  return {
    holdingAt: preset.seal.holding_at_MOhm * 1e6,
    gigaseal: preset.seal.gigaseal_MOhm * 1e6,
    breakIn: preset.break_in.success_MOhm * 1e6,
    holdingMv: preset.seal.holding_mV,
  };
}
