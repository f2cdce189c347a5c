/** Shared helpers for the protocol tests: mutated copies of shipped files and temp folders. */
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { loadPreset, loadStimulusSet, ProtocolError } from '../../src/protocol/load.ts';
import type { AutopatchPreset, StimulusSet } from '../../src/protocol/types.ts';

export type Mutable = Record<string, unknown>;

export function presetCopy(name = 'in-vivo-blind'): AutopatchPreset & Mutable {
  return structuredClone(loadPreset(name)) as AutopatchPreset & Mutable;
}

export function stimulusCopy(name = 'long-square'): StimulusSet & Mutable {
  return structuredClone(loadStimulusSet(name)) as StimulusSet & Mutable;
}

/** Split `seal.tiers[1].at_s` into keys: ['seal', 'tiers', 1, 'at_s']. */
function keys(path: string): Array<string | number> {
  return path.split(/\.|(?=\[)/).map((k) => (k.startsWith('[') ? Number(k.slice(1, -1)) : k));
}

export function setPath(obj: unknown, path: string, value: unknown): void {
  const ks = keys(path);
  let o = obj as Record<string | number, unknown>;
  for (const k of ks.slice(0, -1)) o = o[k] as Record<string | number, unknown>;
  o[ks[ks.length - 1]] = value;
}

export function deletePath(obj: unknown, path: string): void {
  const ks = keys(path);
  let o = obj as Record<string | number, unknown>;
  for (const k of ks.slice(0, -1)) o = o[k] as Record<string | number, unknown>;
  delete o[ks[ks.length - 1]];
}

/** Runs `fn`, expects a ProtocolError, returns it. */
export function protocolError(fn: () => unknown): ProtocolError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ProtocolError);
    return e as ProtocolError;
  }
  throw new Error('expected a ProtocolError, but the call succeeded');
}

/** A temporary folder removed by the returned cleanup. */
export function tempDir(): { dir: string; write: (rel: string, text: string) => string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'autopatch-protocol-'));
  return {
    dir,
    write: (rel, text) => {
      const file = join(dir, rel);
      mkdirSync(join(file, '..'), { recursive: true });
      writeFileSync(file, text);
      return file;
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
