/**
 * The emulator behind a real pseudo-terminal, driven by the real driver through
 * serialport's OS binding and the real clock: the same code path as a rig.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SerialPort } from 'serialport';
import { createRealClock, createVirtualClock } from '../../src/clock/index.ts';
import { exposeOnPty } from '../../drivers/core/pty-bridge.ts';
import { createMp285Emulator } from '../../drivers/manipulators/sutter-mp285/emulator.ts';
import { openMp285 } from '../../drivers/manipulators/sutter-mp285/driver.ts';
import { BAUD } from '../../drivers/manipulators/sutter-mp285/protocol.ts';

const haveSocat = spawnSync('socat', ['-V']).status === 0;
// CI installs socat and sets AUTOPATCH_REQUIRE_SOCAT=1, so there the test runs (and fails loudly if socat is missing).
const required = process.env.AUTOPATCH_REQUIRE_SOCAT === '1';

describe('device emulator on a pseudo-terminal', () => {
  it.runIf(haveSocat || required)('the MP-285 driver talks to its emulator through a real PTY and the OS binding', async () => {
    const clock = createRealClock();
    const device = createMp285Emulator({ clock, initial: [1000, 2000, 3000] });
    const link = join(mkdtempSync(join(tmpdir(), 'ap-pty-')), 'mp285');
    const pty = await exposeOnPty({ device, clock, link, baudRate: BAUD, binding: SerialPort.binding });
    try {
      const m = await openMp285({ path: pty.path, binding: SerialPort.binding, clock, limits: { min: [0, 0, 0], max: [25000, 25000, 25000], maxSpeed: 2000 } });
      const p = await m.position();
      expect(p.map((v) => Math.round(v))).toEqual([1000, 2000, 3000]);
      const landed = await m.moveTo([1050, 2000, 3000], { speed: 1000 });
      expect(landed[0]).toBeCloseTo(1050, 1);
      expect(device.moves.at(-1)?.target[0]).toBeCloseTo(1050, 1);
      await m.connection.close();
    } finally {
      await pty.close();
    }
  });

  it('waits for socat on the injected clock, and stops a socat that never makes its PTYs', async () => {
    // A stand-in for socat that starts and then does nothing (writes its pid first).
    const dir = mkdtempSync(join(tmpdir(), 'ap-pty-'));
    const fake = join(dir, 'fake-socat');
    const pidFile = join(dir, 'pid');
    writeFileSync(fake, `#!/bin/sh\necho $$ > '${pidFile}'\nexec sleep 30\n`);
    chmodSync(fake, 0o755);
    const clock = createVirtualClock();
    const device = createMp285Emulator({ clock });
    const exposing = exposeOnPty({ device, clock, link: join(dir, 'mp285'), baudRate: BAUD, binding: SerialPort.binding, socat: fake });
    exposing.catch(() => {});
    // Virtual time stands still until we run it: let the stand-in start first (wall time).
    const wallMs = (ms: number) => new Promise((r) => setTimeout(r, ms));
    for (let i = 0; i < 300 && !existsSync(pidFile); i++) await wallMs(10);
    const pid = Number(readFileSync(pidFile, 'utf8'));
    let caught: unknown;
    try {
      // 5 s of virtual time pass at once: the wait must be timed on that clock, not the wall's.
      await clock.runUntilSettled(exposing, 6_000);
    } catch (e) {
      caught = e;
    }
    expect(String(caught)).toMatch(/did not create .* within 5000 ms/);
    const alive = (): boolean => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    for (let i = 0; i < 300 && alive(); i++) await wallMs(10);
    expect(alive()).toBe(false);
  });
});
