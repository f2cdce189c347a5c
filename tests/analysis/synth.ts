/**
 * Synthetic traces with known answers for the analysis tests: test-pulse
 * sweeps from the exact RC-circuit step responses, action potentials of known
 * shape, and long-square current-clamp responses. Seeded noise only.
 */
import type { Sweep } from '../../drivers/types.ts';

/** Seeded uniform [0, 1) generator (mulberry32). */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Seeded standard normal generator (Box–Muller). */
export function gaussian(seed: number): () => number {
  const u = rng(seed);
  return () => {
    const a = Math.max(u(), 1e-300);
    return Math.sqrt(-2 * Math.log(a)) * Math.cos(2 * Math.PI * u());
  };
}

// ------------------------------------------------------------------ test pulses

export type Circuit =
  /** pipette in the bath, or a seal: a plain resistor */
  | { kind: 'resistor'; r: number }
  /** whole cell: access Ra in series with Rm ∥ Cm; membrane reversal er */
  | { kind: 'wholeCell'; ra: number; rm: number; cm: number; er?: number };

export interface VcPulseSpec {
  fs: number;
  circuit: Circuit;
  /** step, V */
  dv?: number;
  holding?: number;
  widthMs?: number;
  baselineFraction?: number;
  /** RMS current noise, A */
  noise?: number;
  seed?: number;
  /** uncompensated pipette-capacitance spike: amplitude (A) at onset and τ (s) */
  fastTransient?: { amp: number; tau: number };
}

/**
 * VC test pulse sampled instantaneously at t = i/fs; the step occupies samples
 * [onset, onset + len). Whole-cell current for a step ΔV applied at t = 0:
 *   I(t) = ΔV/(Ra+Rm) + ΔV·(1/Ra − 1/(Ra+Rm))·exp(−t/τ),  τ = Ra·Rm·Cm/(Ra+Rm);
 * the end of the step adds the mirror response (superposition).
 */
export function vcPulse(spec: VcPulseSpec): Sweep {
  const { fs, circuit } = spec;
  const dv = spec.dv ?? 10e-3;
  const holding = spec.holding ?? -70e-3;
  const widthMs = spec.widthMs ?? 10;
  const bf = spec.baselineFraction ?? 0.35;
  const len = Math.round((widthMs / 1000) * fs);
  const base = Math.round(bf * len);
  const n = base + len + base;
  const onset = base;
  const out = new Float32Array(n);
  const noise = spec.noise ? gaussian(spec.seed ?? 1) : null;

  let rTot: number;
  let inst: number; // instantaneous conductance at the edge
  let tau: number;
  let er = 0;
  if (circuit.kind === 'resistor') {
    rTot = circuit.r;
    inst = 1 / circuit.r;
    tau = 0;
  } else {
    rTot = circuit.ra + circuit.rm;
    inst = 1 / circuit.ra;
    tau = (circuit.ra * circuit.rm * circuit.cm) / (circuit.ra + circuit.rm);
    er = circuit.er ?? 0;
  }
  const gSs = 1 / rTot;
  const edge = (t: number): number => {
    // response to a unit step applied at t = 0 (conductance units)
    if (t < 0) return 0;
    let g = gSs;
    if (tau > 0) g += (inst - gSs) * Math.exp(-t / tau);
    if (spec.fastTransient) g += (spec.fastTransient.amp / dv) * Math.exp(-t / spec.fastTransient.tau);
    return g;
  };
  const iHold = (holding - er) * gSs;
  for (let i = 0; i < n; i++) {
    const tOn = (i - onset) / fs;
    const tOff = (i - onset - len) / fs;
    let v = iHold + dv * (edge(tOn) - edge(tOff));
    if (noise) v += spec.noise! * noise();
    out[i] = v;
  }
  return {
    channel: 0,
    seq: 1,
    kind: 'testpulse',
    mode: 'VC',
    startTime: 0,
    sampleRateHz: fs,
    response: out,
    responseUnit: 'A',
    holding,
    step: { amplitude: dv, onsetIndex: onset, lengthSamples: len },
  };
}

export interface IcPulseSpec {
  fs: number;
  /** membrane resistance and capacitance: τ = rm·cm */
  rm: number;
  cm: number;
  /** residual series resistance the bridge did not cancel, Ω */
  bridgeResidual?: number;
  /** step, A */
  di?: number;
  /** bias current, A */
  holding?: number;
  vrest?: number;
  widthMs?: number;
  baselineFraction?: number;
  /** RMS voltage noise, V */
  noise?: number;
  seed?: number;
}

/** IC test pulse: V = Vrest + I_hold·Rm + ΔI·(R_bridge + Rm·(1 − exp(−t/τ))), with the mirror at the end of the step. */
export function icPulse(spec: IcPulseSpec): Sweep {
  const { fs, rm, cm } = spec;
  const di = spec.di ?? -50e-12;
  const holding = spec.holding ?? 0;
  const vrest = spec.vrest ?? -65e-3;
  const rb = spec.bridgeResidual ?? 0;
  const widthMs = spec.widthMs ?? 10;
  const bf = spec.baselineFraction ?? 0.35;
  const len = Math.round((widthMs / 1000) * fs);
  const base = Math.round(bf * len);
  const n = base + len + base;
  const onset = base;
  const tau = rm * cm;
  const noise = spec.noise ? gaussian(spec.seed ?? 1) : null;
  const unit = (t: number): number => (t < 0 ? 0 : rb + rm * (1 - Math.exp(-t / tau)));
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let v = vrest + holding * rm + di * (unit((i - onset) / fs) - unit((i - onset - len) / fs));
    if (noise) v += spec.noise! * noise();
    out[i] = v;
  }
  return {
    channel: 0,
    seq: 1,
    kind: 'testpulse',
    mode: 'IC',
    startTime: 0,
    sampleRateHz: fs,
    response: out,
    responseUnit: 'V',
    holding,
    step: { amplitude: di, onsetIndex: onset, lengthSamples: len },
  };
}

// -------------------------------------------------------------- action potentials

export interface ApShape {
  /** V at the foot of the upstroke */
  vth: number;
  /** peak V */
  vpk: number;
  /** fast-trough V */
  vtr: number;
  /** rise time foot → peak, s (half-cosine) */
  rise: number;
  /** fall time peak → trough, s (half-cosine) */
  fall: number;
  /** return from the trough to the resting level, τ in s */
  recoveryTau: number;
}

/** AHP trough below rest (−70 vs −65 mV), so the trough is the end of the fall */
export const DEFAULT_AP: ApShape = { vth: -0.045, vpk: 0.03, vtr: -0.07, rise: 0.4e-3, fall: 0.8e-3, recoveryTau: 5e-3 };

/**
 * Known answers for an AP of this shape (before the 10 kHz filter):
 * threshold where dV/dt = 5 % of the max upstroke, width at half height
 * between peak and trough (trough is above the threshold → the peak–trough level).
 */
export function apTruth(ap: ApShape, thresholdFraction = 0.05) {
  const h = ap.vpk - ap.vth;
  // dV/dt on the rise ∝ sin(πu): fraction f of the max at u = asin(f)/π
  const u = Math.asin(thresholdFraction) / Math.PI;
  const thresholdDelay = u * ap.rise;
  const thresholdV = ap.vth + (h * (1 - Math.cos(Math.PI * u))) / 2;
  let level = ap.vpk - (ap.vpk - ap.vtr) / 2;
  if (level < thresholdV) level = ap.vpk - (ap.vpk - thresholdV) / 2;
  const uRise = Math.acos(1 - (2 * (level - ap.vth)) / h) / Math.PI;
  const wFall = Math.acos((2 * (level - ap.vtr)) / (ap.vpk - ap.vtr) - 1) / Math.PI;
  const width = ap.rise * (1 - uRise) + ap.fall * wFall;
  return {
    thresholdDelay,
    thresholdV,
    amplitude: ap.vpk - thresholdV,
    width,
    upstroke: (h * Math.PI) / (2 * ap.rise),
    downstroke: (-(ap.vpk - ap.vtr) * Math.PI) / (2 * ap.fall),
  };
}

/**
 * A voltage trace at rest `vrest` with APs whose upstroke feet are at the given
 * times (s). Between spikes the membrane follows the AP recovery toward `vrest`
 * and is lifted to the AP foot by a slow half-cosine over the 8 ms before each
 * foot, so every spike starts from exactly `ap.vth`. Feet must be > 10 ms apart.
 */
export function spikeTrain(opts: {
  fs: number;
  durationS: number;
  vrest: number;
  feet: number[];
  ap?: ApShape;
  noise?: number;
  seed?: number;
}): Float32Array {
  const ap = opts.ap ?? DEFAULT_AP;
  const n = Math.round(opts.durationS * opts.fs);
  const out = new Float32Array(n);
  const noise = opts.noise ? gaussian(opts.seed ?? 7) : null;
  const feet = [...opts.feet].sort((a, b) => a - b);
  // precede each AP by an 8 ms half-cosine rise from wherever the trace is to vth (dV/dt ≤ ~4 V/s, far below detection)
  const prep = 8e-3;
  for (let i = 0; i < n; i++) {
    const t = i / opts.fs;
    let v = opts.vrest;
    // most recent foot at or before t
    let k = -1;
    for (let j = 0; j < feet.length; j++) if (feet[j] <= t) k = j;
    const next = feet.find((f) => f > t);
    if (k >= 0) {
      const s = t - feet[k];
      if (s < ap.rise) v = ap.vth + ((ap.vpk - ap.vth) * (1 - Math.cos((Math.PI * s) / ap.rise))) / 2;
      else if (s < ap.rise + ap.fall) {
        const w = (s - ap.rise) / ap.fall;
        v = ap.vtr + ((ap.vpk - ap.vtr) * (1 + Math.cos(Math.PI * w))) / 2;
      } else {
        const r = s - ap.rise - ap.fall;
        v = opts.vrest + (ap.vtr - opts.vrest) * Math.exp(-r / ap.recoveryTau);
      }
    }
    if (next !== undefined && next - t < prep) {
      // blend toward vth so the foot is continuous
      const w = 1 - (next - t) / prep; // 0 → 1
      const blend = (1 - Math.cos(Math.PI * w)) / 2;
      v = v + (ap.vth - v) * blend;
    }
    if (noise) v += opts.noise! * noise();
    out[i] = v;
  }
  return out;
}

// ------------------------------------------------------------- long squares

export interface PassiveResponse {
  fs: number;
  vrest: number;
  /** stimulus, A */
  amp: number;
  /** input resistance, Ω, and τ, s */
  rin: number;
  tau: number;
  /** optional sag: a slower opposing component of amplitude amp·sagR (Ω) and τ sagTau (s) */
  sagR?: number;
  sagTau?: number;
  preS?: number;
  stimS?: number;
  postS?: number;
  noise?: number;
  seed?: number;
}

/** Passive long-square response with optional h-current-like sag. */
export function passiveSweep(p: PassiveResponse) {
  const pre = Math.round((p.preS ?? 0.2) * p.fs);
  const len = Math.round((p.stimS ?? 1) * p.fs);
  const post = Math.round((p.postS ?? 0.3) * p.fs);
  const n = pre + len + post;
  const v = new Float32Array(n);
  const noise = p.noise ? gaussian(p.seed ?? 3) : null;
  const resp = (t: number): number => {
    if (t < 0) return 0;
    let d = p.amp * p.rin * (1 - Math.exp(-t / p.tau));
    if (p.sagR && p.sagTau) d -= p.amp * p.sagR * (1 - Math.exp(-t / p.sagTau));
    return d;
  };
  for (let i = 0; i < n; i++) {
    let x = p.vrest + resp((i - pre) / p.fs) - resp((i - pre - len) / p.fs);
    if (noise) x += p.noise! * noise();
    v[i] = x;
  }
  return { v, fs: p.fs, stimulusAmplitudeA: p.amp, onsetIndex: pre, lengthSamples: len };
}
