/**
 * Test-pulse geometry and the line budget it implies. The bridge acquires
 * baseline · step · baseline, each baseline `baselineFraction × width` long
 * (35 % by default), so analysis sees a settled level on both sides.
 */
import { frameBytes } from './protocol.ts';

export interface TestPulsePlan {
  /** samples before the step (= samples after it) */
  onset: number;
  stepLength: number;
  total: number;
  /** acquisition time of one sweep, ms */
  durationMs: number;
}

export function planTestPulse(widthMs: number, sampleRateHz: number, baselineFraction: number): TestPulsePlan {
  const stepLength = Math.max(1, Math.round((widthMs * sampleRateHz) / 1000));
  const onset = Math.max(1, Math.round(stepLength * baselineFraction));
  const total = stepLength + 2 * onset;
  return { onset, stepLength, total, durationMs: (total * 1000) / sampleRateHz };
}

/** Command of one sweep: `level` with `level + step` over the step samples (into `out` if given, `plan.total` long). */
export function stepCommand(plan: TestPulsePlan, level: number, step: number, out = new Float32Array(plan.total)): Float32Array {
  out.fill(level);
  out.fill(level + step, plan.onset, plan.onset + plan.stepLength);
  return out;
}

/** Bytes on the line for one sweep of `samples`, split into frames of `maxFrameSamples`. */
export function sweepBytes(samples: number, maxFrameSamples: number): number {
  const full = Math.floor(samples / maxFrameSamples);
  const rest = samples - full * maxFrameSamples;
  return full * frameBytes(maxFrameSamples) + (rest > 0 || full === 0 ? frameBytes(rest) : 0);
}

export interface LineLoadInput {
  channels: number;
  widthMs: number;
  rateHz: number;
  sampleRateHz: number;
  baselineFraction: number;
  maxFrameSamples: number;
  baudRate: number;
}

/** Fraction of the device→host line that test pulses on every channel use (8N1: 10 bits a byte). */
export function testPulseLineLoad(x: LineLoadInput): number {
  const plan = planTestPulse(x.widthMs, x.sampleRateHz, x.baselineFraction);
  const bytesPerSecond = x.channels * x.rateHz * sweepBytes(plan.total, x.maxFrameSamples);
  return bytesPerSecond / (x.baudRate / 10);
}
