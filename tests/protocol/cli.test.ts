import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { protocolsCommand, protocolsCommandFor } from '../../src/cli/commands/protocols.ts';
import type { CliIO } from '../../src/cli/io.ts';
import { PROTOCOLS_DIR } from '../../src/protocol/load.ts';
import { presetCopy, stimulusCopy, tempDir } from './helpers.ts';

function capture(): CliIO & { out: string; err: string } {
  const io = {
    out: '',
    err: '',
    stdout: (t: string) => {
      io.out += t;
    },
    stderr: (t: string) => {
      io.err += t;
    },
  };
  return io;
}

let tmp: ReturnType<typeof tempDir>;
beforeEach(() => {
  tmp = tempDir();
});
afterEach(() => tmp.cleanup());

describe('protocols check', () => {
  it('exits 0 and says ok for each valid file, preset or stimulus set', async () => {
    const io = capture();
    const preset = join(PROTOCOLS_DIR, 'presets', 'acute-slice.json');
    const set = join(PROTOCOLS_DIR, 'stimuli', 'ramp.json');
    const code = await protocolsCommand(['check', preset, set, 'culture'], io);
    expect(code).toBe(0);
    expect(io.out).toBe(
      `${preset}: ok (preset "acute-slice")\n${set}: ok (stimulus set "ramp")\nculture: ok (preset "culture")\n`,
    );
    expect(io.err).toBe('');
  });

  it('exits 1 with one message per problem, and still checks the other files', async () => {
    const bad = presetCopy();
    bad.seal.suction_mbar = 40;
    bad.hunt.mode = 'zigzag' as 'stepwise';
    const badFile = tmp.write('in-vivo-blind.json', JSON.stringify(bad));
    const badSet = stimulusCopy('short-square');
    (badSet as Record<string, unknown>).extra = 1;
    const badSetFile = tmp.write('short-square.json', JSON.stringify(badSet));
    const good = tmp.write('ramp.json', JSON.stringify(stimulusCopy('ramp')));
    const io = capture();
    const code = await protocolsCommand(['check', badFile, good, badSetFile], io);
    expect(code).toBe(1);
    expect(io.out).toBe(`${good}: ok (stimulus set "ramp")\n`);
    expect(io.err.split('\n')).toEqual([
      `${badFile}: hunt.mode = "zigzag" is not allowed: must be one of "stepwise", "continuous"`,
      `${badFile}: seal.suction_mbar = 40 is out of range: must be between -600 and 0 mbar`,
      `${badSetFile}: extra is not a known field: allowed fields here are kind, name, description, sample_rate_kHz, pre_ms, post_ms, inter_sweep_s, bias_pA, family, stop_after_spiking_sweeps`,
      '2 of 3 files invalid',
      '',
    ]);
  });

  it('exits 1 for invalid JSON and for a file of unknown kind', async () => {
    const broken = tmp.write('x.json', '{"kind": "stimulus-set",,}');
    const other = tmp.write('y.json', '{"kind": "rig"}');
    const io = capture();
    expect(await protocolsCommand(['check', broken, other], io)).toBe(1);
    expect(io.err).toContain(`${broken}: invalid JSON at line 1, column 25: unexpected ","`);
    expect(io.err).toContain(`${other}: kind = "rig" is not allowed`);
    expect(io.out).toBe('');
  });

  it('exits 2 with usage when no file is given', async () => {
    const io = capture();
    expect(await protocolsCommand(['check'], io)).toBe(2);
    expect(io.err).toContain('no files given');
    expect(io.err).toContain('usage:');
  });
});

describe('protocols list and usage', () => {
  it('lists every shipped preset and stimulus set with a summary', async () => {
    const io = capture();
    expect(await protocolsCommand(['list'], io)).toBe(0);
    const lines = io.out.split('\n');
    expect(lines[0]).toBe(`presets (${join(PROTOCOLS_DIR, 'presets')}):`);
    expect(lines[1]).toMatch(/^ {2}acute-slice {4}slice, targeted — Targeted whole-cell/);
    expect(lines[2]).toMatch(/^ {2}culture {8}culture, targeted — /);
    expect(lines[3]).toMatch(/^ {2}in-vivo-blind {2}in-vivo, blind — /);
    expect(lines[4]).toBe(`stimulus sets (${join(PROTOCOLS_DIR, 'stimuli')}):`);
    expect(lines[5]).toMatch(/^ {2}long-square {3}16 sweeps of 5 s at 50 kHz — /);
    expect(lines[6]).toMatch(/^ {2}ramp {10}1 sweep of 22 s at 50 kHz — /);
    expect(lines[7]).toMatch(/^ {2}short-square {2}10 sweeps of 2\.003 s at 50 kHz — /);
    expect(io.err).toBe('');
  });

  it('marks an invalid file in the list, prints its problems and exits 1', async () => {
    const root = join(tmp.dir, 'protocols');
    const set = stimulusCopy('ramp');
    tmp.write('protocols/stimuli/ramp.json', JSON.stringify(set));
    const bad = presetCopy('culture');
    bad.seal.gigaseal_MOhm = 10;
    tmp.write('protocols/presets/culture.json', JSON.stringify({ ...bad, record: { ...bad.record, stimulus_sets: ['ramp'] } }));
    const io = capture();
    expect(await protocolsCommandFor({ protocolsDir: root })(['list'], io)).toBe(1);
    expect(io.out).toBe(
      `presets (${join(root, 'presets')}):\n  culture  INVALID (see below)\n` +
        `stimulus sets (${join(root, 'stimuli')}):\n  ramp  1 sweep of 22 s at 50 kHz — Current-clamp ramp at 25 pA/s (the Allen/IPFX ramp).\n`,
    );
    expect(io.err).toBe('protocols/presets/culture.json: seal.gigaseal_MOhm = 10 is out of range: must be between 100 and 100000 MΩ\n');
  });

  it('rejects unknown subcommands and extra arguments with exit 2; help exits 0', async () => {
    let io = capture();
    expect(await protocolsCommand(['frobnicate'], io)).toBe(2);
    expect(io.err).toContain('unknown subcommand "frobnicate"');
    io = capture();
    expect(await protocolsCommand(['list', 'x'], io)).toBe(2);
    io = capture();
    expect(await protocolsCommand([], io)).toBe(2);
    expect(io.out).toContain('usage:');
    io = capture();
    expect(await protocolsCommand(['--help'], io)).toBe(0);
    expect(io.out).toContain('protocols check FILE...');
  });
});
