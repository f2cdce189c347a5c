/**
 * I=0 sweeps (the resting-potential measurement, no current injected) are
 * NWB IZeroClampSeries: no stimulus series, stimulus_description "N/A", bias,
 * bridge balance and capacitance compensation written as the 0.0 the schema
 * fixes. pynwb validates the file and reads them back as IZeroClampSeries.
 */
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { NwbInputError, type NwbSweep } from '../../src/export/nwb/model.ts';
import { readNwb } from '../../src/export/nwb/read.ts';
import { writeNwb } from '../../src/export/nwb/write.ts';
import { fixtureInput, prng, samples, sweepsFor, tempDir } from './nwb-fixture.ts';
import { needValidator, validate } from './nwb-validator.ts';

const tmp = tempDir('nwb-izero-');
afterAll(() => tmp.cleanup());

function izero(sweepNumber: number, electrode = 'p1-a1'): NwbSweep {
  return {
    electrode,
    sweepNumber,
    mode: 'I0',
    response: samples(prng(sweepNumber), 10_000, 0.07, false),
    responseUnit: 'volts',
    stimulus: null,
    stimulusUnit: 'amperes',
    sampleRateHz: 50_000,
    startingTime: 2 + sweepNumber * 1e-3,
    stimulusDescription: 'vrest',
  };
}

describe('IZeroClampSeries', () => {
  const sweeps = [izero(1), izero(2, 'p2-a3'), ...sweepsFor({ perElectrode: 2 })];

  it('writes an I=0 sweep without a stimulus, with the fixed zeros and "N/A"', async () => {
    const file = join(tmp.dir, 'izero.nwb');
    const report = await writeNwb(file, fixtureInput({}, sweeps));
    expect(report.sweeps).toBe(6);
    expect(report.series).toBe(2 + 4 * 2);
    const view = await readNwb(file);
    const i0 = view.acquisition.filter((s) => s.neurodataType === 'IZeroClampSeries');
    expect(i0.map((s) => s.sweepNumber)).toEqual([1, 2]);
    for (const s of i0) {
      expect(s.unit).toBe('volts');
      expect(s.stimulusDescription).toBe('N/A');
      expect(s.scalars).toMatchObject({ bias_current: 0, bridge_balance: 0, capacitance_compensation: 0 });
      expect(Buffer.from(s.data!.buffer).equals(Buffer.from(sweeps.find((x) => x.sweepNumber === s.sweepNumber)!.response.buffer))).toBe(true);
    }
    expect(view.stimulus.some((s) => s.sweepNumber === 1 || s.sweepNumber === 2)).toBe(false);
    // the recordings table marks "no stimulus" for them, as the schema prescribes
    const row = view.tables!.recordings[0];
    expect(row.stimulus).toMatchObject({ idxStart: -1, count: -1 });
  });

  it('refuses an I=0 sweep that carries a stimulus', async () => {
    const bad = { ...izero(3), stimulus: new Float32Array(10_000) };
    await expect(writeNwb(join(tmp.dir, 'bad.nwb'), fixtureInput({}, [bad]))).rejects.toThrow(NwbInputError);
    await expect(writeNwb(join(tmp.dir, 'bad.nwb'), fixtureInput({}, [bad]))).rejects.toThrow(/I=0 sweep has no stimulus/);
  });

  it('validates with pynwb, which reads them back as IZeroClampSeries with the samples written', async (ctx) => {
    const python = needValidator(ctx);
    const file = join(tmp.dir, 'izero-valid.nwb');
    await writeNwb(file, fixtureInput({}, sweeps));
    const { status, report } = validate(python, file);
    expect(report.errors_cached_spec).toEqual([]);
    expect(report.errors_core_spec).toEqual([]);
    expect(report.read_error).toBeNull();
    expect(status).toBe(0);
    const s = report.read!.series['acquisition/sweep_000001'];
    expect(s).toMatchObject({ type: 'IZeroClampSeries', dtype: 'float32', length: 10_000, bias_current: 0 });
    const { createHash } = await import('node:crypto');
    const r = sweeps[0].response;
    expect(s.sha256).toBe(createHash('sha256').update(Buffer.from(r.buffer, r.byteOffset, r.byteLength)).digest('hex'));
    expect(report.read!.sweep_table['1']).toEqual(['sweep_000001:IZeroClampSeries']);
  }, 180_000);
});
