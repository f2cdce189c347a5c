/**
 * The emulator behind a real pseudo-terminal, driven by the real driver through
 * serialport's OS binding and the real clock: the same code path as a rig.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SerialPort } from 'serialport';
import { createRealClock } from '../../src/clock/index.ts';
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

});
