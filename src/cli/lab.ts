/**
 * A lab: an opened rig (real ports or emulators, the control code cannot
 * tell), the event sink, live traces and a session host whose sessions use
 * presets from `protocols/`. The simulated lab (simulated-lab.ts) and a real
 * rig (`autopatch run --rig`) are both built here, so they run the same
 * control code with the same wiring.
 *
 * Where attempts go: blind presets work a grid around each pipette's region;
 * targeted presets need cell positions (`cells`: the simulated tissue's
 * observed cells, or a targets file on a real rig); without them a targeted
 * preset is refused, with the reason.
 */
import type { Clock } from '../clock/clock.ts';
import { createEventSink, type EventSink } from '../control/event-sink.ts';
import { createSessionHost, type SessionHost } from '../control/session-host.ts';
import { createSupervisor, presetThresholds, type Supervisor } from '../control/supervisor.ts';
import { createTraceTap, type TraceTap } from '../control/trace-tap.ts';
import { createStimulusRecorder } from '../control/recorder.ts';
import { blindTargets, targetedTargets, type ObservedCell } from '../control/targets.ts';
import { HISTORY_LIMIT, type SessionSnapshot, type StartOptions } from '../control/api.ts';
import { checkPresetAgainstRig, listPresets, loadPreset, loadPresetWithStimuli, ProtocolError } from '../protocol/load.ts';
import type { AutopatchPreset } from '../protocol/types.ts';
import { rigLimits, type RigConfig } from '../rig/config.ts';
import type { OpenRig } from '../rig/open-rig.ts';

export interface LabOptions {
  clock: Clock;
  /** the rig's description and its devices, opened */
  config: RigConfig;
  rig: OpenRig;
  /** preset of the first session */
  preset: string;
  /** simulated rigs: the seed that reproduces the run; null on a real rig */
  seed: number | null;
  operator?: string;
  /** minutes after which a session stops starting attempts (null: until stopped) */
  durationMin?: number | null;
  /** stop starting attempts after this many in total */
  maxAttempts?: number | null;
  /** test-pulse sweeps stored per pipette: one every this many ms */
  tpSweepStoreEveryMs?: number;
  /** cell positions for targeted presets, world µm (none: targeted presets are refused) */
  cells?: () => readonly ObservedCell[];
  /** a further reason this rig cannot run `preset` (thrown as an Error), e.g. the simulated tissue's preparation */
  checkPreset?: (preset: AutopatchPreset) => void;
}

export interface Lab {
  clock: Clock;
  rig: OpenRig;
  sink: EventSink;
  /** live traces (every test-pulse sweep, display only) */
  traces: TraceTap;
  host: SessionHost;
  preset: AutopatchPreset;
  /** start a session on the host and return its supervisor */
  startSession(options?: Partial<StartOptions>): Promise<Supervisor>;
  /** closes every port of the rig */
  close(): Promise<void>;
}

let sessionCounter = 0;

/** A session id that sorts by start time and says which seed made it (`rig` for a real rig). */
export function newSessionId(clock: Clock, seed: number | null): string {
  const d = new Date(clock.epochMs());
  const stamp = d.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z').replace('T', '-');
  sessionCounter++;
  return `${stamp}-${seed === null ? 'rig' : `s${seed}`}-${sessionCounter}`;
}

/** Throws (a ProtocolError naming the preset) if a targeted preset has no cells to go to. */
export function checkTargetsFor(preset: AutopatchPreset, source: string, haveCells: boolean): void {
  if (preset.targeting !== 'blind' && !haveCells) {
    throw new ProtocolError(source, [
      { path: 'targeting', message: `preset ${preset.name} is targeted (${preset.preparation}): it needs cell positions (autopatch run --rig FILE --targets FILE)` },
    ]);
  }
}

export function createLab(options: LabOptions): Lab {
  const { clock, rig, config } = options;
  const initialPreset = loadPreset(options.preset);
  const sink = createEventSink(clock);
  const traces = createTraceTap();
  const regions = new Map(rig.setup.pipettes.map((p) => [p.id, p.region]));

  /** throws, with the reason, if this rig cannot run the preset */
  const presetForThisRig = (name: string): ReturnType<typeof loadPresetWithStimuli> => {
    // the stimulus sets come from where the preset finds them (next to a preset file first)
    const loaded = loadPresetWithStimuli(name);
    options.checkPreset?.(loaded.preset);
    checkPresetAgainstRig(loaded.preset, rigLimits(config), name);
    checkTargetsFor(loaded.preset, name, options.cells !== undefined);
    return loaded;
  };
  presetForThisRig(options.preset);

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
        : targetedTargets(options.cells!(), regions, { reachUm: 250, clearanceUm: preset.coordination.clearance_um });
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

  return {
    clock,
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
