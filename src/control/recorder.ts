/**
 * The record stage: on a whole-cell recording, note the holding current the
 * cell needs in voltage clamp (its leak), leave voltage clamp through I=0 with
 * the preset's settling delay, play the preset's stimulus sets in current
 * clamp (each set's bias held by the amplifier), QC and store every sweep,
 * then return to voltage clamp at the seal holding potential. E-features (IPFX
 * definitions) are computed from the long-square sweeps that passed QC. Every
 * threshold comes from the preset's `record` section.
 *
 * Aborted (abort, e-stop, fault, skip): the recorder stops where it is — the
 * stimulus being played included — and restores nothing. After an abort, the
 * safe state owns the amplifier; a late "back to voltage clamp at −70 mV, test
 * pulse on" would undo it. After a skip (or a lost cell) the machine asks for
 * the same way back as a completed recording's (`ops.restoreVoltageClamp`),
 * once the recorder has stopped.
 */
import type { Clock } from '../clock/clock.ts';
import { sleep } from '../clock/clock.ts';
import type { AmplifierChannel, Sweep } from '../../drivers/types.ts';
import { analyzeTestPulse } from '../analysis/testpulse.ts';
import { cellFeatures, cellFeaturesRecord, detectSpikes, type LongSquareSweep } from '../analysis/efeatures/index.ts';
import { sweepQcFromSweep, sweepQcRecord } from '../analysis/sweep-qc.ts';
import { recordAnalysis } from '../protocol/record-params.ts';
import { expandStimulusSet } from '../protocol/stimulus.ts';
import type { AutopatchPreset, StimulusSet } from '../protocol/types.ts';
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

/** Test-pulse sweeps averaged for the holding current before the switch. */
const LEAK_SWEEPS = 3;

/**
 * The holding current (A) in voltage clamp at the present holding potential,
 * from the baseline of the next few test-pulse sweeps: the current the cell
 * leaks there. Null when no test pulse arrives in time (test pulse off).
 */
async function holdingCurrent(clock: Clock, amp: AmplifierChannel, preset: AutopatchPreset, signal: AbortSignal): Promise<number | null> {
  const values: number[] = [];
  let off = (): void => {};
  const got = new Promise<void>((resolve) => {
    off = amp.onSweep((s) => {
      if (s.kind !== 'testpulse' || s.mode !== 'VC') return;
      try {
        values.push(analyzeTestPulse(s).ihold);
      } catch {
        return; // not analysable: wait for the next one
      }
      if (values.length >= LEAK_SWEEPS) resolve();
    });
  });
  // a few periods of the preset's test-pulse rate, then give up
  const waited = sleep(clock, ((LEAK_SWEEPS + 2) * 1000) / preset.test_pulse.rate_Hz, signal);
  try {
    await Promise.race([got, waited]);
  } finally {
    off();
  }
  if (signal.aborted) throw abortError();
  return values.length > 0 ? values.reduce((a, b) => a + b, 0) / values.length : null;
}

export function createStimulusRecorder(options: StimulusRecorderOptions): Recorder {
  const { clock, emit } = options;
  return {
    async record({ pipetteId, attemptId, hw, ops, preset, signal }) {
      const amp = hw.amplifier;
      const analysis = recordAnalysis(preset.record);
      const started = clock.now();
      /** the next hardware step, unless the recording has been aborted meanwhile */
      const step = async (work: () => Promise<unknown>): Promise<void> => {
        if (signal.aborted) throw abortError();
        await work();
      };
      const settle = (): Promise<void> => sleep(clock, preset.record.i0_settle_ms, signal);
      const longSquares: LongSquareSweep[] = [];
      let sweeps = 0;

      const leakCurrentA = await holdingCurrent(clock, amp, preset, signal);
      if (leakCurrentA === null) emit({ type: 'log', level: 'warn', pipetteId, message: 'no test pulse before recording: the leak current is not checked' });
      await step(() => ops.testPulseOff());
      await step(() => ops.zeroCurrent());
      await settle();

      for (const name of preset.record.stimulus_sets) {
        const set = options.stimulusSets.get(name);
        if (!set) throw new Error(`stimulus set ${name} was not loaded`);
        await step(() => ops.currentClamp(set.bias_pA));
        let spikingInARow = 0;
        for (const waveform of expandStimulusSet(set)) {
          if (signal.aborted) throw abortError();
          let sweep: Sweep;
          try {
            sweep = await amp.runStimulus(waveform, { signal });
          } catch (e) {
            if (signal.aborted) throw abortError();
            throw e;
          }
          sweeps++;
          const qc = sweepQcFromSweep(sweep, analysis.qc, { leakCurrentA, ramp: set.family.type === 'ramp' });
          emit({ type: 'sweep', pipetteId, attemptId, sweep, qc: sweepQcRecord(qc) });
          const onset = waveform.onsetIndex ?? 0;
          const spikes = detectSpikes(sweep.response, sweep.sampleRateHz, {
            ...analysis.spikes,
            start: onset,
            end: onset + (waveform.lengthSamples ?? sweep.response.length),
          });
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

      // Done: back to voltage clamp through I=0, bias released first so nothing stale is left in IC.
      await step(() => ops.restoreVoltageClamp({ holding_mV: preset.seal.holding_mV, testPulse: preset.test_pulse, settleMs: preset.record.i0_settle_ms }));
      const features = longSquares.length > 0 ? cellFeaturesRecord(cellFeatures(longSquares, analysis.cell)) : {};
      return { sweeps, durationS: (clock.now() - started) / 1000, features };
    },
  };
}
