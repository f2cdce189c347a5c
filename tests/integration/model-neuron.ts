/**
 * Ground truth for the e-feature checks: a recorded cell's model neuron driven
 * directly (src/sim/neuron.ts), through the same pipette, seal and access
 * resistances the rig had when it recorded, with no amplifier, noise or
 * analysis in between. Spikes are counted where V crosses half their height.
 *
 * The world exposes a cell's neuron as `neuronRecord` (its parameters); the
 * model is rebuilt from it. Two fields are derived in `drawNeuron` and not in
 * the record: the Ih gate at rest and the switch-over voltage of the spike
 * waveform — recomputed here the same way (a drift between the two shows as a
 * rebuilt input resistance that no longer matches the record, checked by the test).
 */
import { neuronCurrentClamp, type CellLink, type NeuronModel } from '../../src/sim/neuron.ts';

export type Circuit = Pick<CellLink, 'Rp' | 'Rs' | 'Ra'>;

export function neuronModelOf(r: Record<string, number>): NeuronModel {
  const maxUp = (1.5 * r.apAmplitudeV) / r.upstrokeDurationS;
  return {
    C: r.capacitanceF,
    gL: r.leakConductanceS,
    EL: r.leakReversalV,
    VT: r.spikeInitiationV,
    deltaT: r.spikeSlopeFactorV,
    b: r.adaptationIncrementA,
    tauW: r.adaptationTauS,
    gH: r.hConductanceS,
    EH: r.hReversalV,
    hHalf: r.hHalfActivationV,
    hSlope: r.hSlopeV,
    tauH: r.hTauS,
    vSwitch: r.spikeInitiationV + r.spikeSlopeFactorV * Math.log((0.3 * maxUp * r.tauS) / r.spikeSlopeFactorV),
    vPeak: r.spikePeakV,
    vTrough: r.fastTroughV,
    rise: r.upstrokeDurationS,
    fall: r.downstrokeDurationS,
    restV: r.restingPotentialV,
    inputOhm: r.inputResistanceOhm,
    tau: r.tauS,
    qRest: 1 / (1 + Math.exp((r.restingPotentialV - r.hHalfActivationV) / r.hSlopeV)),
    rheobase: r.rheobaseA,
    rheobaseFrozen: r.rheobaseFrozenA,
    thresholdV: r.thresholdV,
    widthS: r.apWidthS,
    amplitudeV: r.apAmplitudeV,
    sagTarget: r.sagTarget,
  };
}

const FS = 50_000;

/** V at the pipette for a 1 s step of `amplitudeA` after 100 ms at 0 A; and the spike times (s from the step). */
export function modelStep(m: NeuronModel, c: Circuit, amplitudeA: number): { baselineV: number; spikes: number[] } {
  const pre = 0.1 * FS;
  const n = pre + FS;
  const command = new Float32Array(n).fill(amplitudeA, pre);
  const v = new Float32Array(n);
  neuronCurrentClamp(m, { ...c, gDmg: 0, EDmg: 0, offsetV: 0, canSpike: true }, FS, command, v);
  let base = 0;
  for (let i = 0; i < pre; i++) base += v[i];
  const level = m.thresholdV + m.amplitudeV / 2;
  const spikes: number[] = [];
  for (let i = pre + 1; i < n; i++) if (v[i - 1] < level && v[i] >= level) spikes.push((i - pre) / FS);
  return { baselineV: base / pre, spikes };
}

/** IPFX's adaptation index of a spike train; null under three spikes. */
export function adaptationIndex(times: number[]): number | null {
  const isi = times.slice(1).map((t, i) => t - times[i]);
  if (isi.length < 2) return null;
  let sum = 0;
  for (let i = 0; i + 1 < isi.length; i++) sum += (isi[i + 1] - isi[i]) / (isi[i + 1] + isi[i]);
  return sum / (isi.length - 1);
}

/**
 * How far the adaptation index can move if each spike time is off by up to `jitterS`
 * (to first order): each term (b − a)/(b + a) moves by ≤ 2·jitter·(|∂/∂a| + |∂/∂b|) = 4·jitter/(a + b).
 */
export function adaptationJitterBound(times: number[], jitterS: number): number | null {
  const isi = times.slice(1).map((t, i) => t - times[i]);
  if (isi.length < 2) return null;
  let sum = 0;
  for (let i = 0; i + 1 < isi.length; i++) sum += (4 * jitterS) / (isi[i + 1] + isi[i]);
  return sum / (isi.length - 1);
}

export interface ModelFeatures {
  baselineV: number;
  rheobaseA: number | null;
  /** least-squares rate vs current over the spiking steps, Hz/A */
  fiSlope: number | null;
  /**
   * How far the slope can move if each spiking sweep's count is off by one spike (1 Hz on a
   * 1 s step), Hz/A: Σ|a − ā| / Σ(a − ā)². A noisy recording of the same neuron may differ by that.
   */
  fiSlopeOneSpike: number | null;
  /** at the given hero amplitude */
  heroAdaptation: number | null;
  /** what 1 ms of spike-time jitter (recording noise near threshold) can do to it */
  heroAdaptationBound: number | null;
}

/**
 * The model's answers to a long-square family (amplitudes in A) and its hero sweep. `circuit`
 * gives the circuit the rig had at each amplitude's sweep (access and seal change during a
 * recording), or one circuit for all.
 */
export function modelFeatures(m: NeuronModel, circuit: Circuit | ((amplitudeA: number) => Circuit), amplitudesA: number[], heroA: number): ModelFeatures {
  const at = typeof circuit === 'function' ? circuit : () => circuit;
  const spiking = amplitudesA.map((a) => ({ a, rate: modelStep(m, at(a), a).spikes.length })).filter((x) => x.rate > 0);
  let fiSlope: number | null = null;
  let fiSlopeOneSpike: number | null = null;
  if (spiking.length >= 2) {
    const mx = spiking.reduce((s, x) => s + x.a, 0) / spiking.length;
    const my = spiking.reduce((s, x) => s + x.rate, 0) / spiking.length;
    let sxy = 0;
    let sxx = 0;
    for (const x of spiking) {
      sxy += (x.a - mx) * (x.rate - my);
      sxx += (x.a - mx) ** 2;
    }
    fiSlope = sxy / sxx;
    fiSlopeOneSpike = spiking.reduce((sum, x) => sum + Math.abs(x.a - mx), 0) / sxx;
  }
  const hero = modelStep(m, at(heroA), heroA).spikes;
  return {
    baselineV: modelStep(m, at(0), 0).baselineV,
    rheobaseA: spiking.find((x) => x.a > 0)?.a ?? null,
    fiSlope,
    fiSlopeOneSpike,
    heroAdaptation: adaptationIndex(hero),
    heroAdaptationBound: adaptationJitterBound(hero, 1e-3),
  };
}
