/**
 * Amplifier conformance kit. A driver passes when, against its emulator wired
 * to electrodes of known circuit (drivers/amplifiers/testing/rc-electrode.ts)
 * and through the real SerialPortStream:
 *   test-pulse sweeps arrive at the configured rate with the right length,
 *   sample rate, units and step, timed on the host clock; the numbers match
 *   Ohm's law and the RC model (10 MΩ, +10 mV → 1 nA; holding → baseline);
 *   VC→IC goes through I=0 and takes the settle time; stimuli round-trip and
 *   match the closed-form RC response; an aborted stimulus rejects as
 *   'interrupted' at once, stops on the device (the electrode had only what
 *   was played) and leaves the channel usable; compensation, pipette offset and zap
 *   reach the electrode; out-of-range settings are refused before any byte;
 *   garbage, truncated and bad-CRC frames are reported and the stream goes on;
 *   silence gives timeouts; an unplug is reported and a reconnect restores
 *   every setting; the same inputs give byte-identical traffic.
 *
 * The electrodes (one per channel):
 *   0 "resistor": 10 MΩ, no offset, no capacitance, no noise
 *   1 "cell":     10 MΩ in series with 200 MΩ ∥ 50 pF (τ_VC ≈ 0.476 ms, τ_IC = 10 ms)
 *   2 "real-ish": 10 MΩ, +5 mV electrode offset, 4 pF pipette capacitance, 5 pA RMS noise (seed 7)
 *
 * Use from a `*.test.ts` next to the driver:
 *   amplifierConformance({ name, baudRate, maxSampleRateHz, modeSettleMs, makeEmulator, open, corruptFrame });
 */
import { describe, expect, it } from 'vitest';
import type { VirtualClock } from '../../src/clock/index.ts';
import type { ElectrodePhysics } from '../../src/sim/types.ts';
import type { EmulatorBinding } from '../core/emulator-binding.ts';
import { DeviceError } from '../errors.ts';
import type { AmplifierChannel, ClampMode, StimulusWaveform, Sweep } from '../types.ts';
import type { AmplifierEmulator, StreamingAmplifier } from '../amplifiers/types.ts';
import { createRcElectrode, type RcElectrode } from '../amplifiers/testing/rc-electrode.ts';
import { createFixture, type EmulatedFixture } from './fixture.ts';

export interface AmplifierHarness {
  name: string;
  /** the device's line rate (the driver must open at it) */
  baudRate: number;
  /** highest sample rate the device accepts, Hz */
  maxSampleRateHz: number;
  /** how long a VC↔IC switch stays in I=0, ms */
  modeSettleMs: number;
  /** the emulator, one channel per electrode */
  makeEmulator(clock: VirtualClock, electrodes: ElectrodePhysics[]): AmplifierEmulator;
  open(args: { path: string; binding: EmulatorBinding; clock: VirtualClock }): Promise<StreamingAmplifier>;
  /** a sample frame for channel 0 as the device would send it, but failing its integrity check */
  corruptFrame(): Buffer;
}

const R = 10e6;
const CELL = { resistance: 200e6, capacitance: 50e-12 };
const OFFSET_V = 0.005;
const CP = 4e-12;
const NOISE_A = 5e-12;

function makeElectrodes(): RcElectrode[] {
  return [
    createRcElectrode({ resistance: R }),
    createRcElectrode({ resistance: R, cell: CELL }),
    createRcElectrode({ resistance: R, offsetV: OFFSET_V, pipetteCapacitanceF: CP, noise: { currentRmsA: NOISE_A, seed: 7 } }),
  ];
}

interface Setup {
  fx: EmulatedFixture<AmplifierEmulator>;
  amp: StreamingAmplifier;
  els: RcElectrode[];
}

async function setup(h: AmplifierHarness): Promise<Setup> {
  const els = makeElectrodes();
  const fx = createFixture('sim:amp-conformance', (clock) => h.makeEmulator(clock, els), h.baudRate);
  const amp = await fx.run(h.open({ path: fx.path, binding: fx.binding, clock: fx.clock }));
  return { fx, amp, els };
}

function collect(ch: AmplifierChannel): Sweep[] {
  const sweeps: Sweep[] = [];
  ch.onSweep((s) => sweeps.push(s));
  return sweeps;
}

const mean = (x: Float32Array, from: number, to: number): number => {
  let s = 0;
  for (let i = from; i < to; i++) s += x[i];
  return s / (to - from);
};

/** Largest |response − expected| and where it is. */
function worst(response: Float32Array, expected: (k: number) => number): { error: number; index: number } {
  let error = 0;
  let index = -1;
  for (let k = 0; k < response.length; k++) {
    const e = Math.abs(response[k] - expected(k));
    if (!(e <= error)) {
      error = e;
      index = k;
    }
  }
  return { error, index };
}

/** Baseline before the step and the settled level over the last 60 % of the step. */
function levels(s: Sweep): { base: number; steady: number } {
  const step = s.step;
  if (!step) throw new Error('sweep has no step');
  const { onsetIndex: on, lengthSamples: n } = step;
  return { base: mean(s.response, 0, on), steady: mean(s.response, on + Math.floor(0.4 * n), on + n) };
}

const tp = { enabled: true, amplitude: 0.01, widthMs: 10, rateHz: 30, sampleRateHz: 20_000 };

/** A step stimulus: `amplitude` from `onMs` to `offMs` in a `totalMs` sweep. */
function stepStimulus(mode: ClampMode, fs: number, totalMs: number, onMs: number, offMs: number, amplitude: number): StimulusWaveform {
  const n = Math.round((totalMs * fs) / 1000);
  const on = Math.round((onMs * fs) / 1000);
  const off = Math.round((offMs * fs) / 1000);
  const samples = new Float32Array(n);
  samples.fill(amplitude, on, off);
  return { name: `step ${amplitude}`, mode, sampleRateHz: fs, samples, onsetIndex: on, lengthSamples: off - on, amplitude };
}

export function amplifierConformance(h: AmplifierHarness): void {
  describe(`${h.name}: amplifier conformance`, () => {
    it('has one channel per electrode, numbered in order', async () => {
      const { amp } = await setup(h);
      expect(amp.channels.map((c) => c.channel)).toEqual([0, 1, 2]);
      expect(amp.model.length).toBeGreaterThan(0);
      expect(amp.connection.state).toBe('open');
    });

    it('test-pulse sweeps arrive at the configured rate, shape, units and host times', async () => {
      const { fx, amp, els } = await setup(h);
      const sweeps = collect(amp.channels[0]);
      const others = collect(amp.channels[1]);
      await fx.run(amp.channels[0].setTestPulse(tp));
      await fx.clock.runFor(2_000);
      expect(sweeps.length).toBeGreaterThanOrEqual(58);
      expect(sweeps.length).toBeLessThanOrEqual(61);
      expect(others).toHaveLength(0);
      for (const s of sweeps) {
        expect(s.kind).toBe('testpulse');
        expect(s.channel).toBe(0);
        expect(s.mode).toBe('VC');
        expect(s.responseUnit).toBe('A');
        expect(s.sampleRateHz).toBe(20_000);
        expect(s.step?.lengthSamples).toBe(200);
        expect(s.step?.amplitude).toBeCloseTo(0.01, 6);
        const on = s.step!.onsetIndex;
        expect(on).toBeGreaterThan(0);
        // baseline before and after the step are equal
        expect(s.response.length).toBe(2 * on + 200);
        // the sweep starts when the electrode was asked for it (host ms)
        const call = els[0].calls.find((c) => Math.abs(c.t0 - s.startTime) < 0.05);
        expect(call, `no acquisition near t=${s.startTime}`).toBeDefined();
        expect(call!.samples).toBe(s.response.length);
      }
      for (let i = 1; i < sweeps.length; i++) {
        expect(sweeps[i].seq).toBeGreaterThan(sweeps[i - 1].seq);
        expect(sweeps[i].startTime - sweeps[i - 1].startTime).toBeCloseTo(1000 / 30, 1);
      }

      // Another rate and sample rate: nothing is fixed.
      await fx.run(amp.channels[0].setTestPulse({ rateHz: 100, widthMs: 5, sampleRateHz: 50_000 }));
      const before = sweeps.length;
      await fx.clock.runFor(1_000);
      const fast = sweeps.slice(before);
      expect(fast.length).toBeGreaterThanOrEqual(98);
      expect(fast.length).toBeLessThanOrEqual(101);
      for (const s of fast) {
        expect(s.sampleRateHz).toBe(50_000);
        expect(s.step?.lengthSamples).toBe(250);
        expect(s.response.length).toBe(2 * s.step!.onsetIndex + 250);
      }
    });

    it('10 MΩ with a +10 mV step gives 1 nA (exact without noise, within noise with it)', async () => {
      const { fx, amp } = await setup(h);
      const clean = collect(amp.channels[0]);
      const noisy = collect(amp.channels[2]);
      await fx.run(amp.channels[0].setTestPulse(tp));
      await fx.run(amp.channels[2].setTestPulse(tp));
      await fx.clock.runFor(500);
      expect(clean.length).toBeGreaterThan(10);
      for (const s of clean) {
        const { base, steady } = levels(s);
        expect(base).toBeCloseTo(0, 15);
        expect(Math.abs(steady - base - 1e-9)).toBeLessThan(1e-13);
      }
      for (const s of noisy) {
        const { base, steady } = levels(s);
        // the electrode offset (+5 mV) shifts both levels by −0.5 nA, the step stays 1 nA
        expect(Math.abs(base - -OFFSET_V / R)).toBeLessThan(5e-12);
        expect(Math.abs(steady - base - 1e-9)).toBeLessThan(5e-12);
      }
    });

    it('holding is applied in VC and IC (baseline = holding / R) and reported by status', async () => {
      const { fx, amp } = await setup(h);
      const ch = amp.channels[0];
      const sweeps = collect(ch);
      await fx.run(ch.setHolding(-0.07));
      await fx.run(ch.setTestPulse(tp));
      await fx.clock.runFor(300);
      const vc = sweeps.filter((s) => s.mode === 'VC');
      expect(vc.length).toBeGreaterThan(3);
      for (const s of vc) {
        expect(s.holding).toBeCloseTo(-0.07, 6);
        expect(levels(s).base).toBeCloseTo(-0.07 / R, 15);
      }
      expect((await fx.run(ch.status())).holding).toBeCloseTo(-0.07, 9);

      await fx.run(ch.setMode('IC'));
      await fx.run(ch.setHolding(-100e-12));
      await fx.run(ch.setTestPulse({ amplitude: -50e-12 }));
      const from = sweeps.length;
      await fx.clock.runFor(300);
      const ic = sweeps.slice(from).filter((s) => s.mode === 'IC');
      expect(ic.length).toBeGreaterThan(3);
      for (const s of ic) {
        expect(s.responseUnit).toBe('V');
        expect(s.holding).toBeCloseTo(-100e-12, 15);
        const { base, steady } = levels(s);
        expect(base).toBeCloseTo(-100e-12 * R, 9);
        expect(steady - base).toBeCloseTo(-50e-12 * R, 9);
      }
      const st = await fx.run(ch.status());
      expect(st.mode).toBe('IC');
      expect(st.holding).toBeCloseTo(-100e-12, 18);
      expect(st.testPulse.amplitude).toBeCloseTo(-50e-12, 18);
    });

    it('VC → IC passes through I=0 for the settle time; status reports each mode', async () => {
      const { fx, amp } = await setup(h);
      const ch = amp.channels[0];
      const sweeps = collect(ch);
      await fx.run(ch.setTestPulse(tp));
      await fx.clock.runFor(200);
      const t0 = fx.clock.now();
      await fx.run(ch.setMode('IC'));
      const t1 = fx.clock.now();
      expect(t1 - t0).toBeGreaterThanOrEqual(h.modeSettleMs);
      expect(t1 - t0).toBeLessThan(h.modeSettleMs + 200);
      const during = sweeps.filter((s) => s.startTime >= t0 && s.startTime + 17 <= t1);
      expect(during.length).toBeGreaterThan(5);
      for (const s of during) expect(s.mode).toBe('I0');
      expect((await fx.run(ch.status())).mode).toBe('IC');
      const n = sweeps.length;
      await fx.clock.runFor(200);
      expect(sweeps.length).toBeGreaterThan(n);
      for (const s of sweeps.slice(n)) {
        expect(s.mode).toBe('IC');
        expect(s.responseUnit).toBe('V');
      }
      // Switches to and from I=0 alone need no settling.
      const t2 = fx.clock.now();
      await fx.run(ch.setMode('I0'));
      expect(fx.clock.now() - t2).toBeLessThan(50);
      expect((await fx.run(ch.status())).mode).toBe('I0');
      const t3 = fx.clock.now();
      await fx.run(ch.setMode('VC'));
      expect((await fx.run(ch.status())).mode).toBe('VC');
      expect(fx.clock.now() - t3).toBeLessThan(50);
    });

    it('a mode switch settling on one channel does not hold up the others', async () => {
      const { fx, amp } = await setup(h);
      let modeDoneAt = -1;
      let holdingDoneAt = -1;
      const mode = amp.channels[1].setMode('IC').then(() => (modeDoneAt = fx.clock.now()));
      await fx.clock.runFor(5);
      const holding = amp.channels[0].setHolding(-0.06).then(() => (holdingDoneAt = fx.clock.now()));
      await fx.run(Promise.all([mode, holding]));
      expect(holdingDoneAt).toBeGreaterThan(0);
      expect(holdingDoneAt).toBeLessThan(modeDoneAt - h.modeSettleMs / 2);
      const all = await fx.run(Promise.all(amp.channels.map((c) => c.status())));
      expect(all.map((s) => s.mode)).toEqual(['VC', 'IC', 'VC']);
      expect(all[0].holding).toBeCloseTo(-0.06, 9);
    });

    it('a stimulus round-trips in VC and IC and matches the closed-form RC response; the test pulse pauses meanwhile', async () => {
      const { fx, amp, els } = await setup(h);
      const ch = amp.channels[1];
      const sweeps = collect(ch);
      await fx.run(ch.setTestPulse(tp));
      await fx.clock.runFor(100);

      const fs = 50_000;
      const dt = 1 / fs;
      const vcStim = stepStimulus('VC', fs, 300, 50, 250, 0.01);
      const vc = await fx.run(ch.runStimulus(vcStim));
      expect(vc.kind).toBe('stimulus');
      expect(vc.mode).toBe('VC');
      expect(vc.responseUnit).toBe('A');
      expect(vc.stimulus).toBe(vcStim);
      expect(vc.sampleRateHz).toBe(fs);
      expect(vc.response.length).toBe(vcStim.samples.length);
      expect(sweeps).toContain(vc);
      const call = els[1].calls.find((c) => c.samples === vcStim.samples.length);
      expect(call).toBeDefined();
      expect(Math.abs(call!.t0 - vc.startTime)).toBeLessThan(0.05);
      // Closed form: I = ΔV/(R+Rm) + ΔV·Rm/(R·(R+Rm))·e^(−t/τ) after each edge, τ = Cm·R·Rm/(R+Rm).
      const Rm = CELL.resistance;
      const tauVC = (CELL.capacitance * R * Rm) / (R + Rm);
      const on = vcStim.onsetIndex!;
      const off = on + vcStim.lengthSamples!;
      const dV = 0.01;
      const atEnd = (dV * Rm) / (R + Rm) * (1 - Math.exp((-(off - on) * dt) / tauVC)); // membrane voltage at the off edge
      const vcError = worst(vc.response, (k) => {
        if (k >= on && k < off) return dV / (R + Rm) + ((dV * Rm) / (R * (R + Rm))) * Math.exp((-(k - on) * dt) / tauVC);
        if (k >= off) return (-atEnd * Math.exp((-(k - off) * dt) / tauVC)) / R;
        return 0;
      });
      expect(vcError.error, `VC sample ${vcError.index}`).toBeLessThan(1e-13);

      // The test pulse pauses for a stimulus and resumes after it, whatever the phase the run lands on.
      for (let phase = 0; phase < 34; phase += 4) {
        await fx.clock.runFor(phase);
        const short = await fx.run(ch.runStimulus(stepStimulus('VC', 20_000, 20, 5, 15, 0.01)));
        const end = short.startTime + 20;
        await fx.clock.runFor(60);
        const overlapping = sweeps.filter((s) => s.kind === 'testpulse' && s.startTime < end && s.startTime + 17 > short.startTime);
        expect(overlapping, `run at phase ${phase} ms`).toHaveLength(0);
        expect(sweeps.some((s) => s.kind === 'testpulse' && s.startTime >= end)).toBe(true);
      }

      await fx.run(ch.setMode('IC'));
      const icStim = stepStimulus('IC', fs, 500, 100, 400, -50e-12);
      const ic = await fx.run(ch.runStimulus(icStim));
      expect(ic.mode).toBe('IC');
      expect(ic.responseUnit).toBe('V');
      expect(ic.response.length).toBe(icStim.samples.length);
      // Closed form: V = I·R + I·Rm·(1 − e^(−t/τ)), τ = Rm·Cm, then decays from the off edge.
      const tauIC = Rm * CELL.capacitance;
      const I = -50e-12;
      const on2 = icStim.onsetIndex!;
      const off2 = on2 + icStim.lengthSamples!;
      const vEnd = I * Rm * (1 - Math.exp((-(off2 - on2) * dt) / tauIC));
      const icError = worst(ic.response, (k) => {
        if (k >= on2 && k < off2) return I * R + I * Rm * (1 - Math.exp((-(k - on2) * dt) / tauIC));
        if (k >= off2) return vEnd * Math.exp((-(k - off2) * dt) / tauIC);
        return 0;
      });
      expect(icError.error, `IC sample ${icError.index}`).toBeLessThan(3e-9);
      expect(ic.seq).toBeGreaterThan(vc.seq);
    });

    it('aborting a stimulus mid-way: it rejects as interrupted at once, the device stops playing, and the channel works right after', async () => {
      const { fx, amp, els } = await setup(h);
      const ch = amp.channels[0];
      const sweeps = collect(ch);
      await fx.run(ch.setTestPulse(tp));
      await fx.clock.runFor(100);
      const fs = 20_000;
      const long = stepStimulus('VC', fs, 4_000, 100, 3_900, 0.01);
      const stop = new AbortController();
      const run = ch.runStimulus(long, { signal: stop.signal });
      run.catch(() => {});
      await fx.clock.runFor(1_500); // uploaded and well into it
      const abortedAt = fx.clock.now();
      stop.abort();
      const err = await fx.expectError(run, ['interrupted'], 1_000);
      expect(err.device).toBe(amp.connection.label);
      expect(err.command).toMatch(/stim|run/i);
      expect(fx.clock.now() - abortedAt).toBeLessThan(100); // not the 2.5 s left
      await fx.clock.runFor(4_000); // past the stimulus' planned end
      // the electrode was driven only up to the abort: one stimulus acquisition, ending there
      const played = els[0].calls.filter((c) => c.samples > 1_000);
      expect(played).toHaveLength(1);
      const end = played[0].t0 + (played[0].samples * 1000) / fs;
      expect(played[0].samples).toBeLessThan(long.samples.length);
      expect(Math.abs(end - abortedAt)).toBeLessThan(50);
      // no response was delivered for it
      expect(sweeps.filter((s) => s.kind === 'stimulus')).toEqual([]);
      // the test pulse streams again, and the next stimulus plays whole
      const n = sweeps.length;
      await fx.clock.runFor(300);
      const after = sweeps.slice(n);
      expect(after.length).toBeGreaterThanOrEqual(7);
      for (const s of after) expect(levels(s).steady - levels(s).base).toBeCloseTo(1e-9, 13);
      const short = stepStimulus('VC', fs, 100, 20, 80, 0.01);
      const next = await fx.run(ch.runStimulus(short));
      expect(next.kind).toBe('stimulus');
      expect(next.response.length).toBe(short.samples.length);
      expect(mean(next.response, short.onsetIndex! + 100, short.onsetIndex! + short.lengthSamples! - 100)).toBeCloseTo(0.01 / R, 13);
      // a signal that has already fired sends nothing
      const before = fx.bytesIn();
      await fx.expectError(ch.runStimulus(short, { signal: stop.signal }), ['interrupted']);
      expect(fx.bytesIn()).toBe(before);
    });

    it('fast capacitance compensation removes the pipette transient', async () => {
      const { fx, amp } = await setup(h);
      const ch = amp.channels[2];
      const sweeps = collect(ch);
      await fx.run(ch.setTestPulse(tp));
      await fx.clock.runFor(200);
      // Cp·ΔV·fs at the onset sample: 4 pF · 10 mV · 20 kHz = 0.8 nA
      const spike = (s: Sweep): number => s.response[s.step!.onsetIndex] - levels(s).steady;
      const raw = sweeps.map(spike);
      for (const x of raw) expect(Math.abs(x - CP * 0.01 * 20_000)).toBeLessThan(30e-12);
      await fx.run(ch.setCompensation({ fast: CP }));
      const n = sweeps.length;
      await fx.clock.runFor(200);
      const comp = sweeps.slice(n).map(spike);
      expect(comp.length).toBeGreaterThan(3);
      for (const x of comp) expect(Math.abs(x)).toBeLessThan(30e-12);
      expect((await fx.run(ch.status())).compensation.fast).toBeCloseTo(CP, 15);
    });

    it('auto pipette offset nulls the electrode offset', async () => {
      const { fx, amp } = await setup(h);
      const ch = amp.channels[2];
      const sweeps = collect(ch);
      await fx.run(ch.setTestPulse(tp));
      await fx.clock.runFor(100);
      for (const s of sweeps) expect(Math.abs(levels(s).base - -OFFSET_V / R)).toBeLessThan(5e-12);
      const offset = await fx.run(ch.autoPipetteOffset());
      expect(Math.abs(offset - OFFSET_V)).toBeLessThan(100e-6);
      const n = sweeps.length;
      await fx.clock.runFor(200);
      const after = sweeps.slice(n);
      expect(after.length).toBeGreaterThan(3);
      for (const s of after) expect(Math.abs(levels(s).base)).toBeLessThan(15e-12);
      expect((await fx.run(ch.status())).pipetteOffset).toBeCloseTo(offset, 9);
    });

    it('zap reaches the electrode with its duration and amplitude', async () => {
      const { fx, amp, els } = await setup(h);
      const t0 = fx.clock.now();
      await fx.run(amp.channels[0].zap(1, 1.0));
      const t1 = fx.clock.now();
      expect(els[0].zaps).toHaveLength(1);
      expect(els[1].zaps).toHaveLength(0);
      const z = els[0].zaps[0];
      expect(z.durationMs).toBeCloseTo(1, 9);
      expect(z.amplitudeV).toBeCloseTo(1.0, 9);
      expect(z.t).toBeGreaterThanOrEqual(t0);
      expect(z.t).toBeLessThanOrEqual(t1);
      // resolves once the zap has been applied
      expect(t1 - z.t).toBeGreaterThanOrEqual(1);
    });

    it('refuses out-of-range settings before sending a byte', async () => {
      const { fx, amp } = await setup(h);
      const ch = amp.channels[0];
      const before = fx.bytesIn();
      const bad = async (work: Promise<unknown>, kinds: ('invalid' | 'limit')[]): Promise<void> => {
        await fx.expectError(work, kinds);
      };
      await bad(ch.setHolding(1.5), ['limit']);
      await bad(ch.setHolding(-1.01), ['limit']);
      await bad(ch.setHolding(Number.NaN), ['invalid']);
      await bad(ch.setTestPulse({ rateHz: 0 }), ['invalid', 'limit']);
      await bad(ch.setTestPulse({ rateHz: -5 }), ['invalid', 'limit']);
      await bad(ch.setTestPulse({ sampleRateHz: h.maxSampleRateHz + 1_000 }), ['limit']);
      await bad(ch.setTestPulse({ sampleRateHz: 0 }), ['invalid', 'limit']);
      await bad(ch.setTestPulse({ widthMs: 40, rateHz: 30 }), ['limit']);
      await bad(ch.setTestPulse({ amplitude: Number.NaN }), ['invalid']);
      await bad(ch.setTestPulse({ amplitude: 2 }), ['limit']);
      await bad(ch.zap(0, 1), ['invalid']);
      await bad(ch.zap(1, Number.NaN), ['invalid']);
      await bad(ch.zap(1e6, 1), ['limit']);
      await bad(ch.setMode('XX' as ClampMode), ['invalid']);
      await bad(ch.setCompensation({ fast: -1e-12 }), ['invalid']);
      const nanStim = stepStimulus('VC', 20_000, 10, 2, 8, 0.01);
      nanStim.samples[5] = Number.NaN;
      await bad(ch.runStimulus(nanStim), ['invalid']);
      await bad(ch.runStimulus(stepStimulus('IC', 20_000, 10, 2, 8, -50e-12)), ['invalid']);
      await bad(ch.runStimulus(stepStimulus('VC', h.maxSampleRateHz * 2, 10, 2, 8, 0.01)), ['limit']);
      await bad(ch.runStimulus(stepStimulus('VC', 20_000, 10, 2, 8, 2)), ['limit']);
      expect(fx.bytesIn()).toBe(before);
      // Current-clamp limits are current limits.
      const ic = amp.channels[1];
      await fx.run(ic.setMode('IC'));
      const mid = fx.bytesIn();
      await bad(ic.setHolding(1e-6), ['limit']);
      await bad(ic.runStimulus(stepStimulus('IC', 20_000, 10, 2, 8, 1e-6)), ['limit']);
      expect(fx.bytesIn()).toBe(mid);
      // and sensible values still work afterwards
      await fx.run(ch.setHolding(-0.07));
      expect((await fx.run(ch.status())).holding).toBeCloseTo(-0.07, 9);
    });

    it('garbage, truncated and bad-CRC frames are reported as typed errors and the stream continues', async () => {
      const { fx, amp } = await setup(h);
      const ch = amp.channels[0];
      const sweeps = collect(ch);
      const errors: DeviceError[] = [];
      amp.onError((e) => errors.push(e));
      await fx.run(ch.setTestPulse(tp));
      await fx.clock.runFor(200);
      fx.binding.injectToHost(fx.path, Buffer.alloc(64, 0xff));
      await fx.clock.runFor(50);
      fx.binding.injectToHost(fx.path, h.corruptFrame());
      await fx.clock.runFor(50);
      fx.binding.injectToHost(fx.path, h.corruptFrame().subarray(0, 30));
      await fx.clock.runFor(100);
      expect(errors.length).toBeGreaterThanOrEqual(3);
      for (const e of errors) {
        expect(e).toBeInstanceOf(DeviceError);
        expect(e.kind).toBe('malformed');
        expect(e.device).toBe(amp.connection.label);
        expect(e.command.length).toBeGreaterThan(0);
        expect(e.bytes.length).toBeGreaterThan(0);
      }
      // the first error is the junk itself
      expect(errors[0].bytes.every((b) => b === 0xff)).toBe(true);
      const n = sweeps.length;
      await fx.clock.runFor(1_000);
      const later = sweeps.slice(n);
      expect(later.length).toBeGreaterThanOrEqual(29);
      for (const s of later) expect(levels(s).steady - levels(s).base).toBeCloseTo(1e-9, 13);
      const st = await fx.run(ch.status());
      expect(st.testPulse.enabled).toBe(true);
    });

    it('a silent device gives timeouts, not hangs, and the driver recovers', async () => {
      const { fx, amp } = await setup(h);
      const ch = amp.channels[0];
      const sweeps = collect(ch);
      await fx.run(ch.setTestPulse(tp));
      fx.binding.setMuted(fx.path, true);
      const e1 = await fx.expectError(ch.status(), ['timeout'], 60_000);
      const e2 = await fx.expectError(ch.setHolding(-0.01), ['timeout'], 60_000);
      for (const [e, command] of [[e1, /status/i], [e2, /holding/i]] as const) {
        expect(e.device).toBe(amp.connection.label);
        expect(e.command).toMatch(command);
        expect(e.message).toMatch(/no reply|incomplete/);
        // muted: nothing reached the host for these commands
        expect(e.bytes.length).toBe(0);
      }
      fx.binding.setMuted(fx.path, false);
      const st = await fx.run(ch.status());
      expect(st.mode).toBe('VC');
      const n = sweeps.length;
      await fx.clock.runFor(500);
      expect(sweeps.length - n).toBeGreaterThanOrEqual(14);
    });

    it('reports an unplug, refuses commands meanwhile, and a reconnect restores every setting', async () => {
      const { fx, amp } = await setup(h);
      const [a, b, c] = amp.channels;
      const states: string[] = [];
      amp.connection.onStateChange((s) => states.push(s));
      await fx.run(a.setHolding(-0.05));
      await fx.run(a.setTestPulse(tp));
      await fx.run(b.setMode('IC'));
      await fx.run(b.setHolding(-20e-12));
      await fx.run(b.setTestPulse({ ...tp, amplitude: -30e-12, rateHz: 20 }));
      await fx.run(c.setCompensation({ fast: CP, slow: 20e-12 }));
      await fx.run(c.autoPipetteOffset());
      const wanted = await fx.run(Promise.all(amp.channels.map((x) => x.status())));
      const sweeps = collect(a);
      await fx.clock.runFor(200);
      const lastSeq = sweeps[sweeps.length - 1].seq;

      const long = a.runStimulus(stepStimulus('VC', 20_000, 1_000, 100, 900, 0.01));
      long.catch(() => {});
      await fx.clock.runFor(100);
      fx.binding.unplug(fx.path);
      await fx.expectError(long, ['disconnected']);
      expect(amp.connection.state).toBe('disconnected');
      await fx.expectError(a.status(), ['disconnected']);
      await fx.expectError(amp.connection.reconnect(), ['disconnected']);
      fx.binding.replug(fx.path);
      await fx.run(amp.connection.reconnect());
      expect(amp.connection.state).toBe('open');
      expect(states).toContain('disconnected');
      expect(states[states.length - 1]).toBe('open');

      const now = await fx.run(Promise.all(amp.channels.map((x) => x.status())));
      for (let i = 0; i < 3; i++) {
        expect(now[i].mode).toBe(wanted[i].mode);
        expect(now[i].holding).toBeCloseTo(wanted[i].holding, 15);
        expect(now[i].testPulse.enabled).toBe(wanted[i].testPulse.enabled);
        expect(now[i].testPulse.amplitude).toBeCloseTo(wanted[i].testPulse.amplitude, 15);
        expect(now[i].testPulse.rateHz).toBe(wanted[i].testPulse.rateHz);
        expect(now[i].testPulse.widthMs).toBe(wanted[i].testPulse.widthMs);
        expect(now[i].testPulse.sampleRateHz).toBe(wanted[i].testPulse.sampleRateHz);
        expect(now[i].pipetteOffset).toBeCloseTo(wanted[i].pipetteOffset, 9);
        expect(now[i].compensation.fast).toBeCloseTo(wanted[i].compensation.fast, 15);
        expect(now[i].compensation.slow).toBeCloseTo(wanted[i].compensation.slow, 15);
      }
      const n = sweeps.length;
      await fx.clock.runFor(300);
      const after = sweeps.slice(n);
      expect(after.length).toBeGreaterThan(5);
      expect(after[0].seq).toBeGreaterThan(lastSeq);
      for (const s of after) expect(levels(s).base).toBeCloseTo(-0.05 / R, 15);
    });

    it('a host at the wrong baud rate gets a typed error, not a hang', async () => {
      const els = makeElectrodes();
      const fx = createFixture('sim:amp-conformance', (clock) => h.makeEmulator(clock, els), h.baudRate === 115_200 ? 9_600 : 115_200);
      let caught: unknown;
      try {
        const amp = await fx.run(h.open({ path: fx.path, binding: fx.binding, clock: fx.clock }), 60_000);
        await fx.run(amp.channels[0].status(), 60_000);
      } catch (e) {
        caught = e;
      }
      expect(caught).toBeInstanceOf(DeviceError);
      expect((caught as DeviceError).kind).toMatch(/^(timeout|malformed|device)$/);
    });

    it('same inputs give byte-identical traffic (deterministic in virtual time)', async () => {
      const digests: string[] = [];
      const results: number[][] = [];
      for (let i = 0; i < 2; i++) {
        const { fx, amp } = await setup(h);
        const noisy = collect(amp.channels[2]);
        await fx.run(amp.channels[0].setTestPulse(tp));
        await fx.run(amp.channels[2].setTestPulse(tp));
        await fx.clock.runFor(300);
        const r = await fx.run(amp.channels[1].runStimulus(stepStimulus('VC', 20_000, 100, 20, 80, 0.01)));
        await fx.run(amp.channels[1].status());
        digests.push(fx.binding.byteLog(fx.path).digest());
        results.push([r.response[30], ...noisy.map((s) => s.response[10])]);
      }
      expect(digests[0]).toBe(digests[1]);
      expect(results[0]).toEqual(results[1]);
    });
  });
}
