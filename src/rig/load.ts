/**
 * Reads a rig description file: JSON with `"kind": "autopatch-rig"`, checked
 * against the schema and the cross-field rules before any port is opened.
 * Failures are ProtocolErrors (the same machinery as presets) whose lines name
 * the file and the field.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { ProtocolError } from '../protocol/errors.ts';
import { problemsFromAjv } from '../protocol/describe.ts';
import { parseJson } from '../protocol/json.ts';
import type { RigConfig } from './config.ts';
import { rigRules } from './rig-rules.ts';
import { validateRigSchema } from './schema.ts';

export const RIG_KIND = 'autopatch-rig';

/** Checks parsed data as a rig description; returns the RigConfig. */
export function validateRig(data: unknown, source: string): RigConfig {
  if (!validateRigSchema(data)) throw new ProtocolError(source, problemsFromAjv(validateRigSchema.errors));
  const { kind: _kind, ...config } = data as RigConfig & { kind: string };
  const problems = rigRules(config);
  if (problems.length > 0) throw new ProtocolError(source, problems);
  return config;
}

/** The parsed JSON of a description file (rig, targets); unreadable or invalid JSON is a ProtocolError naming the file. */
export function readJsonFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ProtocolError(path, [{ path: '', message: code === 'ENOENT' ? 'file not found' : `cannot read the file (${code ?? String(e)})` }]);
  }
  return parseJson(text, path);
}

export function loadRigFile(path: string): RigConfig {
  return validateRig(readJsonFile(path), path);
}

/** The file form of a rig description (what `loadRigFile` reads back). */
export function rigFileText(config: RigConfig): string {
  return `${JSON.stringify({ kind: RIG_KIND, ...config }, null, 2)}\n`;
}

export function writeRigFile(path: string, config: RigConfig): void {
  writeFileSync(path, rigFileText(config));
}
