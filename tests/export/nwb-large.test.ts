import { join } from 'node:path';
import h5wasm from 'h5wasm/node';
import { afterAll, describe, expect, it } from 'vitest';
import { writeNwb } from '../../src/export/nwb/write.ts';
import { readNwb } from '../../src/export/nwb/read.ts';
import type { NwbSweep } from '../../src/export/nwb/model.ts';
import { fixtureInput, prng, samples, tempDir } from './nwb-fixture.ts';

const tmp = tempDir('nwb-large-');
afterAll(() => tmp.cleanup());

const SWEEPS = 200;
const N = 75_000;

/** Sweeps made on demand, so neither the test nor the writer holds the session in memory. */
function* session(seed: number): Generator<NwbSweep> {
  const rand = prng(seed);
  for (let i = 0; i < SWEEPS; i++) {
    const vc = i % 2 === 0;
    const stimulus = new Float32Array(N);
    stimulus.fill(vc ? 0.01 : (i - 100) * 1e-12, 10_000, 60_000);
    yield {
      electrode: i % 4 < 2 ? 'p1-a1' : 'p2-a3',
      sweepNumber: 5000 + i,
      mode: vc ? 'VC' : 'IC',
      response: samples(rand, N, vc ? 1e-10 : 0.07, i % 50 === 0),
      responseUnit: vc ? 'amperes' : 'volts',
      stimulus,
      stimulusUnit: vc ? 'volts' : 'amperes',
      sampleRateHz: 50_000,
      startingTime: 3 * i,
      stimulusDescription: vc ? 'seal-test' : `long-square ${i - 100}pA`,
    };
  }
}

function bytes(a: Float32Array): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

describe('large sessions', () => {
  it('writes one sweep longer than a slice in several slices, chunked, bit-exact', async () => {
    const n = 2_500_003; // not a multiple of the chunk or slice size
    const rand = prng(5);
    const sweep: NwbSweep = {
      electrode: 'p1-a1',
      sweepNumber: 1,
      mode: 'IC',
      response: samples(rand, n, 0.05, true),
      responseUnit: 'volts',
      stimulus: samples(rand, n, 1e-10, false),
      stimulusUnit: 'amperes',
      sampleRateHz: 50_000,
      startingTime: 0,
      stimulusDescription: 'long recording',
    };
    const path = join(tmp.dir, 'long.nwb');
    // first test in a fresh worker: the heap has not yet grown for anything else
    const before = (await h5wasm.ready).HEAPU8.byteLength;
    const report = await writeNwb(path, fixtureInput({}, [sweep]), { chunkSamples: 10_000, sliceSamples: 1_000_000 });
    // one copy of the 10 MB response in the heap would have grown it by more than half of that
    expect(report.wasmHeapBytes - before).toBeLessThan((n * 4) / 2);
    const view = await readNwb(path);
    const r = view.acquisition[0];
    expect(r.dataLength).toBe(n);
    // equal chunks of at most 10 000 samples
    const [chunk] = r.dataChunks!;
    expect(chunk).toBeLessThanOrEqual(10_000);
    expect(Math.ceil(n / chunk)).toBe(Math.ceil(n / 10_000));
    expect(bytes(r.data!).equals(bytes(sweep.response))).toBe(true);
    expect(bytes(view.stimulus[0].data!).equals(bytes(sweep.stimulus!))).toBe(true);
  }, 120_000);

  it(`writes ${SWEEPS} sweeps of ${N} samples incrementally, with a small wasm heap, and reads them back exactly`, async () => {
    const path = join(tmp.dir, 'large.nwb');
    const report = await writeNwb(path, fixtureInput({}, session(11)));
    expect(report.sweeps).toBe(SWEEPS);
    expect(report.sampleBytes).toBe(SWEEPS * 2 * N * 4);
    // the session is 120 MB of samples; written sweep by sweep the heap stays a fraction of that
    expect(report.wasmHeapBytes).toBeLessThan(report.sampleBytes / 2);

    const view = await readNwb(path);
    expect(view.acquisition).toHaveLength(SWEEPS);
    expect(view.stimulus).toHaveLength(SWEEPS);
    const acq = new Map(view.acquisition.map((s) => [s.sweepNumber, s]));
    const stim = new Map(view.stimulus.map((s) => [s.sweepNumber, s]));
    for (const s of session(11)) {
      expect(bytes(acq.get(s.sweepNumber)!.data!).equals(bytes(s.response)), `response ${s.sweepNumber}`).toBe(true);
      expect(bytes(stim.get(s.sweepNumber)!.data!).equals(bytes(s.stimulus!)), `stimulus ${s.sweepNumber}`).toBe(true);
    }
    expect(view.tables!.recordings).toHaveLength(SWEEPS);
    expect(view.tables!.recordings[199].response).toEqual({ idxStart: 0, count: N, target: '/acquisition/sweep_005199' });
  }, 240_000);
});
