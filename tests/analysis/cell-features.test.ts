import { describe, expect, it } from 'vitest';
import { cellFeatures, cellFeaturesRecord, type LongSquareSweep } from '../../src/analysis/efeatures/cell.ts';
import { apTruth, DEFAULT_AP, passiveSweep, spikeTrain } from './synth.ts';
import { CELL } from './preset-analysis.ts';

const FS = 50e3;
const VREST = -0.07;
const RIN = 200e6;
const TAU = 0.02;
const SAG_R = 40e6;
const SAG_TAU = 0.1;

/** Spiking sweep: 200 ms baseline, 1 s stimulus with `count` evenly spaced spikes, 300 ms after. */
function spikingSweep(pA: number, count: number, isiGrowth = 0): LongSquareSweep {
  const pre = 0.2;
  const feet: number[] = [];
  let t = pre + 0.02;
  // evenly spaced over the stimulus, or growing ISIs (adaptation) when isiGrowth > 0
  const base = 0.95 / Math.max(1, count);
  for (let k = 0; k < count; k++) {
    feet.push(t);
    t += base * (1 + isiGrowth * (k - (count - 2) / 2) / Math.max(1, count));
  }
  const v = spikeTrain({ fs: FS, durationS: 1.5, vrest: VREST, feet });
  return { v, fs: FS, stimulusAmplitudeA: pA * 1e-12, onsetIndex: pre * FS, lengthSamples: FS };
}

/** Analytic hyperpolarised response (with or without sag): its minimum and sag ratio. */
function sagTruth(pA: number, sagR: number) {
  const i = pA * 1e-12;
  const v = (t: number): number => VREST + i * (RIN * (1 - Math.exp(-t / TAU)) - sagR * (1 - Math.exp(-t / SAG_TAU)));
  let vmin = Infinity;
  for (let t = 0; t <= 1; t += 1e-5) vmin = Math.min(vmin, v(t));
  const vss = v(1);
  return { vmin, sag: (vmin - vss) / (vmin - VREST) };
}

function family(noise = 0): LongSquareSweep[] {
  const sweeps: LongSquareSweep[] = [];
  // passive sweeps for input resistance and tau: −90 … −10 pA
  for (const pA of [-90, -70, -50, -30, -10]) {
    sweeps.push(passiveSweep({ fs: FS, vrest: VREST, amp: pA * 1e-12, rin: RIN, tau: TAU, noise, seed: 100 - pA }));
  }
  // strongly hyperpolarising sweeps with sag (outside the −100…0 pA set)
  for (const pA of [-200, -150, -120]) {
    sweeps.push(passiveSweep({ fs: FS, vrest: VREST, amp: pA * 1e-12, rin: RIN, tau: TAU, sagR: SAG_R, sagTau: SAG_TAU, noise, seed: 300 - pA }));
  }
  // depolarising: f = 0.2 Hz/pA above 30 pA → 2, 4, … 12 spikes in 1 s
  sweeps.push(spikingSweep(10, 0));
  sweeps.push(spikingSweep(30, 0));
  for (const pA of [40, 50, 60, 70, 90]) sweeps.push(spikingSweep(pA, (pA - 30) / 5));
  sweeps.push(spikingSweep(80, 10, 0.8)); // hero: adapting train
  return sweeps;
}

/** every number in a nested object is finite or null */
function expectNoNaN(x: unknown): void {
  if (typeof x === 'number') expect(Number.isFinite(x)).toBe(true);
  else if (Array.isArray(x)) x.forEach(expectNoNaN);
  else if (x && typeof x === 'object') Object.values(x).forEach(expectNoNaN);
}

describe('cellFeatures (IPFX long-square definitions)', () => {
  const f = cellFeatures(family(), CELL);

  it('baseline, input resistance and tau from the passive sweeps', () => {
    expect(f.vBaseline!).toBeCloseTo(VREST, 6);
    expect(Math.abs(f.inputResistance! / RIN - 1)).toBeLessThan(0.01);
    expect(Math.abs(f.tau! / TAU - 1)).toBeLessThan(0.02);
    // tau/Ri only used −100 < I < 0 sweeps
    const withTau = f.sweeps.filter((s) => s.tau !== null).map((s) => Math.round(s.amplitudeA * 1e12));
    expect(withTau.sort((a, b) => a - b)).toEqual([-90, -70, -50, -30, -10]);
  });

  it('sag on the sweep whose peak is closest to −100 mV', () => {
    const candidates = [
      ...[-200, -150, -120].map((pA) => ({ pA, ...sagTruth(pA, SAG_R) })),
      ...[-90, -70, -50, -30, -10].map((pA) => ({ pA, ...sagTruth(pA, 0) })),
    ];
    const best = candidates.reduce((a, b) => (Math.abs(b.vmin + 0.1) < Math.abs(a.vmin + 0.1) ? b : a));
    expect(f.vmForSag!).toBeCloseTo(best.vmin, 4);
    expect(Math.abs(f.sag! / best.sag - 1)).toBeLessThan(0.02);
    expect([-200, -150, -120]).toContain(best.pA); // a sweep built with sag …
    expect(best.sag).toBeGreaterThan(0.05); // … and a real one (8 %), not a rounding residue
  });

  it('rheobase, f–I slope and the hero sweep from the spiking sweeps', () => {
    expect(f.rheobaseA!).toBeCloseTo(40e-12, 18);
    expect(f.fiSlope! / 0.2e12).toBeCloseTo(1, 6); // 0.2 Hz/pA
    expect(f.hero).not.toBeNull();
    expect(f.hero!.amplitudeA).toBeCloseTo(80e-12, 18); // 40 pA above rheobase
    expect(f.hero!.avgRate).toBe(10);
    expect(Math.abs(f.hero!.latency! - 0.02)).toBeLessThan(50e-6);
    expect(f.hero!.adaptation!).toBeGreaterThan(0.01); // built with growing ISIs
    const sweep80 = f.sweeps.find((s) => Math.round(s.amplitudeA * 1e12) === 80)!;
    expect(f.hero!.meanIsi).toBe(sweep80.train.meanIsi);
  });

  it('AP features of the rheobase sweep match the AP shape', () => {
    const truth = apTruth(DEFAULT_AP);
    expect(Math.abs(f.ap.threshold! - truth.thresholdV)).toBeLessThan(0.3e-3);
    expect(Math.abs(f.ap.amplitude! - truth.amplitude)).toBeLessThan(0.3e-3);
    expect(Math.abs(f.ap.width! / truth.width - 1)).toBeLessThan(0.01);
    expect(Math.abs(f.ap.upstroke! / truth.upstroke - 1)).toBeLessThan(0.05);
    expect(Math.abs(f.ap.downstroke! / truth.downstroke - 1)).toBeLessThan(0.05);
    expect(Math.abs(f.ap.upDownRatio! / (truth.upstroke / -truth.downstroke) - 1)).toBeLessThan(0.05);
  });

  it('flattens to a record for the attempt log, with no NaN anywhere', () => {
    const rec = cellFeaturesRecord(f);
    expect(rec.rheobaseA).toBe(f.rheobaseA);
    expect(rec.heroAmplitudeA).toBe(f.hero!.amplitudeA);
    expect(rec.apWidth).toBe(f.ap.width);
    expect(rec.vBaseline).toBe(f.vBaseline);
    // the hero sweep's train, ISI CV (named by the issue) included
    const hero = f.sweeps.find((s) => Math.round(s.amplitudeA * 1e12) === 80)!.train;
    expect(rec.heroSpikeCount).toBe(10);
    expect(rec.heroFirstIsi).toBe(hero.firstIsi);
    expect(rec.heroIsiCv).toBe(hero.isiCv);
    expect(rec.heroIsiCv!).toBeGreaterThan(0.1); // growing ISIs: a real spread, not 0
    expectNoNaN(f);
    expectNoNaN(rec);
  });

  it('stays within tolerance with 0.1 mV seeded noise', () => {
    const g = cellFeatures(family(0.1e-3), CELL);
    expect(Math.abs(g.inputResistance! / RIN - 1)).toBeLessThan(0.03);
    expect(Math.abs(g.tau! / TAU - 1)).toBeLessThan(0.1);
    expect(g.rheobaseA!).toBeCloseTo(40e-12, 18);
    expect(g.fiSlope! / 0.2e12).toBeCloseTo(1, 6);
    expect(Math.abs(g.vBaseline! - VREST)).toBeLessThan(0.05e-3);
  });
});

describe('cellFeatures — choices that follow IPFX', () => {
  const BROAD: typeof DEFAULT_AP = { ...DEFAULT_AP, vpk: 0.01, rise: 0.8e-3, fall: 2e-3 };

  /** A rheobase sweep whose first spike is DEFAULT_AP and whose later spikes are broad and low. */
  function rheobaseSweep(): LongSquareSweep {
    const pre = 0.2;
    const first = spikeTrain({ fs: FS, durationS: 1.5, vrest: VREST, feet: [pre + 0.05] });
    const later = spikeTrain({ fs: FS, durationS: 1.5, vrest: VREST, feet: [pre + 0.4, pre + 0.7], ap: BROAD });
    const v = new Float32Array(first.length);
    const splice = Math.round((pre + 0.25) * FS);
    v.set(first.subarray(0, splice));
    v.set(later.subarray(splice), splice);
    return { v, fs: FS, stimulusAmplitudeA: 40e-12, onsetIndex: pre * FS, lengthSamples: FS };
  }

  it('AP features are the first spike of the rheobase sweep, not a mean over its spikes', () => {
    const f = cellFeatures([spikingSweep(20, 0), rheobaseSweep(), spikingSweep(60, 6)], CELL);
    expect(f.rheobaseA!).toBeCloseTo(40e-12, 18);
    expect(f.sweeps[1].spikes).toHaveLength(3);
    const truth = apTruth(DEFAULT_AP);
    const broad = apTruth(BROAD);
    expect(Math.abs(f.ap.width! / truth.width - 1)).toBeLessThan(0.01);
    expect(Math.abs(f.ap.amplitude! - truth.amplitude)).toBeLessThan(0.3e-3);
    expect(Math.abs(f.ap.upstroke! / truth.upstroke - 1)).toBeLessThan(0.05);
    // a mean over the three spikes would sit far from the first one
    const meanWidth = (truth.width + 2 * broad.width) / 3;
    expect(Math.abs(f.ap.width! - meanWidth)).toBeGreaterThan(0.5e-3);
  });

  /** −100 … −20 pA; the −100 pA sweep is built with a different Rin so using it shows. */
  function irFamily(): LongSquareSweep[] {
    return [-100, -80, -60, -40, -20].map((pA) =>
      passiveSweep({ fs: FS, vrest: VREST, amp: pA * 1e-12, rin: pA === -100 ? 2 * RIN : RIN, tau: TAU, seed: 50 - pA }),
    );
  }

  it('input resistance leaves the −100 pA sweep out (−100 < I < 0, as IPFX), unless the preset widens the window', () => {
    const ipfx = cellFeatures(irFamily(), CELL);
    expect(CELL.subthresholdAboveA).toBeCloseTo(-100e-12, 20);
    expect(Math.abs(ipfx.inputResistance! / RIN - 1)).toBeLessThan(0.01);
    expect(ipfx.sweeps.filter((s) => s.tau !== null).map((s) => Math.round(s.amplitudeA * 1e12))).toEqual([-80, -60, -40, -20]);
    const wider = cellFeatures(irFamily(), { ...CELL, subthresholdAboveA: -120e-12 });
    expect(wider.inputResistance! / RIN).toBeGreaterThan(1.2); // the −100 pA sweep (2 × Rin) now counts
  });
});

describe('cellFeatures — missing values are null', () => {
  it('no spiking sweeps: suprathreshold features are null', () => {
    const f = cellFeatures(family().filter((s) => s.stimulusAmplitudeA <= 30e-12), CELL);
    expect(f.rheobaseA).toBeNull();
    expect(f.fiSlope).toBeNull();
    expect(f.hero).toBeNull();
    expect(f.ap).toEqual({ threshold: null, amplitude: null, width: null, upstroke: null, downstroke: null, upDownRatio: null });
    expect(f.inputResistance).not.toBeNull();
    expectNoNaN(f);
  });

  it('only spiking sweeps: subthreshold features are null; one spiking sweep has no f–I slope', () => {
    const f = cellFeatures([spikingSweep(50, 4)], CELL);
    expect(f.rheobaseA!).toBeCloseTo(50e-12, 18);
    expect(f.fiSlope).toBeNull();
    expect(f.hero).toBeNull(); // nothing 40–60 pA above
    expect(f.inputResistance).toBeNull();
    expect(f.tau).toBeNull();
    expect(f.sag).toBeNull();
    expectNoNaN(f);
  });

  it('an empty family gives all nulls', () => {
    const f = cellFeatures([], CELL);
    expect(cellFeaturesRecord(f)).toEqual(Object.fromEntries(Object.keys(cellFeaturesRecord(f)).map((k) => [k, null])));
  });

  it('tau is refused when the deflection is under 20× the baseline noise', () => {
    const weak = passiveSweep({ fs: FS, vrest: VREST, amp: -10e-12, rin: 20e6, tau: TAU, noise: 0.05e-3, seed: 4 }); // 0.2 mV deflection
    const f = cellFeatures([weak], CELL);
    expect(f.tau).toBeNull();
    // one sweep: input resistance from its peak and its own baseline at 0 A
    expect(f.inputResistance).not.toBeNull();
  });

  it('one hyperpolarising sweep gives input resistance from its peak against its baseline', () => {
    const f = cellFeatures([passiveSweep({ fs: FS, vrest: VREST, amp: -50e-12, rin: RIN, tau: TAU })], CELL);
    expect(Math.abs(f.inputResistance! / RIN - 1)).toBeLessThan(0.01);
  });
});
