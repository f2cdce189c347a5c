/**
 * The stimulus runner (src/control/recorder.ts) above the driver: a stub
 * amplifier channel that logs every call with its virtual time, streams VC
 * test pulses carrying a chosen holding current, and answers each stimulus
 * with a model cell's response (passive RC, spikes above a rheobase); the real
 * PipetteOps in front of it. Order of the mode changes, the preset's settling
 * delay, stop-after-spiking, QC exclusions, the leak check, and what an abort
 * leaves behind.
 */
import { describe, expect, it } from 'vitest';
import { createVirtualClock, type VirtualClock } from '../../src/clock/index.ts';
import { DeviceError } from '../../drivers/errors.ts';
import type { AmplifierChannel, ClampMode, PipetteHardware, StimulusWaveform, Sweep, TestPulseSettings } from '../../drivers/types.ts';
import { createPipetteOps } from '../../src/control/pipette-ops.ts';
import { createStimulusRecorder } from '../../src/control/recorder.ts';
import type { RigEventInput } from '../../src/control/event-sink.ts';
import type { RecordResult } from '../../src/control/pipette-machine.ts';
import { loadPreset, loadStimulusSet } from '../../src/protocol/load.ts';
import type { AutopatchPreset, StimulusSet } from '../../src/protocol/types.ts';
import { gaussian, spikeTrain, vcPulse } from '../analysis/synth.ts';

const VREST = -0.065;
const RIN = 200e6;
const TAU = 0.02;

interface Call {
  t: number;
  name: string;
  args: unknown[];
}

interface CellModel {
  /** holding current the cell needs in VC (its leak), A */
  leakA: number;
  rheobaseA: number;
  /** stimulus amplitudes (A) whose sweeps come back noisy (failing QC) */
  noisyA?: number[];
}

/** First-order RC response to the command, then spikes 20 ms apart from the onset when above rheobase. */
function respond(w: StimulusWaveform, bias: number, cell: CellModel): Float32Array {
  const fs = w.sampleRateHz;
  const n = w.samples.length;
  const v = new Float32Array(n);
  let x = VREST + bias * RIN;
  const k = 1 / (TAU * fs);
  for (let i = 0; i < n; i++) {
    x += ((VREST + (bias + w.samples[i]) * RIN - x) * k);
    v[i] = x;
  }
  const amp = w.amplitude ?? 0;
  if (amp >= cell.rheobaseA && w.onsetIndex !== undefined && w.lengthSamples !== undefined) {
    const t0 = w.onsetIndex / fs;
    const count = 1 + Math.floor((amp - cell.rheobaseA) / 10e-12);
    const feet = Array.from({ length: count }, (_, j) => t0 + 0.03 + j * 0.02).filter((t) => t < (w.onsetIndex! + w.lengthSamples!) / fs - 0.01);
    const spikes = spikeTrain({ fs, durationS: n / fs, vrest: VREST, feet });
    for (let i = 0; i < n; i++) v[i] += spikes[i] - VREST;
  }
  if (cell.noisyA?.some((a) => Math.abs(a - amp) < 1e-15)) {
    const g = gaussian(5);
    for (let i = 0; i < n; i++) v[i] += 1e-3 * g();
  }
  return v;
}

interface Stub {
  amp: AmplifierChannel;
  calls: Call[];
  state: { mode: ClampMode; holding: { VC: number; IC: number }; tp: TestPulseSettings };
}

function stubAmplifier(clock: VirtualClock, cell: CellModel): Stub {
  const calls: Call[] = [];
  const listeners = new Set<(s: Sweep) => void>();
  const state: Stub['state'] = {
    mode: 'VC',
    holding: { VC: -0.07, IC: 0 },
    tp: { enabled: true, amplitude: 0.01, widthMs: 5, rateHz: 30, sampleRateHz: 50_000 },
  };
  const log = (name: string, ...args: unknown[]): void => void calls.push({ t: clock.now(), name, args });
  let seq = 0;
  let playing = false;
  // device-timed test pulses while on, in VC, between stimuli: their baseline is the cell's holding current
  const tick = (): void => {
    if (state.tp.enabled && state.mode === 'VC' && !playing) {
      const holding = state.holding.VC;
      const circuit = { kind: 'wholeCell' as const, ra: 10e6, rm: RIN, cm: 100e-12, er: holding - cell.leakA * (10e6 + RIN) };
      const s = { ...vcPulse({ fs: state.tp.sampleRateHz, circuit, holding, widthMs: state.tp.widthMs }), seq: seq++, startTime: clock.now() };
      for (const l of listeners) l(s);
    }
    clock.setTimeout(tick, 1000 / state.tp.rateHz);
  };
  clock.setTimeout(tick, 1000 / state.tp.rateHz);
  const amp: AmplifierChannel = {
    channel: 0,
    async setMode(mode) {
      log('mode', mode);
      state.mode = mode;
    },
    async setHolding(value) {
      log('holding', state.mode, value);
      if (state.mode !== 'I0') state.holding[state.mode] = value;
    },
    async setTestPulse(settings) {
      log('tp', settings.enabled);
      state.tp = { ...state.tp, ...settings };
    },
    onSweep(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async zap() {},
    async autoPipetteOffset() {
      return 0;
    },
    async setCompensation() {},
    runStimulus(w, options) {
      log('run', w.name);
      if (state.mode !== w.mode) return Promise.reject(new DeviceError('invalid', 'stub', 'run', `stimulus is ${w.mode}, channel in ${state.mode}`));
      const bias = state.holding.IC;
      playing = true;
      return new Promise<Sweep>((resolve, reject) => {
        const done = clock.setTimeout(() => {
          playing = false;
          options?.signal?.removeEventListener('abort', onAbort);
          resolve({ channel: 0, seq: seq++, kind: 'stimulus', mode: 'IC', startTime: clock.now(), sampleRateHz: w.sampleRateHz, response: respond(w, bias, cell), responseUnit: 'V', holding: bias, stimulus: w });
        }, (w.samples.length * 1000) / w.sampleRateHz);
        const onAbort = (): void => {
          clock.clearTimeout(done);
          playing = false;
          log('abort', w.name);
          reject(new DeviceError('interrupted', 'stub', 'run', 'aborted'));
        };
        options?.signal?.addEventListener('abort', onAbort, { once: true });
      });
    },
    async status() {
      return { mode: state.mode, holding: 0, testPulse: state.tp, pipetteOffset: 0, compensation: { fast: 0, slow: 0 } };
    },
  };
  return { amp, calls, state };
}

/** A short long-square family (−20 … +60 pA, 300 ms steps) so tests stay fast. */
function shortSquares(over: Partial<StimulusSet> = {}): StimulusSet {
  return {
    ...loadStimulusSet('long-square'),
    name: 'steps',
    pre_ms: 200,
    post_ms: 300,
    inter_sweep_s: 1,
    family: { type: 'long-square', from_pA: -20, to_pA: 60, step_pA: 20, duration_ms: 300 },
    ...over,
  };
}

interface Rig {
  clock: VirtualClock;
  stub: Stub;
  events: RigEventInput[];
  preset: AutopatchPreset;
  start(signal?: AbortSignal): Promise<RecordResult>;
}

function rig(cell: CellModel, sets: StimulusSet[], tweak: (p: AutopatchPreset) => void = () => {}): Rig {
  const clock = createVirtualClock();
  const stub = stubAmplifier(clock, cell);
  const events: RigEventInput[] = [];
  const emit = (e: RigEventInput): void => void events.push(e);
  const preset = structuredClone(loadPreset('culture'));
  preset.record.stimulus_sets = sets.map((s) => s.name);
  tweak(preset);
  const hw = { pipetteId: 'p1', manipulator: {}, pressure: {}, amplifier: stub.amp } as unknown as PipetteHardware;
  const refuse = (): never => {
    throw new Error('the recorder must not move or pressurise');
  };
  const ops = createPipetteOps({
    pipetteId: 'p1',
    hw,
    geometry: { mount: { origin: [0, 0, 0], elevationDeg: 30, azimuthDeg: 0 }, axis: [0, 0, 1], standoffZ: -100, travelZ: -2000 } as never,
    clock,
    coordinator: { waitForGate: refuse, gateOpen: () => true, onGateClose: () => () => {}, reservePath: refuse, acquire: refuse, reportPosition: () => {} },
    emit,
    valveSettleMs: 50,
    maxCommand_mV: 1000,
    safeSpeeds: { tissue: 10, bath: 100 },
  });
  const recorder = createStimulusRecorder({ clock, emit, stimulusSets: new Map(sets.map((s) => [s.name, s])) });
  return {
    clock,
    stub,
    events,
    preset,
    start: (signal = new AbortController().signal) => recorder.record({ pipetteId: 'p1', attemptId: 'a1', hw, ops, preset, signal }),
  };
}

const HEALTHY: CellModel = { leakA: -30e-12, rheobaseA: 40e-12 };
const names = (calls: Call[]): string[] => calls.map((c) => (c.name === 'run' ? 'run' : `${c.name}:${c.args.join(',')}`));
const sweepEvents = (r: Rig) => r.events.flatMap((e) => (e.type === 'sweep' ? [e] : []));

describe('the stimulus runner', () => {
  it('VC → test pulse off → I=0 → the preset\'s settling delay → IC with the set\'s bias → sweeps → and back the same way', async () => {
    const set = shortSquares({ bias_pA: 20 });
    const r = rig(HEALTHY, [set], (p) => (p.record.i0_settle_ms = 750));
    const result = await r.clock.runUntilSettled(r.start(), 600_000);
    expect(result.sweeps).toBe(5);
    const seq = names(r.stub.calls);
    expect(seq).toEqual([
      'tp:false',
      'mode:I0',
      'mode:IC',
      'holding:IC,2e-11',
      'run', 'run', 'run', 'run', 'run',
      'holding:IC,0', // bias released in current clamp, before leaving it
      'mode:I0',
      'mode:VC',
      'holding:VC,-0.07',
      'tp:true',
    ]);
    // the settling delay is the preset's, both ways, on the virtual clock
    const at = (i: number): number => r.stub.calls[i].t;
    expect(at(2) - at(1)).toBe(750);
    expect(at(11) - at(10)).toBe(750);
    // every mode and holding change went through the ops: one pipette.holding event each, in SI
    const holding = r.events.flatMap((e) => (e.type === 'pipette.holding' ? [[e.mode, e.holding]] : []));
    expect(holding).toEqual([['I0', 0], ['IC', 20e-12], ['IC', 0], ['I0', 0], ['VC', -0.07]]);
    // the bias the amplifier held is what each sweep reports and what QC checks
    for (const e of sweepEvents(r)) {
      expect(e.sweep.holding).toBe(20e-12);
      expect(e.qc!.biasCurrent).toBe(20e-12);
      expect(e.qc!.leakCurrent as number).toBeCloseTo(-30e-12, 13);
      expect(e.qc!.passed).toBe(true);
    }
    // the test pulse is back as the preset has it
    expect(r.stub.state.tp).toMatchObject({ enabled: true, rateHz: r.preset.test_pulse.rate_Hz });
    expect(result.features.rheobaseA).toBeCloseTo(40e-12, 20);
  });

  it('stops a set after stop_after_spiking_sweeps spiking sweeps in a row, then plays the next set', async () => {
    const first = shortSquares({ name: 'first', stop_after_spiking_sweeps: 2 });
    const second = shortSquares({ name: 'second', family: { type: 'long-square', from_pA: -20, to_pA: 0, step_pA: 20, duration_ms: 300 } });
    const r = rig({ ...HEALTHY, rheobaseA: 20e-12 }, [first, second]);
    const result = await r.clock.runUntilSettled(r.start(), 600_000);
    // first: −20, 0, +20 (spikes), +40 (spikes) → stop; second: −20, 0
    expect(sweepEvents(r).map((e) => e.sweep.stimulus!.name)).toEqual(['first -20pA', 'first 0pA', 'first +20pA', 'first +40pA', 'second -20pA', 'second 0pA']);
    expect(result.sweeps).toBe(6);
  });

  it('stores a sweep that fails QC with its QC, and leaves it out of the e-features', async () => {
    // the rheobase sweep (+40 pA) comes back noisy
    const r = rig({ ...HEALTHY, noisyA: [40e-12] }, [shortSquares()]);
    const result = await r.clock.runUntilSettled(r.start(), 600_000);
    const noisy = sweepEvents(r).find((e) => e.sweep.stimulus!.amplitude === 40e-12)!;
    expect(noisy.qc!.passed).toBe(false);
    expect(noisy.qc!.preNoiseFastOk).toBe(false);
    expect(result.sweeps).toBe(5);
    // without it, the lowest spiking sweep in the features is +60 pA
    expect(result.features.rheobaseA).toBeCloseTo(60e-12, 20);
  });

  it('a leaky cell fails the leak check on every sweep, so no sweep reaches the e-features', async () => {
    const r = rig({ ...HEALTHY, leakA: -150e-12 }, [shortSquares()]);
    const result = await r.clock.runUntilSettled(r.start(), 600_000);
    const sweeps = sweepEvents(r);
    expect(sweeps).toHaveLength(5);
    for (const e of sweeps) {
      expect(e.qc!.leakCurrent as number).toBeCloseTo(-150e-12, 13);
      expect(e.qc!.leakOk).toBe(false);
      expect(e.qc!.biasOk).toBe(true); // the bias applied was 0: it is the leak that fails
      expect(e.qc!.passed).toBe(false);
    }
    expect(result.features).toEqual({});
  });

  it('aborted between sweeps: rejects at once and sends nothing more to the amplifier', async () => {
    const r = rig(HEALTHY, [shortSquares()]);
    const stop = new AbortController();
    const run = r.start(stop.signal);
    run.catch(() => {});
    while (sweepEvents(r).length < 2) await r.clock.runFor(10);
    await r.clock.runFor(300); // in the 1 s pause after the second sweep
    const before = r.stub.calls.length;
    const abortedAt = r.clock.now();
    stop.abort();
    await expect(r.clock.runUntilSettled(run, 10_000)).rejects.toThrow(/abort/i);
    expect(r.clock.now()).toBe(abortedAt);
    await r.clock.runFor(5_000);
    expect(r.stub.calls.slice(before)).toEqual([]);
    expect(r.stub.state.mode).toBe('IC'); // left to the safe state, not "restored" to −70 mV with the test pulse on
    expect(r.stub.state.tp.enabled).toBe(false);
    expect(r.events.filter((e) => e.type === 'pipette.holding').pop()).toMatchObject({ mode: 'IC' });
  });

  it('aborted mid-sweep: the stimulus is stopped through its signal, and nothing follows', async () => {
    const r = rig(HEALTHY, [shortSquares()]);
    const stop = new AbortController();
    const run = r.start(stop.signal);
    run.catch(() => {});
    while (r.stub.calls.filter((c) => c.name === 'run').length < 3) await r.clock.runFor(10);
    await r.clock.runFor(200); // 0.2 s into the 0.8 s sweep
    const before = r.stub.calls.length;
    stop.abort();
    await expect(r.clock.runUntilSettled(run, 10_000)).rejects.toThrow(/abort/i);
    expect(names(r.stub.calls.slice(before))).toEqual(['abort:steps +20pA']);
    await r.clock.runFor(5_000);
    expect(r.stub.calls.length).toBe(before + 1);
    expect(sweepEvents(r)).toHaveLength(2);
  });

  it('aborted while settling in I=0: no current clamp, no sweep', async () => {
    const r = rig(HEALTHY, [shortSquares()]);
    const stop = new AbortController();
    const run = r.start(stop.signal);
    run.catch(() => {});
    while (!r.stub.calls.some((c) => c.name === 'mode')) await r.clock.runFor(1);
    await r.clock.runFor(100);
    stop.abort();
    await expect(r.clock.runUntilSettled(run, 10_000)).rejects.toThrow(/abort/i);
    await r.clock.runFor(5_000);
    expect(names(r.stub.calls)).toEqual(['tp:false', 'mode:I0']);
  });
});
