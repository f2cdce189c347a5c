/**
 * Test-pulse sweeps from the physics model (src/sim) at a preset's settings,
 * framed as the amplifier driver delivers them: for the analysis tests and the
 * analysis bench.
 */
import { planTestPulse, stepCommand } from '../../drivers/amplifiers/amp-bridge/waveforms.ts';
import type { Sweep } from '../../drivers/types.ts';
import type { AutopatchPreset } from '../../src/protocol/types.ts';
import type { OneCell } from '../sim/helpers.ts';

export const HOLDING_V = -0.07;

/** One sweep at the preset's width, amplitude and sample rate (35 % baseline each side); time moves on one period. */
export function physicsSweep(c: OneCell, preset: AutopatchPreset): Sweep {
  const tp = preset.test_pulse;
  const fs = tp.sample_rate_kHz * 1000;
  const plan = planTestPulse(tp.width_ms, fs, 0.35);
  const amplitude = tp.amplitude_mV / 1000;
  const response = c.p.sim.voltageClamp(c.p.t, fs, stepCommand(plan, HOLDING_V, amplitude));
  c.p.wait(1000 / tp.rate_Hz);
  return {
    channel: 0,
    seq: 0,
    kind: 'testpulse',
    mode: 'VC',
    startTime: c.p.t,
    sampleRateHz: fs,
    response,
    responseUnit: 'A',
    holding: HOLDING_V,
    step: { amplitude, onsetIndex: plan.onset, lengthSamples: plan.stepLength },
  };
}
