/**
 * Drives a pipette machine with scripted test-pulse signals and stub services
 * that record every call, in virtual time. Unit tests of the layer above the
 * drivers (the rig-level tests run the same machine on the emulators).
 */
import { createActor } from 'xstate';
import { createVirtualClock, sleep, type VirtualClock } from '../../src/clock/index.ts';
import { loadPreset } from '../../src/protocol/load.ts';
import type { AutopatchPreset } from '../../src/protocol/types.ts';
import { createPipetteMachine, type MachineServices, type PipetteContext, type Target } from '../../src/control/pipette-machine.ts';
import { createSignalConditioner, testPulseOptions, type ConditionerInput, type Signals } from '../../src/control/signals.ts';
import type { PipetteStateName } from '../../src/control/events.ts';
import type { Sweep } from '../../drivers/types.ts';
import { analyzeTestPulse } from '../../src/analysis/testpulse.ts';

export interface Call {
  t: number;
  name: string;
  args: unknown[];
}

export const TARGET: Target = { kind: 'blind', cellId: null, position: [0, 0, 0] };

export function signals(t: number, partial: Partial<Signals> = {}): Signals {
  const r = partial.r ?? 5;
  return {
    t,
    r,
    rShort: r,
    rHold: r,
    rGiga: r,
    baseline: r,
    rising: 0,
    slope: 0,
    rangeKOhm: null,
    ra: null,
    cm: null,
    rm: null,
    cmAtLeast: null,
    transient: partial.cm != null ? 'fitted' : 'none',
    ihold: -20,
    fitQuality: 0,
    windowCount: 0,
    windowMedian: r,
    windowSpread: 0,
    ...partial,
  };
}

export interface Harness {
  clock: VirtualClock;
  preset: AutopatchPreset;
  calls: Call[];
  states: Array<{ t: number; state: PipetteStateName; reason: string }>;
  ended: Array<{ state: PipetteStateName; context: PipetteContext }>;
  actor: ReturnType<typeof createActor<ReturnType<typeof createPipetteMachine>>>;
  /** the top-level state now */
  state(): PipetteStateName;
  context(): PipetteContext;
  tp(partial?: Partial<Signals>): void;
  /** a raw reading (Ω, F, A) through the real signal filters (signals.ts), as the runner feeds them */
  reading(r: Partial<ConditionerInput>): Signals;
  /** a test-pulse sweep through the real analysis and signal filters */
  sweep(s: Sweep): Signals;
  /** open or close this pipette's motion gate (as the coordinator would) */
  setGate(open: boolean): void;
  /** send TP readings every `everyMs` for `forMs`, each built by `make(t)` */
  stream(forMs: number, everyMs: number, make: (t: number) => Partial<Signals>): Promise<void>;
  run(ms: number): Promise<void>;
  called(name: string): Call[];
  /** resolve the pending hunt (travel used up) */
  finishHunt(): void;
  /** break-in attempts the stub was asked for, and whether each saw its abort */
  breakIns: Array<{ n: number; aborted: boolean }>;
}

export interface HarnessOptions {
  preset?: string;
  overrides?: (p: AutopatchPreset) => void;
  targets?: number;
  recordFails?: boolean;
  /** targets are asked for but never answered (the pipette waits in idle) */
  holdTargets?: boolean;
  /** Vrest the measurement returns, V */
  vrest?: number;
  /** services that reject (a device fault while doing them) */
  failing?: Array<'retract' | 'clean'>;
  /** the break-in partners never become ready */
  partnersNeverReady?: boolean;
}

export function createHarness(options: HarnessOptions = {}): Harness {
  const clock = createVirtualClock();
  const preset = structuredClone(loadPreset(options.preset ?? 'in-vivo-blind'));
  options.overrides?.(preset);
  const calls: Call[] = [];
  const states: Harness['states'] = [];
  const ended: Harness['ended'] = [];
  const breakIns: Harness['breakIns'] = [];
  let targetsLeft = options.targets ?? 1;
  let finishHunt: () => void = () => {};
  const log = (name: string, ...args: unknown[]): void => {
    calls.push({ t: clock.now(), name, args });
  };
  const waitAbort = (signal: AbortSignal): Promise<never> =>
    new Promise((_, reject) => signal.addEventListener('abort', () => reject(Object.assign(new Error('aborted'), { name: 'AbortError' })), { once: true }));

  let last: Signals | null = null;
  let gate = true;
  const conditioner = createSignalConditioner(preset);
  const analysisOptions = testPulseOptions(preset);
  const services: MachineServices = {
    resetSignals: (which) => {
      log('resetSignals', which);
      if (which === 'baseline') conditioner.resetBaseline();
      else if (which === 'window') conditioner.resetWindow();
      else if (which === 'window-off') conditioner.closeWindow();
      else conditioner.resetSeal();
    },
    lastSignals: () => last,
    holdBaseline: (on) => {
      log('holdBaseline', on);
      if (on) conditioner.freezeBaseline();
      else conditioner.resumeBaseline();
    },
    now: () => clock.now(),
    gateOpen: () => gate,
    prepareCheck: async (t) => log('prepareCheck', t),
    descend: async (t) => {
      log('descend', t);
      await sleep(clock, 1000);
    },
    hunt: (t, signal) => {
      log('hunt', t);
      return Promise.race([new Promise<void>((r) => (finishHunt = r)), waitAbort(signal)]);
    },
    stopMotion: () => log('stopMotion'),
    pressure: (mbar) => log('pressure', mbar),
    atmosphere: () => log('atmosphere'),
    holding: (mV) => log('holding', mV),
    testPulseRate: (hz) => log('testPulseRate', hz),
    restoreVoltageClamp: () => log('restoreVoltageClamp'),
    breakInAttempt: async (n, signal) => {
      log('breakInAttempt', n);
      const entry = { n, aborted: false };
      breakIns.push(entry);
      signal.addEventListener('abort', () => (entry.aborted = true), { once: true });
      await sleep(clock, 3000);
    },
    clearAccess: async () => log('clearAccess'),
    measureVrest: async () => {
      log('measureVrest');
      return options.vrest ?? -0.065;
    },
    record: async () => {
      log('record');
      await sleep(clock, 5000);
      if (options.recordFails) throw new Error('amplifier vanished');
      return { sweeps: 16, durationS: 40, features: { rheobase_pA: 80 } };
    },
    retract: async () => {
      log('retract');
      await sleep(clock, 2000);
      if (options.failing?.includes('retract')) throw new Error('manipulator stopped answering');
    },
    clean: async (signal) => {
      log('clean');
      await Promise.race([sleep(clock, 30_000), waitAbort(signal)]);
      if (options.failing?.includes('clean')) throw new Error('well lock lost');
    },
    reportFault: (e) => log('reportFault', e instanceof Error ? e.message : String(e)),
    safeState: async (reason) => {
      log('safeState', reason);
      return { complete: true, errors: [] };
    },
    waitForBreakInPartners: async (signal) => {
      log('waitForBreakInPartners');
      if (options.partnersNeverReady) await waitAbort(signal);
    },
    sealing: (on) => log('sealing', on),
    requestTarget: () => {
      log('requestTarget');
      if (options.holdTargets) return;
      const more = targetsLeft-- > 0;
      queueMicrotask(() => actor.send(more ? { type: 'START', target: TARGET } : { type: 'FINISH' }));
    },
    attemptEnded: (context, state) => ended.push({ state, context }),
  };

  const actor = createActor(createPipetteMachine(services), { input: { pipetteId: 'p1', preset }, clock });
  let lastState: PipetteStateName = 'idle';
  actor.subscribe({
    next(s) {
      const v = s.value;
      const top = (typeof v === 'string' ? v : Object.keys(v)[0]) as PipetteStateName;
      if (top !== lastState || states.length === 0) states.push({ t: clock.now(), state: top, reason: s.context.reason });
      lastState = top;
    },
    error(e) {
      throw e;
    },
  });
  actor.start();

  const h: Harness = {
    clock,
    preset,
    calls,
    states,
    ended,
    actor,
    breakIns,
    state: () => {
      const v = actor.getSnapshot().value;
      return (typeof v === 'string' ? v : Object.keys(v)[0]) as PipetteStateName;
    },
    context: () => actor.getSnapshot().context,
    tp(partial = {}) {
      last = signals(clock.now(), partial);
      actor.send({ type: 'TP', s: last });
    },
    reading(r) {
      const full: ConditionerInput = { r: 5e6, ra: null, cm: null, rm: null, ihold: -20e-12, fitQuality: 0, mode: 'VC', ...r };
      last = conditioner.update(full, clock.now());
      actor.send({ type: 'TP', s: last });
      return last;
    },
    sweep(sw) {
      last = conditioner.update(analyzeTestPulse(sw, analysisOptions), clock.now());
      actor.send({ type: 'TP', s: last });
      return last;
    },
    setGate(open) {
      gate = open;
      actor.send({ type: open ? 'GATE_OPENED' : 'GATE_CLOSED' });
    },
    async stream(forMs, everyMs, make) {
      const end = clock.now() + forMs;
      while (clock.now() < end) {
        h.tp(make(clock.now()));
        await clock.runFor(everyMs);
      }
    },
    run: (ms) => clock.runFor(ms),
    called: (name) => calls.filter((c) => c.name === name),
    finishHunt: () => finishHunt(),
  };
  return h;
}

/** Drive a harness from idle to the given stage with clean signals. */
export async function driveTo(h: Harness, stage: 'descent' | 'hunt' | 'seal' | 'cellAttached' | 'breakIn' | 'wholeCell'): Promise<void> {
  const p = h.preset;
  await h.run(1);
  // pipette check: a settled window of readings at 6 MΩ
  h.tp({ r: 6, windowCount: p.pipette_check.readings, windowMedian: 6, windowSpread: 0.1 });
  if (stage === 'descent') return;
  await h.run(1500);
  if (stage === 'hunt') return;
  // a hit, confirmed at atmosphere
  h.tp({ r: 6.5, rShort: 6.4, baseline: 6, rising: p.hunt.hit_consecutive });
  await h.stream(p.confirm.wait_s * 1000 + 100, 100, () => ({ r: 6.6, rShort: 6.6, baseline: 6 }));
  if (stage === 'seal') return;
  h.tp({ r: 1200, rHold: 1200, rGiga: 1200, slope: 50 });
  await h.run(1);
  if (stage === 'cellAttached') return;
  await h.stream(p.cell_attached.wait_s * 1000 + 100, 100, () => ({ r: 1500, rHold: 1500, rGiga: 1500, ihold: -80 }));
  if (stage === 'breakIn') return;
  h.tp({ r: 200, rGiga: 600, cm: 60, ra: 25, rm: 180, fitQuality: 0.95, ihold: -60 });
  await h.run(1);
}
