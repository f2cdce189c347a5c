import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makePortsCommand } from '../../src/cli/commands/ports.ts';

const capture = () => {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { stdout: (s: string) => out.push(s), stderr: (s: string) => err.push(s) }, out, err };
};

describe('autopatch ports', () => {
  it('lists what the binding reports', async () => {
    const c = capture();
    const code = await makePortsCommand(async () => [{ path: '/dev/ttyUSB0', manufacturer: 'FTDI', vendorId: '0403', productId: '6001' }])([], c.io);
    expect(code).toBe(0);
    expect(c.out.join('')).toContain('/dev/ttyUSB0  FTDI 0403:6001');
  });

  it('without udevadm on PATH, says so clearly instead of crashing (real serialport listing)', () => {
    // A PATH holding only node: serialport's spawn('udevadm') fails with ENOENT, as on machines without udev.
    const dir = mkdtempSync(join(tmpdir(), 'ap-nopath-'));
    symlinkSync(process.execPath, join(dir, 'node'));
    const script = `
      const { describeListError } = await import(${JSON.stringify(new URL('../../src/cli/commands/ports.ts', import.meta.url).href)});
      const { SerialPort } = await import('serialport');
      try { await SerialPort.list(); console.log('LISTED'); } catch (e) { console.log(describeListError(e)); }
    `;
    const r = spawnSync(join(dir, 'node'), ['--import', 'tsx', '--input-type=module', '-e', script], {
      env: { PATH: dir, HOME: process.env.HOME ?? '/tmp' },
      cwd: new URL('../..', import.meta.url).pathname,
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('`udevadm` is not installed');
    expect(r.stdout).not.toContain('LISTED');
  });
});
