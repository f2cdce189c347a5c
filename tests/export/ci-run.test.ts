/**
 * .ci/run as root: the NWB validator install must succeed, or the run stops
 * before the tests (which would otherwise skip the NWB validation quietly).
 * Runs a copy of the script in a scratch folder with stand-ins for id, apt-get,
 * npm and the installer, so nothing is installed.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const scratch = mkdtempSync(join(tmpdir(), 'ap-ci-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function tool(dir: string, name: string, body: string): void {
  const file = join(dir, name);
  writeFileSync(file, `#!/usr/bin/env bash\n${body}\n`);
  chmodSync(file, 0o755);
}

function ciRun(installerSucceeds: boolean): { status: number | null; stderr: string; npm: string | null } {
  const repo = mkdtempSync(join(scratch, 'repo-'));
  mkdirSync(join(repo, '.ci'));
  mkdirSync(join(repo, 'scripts'));
  copyFileSync(resolve('.ci/run'), join(repo, '.ci/run'));
  tool(repo, 'scripts/install-nwb-validator.sh', installerSucceeds ? 'exit 0' : 'echo "no pynwb for you" >&2; exit 1');
  const bin = join(repo, 'bin');
  mkdirSync(bin);
  tool(bin, 'id', 'echo 0'); // "root"
  tool(bin, 'apt-get', 'exit 0');
  tool(bin, 'npm', `echo "$* REQUIRE_NWB=\${AUTOPATCH_REQUIRE_NWB_VALIDATOR:-unset}" >> "${join(repo, 'npm.log')}"`);
  const r = spawnSync('bash', [join(repo, '.ci/run')], { encoding: 'utf8', env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, AUTOPATCH_REQUIRE_NWB_VALIDATOR: '' } });
  const log = join(repo, 'npm.log');
  return { status: r.status, stderr: r.stderr, npm: existsSync(log) ? readFileSync(log, 'utf8') : null };
}

describe('.ci/run as root', () => {
  it('stops with an error when the NWB validator cannot be installed: the tests never run', () => {
    const r = ciRun(false);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('the NWB validator could not be installed');
    expect(r.npm).toBeNull();
  });

  it('with the validator installed, runs npm ci and npm test with the NWB validation required', () => {
    const r = ciRun(true);
    expect(r.status).toBe(0);
    expect(r.npm).toBe('ci REQUIRE_NWB=1\ntest REQUIRE_NWB=1\n');
  });
});
