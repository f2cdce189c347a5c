/**
 * Stimulus sets → the waveforms an amplifier channel plays, one per sweep:
 * current clamp, SI amperes, sweeps in ascending amplitude so "stop after N
 * spiking sweeps" means what it says. The set's bias is not in the samples: the
 * recorder holds it as the amplifier's current-clamp holding, between and
 * during sweeps, so each sweep reports the bias actually applied.
 */
import type { StimulusWaveform } from '../../drivers/types.ts';
import type { StimulusFamily, StimulusSet } from './types.ts';

const PA = 1e-12;

/** Whole samples in `ms` at `sampleRateKHz` (kHz = samples per ms); the rules ensure it is whole. */
export function msToSamples(ms: number, sampleRateKHz: number): number {
  return Math.round(ms * sampleRateKHz);
}

/** Step amplitudes of a stepped family, pA, ascending; a ramp is one sweep up to max_pA. */
export function sweepAmplitudes_pA(family: StimulusFamily): number[] {
  if (family.type === 'ramp') return [family.max_pA];
  const n = Math.round((family.to_pA - family.from_pA) / family.step_pA) + 1;
  // rounded to 1 fA so 0.1-pA steps do not accumulate binary noise into names
  return Array.from({ length: n }, (_, i) => Math.round((family.from_pA + i * family.step_pA) * 1000) / 1000);
}

/** Length of the stimulus itself (between the baselines), ms. */
export function stimulusDurationMs(family: StimulusFamily): number {
  return family.type === 'ramp' ? (family.max_pA / family.slope_pA_per_s) * 1000 : family.duration_ms;
}

export function sweepCount(set: StimulusSet): number {
  return sweepAmplitudes_pA(set.family).length;
}

/** Whole sweep, baselines included, ms. */
export function sweepDurationMs(set: StimulusSet): number {
  return set.pre_ms + stimulusDurationMs(set.family) + set.post_ms;
}

function signed(pA: number): string {
  return pA > 0 ? `+${pA}` : String(pA);
}

export function expandStimulusSet(set: StimulusSet): StimulusWaveform[] {
  const kHz = set.sample_rate_kHz;
  const sampleRateHz = kHz * 1000;
  const pre = msToSamples(set.pre_ms, kHz);
  const stim = msToSamples(stimulusDurationMs(set.family), kHz);
  const post = msToSamples(set.post_ms, kHz);
  const total = pre + stim + post;
  const family = set.family;

  if (family.type === 'ramp') {
    const samples = new Float32Array(total);
    // sample k of the ramp carries the current reached at its end, so the
    // last stimulus sample is exactly max_pA and the first is already above 0
    for (let k = 0; k < stim; k++) {
      samples[pre + k] = ((family.slope_pA_per_s * (k + 1)) / sampleRateHz) * PA;
    }
    return [
      {
        name: `${set.name} ${family.slope_pA_per_s}pA/s to ${family.max_pA}pA`,
        mode: 'IC',
        sampleRateHz,
        samples,
        onsetIndex: pre,
        lengthSamples: stim,
      },
    ];
  }

  return sweepAmplitudes_pA(family).map((pA) => {
    const samples = new Float32Array(total);
    samples.fill(pA * PA, pre, pre + stim);
    return {
      name: `${set.name} ${signed(pA)}pA`,
      mode: 'IC',
      sampleRateHz,
      samples,
      onsetIndex: pre,
      lengthSamples: stim,
      amplitude: pA * PA,
    };
  });
}
