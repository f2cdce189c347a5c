/**
 * Single-compartment spiking neuron for current clamp: an adaptive exponential
 * integrate-and-fire core (spike initiation with a realistic dV/dt runaway, so
 * IPFX's "5 % of max upstroke" threshold lands where it should), an explicit
 * spike waveform pasted in once the runaway is under way (amplitude, width and
 * fast trough drawn per cell), spike-triggered adaptation, and an Ih current
 * for sag. Subthreshold adaptation is left out (a = 0) so the passive response
 * at rest is an exact RC: Rin and τ are known analytically.
 *
 * All quantities SI (V, A, S, F, s).
 */
import type { Rng } from './rng.ts';
import type { NeuronParams } from './params.ts';

export interface NeuronModel {
  C: number;
  gL: number;
  EL: number;
  VT: number;
  deltaT: number;
  /** spike-triggered adaptation increment (A) and time constant (s) */
  b: number;
  tauW: number;
  /** Ih: max conductance, reversal, half-activation, slope, time constant */
  gH: number;
  EH: number;
  hHalf: number;
  hSlope: number;
  tauH: number;
  /** spike waveform: switch-over voltage, peak, fast trough, upstroke and downstroke durations */
  vSwitch: number;
  vPeak: number;
  vTrough: number;
  rise: number;
  fall: number;
  /** analytic values */
  restV: number;
  /** input resistance at rest with slow gates frozen (what a short hyperpolarising step measures), Ω */
  inputOhm: number;
  /** C · inputOhm, s */
  tau: number;
  /** Ih gate at rest */
  qRest: number;
  /** steady-state long-step rheobase (slow gates at steady state), A */
  rheobase: number;
  /** rheobase with Ih frozen at its resting value (the lower bound of what a long step needs), A */
  rheobaseFrozen: number;
  /** expected IPFX threshold and width of the waveform */
  thresholdV: number;
  widthS: number;
  amplitudeV: number;
  /** sag ratio targeted for a step whose peak reaches −100 mV */
  sagTarget: number;
}

/** Linear electrical surroundings of the cell in whole-cell current clamp. */
export interface CellLink {
  /** pipette, seal and access resistances, Ω */
  Rp: number;
  Rs: number;
  Ra: number;
  /** extra leak from damage/death (S) and its reversal (V) */
  gDmg: number;
  EDmg: number;
  offsetV: number;
  /** dead or badly damaged cells do not fire */
  canSpike: boolean;
}

/** 1/(1+e^x) tabulated on [−30, 30]: the Ih gate is evaluated every sample of long sweeps */
const SIG_LO = -30;
const SIG_STEP = 0.005;
const SIG_N = Math.round((2 * -SIG_LO) / SIG_STEP) + 1;
const SIG = new Float64Array(SIG_N);
for (let i = 0; i < SIG_N; i++) SIG[i] = 1 / (1 + Math.exp(SIG_LO + i * SIG_STEP));

function sigmoidDown(x: number): number {
  const f = (x - SIG_LO) / SIG_STEP;
  if (f <= 0) return 1;
  if (f >= SIG_N - 1) return 0;
  const i = Math.floor(f);
  const w = f - i;
  return SIG[i] + (SIG[i + 1] - SIG[i]) * w;
}

const qInf = (m: NeuronModel, v: number): number => sigmoidDown((v - m.hHalf) / m.hSlope);
/** spike-initiation current; below x = −10 it is under 1e−4 of gL·ΔT and left out */
const expTerm = (m: NeuronModel, v: number): number => {
  const x = (v - m.VT) / m.deltaT;
  return x > -10 ? m.gL * m.deltaT * Math.exp(Math.min(x, 30)) : 0;
};

/** Current needed to hold the cell at v (with Ih gate q), no seal/damage. */
function holdingCurrent(m: NeuronModel, v: number, q: number): number {
  return m.gL * (v - m.EL) - expTerm(m, v) + m.gH * q * (v - m.EH);
}

function maxHolding(m: NeuronModel, frozen: boolean): number {
  const f = (v: number): number => holdingCurrent(m, v, frozen ? m.qRest : qInf(m, v));
  // coarse scan for the hump, then golden-section refinement
  const top = m.VT + 4 * m.deltaT;
  let bestV = m.restV;
  let best = -Infinity;
  const step = 0.5e-3;
  for (let v = m.restV; v <= top; v += step) {
    const i = f(v);
    if (i > best) {
      best = i;
      bestV = v;
    }
  }
  let a = bestV - step;
  let b = bestV + step;
  const g = (Math.sqrt(5) - 1) / 2;
  for (let k = 0; k < 30; k++) {
    const c = b - g * (b - a);
    const d = a + g * (b - a);
    if (f(c) > f(d)) b = d;
    else a = c;
  }
  return Math.max(best, f((a + b) / 2));
}

/** Spike waveform (cubic Hermite pieces) at time s after switch-over. */
function hermite(v0: number, s0: number, v1: number, s1: number, dur: number, s: number): number {
  const u = s / dur;
  const u2 = u * u;
  const u3 = u2 * u;
  return (2 * u3 - 3 * u2 + 1) * v0 + (u3 - 2 * u2 + u) * dur * s0 + (-2 * u3 + 3 * u2) * v1 + (u3 - u2) * dur * s1;
}

/** First time in [0, dur] where the monotonic Hermite piece crosses `level` (bisection). */
function crossing(v0: number, v1: number, dur: number, level: number): number {
  let lo = 0;
  let hi = dur;
  const rising = v1 > v0;
  for (let k = 0; k < 40; k++) {
    const mid = 0.5 * (lo + hi);
    const v = hermite(v0, 0, v1, 0, dur, mid);
    if (v >= level === rising) hi = mid;
    else lo = mid;
  }
  return 0.5 * (lo + hi);
}

/** Width at half height between threshold and peak of the template (what IPFX reports), s. */
function templateWidth(m: NeuronModel, threshold: number): number {
  const half = (threshold + m.vPeak) / 2;
  // the runaway before switch-over adds a little time below the switch voltage: neglected (< 0.05 ms)
  const up = m.vSwitch >= half ? 0 : crossing(m.vSwitch, m.vPeak, m.rise, half);
  const down = m.rise + crossing(m.vPeak, m.vTrough, m.fall, half);
  return down - up;
}

export interface PassiveCell {
  restV: number;
  inputOhm: number;
  capacitanceF: number;
}

/** Draw the spiking parameters of one cell around its passive properties. */
export function drawNeuron(rng: Rng, p: NeuronParams, cell: PassiveCell): NeuronModel {
  const C = cell.capacitanceF;
  const Gr = 1 / cell.inputOhm;
  const tauM = C * cell.inputOhm;
  const restV = cell.restV;

  // Ih sized so that a step peaking at −100 mV sags by the drawn ratio
  const hHalf = rng.uniform(p.hHalfV[0], p.hHalfV[1]);
  const hSlope = p.hSlopeV;
  const EH = p.hReversalV;
  const tauH = rng.uniform(p.hTauMs[0], p.hTauMs[1]) / 1000;
  let sagTarget = rng.uniform(p.sag[0], p.sag[1]);
  const q = (v: number): number => 1 / (1 + Math.exp((v - hHalf) / hSlope));
  const qRest = q(restV);
  const vPeakHyp = Math.min(-0.1, restV - 0.01);
  const dP = vPeakHyp - restV;
  let gH = 0;
  if (sagTarget > 0) {
    const vSs = restV + (1 - sagTarget) * dP;
    gH = (Gr * sagTarget * dP) / ((q(vSs) - qRest) * (vSs - EH));
    // keep at least a third of the resting conductance as leak
    const cap = ((2 / 3) * Gr) / Math.max(qRest, 1e-9);
    if (gH * qRest > (2 / 3) * Gr) {
      sagTarget *= cap / gH;
      gH = cap;
    }
  }
  const gL = Gr - gH * qRest;

  const deltaT = rng.uniform(p.deltaTV[0], p.deltaTV[1]);
  const amplitude = rng.uniform(p.amplitudeV[0], p.amplitudeV[1]);
  const rise = rng.uniform(p.riseMs[0], p.riseMs[1]) / 1000;
  const fall = rng.uniform(p.fallMs[0], p.fallMs[1]) / 1000;
  let threshold = rng.uniform(p.thresholdV[0], p.thresholdV[1]);
  const maxUp = (1.5 * amplitude) / rise; // V/s, of the Hermite upstroke
  // where the exponential runaway alone reaches 5 % / 30 % of the upstroke speed
  const ln5 = Math.log((0.05 * maxUp * tauM) / deltaT);
  const ln30 = Math.log((0.3 * maxUp * tauM) / deltaT);
  let VT = threshold - deltaT * ln5;
  if (VT - restV < p.minThresholdGapV) {
    VT = restV + p.minThresholdGapV;
    threshold = VT + deltaT * ln5;
  }
  const vSwitch = VT + deltaT * ln30;
  const vPeak = threshold + amplitude;
  const vTrough = threshold - rng.uniform(p.troughBelowThresholdV[0], p.troughBelowThresholdV[1]);
  const b = rng.uniform(p.adaptationA[0], p.adaptationA[1]);
  const tauW = rng.uniform(p.adaptationTauMs[0], p.adaptationTauMs[1]) / 1000;

  const m: NeuronModel = {
    C, gL, EL: 0, VT, deltaT, b, tauW, gH, EH, hHalf, hSlope, tauH,
    vSwitch, vPeak, vTrough, rise, fall,
    restV, inputOhm: cell.inputOhm, tau: tauM, qRest,
    rheobase: 0, rheobaseFrozen: 0, thresholdV: threshold, widthS: 0, amplitudeV: amplitude, sagTarget,
  };
  // leak reversal chosen so that restV is the resting potential
  m.EL = restV + (gH * qRest * (restV - EH) - expTerm({ ...m, EL: restV }, restV)) / gL;
  m.rheobase = maxHolding(m, false);
  m.rheobaseFrozen = maxHolding(m, true);
  m.widthS = templateWidth(m, threshold);
  return m;
}

/** The generating parameters and analytic values, flat, for CellTruth.neuron. */
export function neuronRecord(m: NeuronModel): Record<string, number> {
  return {
    capacitanceF: m.C,
    leakConductanceS: m.gL,
    leakReversalV: m.EL,
    spikeSlopeFactorV: m.deltaT,
    spikeInitiationV: m.VT,
    adaptationIncrementA: m.b,
    adaptationTauS: m.tauW,
    hConductanceS: m.gH,
    hReversalV: m.EH,
    hHalfActivationV: m.hHalf,
    hSlopeV: m.hSlope,
    hTauS: m.tauH,
    spikePeakV: m.vPeak,
    fastTroughV: m.vTrough,
    upstrokeDurationS: m.rise,
    downstrokeDurationS: m.fall,
    restingPotentialV: m.restV,
    inputResistanceOhm: m.inputOhm,
    tauS: m.tau,
    rheobaseA: m.rheobase,
    rheobaseFrozenA: m.rheobaseFrozen,
    thresholdV: m.thresholdV,
    apWidthS: m.widthS,
    apAmplitudeV: m.amplitudeV,
    sagTarget: m.sagTarget,
  };
}

/** Resting membrane and leak of the linearised cell (for voltage clamp): Rm and Em including damage. */
export function linearCell(m: NeuronModel, gDmg: number, EDmg: number): { Rm: number; Em: number } {
  const g = 1 / m.inputOhm + gDmg;
  return { Rm: 1 / g, Em: (m.restV / m.inputOhm + gDmg * EDmg) / g };
}

const MAX_SUBSTEP_S = 25e-6;

/**
 * Voltage recorded in current clamp for the injected waveform `command` (A),
 * written into `out` (V, without noise). The cell starts at its steady state
 * for the first command sample (slow gates included).
 */
export function neuronCurrentClamp(m: NeuronModel, link: CellLink, sampleRateHz: number, command: Float32Array, out: Float32Array): void {
  const dtSample = 1 / sampleRateHz;
  const nSub = Math.max(1, Math.ceil(dtSample / MAX_SUBSTEP_S - 1e-9));
  const h = dtSample / nSub;
  const { Rp, Rs, Ra, gDmg, EDmg, offsetV } = link;
  const alpha = Rs / (Ra + Rs);
  const gS = 1 / (Ra + Rs);
  const gTot = m.gL + gS + m.gH * m.qRest + gDmg;
  const eV = Math.exp((-h * gTot) / m.C);
  const eQ = Math.exp(-h / m.tauH);
  const eW = Math.exp(-h / m.tauW);
  const fixed = m.gL * m.EL + m.gH * m.qRest * m.EH + gDmg * EDmg;
  const vAk = Rs / (Ra + Rs); // V_A = (I·Rs·Ra + V·Rs)/(Ra+Rs)
  const iAk = (Rs * Ra) / (Ra + Rs);
  const canSpike = link.canSpike;

  // steady state at the first command value: bisection on the net current
  const i0 = command.length > 0 ? command[0] : 0;
  const net = (v: number): number =>
    -m.gL * (v - m.EL) - gS * v - gDmg * (v - EDmg) + (canSpike ? expTerm(m, v) : 0) - m.gH * qInf(m, v) * (v - m.EH) + alpha * i0;
  let lo = -0.2;
  let hi = canSpike ? m.VT : 0.1;
  let v: number;
  if (net(lo) > 0 && net(hi) < 0) {
    for (let k = 0; k < 60; k++) {
      const mid = 0.5 * (lo + hi);
      if (net(mid) > 0) lo = mid;
      else hi = mid;
    }
    v = 0.5 * (lo + hi);
  } else {
    v = net(hi) >= 0 ? m.VT - m.deltaT : lo;
  }
  let q = qInf(m, v);
  let w = 0;
  let spikeT = -1; // time since switch-over, s; −1 when not spiking
  let s0 = 0;
  let v0 = 0;
  // hoisted constants: this loop runs for every sample of 1–1.5 s sweeps at 50 kHz
  const { gH, EH, VT, qRest, C, vSwitch, vPeak, vTrough, rise, fall, b } = m;
  const invDeltaT = 1 / m.deltaT;
  const gLdT = m.gL * m.deltaT;
  const invSlope = 1 / m.hSlope;
  const hHalf = m.hHalf;
  const spikeEnd = rise + fall;
  const invStep = 1 / SIG_STEP;

  for (let i = 0; i < command.length; i++) {
    const I = command[i];
    out[i] = v * vAk + I * iAk + I * Rp + offsetV;
    const inj = fixed + alpha * I;
    for (let k = 0; k < nSub; k++) {
      // Ih gate towards its steady state (tabulated sigmoid, linear interpolation)
      const f = ((v - hHalf) * invSlope - SIG_LO) * invStep;
      let qi: number;
      if (f <= 0) qi = 1;
      else if (f >= SIG_N - 1) qi = 0;
      else {
        const j = f | 0;
        qi = SIG[j] + (SIG[j + 1] - SIG[j]) * (f - j);
      }
      q = qi + (q - qi) * eQ;
      w *= eW;
      if (spikeT >= 0) {
        spikeT += h;
        if (spikeT < rise) v = hermite(v0, s0, vPeak, 0, rise, spikeT);
        else if (spikeT < spikeEnd) v = hermite(vPeak, 0, vTrough, 0, fall, spikeT - rise);
        else {
          v = vTrough;
          w += b;
          spikeT = -1;
        }
        continue;
      }
      const x = (v - VT) * invDeltaT;
      const ex = canSpike && x > -10 ? gLdT * Math.exp(x < 30 ? x : 30) : 0;
      const drive = inj + ex - w - gH * (q - qRest) * (v - EH);
      const vInf = drive / gTot;
      v = vInf + (v - vInf) * eV;
      if (canSpike && v >= vSwitch) {
        v0 = v;
        const x2 = (v - VT) * invDeltaT;
        const slope = (inj + gLdT * Math.exp(x2 < 30 ? x2 : 30) - w - gH * (q - qRest) * (v - EH) - gTot * v) / C;
        // limit the entry slope so the upstroke cannot overshoot the peak
        s0 = Math.max(0, Math.min(slope, (2 * (vPeak - v0)) / rise));
        spikeT = 0;
      }
    }
  }
}
