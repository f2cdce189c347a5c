/**
 * The whole real-rig path through real OS serial ports: the simulated rig's
 * emulators on pseudo-terminals (what `autopatch emulate rig` starts, here in
 * this process so its byte logs can be read), and `autopatch run --rig` in a
 * child process driving them. The session is stored with its hardware list and
 * test-pulse readings, and the bytes the devices received keep every limit.
 * To keep the test short the session is ended by Ctrl-C once it has run a
 * while (an attempt started within --duration may take minutes of rig time
 * to finish), which also checks that an abort reaches the devices over PTYs. Then the `emulate rig` command itself:
 * it writes a rig file `rig check --open` accepts, and Ctrl-C closes its PTYs.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SerialPort } from 'serialport';
import { startEmulatedRig } from '../../src/cli/emulated-rig.ts';
import { loadPreset } from '../../src/protocol/load.ts';
import { loadRigFile, writeRigFile } from '../../src/rig/load.ts';
import { toWorld } from '../../src/geometry.ts';
import { openDatabase } from '../../src/store/migrations.ts';
import { listSessions } from '../../src/store/queries.ts';
import { limitViolations } from '../rig/wire-checks.ts';

const haveSocat = spawnSync('socat', ['-V']).status === 0;
// CI installs socat and sets AUTOPATCH_REQUIRE_SOCAT=1, so there the test runs (and fails loudly if socat is missing).
const required = process.env.AUTOPATCH_REQUIRE_SOCAT === '1';
const ROOT = join(import.meta.dirname, '..', '..');
const CLI = ['--import', 'tsx', join(ROOT, 'src/cli/main.ts')];
const SPEED = 4;
// Not the MPC-325 here: its emulator times the 30 ms pause after the 'S' speed byte by when its
// event loop reads the PTY, and on a loaded machine that read can come late enough to see the
// coordinates "too soon" (a fault at 4× speed). A real controller's UART has no such jitter.
const MANIPULATORS = ['sutter-mp285', 'scientifica'] as const;

const dir = mkdtempSync(join(tmpdir(), 'ap-pty-rig-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The CLI in a child process; `interruptAfterMs`: Ctrl-C it then. */
function cli(args: string[], timeoutMs: number, interruptAfterMs?: number): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...CLI, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    if (interruptAfterMs !== undefined) setTimeout(() => child.kill('SIGINT'), interruptAfterMs);
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    });
  });
}

describe.runIf(haveSocat || required)('a rig on pseudo-terminals, driven by `autopatch run --rig`', () => {
  it('runs a session through real serial ports: stored with its hardware and test pulses, within every limit', async () => {
    const rig = await startEmulatedRig({ seed: 2, pipettes: 2, preset: 'in-vivo-blind', speed: SPEED, dir: join(dir, 'ptys'), binding: SerialPort.binding, manipulators: [...MANIPULATORS] });
    try {
      const file = join(dir, 'rig.json');
      writeRigFile(file, rig.config);
      const db = join(dir, 'rig.sqlite');
      // about a minute of rig time, then Ctrl-C: the session aborts, pipettes retract, the command exits
      const r = await cli(['run', '--rig', file, '--speed', String(SPEED), '--duration', '0.5', '--no-dashboard', '--exit', '--quiet', '--db', db], 45_000, 15_000);
      expect(r.err).toMatch(/^\nCtrl-C: aborting session \S+-rig-1 /);
      expect(r.err).not.toMatch(/fault|\n\s+at /);
      expect(r.code).toBe(0);
      expect(r.out).toMatch(/^autopatch: emulated in-vivo rig \(2 pipettes, seed 2\) \(.*rig\.json\); preset in-vivo-blind; 4× real time$/m);

      const store = openDatabase(db, { readonly: true });
      const [session] = listSessions(store);
      expect(session).toMatchObject({ status: 'aborted', seed: null, virtual: false, preset: 'in-vivo-blind' });
      expect(session.hardware).toEqual(
        rig.config.pipettes.map((p, i) => ({
          // the hardware list is what the rig file says: the PTY paths
          pipetteId: p.id,
          manipulator: { driver: p.manipulator.driver, path: p.manipulator.path, unit: null },
          pressure: { driver: 'autopatch-pbox', path: rig.config.pressureBoxes[0].path, channel: i },
          amplifier: { driver: 'amp-bridge', path: rig.config.amplifiers[0].path, channel: i },
        })),
      );
      const readings = store.prepare('SELECT pipette_id AS p, count(*) AS n FROM testpulse_readings WHERE session_id = ? GROUP BY pipette_id').all(session.id) as Array<{ p: string; n: number }>;
      expect(readings.map((x) => x.p).sort()).toEqual(['p1', 'p2']);
      for (const x of readings) expect(x.n).toBeGreaterThan(5);
      store.close();

      // what the devices received over the PTYs keeps the rig's and the preset's limits
      const checked = limitViolations(rig, loadPreset('in-vivo-blind'));
      expect(checked.violations).toEqual([]);
      expect(checked.moves).toBeGreaterThan(4);
      expect(checked.pressureCommands).toBeGreaterThan(2);
      // the abort retracted every pipette out of the tissue, to the standoff plane or above
      for (const p of rig.config.pipettes) {
        const m = rig.sim.manipulators.get(p.id)!;
        const at = toWorld(p.mount, m.emulator.motion(m.unit).positionAt(rig.clock.now()));
        expect(at[2]).toBeLessThanOrEqual(rig.config.standoffZ + 1);
      }
    } finally {
      await rig.close();
    }
  }, 60_000);

  it('`autopatch emulate rig` writes a rig file that `rig check --open` accepts, and Ctrl-C closes its PTYs', async () => {
    const ptys = join(dir, 'cli-ptys');
    const out = join(dir, 'cli-rig.json');
    const child = spawn(process.execPath, [...CLI, 'emulate', 'rig', '--pipettes', '1', '--preset', 'culture', '--dir', ptys, '--out', out], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let said = '';
    child.stdout.on('data', (b: Buffer) => (said += b.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      for (let i = 0; i < 400 && !said.includes('Ctrl-C to stop'); i++) await new Promise((r) => setTimeout(r, 25));
      expect(said).toContain(`in another terminal: autopatch run --rig ${out} --targets ${join(dir, 'cli-rig.targets.json')} --preset culture`);
      const config = loadRigFile(out);
      expect(config.pipettes.map((p) => p.manipulator.path)).toEqual([join(ptys, 'sutter-mp285-p1')]);
      expect(JSON.parse(readFileSync(join(dir, 'cli-rig.targets.json'), 'utf8')).cells.length).toBeGreaterThan(0);
      const check = await cli(['rig', 'check', out, '--open'], 20_000);
      expect(check.err).toBe('');
      expect(check.code).toBe(0);
      expect(check.out).toMatch(/^p1\s+12500\.0 12500\.0 12500\.0\s/m);
    } finally {
      child.kill('SIGINT');
    }
    expect(await exited).toBe(0);
    expect(existsSync(join(ptys, 'pbox-1'))).toBe(false);
  }, 40_000);
});
