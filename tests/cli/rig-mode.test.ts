/**
 * `autopatch rig check` and `autopatch run --rig` when something is wrong:
 * an invalid file, a port that does not exist, a device that is not what the
 * file says (its driver's handshake fails), a targeted preset without cells.
 * Each is a clear message and a non-zero exit, no stack trace, and every
 * port opened on the way is closed again. The devices are the simulated
 * rig's emulators behind the emulator binding (a real-time clock, as the
 * commands use); `pty-rig.test.ts` does the same over real PTYs.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRealClock } from '../../src/clock/index.ts';
import { createRigCommand } from '../../src/cli/commands/rig.ts';
import { createRunCommand } from '../../src/cli/commands/run.ts';
import type { CliCommand } from '../../src/cli/io.ts';
import { rigFileText } from '../../src/rig/load.ts';
import type { RigConfig } from '../../src/rig/config.ts';
import { createSimulatedRig, type SimulatedRig } from '../../src/rig/simulated-rig.ts';
import { openDatabase } from '../../src/store/migrations.ts';
import { listSessions } from '../../src/store/queries.ts';

const dir = mkdtempSync(join(tmpdir(), 'ap-rigmode-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function call(command: CliCommand, argv: string[]) {
  let out = '';
  let err = '';
  const code = await command(argv, { stdout: (t) => (out += t), stderr: (t) => (err += t) });
  return { code, out, err };
}

function simulated(preparation: 'in-vivo' | 'culture' = 'in-vivo'): SimulatedRig {
  return createSimulatedRig({ clock: createRealClock(), seed: 4, preparation, pipettes: 2 });
}

function writeRig(name: string, config: RigConfig): string {
  const path = join(dir, name);
  writeFileSync(path, rigFileText(config));
  return path;
}

/** Every emulated port can be opened again: nothing was left open. */
async function expectAllClosed(sim: SimulatedRig): Promise<void> {
  for (const path of sim.paths()) {
    const port = await sim.binding.open({ path, baudRate: 9600 });
    await port.close();
  }
}

/** the amplifier's port and the first manipulator's swapped in the file */
function swapped(sim: SimulatedRig): RigConfig {
  const c = structuredClone(sim.config);
  const ampPath = c.amplifiers[0].path;
  c.amplifiers[0].path = c.pipettes[0].manipulator.path;
  c.pipettes[0].manipulator.path = ampPath;
  return c;
}

describe('autopatch rig check', () => {
  it('validates a file and lists its pipettes without opening anything', async () => {
    const sim = simulated();
    const file = writeRig('ok.json', sim.config);
    const rig = createRigCommand({ serialBinding: async () => sim.binding });
    const r = await call(rig, ['check', file]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toContain(`${file}: valid rig description "${sim.config.name}": 2 pipettes, 1 pressure box, 1 amplifier, 4 wells`);
    expect(r.out).toMatch(/^p2\s+sutter-mpc325 #1\s+sim:sutter-mpc325-p2\s+autopatch-pbox\s+sim:pbox-1\s+1\s+amp-bridge\s+sim:amp-1\s+1$/m);
    expect(sim.binding.byteLog('sim:pbox-1').totalBytes.in).toBe(0);
  });

  it('with --open reads every device and commands nothing', async () => {
    const sim = simulated();
    const file = writeRig('open.json', sim.config);
    const r = await call(createRigCommand({ serialBinding: async () => sim.binding }), ['check', file, '--open']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^sim:pbox-1\s+autopatch pressure box \(AUTOPATCH-PBOX FW 1\.0\.0\)$/m);
    expect(r.out).toMatch(/^p1\s+12500\.0 12500\.0 12500\.0\s+-?\d+\.\d\s+atmosphere\s+VC\s+0\.0 mV\s+off$/m);
    // no move, valve or setpoint went out: the MP-285 saw only position reads, the box no SET/VALVE/PULSE
    const boxIn = sim.binding.byteLog('sim:pbox-1').concat('in').toString('latin1');
    expect(boxIn).not.toMatch(/SET |VALVE |PULSE /);
    expect(sim.manipulators.get('p1')!.emulator.moves).toHaveLength(0);
    await expectAllClosed(sim);
  });

  it('an invalid file: the field, exit 1', async () => {
    const sim = simulated();
    const bad = { ...structuredClone(sim.config), travelZ: 500 };
    const r = await call(createRigCommand(), ['check', writeRig('bad.json', bad)]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/bad\.json: travelZ = 500 is out of range/);
    expect(r.err).not.toMatch(/\n\s+at /);
  });

  it('a port that is not there and a device that is not what the file says: exit 1, every port closed', async () => {
    const sim = simulated();
    const missing = structuredClone(sim.config);
    missing.pipettes[1].manipulator.path = 'sim:nothing-here';
    const rig = createRigCommand({ serialBinding: async () => sim.binding });
    const r1 = await call(rig, ['check', writeRig('missing.json', missing), '--open']);
    expect(r1.code).toBe(1);
    expect(r1.err).toMatch(/cannot open the rig of .*missing\.json: Sutter MPC-325 @ sim:nothing-here: open: disconnected: .*No such file/);
    await expectAllClosed(sim);

    const r2 = await call(rig, ['check', writeRig('swapped.json', swapped(sim)), '--open']);
    expect(r2.code).toBe(1);
    expect(r2.err).toMatch(/cannot open the rig of .*swapped\.json: amp-bridge @ sim:sutter-mp285-p1: hello: timeout/);
    expect(r2.err).not.toMatch(/\n\s+at /);
    await expectAllClosed(sim);
  });
});

describe('autopatch run --rig, refusals', () => {
  it('a device that is not what the file says: exit 1, no session stored, every port closed', async () => {
    const sim = simulated();
    const db = join(dir, 'wrong.sqlite');
    const run = createRunCommand({ serialBinding: async () => sim.binding });
    const r = await call(run, ['--rig', writeRig('run-swapped.json', swapped(sim)), '--no-dashboard', '--db', db]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^autopatch run: cannot open the rig of .*run-swapped\.json: amp-bridge @ sim:sutter-mp285-p1: hello: timeout/);
    expect(r.err).not.toMatch(/\n\s+at /);
    await expectAllClosed(sim);
    const store = openDatabase(db);
    expect(listSessions(store)).toEqual([]);
    store.close();
  });

  it('a targeted preset needs a targets file; a blind one refuses it; simulated-only options are refused', async () => {
    const sim = simulated('culture');
    const file = writeRig('culture.json', sim.config);
    const run = createRunCommand({ serialBinding: async () => sim.binding });
    const db = join(dir, 'refused.sqlite');
    const noCells = await call(run, ['--rig', file, '--preset', 'culture', '--no-dashboard', '--db', db]);
    expect(noCells.code).toBe(1);
    expect(noCells.err).toMatch(/preset culture is targeted \(culture\): it needs cell positions/);
    const cells = join(dir, 'cells.json');
    writeFileSync(cells, JSON.stringify({ kind: 'autopatch-targets', cells: [{ id: 1, position: [0, 0, 5] }] }));
    const blind = await call(run, ['--rig', file, '--targets', cells, '--no-dashboard', '--db', db]);
    expect(blind.code).toBe(1);
    expect(blind.err).toMatch(/cells\.json: preset in-vivo-blind is blind: .*a targets file does not apply/);
    const badCells = join(dir, 'bad-cells.json');
    writeFileSync(badCells, JSON.stringify({ kind: 'autopatch-targets', cells: [{ id: 1, position: [0, 0] }] }));
    const invalid = await call(run, ['--rig', file, '--targets', badCells, '--preset', 'culture', '--no-dashboard', '--db', db]);
    expect(invalid.code).toBe(1);
    expect(invalid.err).toMatch(/bad-cells\.json: cells\[0\]\.position has 2 entries/);
    // nothing was opened for any of these
    expect(sim.binding.byteLog('sim:pbox-1').totalBytes.in).toBe(0);
    const seed = await call(run, ['--rig', file, '--seed', '3']);
    expect(seed.code).toBe(2);
    expect(seed.err).toMatch(/--seed applies to the simulated rig/);
    const targetsAlone = await call(run, ['--targets', cells]);
    expect(targetsAlone.code).toBe(2);
    expect(targetsAlone.err).toMatch(/--targets applies to --rig/);
  });
});
