/** `autopatch export` NWB options: refused with another format, checked before anything is opened. */
import { describe, expect, it } from 'vitest';
import { exportCommand } from '../../src/cli/commands/export.ts';

async function run(argv: string[]): Promise<{ code: number; err: string; out: string }> {
  let err = '';
  let out = '';
  const code = await exportCommand(argv, { stdout: (t) => (out += t), stderr: (t) => (err += t) });
  return { code, err, out };
}

describe('autopatch export NWB options', () => {
  it('lists them in the help, with the defaults for simulated sessions', async () => {
    const r = await run(['--help']);
    expect(r.code).toBe(0);
    expect(r.out).toContain('--include-test-pulses');
    expect(r.out).toContain('default for simulated sessions: Mus musculus');
    expect(r.out).toContain('default for simulated sessions: P56D');
  });

  it('are refused with another format, and when malformed (usage error, exit 2)', async () => {
    const base = ['--session', 'x', '--db', '/nonexistent/autopatch.sqlite'];
    let r = await run([...base, '--format', 'csv', '--include-test-pulses']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('--include-test-pulses applies to --format nwb only');
    r = await run([...base, '--format', 'json', '--species', 'Mus musculus']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('--species applies to --format nwb only');
    r = await run([...base, '--format', 'nwb', '--sex', 'male']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('--sex must be M, F, U or O (got "male")');
    r = await run([...base, '--format', 'nwb', '--age', '56 days']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('--age must be an ISO 8601 duration such as P56D (got "56 days")');
    // well-formed: it gets as far as the database
    r = await run([...base, '--format', 'nwb', '--age', 'P8W', '--sex', 'U', '--include-test-pulses']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/export: .*nonexistent/);
  });
});
