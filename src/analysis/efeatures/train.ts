/**
 * Spike-train (per-sweep) features, IPFX definitions (`spike_train_features`):
 *   spikeCount  spikes whose threshold lies in [stimulus start, stimulus end]
 *   avgRate     spikeCount / stimulus duration, Hz
 *   latency     first threshold − stimulus start, s
 *   firstIsi    first inter-spike interval (threshold to threshold), s
 *   meanIsi     mean ISI, s
 *   isiCv       std(ISI)/mean(ISI), population std (divisor n), from one ISI on
 *   adaptation  mean over consecutive ISI pairs of (isi[i+1] − isi[i])/(isi[i+1] + isi[i]);
 *               needs two ISIs
 * Missing values are null.
 */
import type { Spike } from './spikes.ts';

export interface TrainFeatures {
  spikeCount: number;
  avgRate: number;
  latency: number | null;
  firstIsi: number | null;
  meanIsi: number | null;
  isiCv: number | null;
  adaptation: number | null;
}

/** Features of the spikes within the stimulus [startIndex, endIndex] of a trace sampled at fs. */
export function trainFeatures(spikes: readonly Spike[], fs: number, startIndex: number, endIndex: number): TrainFeatures {
  const t0 = startIndex / fs;
  const t1 = endIndex / fs;
  const times: number[] = [];
  for (const s of spikes) if (s.thresholdT >= t0 && s.thresholdT <= t1) times.push(s.thresholdT);
  const duration = t1 - t0;
  const isis: number[] = [];
  for (let i = 1; i < times.length; i++) isis.push(times[i] - times[i - 1]);

  let meanIsi: number | null = null;
  let isiCv: number | null = null;
  if (isis.length > 0) {
    const m = isis.reduce((a, b) => a + b, 0) / isis.length;
    const variance = isis.reduce((a, b) => a + (b - m) * (b - m), 0) / isis.length;
    meanIsi = m;
    isiCv = m > 0 ? Math.sqrt(variance) / m : null;
  }
  let adaptation: number | null = null;
  if (isis.length >= 2) {
    let sum = 0;
    for (let i = 0; i + 1 < isis.length; i++) {
      const d = isis[i + 1] + isis[i];
      sum += d > 0 ? (isis[i + 1] - isis[i]) / d : 0;
    }
    adaptation = sum / (isis.length - 1);
  }
  return {
    spikeCount: times.length,
    avgRate: duration > 0 ? times.length / duration : 0,
    latency: times.length ? times[0] - t0 : null,
    firstIsi: isis.length ? isis[0] : null,
    meanIsi,
    isiCv,
    adaptation,
  };
}
