import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  listPresets,
  listStimulusSets,
  loadPreset,
  loadPresetWithStimuli,
  loadProtocolFile,
  loadStimulusSet,
  PROTOCOLS_DIR,
} from '../../src/protocol/load.ts';
import { jsonErrorOffset, parseJson } from '../../src/protocol/json.ts';
import { presetCopy, protocolError, stimulusCopy, tempDir } from './helpers.ts';

let tmp: ReturnType<typeof tempDir>;
beforeEach(() => {
  tmp = tempDir();
});
afterEach(() => tmp.cleanup());

/** A private protocols/ folder holding copies of the shipped stimuli. */
function privateProtocols(): string {
  const root = join(tmp.dir, 'protocols');
  mkdirSync(join(root, 'presets'), { recursive: true });
  mkdirSync(join(root, 'stimuli'), { recursive: true });
  for (const name of listStimulusSets()) {
    copyFileSync(join(PROTOCOLS_DIR, 'stimuli', `${name}.json`), join(root, 'stimuli', `${name}.json`));
  }
  return root;
}

describe('invalid JSON', () => {
  it('names the file, line and column of a trailing comma', () => {
    const file = tmp.write('in-vivo-blind.json', '{\n  "kind": "autopatch-preset",\n  "name": "x",\n}\n');
    const err = protocolError(() => loadPreset(file));
    expect(err.message).toBe(`${file}: invalid JSON at line 4, column 1: unexpected "}"`);
  });

  it('names the line and column of a missing comma deep in a real preset', () => {
    const text = readFileSync(join(PROTOCOLS_DIR, 'presets', 'in-vivo-blind.json'), 'utf8');
    const broken = text.replace('"suction_mbar": -30,', '"suction_mbar": -30');
    const lines = broken.split('\n');
    const line = lines.findIndex((l) => l.includes('"suction_mbar": -30')) + 2; // the next line
    const column = lines[line - 1].indexOf('"') + 1;
    const file = tmp.write('in-vivo-blind.json', broken);
    const err = protocolError(() => loadPreset(file));
    expect(err.message).toBe(`${file}: invalid JSON at line ${line}, column ${column}: unexpected "\\""`);
  });

  it('reports an unexpected end of file and an empty file', () => {
    const file = tmp.write('cut.json', '{\n  "kind": "stimulus-set",\n  "name": ');
    expect(protocolError(() => loadStimulusSet(file)).message).toBe(`${file}: invalid JSON at line 3, column 11: unexpected end of file`);
    const empty = tmp.write('empty.json', '');
    expect(protocolError(() => loadStimulusSet(empty)).message).toBe(`${empty}: invalid JSON at line 1, column 1: unexpected end of file`);
  });

  it('locates the errors JSON.parse reports without a position', () => {
    expect(jsonErrorOffset('{"a": tru}')).toBe(6);
    expect(jsonErrorOffset('{"a": 1} x')).toBe(9);
    expect(jsonErrorOffset('{"a": "x\ny"}')).toBe(8);
    expect(jsonErrorOffset('{"a": 01}')).toBe(7);
    expect(jsonErrorOffset('[1, 2, {"b": [true, null, -1.5e3, "\\u00b5"]}]')).toBe(-1);
    expect(parseJson('\uFEFF{"a": 1}', 'bom.json')).toEqual({ a: 1 });
  });
});

describe('resolving names and paths', () => {
  it('resolves a bare name in the repository protocols folder, whatever the working directory', () => {
    const before = process.cwd();
    try {
      process.chdir(tmp.dir);
      expect(loadPreset('culture').name).toBe('culture');
      expect(loadStimulusSet('ramp').name).toBe('ramp');
    } finally {
      process.chdir(before);
    }
  });

  it('an unknown name lists the known ones, named as the repository path', () => {
    const err = protocolError(() => loadPreset('in-vivo'));
    expect(err.message).toBe('protocols/presets/in-vivo.json: no such preset: known presets are acute-slice, culture, in-vivo-blind');
    const err2 = protocolError(() => loadStimulusSet('square'));
    expect(err2.message).toBe('protocols/stimuli/square.json: no such stimulus set: known stimulus sets are long-square, ramp, short-square');
  });

  it('a missing path is reported as such', () => {
    const path = join(tmp.dir, 'nope.json');
    expect(protocolError(() => loadPreset(path)).message).toBe(`${path}: file not found`);
  });

  it('uses another protocols folder when asked', () => {
    const root = privateProtocols();
    const preset = presetCopy('acute-slice');
    preset.name = 'mine';
    tmp.write('protocols/presets/mine.json', JSON.stringify(preset));
    expect(listPresets({ protocolsDir: root })).toEqual(['mine']);
    expect(listStimulusSets({ protocolsDir: root })).toEqual(listStimulusSets());
    expect(loadPreset('mine', { protocolsDir: root }).preparation).toBe('slice');
    const err = protocolError(() => loadPreset('acute-slice', { protocolsDir: root }));
    expect(err.message).toBe('protocols/presets/acute-slice.json: no such preset: known presets are mine');
  });

  it('lists nothing for a folder without protocols', () => {
    expect(listPresets({ protocolsDir: tmp.dir })).toEqual([]);
  });
});

describe('checks that need the files', () => {
  it('the name inside a file must match its file name', () => {
    const preset = presetCopy();
    const file = tmp.write('other-name.json', JSON.stringify(preset));
    const err = protocolError(() => loadPreset(file));
    expect(err.problems.map((p) => p.path)).toEqual(['name']);
    expect(err.message).toBe(`${file}: name = "in-vivo-blind" does not match the file name: must be "other-name"`);
  });

  it('a preset may only record stimulus sets that exist', () => {
    const preset = presetCopy();
    preset.record.stimulus_sets = ['long-square', 'long-squares'];
    const file = tmp.write('in-vivo-blind.json', JSON.stringify(preset));
    const err = protocolError(() => loadPreset(file));
    expect(err.message).toBe(
      `${file}: record.stimulus_sets[1] = "long-squares" is not a known stimulus set (looked for long-squares.json next to the preset, then among the shipped sets): ` +
        'must be one of "long-square", "ramp", "short-square"',
    );
  });

  it('a preset recording an invalid stimulus set is invalid, with the set\'s own problem quoted', () => {
    const root = privateProtocols();
    const ramp = stimulusCopy('ramp');
    ramp.sample_rate_kHz = 1;
    tmp.write('protocols/stimuli/ramp.json', JSON.stringify(ramp));
    const preset = presetCopy('acute-slice');
    const file = tmp.write('protocols/presets/acute-slice.json', JSON.stringify(preset));
    const err = protocolError(() => loadPreset('acute-slice', { protocolsDir: root }));
    expect(err.source).toBe('protocols/presets/acute-slice.json');
    expect(err.problems.map((p) => p.path)).toEqual(['record.stimulus_sets[2]']);
    expect(err.message).toBe(
      'protocols/presets/acute-slice.json: record.stimulus_sets[2] = "ramp" is an invalid stimulus set: ' +
        'protocols/stimuli/ramp.json: sample_rate_kHz = 1 is out of range: must be between 50 and 200 kHz',
    );
    expect(file).toContain('acute-slice.json');
  });

  it('a preset given by path finds its stimulus sets next to it first, then among the shipped ones', () => {
    const preset = presetCopy('culture');
    preset.record.stimulus_sets = ['my-steps', 'ramp'];
    const mine = stimulusCopy('long-square');
    mine.name = 'my-steps';
    mine.family = { type: 'long-square', from_pA: -50, to_pA: 50, step_pA: 50, duration_ms: 500 };
    tmp.write('my-steps.json', JSON.stringify(mine));
    const file = tmp.write('culture.json', JSON.stringify(preset));
    const { preset: loaded, stimulusSets } = loadPresetWithStimuli(file);
    expect(loaded.record.stimulus_sets).toEqual(['my-steps', 'ramp']);
    expect(stimulusSets.get('my-steps')?.family).toMatchObject({ from_pA: -50, to_pA: 50, duration_ms: 500 });
    // not beside it: the shipped one
    expect(stimulusSets.get('ramp')).toEqual(loadStimulusSet('ramp'));
    // a set beside the preset wins over the shipped set of the same name
    const ramp = stimulusCopy('ramp');
    ramp.family = { type: 'ramp', slope_pA_per_s: 50, max_pA: 200 };
    tmp.write('ramp.json', JSON.stringify(ramp));
    expect(loadPresetWithStimuli(file).stimulusSets.get('ramp')?.family).toEqual({ type: 'ramp', slope_pA_per_s: 50, max_pA: 200 });
    // and an invalid one beside it is reported as the preset's problem, named by its path
    ramp.sample_rate_kHz = 20;
    const rampFile = tmp.write('ramp.json', JSON.stringify(ramp));
    const err = protocolError(() => loadPreset(file));
    expect(err.problems.map((p) => p.path)).toEqual(['record.stimulus_sets[1]']);
    expect(err.message).toContain(`${rampFile}: sample_rate_kHz = 20 is out of range: must be between 50 and 200 kHz`);
    // a bare preset name still uses only the shipped sets
    expect(loadPresetWithStimuli('culture').stimulusSets.get('ramp')).toEqual(loadStimulusSet('ramp'));
  });

  it('a stimulus set must sample above twice the spike filter and hold no more bias than the leak limit', () => {
    const root = privateProtocols();
    const set = stimulusCopy('long-square');
    set.bias_pA = 150;
    tmp.write('protocols/stimuli/long-square.json', JSON.stringify(set));
    const preset = presetCopy('in-vivo-blind');
    preset.record.analysis.spike_detection.filter_kHz = 25;
    tmp.write('protocols/presets/in-vivo-blind.json', JSON.stringify(preset));
    const err = protocolError(() => loadPreset('in-vivo-blind', { protocolsDir: root }));
    expect(err.problems.map((p) => p.path)).toEqual(['record.stimulus_sets[0]', 'record.stimulus_sets[0]']);
    expect(err.message).toBe(
      'protocols/presets/in-vivo-blind.json: record.stimulus_sets[0] = "long-square" samples at sample_rate_kHz = 50 kHz: ' +
        'must be > 2 × record.analysis.spike_detection.filter_kHz (50 kHz) — spike detection low-passes dV/dt at 25 kHz, which needs a sample rate above twice that\n' +
        'protocols/presets/in-vivo-blind.json: record.stimulus_sets[0] = "long-square" holds bias_pA = 150 pA: ' +
        '|bias_pA| must be ≤ record.sweep_qc.max_leak_pA (100 pA) — every one of its sweeps would fail the leak/bias QC',
    );
    // within both limits it loads
    preset.record.analysis.spike_detection.filter_kHz = 10;
    preset.record.sweep_qc.max_leak_pA = 150;
    tmp.write('protocols/presets/in-vivo-blind.json', JSON.stringify(preset));
    expect(loadPreset('in-vivo-blind', { protocolsDir: root }).record.sweep_qc.max_leak_pA).toBe(150);
  });

  it('validation errors of a loaded file carry its path', () => {
    const set = stimulusCopy();
    set.pre_ms = 0;
    const file = tmp.write('long-square.json', JSON.stringify(set));
    expect(protocolError(() => loadStimulusSet(file)).message).toBe(
      `${file}: pre_ms = 0 is out of range: must be between 100 and 10000 ms`,
    );
  });
});

describe('loadProtocolFile', () => {
  it('recognises the kind of a file', () => {
    const preset = tmp.write('culture.json', JSON.stringify(presetCopy('culture')));
    const set = tmp.write('ramp.json', JSON.stringify(stimulusCopy('ramp')));
    expect(loadProtocolFile(preset).kind).toBe('autopatch-preset');
    expect(loadProtocolFile(set).kind).toBe('stimulus-set');
    expect(loadProtocolFile('culture').kind).toBe('autopatch-preset');
    expect(loadProtocolFile('ramp').kind).toBe('stimulus-set');
  });

  it('rejects a file without a known kind, naming the field and the allowed values', () => {
    const none = tmp.write('a.json', '{"name": "a"}');
    expect(protocolError(() => loadProtocolFile(none)).message).toBe(
      `${none}: kind is missing: must be one of "autopatch-preset", "stimulus-set"`,
    );
    const other = tmp.write('b.json', '{"kind": "rig"}');
    expect(protocolError(() => loadProtocolFile(other)).message).toBe(
      `${other}: kind = "rig" is not allowed: must be one of "autopatch-preset", "stimulus-set"`,
    );
    const list = tmp.write('c.json', '[]');
    expect(protocolError(() => loadProtocolFile(list)).problems[0].path).toBe('kind');
  });

  it('rejects an unknown bare name', () => {
    expect(protocolError(() => loadProtocolFile('nothing')).message).toContain('nothing: no preset or stimulus set of this name');
  });
});
