/**
 * Runs pynwb's validator (scripts/validate-nwb.py) on files writeNwb produced.
 * Needs Python with pynwb: `sudo bash scripts/install-nwb-validator.sh`.
 * Skipped, saying so, only when no validator is found and
 * AUTOPATCH_REQUIRE_NWB_VALIDATOR is unset; CI sets it, so there it fails instead.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import h5wasm from 'h5wasm/node';
import { afterAll, describe, expect, it, type TestContext } from 'vitest';
import { writeNwb } from '../../src/export/nwb/write.ts';
import { fixtureInput, sweepsFor, tempDir } from './nwb-fixture.ts';

const SCRIPT = resolve('scripts/validate-nwb.py');
const REQUIRED = Boolean(process.env.AUTOPATCH_REQUIRE_NWB_VALIDATOR);
const tmp = tempDir('nwb-validate-');
afterAll(() => tmp.cleanup());

interface Probe {
  python: string | null;
  notes: string[];
}

/** The first Python that can import pynwb (the distro's python3 first: pyenv/venv shims often lack h5py). */
function findValidator(): Probe {
  const candidates = [process.env.AUTOPATCH_PYTHON, '/usr/bin/python3', 'python3'].filter((p): p is string => Boolean(p));
  const notes: string[] = [];
  for (const python of candidates) {
    if (python.startsWith('/') && !existsSync(python)) continue;
    const r = spawnSync(python, [SCRIPT, '--probe'], { encoding: 'utf8', timeout: 60_000 });
    if (r.status === 0) return { python, notes };
    notes.push(`${python}: ${(r.stdout || r.stderr || String(r.error)).trim()}`);
  }
  return { python: null, notes };
}

const probe = findValidator();

function needValidator(ctx: TestContext): string {
  if (probe.python) return probe.python;
  const why = `no NWB validator (pynwb) found — install it with: sudo bash scripts/install-nwb-validator.sh\n${probe.notes.join('\n')}`;
  if (REQUIRED) throw new Error(`AUTOPATCH_REQUIRE_NWB_VALIDATOR is set but ${why}`);
  ctx.skip(why);
  throw new Error('unreachable');
}

interface Report {
  valid: boolean;
  errors_cached_spec: string[];
  errors_core_spec: string[];
  read_error: string | null;
  read: {
    nwb_version: string;
    series: Record<string, { type: string; dtype: string; length: number; rate: number; sweep_number: number; electrode: string; device: string; unit: string }>;
    sweep_table: Record<string, string[]>;
    tables: Record<string, number>;
    recordings: { electrode: string; stimulus: [number, number, string | null]; response: [number, number, string] }[];
    subject_id: string;
  } | null;
}

function validate(python: string, file: string): { status: number | null; report: Report } {
  const r = spawnSync(python, [SCRIPT, file], { encoding: 'utf8', timeout: 120_000, maxBuffer: 64 * 1024 * 1024 });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  if (!line.startsWith('{')) throw new Error(`validator printed no report (exit ${r.status}): ${r.stderr}`);
  return { status: r.status, report: JSON.parse(line) as Report };
}

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
