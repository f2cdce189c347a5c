/**
 * Everything `npm start` needs on the built-in simulated rig, assembled once:
 * the physics world and device emulators, the real drivers opened on them,
 * the event sink, and a session host whose sessions use presets from
 * `protocols/`. Tests, benchmarks and the CLI all build sessions here, so
 * they exercise the same wiring.
 *
 * A simulated technician stands in for the human who refits broken pipettes
 * (the controller cannot): after `refitAfterMs` it puts a fresh pipette on a
 * holder that is waiting for one. A real rig has no such thing.
 */
import type { Clock } from '../clock/clock.ts';
import type { VirtualClock } from '../clock/virtual-clock.ts';
import { createEventSink, type EventSink } from '../control/event-sink.ts';
import { createSessionHost, type SessionHost } from '../control/session-host.ts';
import { createSupervisor, presetThresholds, type Supervisor } from '../control/supervisor.ts';
import { createTraceTap, type TraceTap } from '../control/trace-tap.ts';
import { createStimulusRecorder } from '../control/recorder.ts';
import { blindTargets, targetedTargets } from '../control/targets.ts';
import { HISTORY_LIMIT, type SessionSnapshot, type StartOptions } from '../control/api.ts';
import { checkPresetAgainstRig, listPresets, loadPreset, loadPresetWithStimuli } from '../protocol/load.ts';
import type { AutopatchPreset } from '../protocol/types.ts';
import { rigLimits } from '../rig/config.ts';
import { openRig, type OpenRig } from '../rig/open-rig.ts';
import { createSimulatedRig, type SimulatedRig } from '../rig/simulated-rig.ts';

export interface SimulatedLabOptions {
  clock: Clock;
  seed: number;
  pipettes: number;
  /** preset the lab is built for: its preparation decides the simulated tissue */
  preset: string;
  operator?: string;
  /** minutes after which a session stops starting attempts (null: until stopped) */
  durationMin?: number | null;
  /** stop starting attempts after this many in total */
  maxAttempts?: number | null;
  /** simulated technician refits a broken pipette after this long, ms (null: never) */
  refitAfterMs?: number | null;
  /** test-pulse sweeps stored per pipette: one every this many ms */
  tpSweepStoreEveryMs?: number;
  worldOverrides?: Parameters<typeof createSimulatedRig>[0]['worldOverrides'];
  /** manipulator drivers to cycle through (default: all four) */
  manipulators?: Parameters<typeof createSimulatedRig>[0]['manipulators'];
  /** every pipette cleans in the same two wells (coordination tests) */
  sharedWells?: boolean;
}

export interface SimulatedLab {
  clock: Clock;
  sim: SimulatedRig;
  rig: OpenRig;
  sink: EventSink;
  /** live traces (every test-pulse sweep, display only) */
  traces: TraceTap;
  host: SessionHost;
  preset: AutopatchPreset;
  /** start a session on the host and return its supervisor */
  startSession(options?: Partial<StartOptions>): Promise<Supervisor>;
  close(): Promise<void>;
}

let sessionCounter = 0;

/** A session id that sorts by start time and says which seed made it. */
export function newSessionId(clock: Clock, seed: number): string {
  const d = new Date(clock.epochMs());
  const stamp = d.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z').replace('T', '-');
  sessionCounter++;
  return `${stamp}-s${seed}-${sessionCounter}`;
}

/** Open drivers in virtual time (the clock must run for replies to arrive) or real time. */
async function settle<T>(clock: Clock, work: Promise<T>): Promise<T> {
  return clock.kind === 'virtual' ? (clock as VirtualClock).runUntilSettled(work, 120_000) : work;
}

export async function createSimulatedLab(options: SimulatedLabOptions): Promise<SimulatedLab> {
  const { clock } = options;
  const initialPreset = loadPreset(options.preset);
  const sim = createSimulatedRig({
    clock,
    seed: options.seed,
    preparation: initialPreset.preparation,
    pipettes: options.pipettes,
    regionDepthUm: initialPreset.descent.region_depth_um,
    worldOverrides: options.worldOverrides,
    manipulators: options.manipulators,
    sharedWells: options.sharedWells,
  });
  const rig = await settle(clock, openRig(sim.config, sim.binding, clock));
  checkPresetAgainstRig(initialPreset, rigLimits(sim.config), options.preset);
  const sink = createEventSink(clock);
  const traces = createTraceTap();
  const regions = new Map(rig.setup.pipettes.map((p) => [p.id, p.region]));

  /** throws, with the reason, if this rig cannot run the preset */
  const presetForThisRig = (name: string): ReturnType<typeof loadPresetWithStimuli> => {
    // the stimulus sets come from where the preset finds them (next to a preset file first)
    const loaded = loadPresetWithStimuli(name);
    const { preset } = loaded;
    if (preset.preparation !== sim.world.preparation) {
      throw new Error(`preset ${preset.name} is for ${preset.preparation} preparations; this simulated rig holds a ${sim.world.preparation} preparation`);
    }
    checkPresetAgainstRig(preset, rigLimits(sim.config), name);
    return loaded;
  };

  const runnablePresets = async (): Promise<string[]> => {
    const fits = listPresets().filter((name) => {
      try {
        presetForThisRig(name);
        return true;
      } catch {
        return false;
      }
    });
    // a preset given by path at start-up fits (it was checked above) though it is not shipped
    return fits.includes(options.preset) ? fits : [options.preset, ...fits];
  };

  const createSession = async (start: StartOptions): Promise<Supervisor> => {
    const { preset, stimulusSets } = presetForThisRig(start.preset);
    const targets =
      preset.targeting === 'blind'
        ? blindTargets(regions, Math.max(20, preset.hunt.max_travel_um / 4))
        : targetedTargets(sim.world.observedCells(), regions, { reachUm: 250, clearanceUm: preset.coordination.clearance_um });
    return createSupervisor({
      clock,
      rig: rig.setup,
      preset,
      sink,
      sessionId: newSessionId(clock, options.seed),
      operator: start.operator,
      seed: options.seed,
      virtual: clock.kind === 'virtual',
      targets,
      recorder: createStimulusRecorder({ clock, emit: sink.emit, stimulusSets }),
      durationMs: start.durationMin == null ? null : start.durationMin * 60_000,
      maxAttempts: options.maxAttempts ?? null,
      tpSweepStoreEveryMs: options.tpSweepStoreEveryMs,
      onTrace: traces.emit,
    });
  };

  const idleSnapshot = (): SessionSnapshot => ({
    sessionId: null,
    phase: 'idle',
    preset: null,
    startedAt: null,
    endedAt: null,
    now: clock.now(),
    epochMs: clock.epochMs(),
    virtual: clock.kind === 'virtual',
    pipettes: rig.setup.pipettes.map((p) => ({
      pipetteId: p.id,
      state: 'idle',
      stateSince: clock.now(),
      lastReason: 'no session',
      attemptId: null,
      attempts: 0,
      health: 'ok',
      lastReading: null,
      pressure: null,
      position: null,
      holding: null,
      cleanCount: 0,
      overrides: { pressureMbar: null, holdingMv: null },
      history: [],
    })),
    funnel: { attempts: 0, approached: 0, detected: 0, sealed: 0, wholeCell: 0, recorded: 0 },
    cellsPerHour: 0,
    thresholds: presetThresholds(initialPreset),
    historyLimit: HISTORY_LIMIT,
    limits: { durationMs: null, maxAttempts: null },
    attemptsStarted: 0,
  });

  const host = createSessionHost({
    clock,
    sink,
    traces,
    presets: runnablePresets,
    createSession,
    idleSnapshot,
    async stopHardware() {
      await Promise.all(rig.hardware.map((h) => h.manipulator.stop().catch(() => {})));
      await Promise.all(rig.hardware.map((h) => h.pressure.setSource('atmosphere').catch(() => {})));
    },
  });

  // The simulated technician: refits pipettes the controller reported broken or worn out.
  const refitAfter = options.refitAfterMs === undefined ? 60_000 : options.refitAfterMs;
  if (refitAfter !== null) {
    sink.subscribe((e) => {
      if (e.type !== 'pipette.state' || e.to !== 'needsPipette') return;
      clock.setTimeout(() => {
        const runner = host.current?.runners.find((r) => r.pipetteId === e.pipetteId);
        if (!runner || runner.state !== 'needsPipette') return;
        sim.world.replacePipette(e.pipetteId, clock.now());
        void host.pipette(e.pipetteId, { action: 'replaced' }, 'simulated technician');
      }, refitAfter);
    });
  }

  return {
    clock,
    sim,
    rig,
    sink,
    traces,
    host,
    preset: initialPreset,
    async startSession(start = {}) {
      const result = await host.start(
        { preset: start.preset ?? options.preset, operator: start.operator ?? options.operator ?? 'operator', durationMin: start.durationMin ?? options.durationMin ?? null },
        start.operator ?? options.operator ?? 'operator',
      );
      if (!result.ok || !host.current) throw new Error(result.error ?? 'session did not start');
      return host.current;
    },
    async close() {
      await rig.close();
    },
  };
}
