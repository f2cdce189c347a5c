/**
 * Finding and running pynwb's validator (scripts/validate-nwb.py) from tests.
 * Needs Python with pynwb: `sudo bash scripts/install-nwb-validator.sh`.
 * A test needing it is skipped, saying so, only when no validator is found and
 * AUTOPATCH_REQUIRE_NWB_VALIDATOR is unset; CI sets it, so there it fails instead.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { TestContext } from 'vitest';

const SCRIPT = resolve('scripts/validate-nwb.py');
const REQUIRED = Boolean(process.env.AUTOPATCH_REQUIRE_NWB_VALIDATOR);

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

export function needValidator(ctx: TestContext): string {
  if (probe.python) return probe.python;
  const why = `no NWB validator (pynwb) found — install it with: sudo bash scripts/install-nwb-validator.sh\n${probe.notes.join('\n')}`;
  if (REQUIRED) throw new Error(`AUTOPATCH_REQUIRE_NWB_VALIDATOR is set but ${why}`);
  ctx.skip(why);
  throw new Error('unreachable');
}

export interface Report {
  valid: boolean;
  errors_cached_spec: string[];
  errors_core_spec: string[];
  read_error: string | null;
  read: {
    nwb_version: string;
    series: Record<
      string,
      { type: string; dtype: string; sha256: string; bias_current: number | null; length: number; rate: number; sweep_number: number; electrode: string; device: string; unit: string }
    >;
    sweep_table: Record<string, string[]>;
    tables: Record<string, number>;
    recordings: { electrode: string; stimulus: [number, number, string | null]; response: [number, number, string] }[];
    subject_id: string;
    subject: { subject_id: string; species: string | null; sex: string | null; age: string | null; description: string | null } | null;
  } | null;
}

export function validate(python: string, file: string): { status: number | null; report: Report } {
  const r = spawnSync(python, [SCRIPT, file], { encoding: 'utf8', timeout: 300_000, maxBuffer: 64 * 1024 * 1024 });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  if (!line.startsWith('{')) throw new Error(`validator printed no report (exit ${r.status}): ${r.stderr}`);
  return { status: r.status, report: JSON.parse(line) as Report };
}

