/**
 * The record stage: on a whole-cell recording, leave voltage clamp through
 * I=0 (with the amplifier's settling delay), play the preset's stimulus sets
 * in current clamp, QC and store every sweep, then return to voltage clamp at
 * the seal holding potential. E-features (IPFX definitions) are computed from
 * the long-square sweeps that passed QC.
 */
import type { Clock } from '../clock/clock.ts';
import { sleep } from '../clock/clock.ts';
import type { Sweep } from '../../drivers/types.ts';
import { cellFeatures, cellFeaturesRecord, detectSpikes, type LongSquareSweep } from '../analysis/efeatures/index.ts';
import { sweepQcFromSweep, sweepQcRecord } from '../analysis/sweep-qc.ts';
import { expandStimulusSet } from '../protocol/stimulus.ts';
import type { StimulusSet } from '../protocol/types.ts';
import type { RigEventInput } from './event-sink.ts';
import type { Recorder } from './pipette-runner.ts';

export interface StimulusRecorderOptions {
  clock: Clock;
  emit: (event: RigEventInput) => void;
  /** stimulus sets by name, loaded and validated before the session starts */
  stimulusSets: ReadonlyMap<string, StimulusSet>;
}

function abortError(): Error {
  return Object.assign(new Error('recording aborted'), { name: 'AbortError' });
}

export function createStimulusRecorder(options: StimulusRecorderOptions): Recorder {
  const { clock, emit } = options;
  return {
    async record({ pipetteId, attemptId, hw, preset, signal }) {
      const amp = hw.amplifier;
      const started = clock.now();
      const settle = (): Promise<void> => sleep(clock, preset.record.i0_settle_ms, signal);
      const longSquares: LongSquareSweep[] = [];
      let sweeps = 0;
      const tp = (await amp.status()).testPulse;

      await amp.setTestPulse({ enabled: false });
      await amp.setMode('I0');
      await settle();
      await amp.setMode('IC');
      await amp.setHolding(0);
      try {
        for (const name of preset.record.stimulus_sets) {
          const set = options.stimulusSets.get(name);
          if (!set) throw new Error(`stimulus set ${name} was not loaded`);
          let spikingInARow = 0;
          for (const waveform of expandStimulusSet(set)) {
            if (signal.aborted) throw abortError();
            const sweep: Sweep = await amp.runStimulus(waveform);
            sweeps++;
            const qc = sweepQcFromSweep(sweep);
            emit({ type: 'sweep', pipetteId, attemptId, sweep, qc: sweepQcRecord(qc) });
            const spikes = detectSpikes(sweep.response, sweep.sampleRateHz);
            spikingInARow = spikes.length > 0 ? spikingInARow + 1 : 0;
            if (set.family.type === 'long-square' && qc.passed && waveform.onsetIndex !== undefined && waveform.lengthSamples !== undefined) {
              longSquares.push({
                v: sweep.response,
                fs: sweep.sampleRateHz,
                stimulusAmplitudeA: waveform.amplitude ?? 0,
                onsetIndex: waveform.onsetIndex,
                lengthSamples: waveform.lengthSamples,
              });
            }
            if (set.stop_after_spiking_sweeps > 0 && spikingInARow >= set.stop_after_spiking_sweeps) break;
            await sleep(clock, set.inter_sweep_s * 1000, signal);
          }
        }
      } finally {
        // Back to voltage clamp through I=0 whatever happened, so the cell is held again.
        await amp.setMode('I0').catch(() => {});
        await sleep(clock, preset.record.i0_settle_ms).catch(() => {});
        await amp.setMode('VC').catch(() => {});
        await amp.setHolding(preset.seal.holding_mV / 1000).catch(() => {});
        await amp.setTestPulse({ ...tp, enabled: true }).catch(() => {});
      }
      const features = longSquares.length > 0 ? cellFeaturesRecord(cellFeatures(longSquares)) : {};
      return { sweeps, durationS: (clock.now() - started) / 1000, features };
    },
  };
}
