/**
 * Runs pynwb's validator (scripts/validate-nwb.py) on files writeNwb produced.
 * Needs Python with pynwb: `sudo bash scripts/install-nwb-validator.sh`.
 * Skipped, saying so, only when no validator is found and
 * AUTOPATCH_REQUIRE_NWB_VALIDATOR is unset; CI sets it, so there it fails instead.
 */
import { join } from 'node:path';
import h5wasm from 'h5wasm/node';
import { afterAll, describe, expect, it } from 'vitest';
import { writeNwb } from '../../src/export/nwb/write.ts';
import { fixtureInput, sweepsFor, tempDir } from './nwb-fixture.ts';
import { needValidator, validate } from './nwb-validator.ts';

const tmp = tempDir('nwb-validate-');
afterAll(() => tmp.cleanup());

describe('NWB validation with pynwb', () => {
  it('finds no errors against the cached or the bundled schema, and pynwb reads everything back', async (ctx) => {
    const python = needValidator(ctx);
    const sweeps = sweepsFor({ noStimulusAt: 3 });
    const file = join(tmp.dir, 'valid.nwb');
    await writeNwb(file, fixtureInput({}, sweeps));
    const { status, report } = validate(python, file);
    expect(report.errors_cached_spec).toEqual([]);
    expect(report.errors_core_spec).toEqual([]);
    expect(report.read_error).toBeNull();
    expect(report.valid).toBe(true);
    expect(status).toBe(0);

    const read = report.read!;
    expect(read.nwb_version).toBe('2.7.0');
    expect(read.subject_id).toBe('mouse/17');
    expect(Object.keys(read.series)).toHaveLength(38);
    for (const s of sweeps) {
      const name = `sweep_${String(s.sweepNumber).padStart(6, '0')}`;
      const r = read.series[`acquisition/${name}`];
      expect(r).toMatchObject({ type: s.mode === 'VC' ? 'VoltageClampSeries' : 'CurrentClampSeries', dtype: 'float32', length: s.response.length, rate: s.sampleRateHz, sweep_number: s.sweepNumber, electrode: s.electrode });
      expect(read.sweep_table[String(s.sweepNumber)]).toHaveLength(s.stimulus ? 2 : 1);
    }
    expect(read.tables).toEqual({
      intracellular_recordings: 20,
      icephys_simultaneous_recordings: 10,
      icephys_sequential_recordings: 7,
      icephys_repetitions: 3,
      icephys_experimental_conditions: 1,
    });
    // k = 3 was recorded without a stimulus: pynwb sees the "not recorded" marker
    expect(read.recordings[6]).toEqual({ electrode: 'p1-a1', stimulus: [-1, -1, null], response: [0, 2000, 'sweep_001006'] });
    expect(read.recordings[0]).toEqual({ electrode: 'p1-a1', stimulus: [0, 2000, 'sweep_001000'], response: [0, 2000, 'sweep_001000'] });
  }, 180_000);

  it('reports a file that breaks the schema (so a pass above means something)', async (ctx) => {
    const python = needValidator(ctx);
    const file = join(tmp.dir, 'broken.nwb');
    await writeNwb(file, fixtureInput({ perElectrode: 2 }));
    await h5wasm.ready;
    const f = new h5wasm.File(file, 'a');
    (f.get('acquisition/sweep_001002/data') as InstanceType<typeof h5wasm.Dataset>).delete_attribute('unit');
    f.close();
    const { status, report } = validate(python, file);
    expect(status).toBe(1);
    expect(report.valid).toBe(false);
    expect(report.errors_core_spec.join('\n')).toMatch(/sweep_001002\/data.*|unit/);
  }, 180_000);
});
