import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createVirtualClock } from '../../src/clock/index.ts';
import { ProtocolError } from '../../src/protocol/errors.ts';
import type { RigConfig } from '../../src/rig/config.ts';
import { loadRigFile, rigFileText, validateRig } from '../../src/rig/load.ts';
import { createSimulatedRig } from '../../src/rig/simulated-rig.ts';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'autopatch-rig-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const simulatedConfig = (pipettes = 4, preparation: 'in-vivo' | 'slice' | 'culture' = 'in-vivo'): RigConfig =>
  createSimulatedRig({ clock: createVirtualClock(), seed: 1, preparation, pipettes }).config;

/** A deep copy of the simulated rig's description as file data, to break in one place. */
const fileData = (config = simulatedConfig()): Record<string, any> => JSON.parse(rigFileText(config));

function problems(data: unknown): string[] {
  try {
    validateRig(data, 'rig.json');
  } catch (e) {
    if (!(e instanceof ProtocolError)) throw e;
    expect(e.source).toBe('rig.json');
    return e.message.split('\n');
  }
  throw new Error('the rig description was accepted');
}

describe('rig description files', () => {
  it.each([
    [1, 'in-vivo'],
    [4, 'in-vivo'],
    [8, 'slice'],
    [5, 'culture'],
  ] as const)('the simulated rig (%i pipettes, %s) written to a file reads back identical', (n, prep) => {
    const config = simulatedConfig(n, prep);
    const file = join(dir, 'rig.json');
    writeFileSync(file, rigFileText(config));
    expect(loadRigFile(file)).toEqual(config);
  });

  it('names the file for a missing file and for broken JSON', () => {
    expect(() => loadRigFile(join(dir, 'none.json'))).toThrow(`${join(dir, 'none.json')}: file not found`);
    const file = join(dir, 'bad.json');
    writeFileSync(file, '{"kind": "autopatch-rig",}');
    expect(() => loadRigFile(file)).toThrow(/bad\.json: invalid JSON at line 1, column 26: unexpected "}"/);
  });

  it('refuses a file of another kind and unknown fields, naming them', () => {
    const data = fileData();
    data.kind = 'autopatch-preset';
    expect(problems(data).join('\n')).toMatch(/kind/);
    const extra = fileData();
    extra.pipettes[0].speed = 3;
    expect(problems(extra).join('\n')).toMatch(/pipettes\[0\].*speed/);
  });

  it('states the allowed range with its unit for an out-of-range number', () => {
    const data = fileData();
    data.pressureBoxes[0].limits.max = 5000; // kPa for mbar, say
    const lines = problems(data);
    expect(lines.some((l) => l.includes('pressureBoxes[0].limits.max') && l.includes('2000 mbar'))).toBe(true);
  });

  it('refuses an unknown manipulator driver and a missing drive number', () => {
    const data = fileData();
    data.pipettes[0].manipulator.driver = 'sensapex';
    expect(problems(data).join('\n')).toMatch(/pipettes\[0\]\.manipulator\.driver/);
    const mpc = fileData();
    const i = mpc.pipettes.findIndex((p: any) => p.manipulator.driver === 'sutter-mpc325');
    delete mpc.pipettes[i].manipulator.drive;
    expect(problems(mpc).join('\n')).toMatch(new RegExp(`pipettes\\[${i}\\]\\.manipulator.*drive`));
  });

  it('refuses references to boxes, amplifiers and wells that do not exist, and channels out of range', () => {
    const data = fileData();
    data.pipettes[0].pressure.box = 'pbox-9';
    data.pipettes[1].amplifier.channel = 5;
    data.pipettes[2].wells.rinse = 'nowhere';
    data.pipettes[3].wells.rinse = data.pipettes[3].wells.detergent;
    const text = problems(data).join('\n');
    expect(text).toMatch(/pipettes\[0\]\.pressure\.box = "pbox-9" is not a pressure box of this rig/);
    expect(text).toMatch(/pipettes\[1\]\.amplifier\.channel = 5: amplifier amp-1 has channels 0 to 1/);
    expect(text).toMatch(/pipettes\[2\]\.wells\.rinse = "nowhere" is not a well/);
    expect(text).toMatch(/pipettes\[3\]\.wells\.rinse = "detergent-4" holds detergent, not rinse/);
  });

  it('refuses two pipettes on one pressure channel, one amplifier channel or one port', () => {
    const data = fileData();
    data.pipettes[1].pressure = { ...data.pipettes[0].pressure };
    data.pipettes[3].amplifier = { ...data.pipettes[2].amplifier };
    data.pipettes[2].manipulator = { ...data.pipettes[0].manipulator };
    const text = problems(data).join('\n');
    expect(text).toMatch(/pipettes\[1\]\.pressure: pressure box pbox-1 channel 0 is also used by pipettes\[0\]\.pressure/);
    expect(text).toMatch(/pipettes\[3\]\.amplifier: amplifier amp-2 channel 0 is also used by pipettes\[2\]\.amplifier/);
    expect(text).toMatch(/pipettes\[2\]\.manipulator\.path = "sim:sutter-mp285-p1" is also the port of pipettes\[0\]\.manipulator/);
  });

  it('accepts two drives of one MPC-325 controller on one port, but not the same drive twice', () => {
    const config = simulatedConfig(2);
    const data = fileData(config);
    data.pipettes[0].manipulator = { driver: 'sutter-mpc325', path: '/dev/ttyUSB7', drive: 1 };
    data.pipettes[1].manipulator = { driver: 'sutter-mpc325', path: '/dev/ttyUSB7', drive: 2 };
    expect(() => validateRig(data, 'rig.json')).not.toThrow();
    data.pipettes[1].manipulator.drive = 1;
    expect(problems(data).join('\n')).toMatch(/sutter-mpc325 on \/dev\/ttyUSB7 unit 1 is given to two pipettes/);
  });

  it('refuses soft limits that do not contain the home position, with the axis and value', () => {
    const data = fileData();
    data.pipettes[0].limits.max[2] = 12_000; // min z is 11000: still a valid box, but home (z 12500) is outside
    const text = problems(data).join('\n');
    expect(text).toMatch(/pipettes\[0\]: home is outside the soft limits in manipulator coordinates \(z = 12500\.0 µm\)/);
  });

  it('refuses inverted limits, a travel plane below the standoff plane and a travel speed no manipulator accepts', () => {
    const data = fileData();
    data.pipettes[0].limits.min[0] = data.pipettes[0].limits.max[0];
    data.travelZ = 0;
    data.travelSpeed = data.pipettes[0].limits.maxSpeed + 1;
    const text = problems(data).join('\n');
    expect(text).toMatch(/pipettes\[0\]\.limits: min x .* must be below max x/);
    expect(text).toMatch(/travelZ = 0 is below the standoff plane/);
    expect(text).toMatch(/travelSpeed = 1001 exceeds pipettes\[0\]\.limits\.maxSpeed/);
  });
});
