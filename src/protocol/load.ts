/**
 * Reading, validating and listing the protocol files. A bare name resolves in
 * the repository's `protocols/` folder (found relative to this module, so the
 * working directory does not matter); anything with a slash or `.json` is a path.
 * Every failure is a ProtocolError whose lines name the file and the field.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { show, ProtocolError, type ProtocolProblem } from './errors.ts';
import { problemsFromAjv } from './describe.ts';
import { parseJson } from './json.ts';
import { presetRules, presetStimulusRules, stimulusSetRules } from './rules.ts';
import { validatePresetSchema, validateStimulusSetSchema } from './schema.ts';
import type { AutopatchPreset, StimulusSet } from './types.ts';

export { ProtocolError, type ProtocolProblem } from './errors.ts';
export { checkPresetAgainstRig, rigProblems, type RigLimits } from './rig-check.ts';

export const PROTOCOLS_DIR = fileURLToPath(new URL('../../protocols/', import.meta.url));

export interface LoadOptions {
  /** folder holding presets/ and stimuli/; default: the repository's protocols/ */
  protocolsDir?: string;
}

type Kind = 'autopatch-preset' | 'stimulus-set';

const SUBDIR: Record<Kind, string> = { 'autopatch-preset': 'presets', 'stimulus-set': 'stimuli' };
const NOUN: Record<Kind, string> = { 'autopatch-preset': 'preset', 'stimulus-set': 'stimulus set' };

function protocolsDir(options?: LoadOptions): string {
  return options?.protocolsDir ?? PROTOCOLS_DIR;
}

export function isBareName(nameOrPath: string): boolean {
  return !/[\\/]/.test(nameOrPath) && !nameOrPath.endsWith('.json');
}

function listNames(kind: Kind, options?: LoadOptions): string[] {
  const dir = join(protocolsDir(options), SUBDIR[kind]);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => f.slice(0, -'.json'.length))
    .sort();
}

/** Names of the presets in protocols/presets, sorted. */
export function listPresets(options?: LoadOptions): string[] {
  return listNames('autopatch-preset', options);
}

/** Names of the stimulus sets in protocols/stimuli, sorted. */
export function listStimulusSets(options?: LoadOptions): string[] {
  return listNames('stimulus-set', options);
}

interface Located {
  file: string;
  /** how the file is named in messages */
  source: string;
}

function locate(nameOrPath: string, kind: Kind, options?: LoadOptions): Located {
  if (!isBareName(nameOrPath)) return { file: resolve(nameOrPath), source: nameOrPath };
  const root = protocolsDir(options);
  const file = join(root, SUBDIR[kind], `${nameOrPath}.json`);
  return { file, source: relative(dirname(resolve(root)), file) };
}

function readText({ file, source }: Located, kind: Kind, bare: boolean, options?: LoadOptions): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && bare) {
      const known = listNames(kind, options);
      throw new ProtocolError(source, [{ path: '', message: `no such ${NOUN[kind]}: known ${NOUN[kind]}s are ${known.join(', ') || '(none)'}` }]);
    }
    throw new ProtocolError(source, [{ path: '', message: code === 'ENOENT' ? 'file not found' : `cannot read the file (${code ?? String(e)})` }]);
  }
}

function validateWith<T>(
  obj: unknown,
  source: string,
  schema: typeof validatePresetSchema,
  rules: (value: T) => ProtocolProblem[],
): T {
  if (!schema(obj)) throw new ProtocolError(source, problemsFromAjv(schema.errors));
  const problems = rules(obj as T);
  if (problems.length > 0) throw new ProtocolError(source, problems);
  return obj as T;
}

/** Checks parsed data against the preset schema and cross-field rules; returns it typed. */
export function validatePreset(obj: unknown, source: string): AutopatchPreset {
  return validateWith<AutopatchPreset>(obj, source, validatePresetSchema, presetRules);
}

/** Checks parsed data against the stimulus-set schema and cross-field rules; returns it typed. */
export function validateStimulusSet(obj: unknown, source: string): StimulusSet {
  return validateWith<StimulusSet>(obj, source, validateStimulusSetSchema, stimulusSetRules);
}

/** The `name` inside a file must be its file name: sessions and records refer to protocols by name. */
function nameMatchesFile(value: { name: string }, file: string): ProtocolProblem[] {
  const expected = basename(file, '.json');
  return value.name === expected
    ? []
    : [{ path: 'name', message: `name = ${show(value.name)} does not match the file name: must be ${show(expected)}` }];
}

/**
 * Where a preset's stimulus sets are looked up: next to a preset given by path
 * first (so a folder of your own presets and sets works as it is), then the
 * stimulus sets of the protocols folder.
 */
function stimulusSetLocation(name: string, presetFile: string | null, options?: LoadOptions): string | null {
  if (presetFile !== null) {
    const beside = join(dirname(presetFile), `${name}.json`);
    if (existsSync(beside)) return beside;
  }
  return listStimulusSets(options).includes(name) ? name : null;
}

/** Every stimulus set the preset records must exist, be valid, and suit the preset's analysis and QC. */
function presetStimulusSets(preset: AutopatchPreset, presetFile: string | null, options?: LoadOptions): { problems: ProtocolProblem[]; sets: Map<string, StimulusSet> } {
  const problems: ProtocolProblem[] = [];
  const sets = new Map<string, StimulusSet>();
  preset.record.stimulus_sets.forEach((name, i) => {
    const path = `record.stimulus_sets[${i}]`;
    const where = stimulusSetLocation(name, presetFile, options);
    if (where === null) {
      const known = listStimulusSets(options);
      const beside = presetFile === null ? '' : ` (looked for ${name}.json next to the preset, then among the shipped sets)`;
      problems.push({ path, message: `${path} = ${show(name)} is not a known stimulus set${beside}: must be one of ${known.map(show).join(', ') || '(none)'}` });
      return;
    }
    let set: StimulusSet;
    try {
      set = loadStimulusSet(where, options);
    } catch (e) {
      if (!(e instanceof ProtocolError)) throw e;
      for (const line of e.message.split('\n')) problems.push({ path, message: `${path} = ${show(name)} is an invalid stimulus set: ${line}` });
      return;
    }
    problems.push(...presetStimulusRules(preset, i, set));
    sets.set(name, set);
  });
  return { problems, sets };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Validation plus the checks that need the file system: name vs file name, referenced stimulus sets. */
function finish<T extends { name: string }>(
  data: unknown,
  located: Located,
  validate: (obj: unknown, source: string) => T,
  extra: (value: T) => ProtocolProblem[],
): T {
  const value = validate(data, located.source);
  const problems = [...nameMatchesFile(value, located.file), ...extra(value)];
  if (problems.length > 0) throw new ProtocolError(located.source, problems);
  return value;
}

function readParsed(nameOrPath: string, kind: Kind, options?: LoadOptions): { located: Located; data: unknown } {
  const located = locate(nameOrPath, kind, options);
  const text = readText(located, kind, isBareName(nameOrPath), options);
  return { located, data: parseJson(text, located.source) };
}

/** A preset with the stimulus sets it records, each loaded from where the preset finds it. */
export interface LoadedPreset {
  preset: AutopatchPreset;
  stimulusSets: Map<string, StimulusSet>;
}

function presetFileOf(nameOrPath: string, located: Located): string | null {
  return isBareName(nameOrPath) ? null : located.file;
}

/** Loads a preset (name or path) and its stimulus sets; throws a ProtocolError naming every problem. */
export function loadPresetWithStimuli(nameOrPath: string, options?: LoadOptions): LoadedPreset {
  const { located, data } = readParsed(nameOrPath, 'autopatch-preset', options);
  let sets = new Map<string, StimulusSet>();
  const preset = finish(data, located, validatePreset, (p) => {
    const r = presetStimulusSets(p, presetFileOf(nameOrPath, located), options);
    sets = r.sets;
    return r.problems;
  });
  return { preset, stimulusSets: sets };
}

/** Loads `protocols/presets/<name>.json` or a preset file by path. */
export function loadPreset(nameOrPath: string, options?: LoadOptions): AutopatchPreset {
  return loadPresetWithStimuli(nameOrPath, options).preset;
}

/** Loads `protocols/stimuli/<name>.json` or a stimulus-set file by path. */
export function loadStimulusSet(nameOrPath: string, options?: LoadOptions): StimulusSet {
  const { located, data } = readParsed(nameOrPath, 'stimulus-set', options);
  return finish(data, located, validateStimulusSet, () => []);
}

export type LoadedProtocol = { kind: 'autopatch-preset'; value: AutopatchPreset } | { kind: 'stimulus-set'; value: StimulusSet };

/**
 * Loads a file of either kind, recognised by its `kind` field (a bare name is
 * looked up among presets, then stimulus sets).
 */
export function loadProtocolFile(nameOrPath: string, options?: LoadOptions): LoadedProtocol {
  if (isBareName(nameOrPath)) {
    if (listPresets(options).includes(nameOrPath)) return { kind: 'autopatch-preset', value: loadPreset(nameOrPath, options) };
    if (listStimulusSets(options).includes(nameOrPath)) return { kind: 'stimulus-set', value: loadStimulusSet(nameOrPath, options) };
    throw new ProtocolError(nameOrPath, [{ path: '', message: 'no preset or stimulus set of this name (give a path to check another file)' }]);
  }
  const { located, data } = readParsed(nameOrPath, 'autopatch-preset', options);
  const kind = isObject(data) ? data.kind : undefined;
  if (kind === 'autopatch-preset') {
    return { kind, value: finish(data, located, validatePreset, (p) => presetStimulusSets(p, located.file, options).problems) };
  }
  if (kind === 'stimulus-set') return { kind, value: finish(data, located, validateStimulusSet, () => []) };
  const message =
    kind === undefined
      ? 'kind is missing: must be one of "autopatch-preset", "stimulus-set"'
      : `kind = ${show(kind)} is not allowed: must be one of "autopatch-preset", "stimulus-set"`;
  throw new ProtocolError(located.source, [{ path: 'kind', message }]);
}
