/**
 * `autopatch emulate <device> [--link PATH]`: one device emulator on a
 * pseudo-terminal, in real time, for poking at with any serial tool
 * (e.g. `screen /tmp/autopatch-pbox 115200`). Ctrl-C to stop.
 *
 * `autopatch emulate rig`: every device of a simulated rig, one physics world,
 * on pseudo-terminals, and a rig description file pointing at them
 * (emulated-rig.ts), for `autopatch run --rig` in another terminal.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { numberOption, parseOptions, simulatedRigNumbers, UsageError } from '../options.ts';
import { writeRigFile } from '../../rig/load.ts';
import { targetsFileText } from '../../rig/targets-file.ts';
import { startEmulatedRig } from '../emulated-rig.ts';
import { defaultSerialBinding } from '../serial-binding.ts';
import type { CliCommand } from '../io.ts';
import { createRealClock } from '../../clock/index.ts';
import type { EmulatedDevice } from '../../../drivers/core/emulator-binding.ts';
import { exposeOnPty } from '../../../drivers/core/pty-bridge.ts';
import { createMp285Emulator } from '../../../drivers/manipulators/sutter-mp285/emulator.ts';
import { BAUD as MP285_BAUD } from '../../../drivers/manipulators/sutter-mp285/protocol.ts';
import { createMpc325Emulator } from '../../../drivers/manipulators/sutter-mpc325/emulator.ts';
import { BAUD as MPC_BAUD } from '../../../drivers/manipulators/sutter-mpc325/protocol.ts';
import { createScientificaEmulator } from '../../../drivers/manipulators/scientifica/emulator.ts';
import { BAUD as SCI_BAUD } from '../../../drivers/manipulators/scientifica/protocol.ts';
import { createSm10Emulator } from '../../../drivers/manipulators/luigs-neumann-sm10/emulator.ts';
import { createPressureBoxEmulator } from '../../../drivers/pressure/autopatch-pbox/emulator.ts';
import { BAUD as PBOX_BAUD } from '../../../drivers/pressure/autopatch-pbox/protocol.ts';
import { createAmpBridgeEmulator } from '../../../drivers/amplifiers/amp-bridge/emulator.ts';
import { AMP_BRIDGE_BAUD } from '../../../drivers/amplifiers/amp-bridge/protocol.ts';
import { createSimWorld } from '../../sim/index.ts';
import type { Clock } from '../../clock/clock.ts';

const DEVICES: Record<string, { baud: number; make: (clock: Clock, seed: number) => EmulatedDevice }> = {
  mp285: { baud: MP285_BAUD, make: (clock) => createMp285Emulator({ clock }) },
  mpc325: { baud: MPC_BAUD, make: (clock) => createMpc325Emulator({ clock }) },
  patchstar: { baud: SCI_BAUD, make: (clock) => createScientificaEmulator({ clock }) },
  sm10: { baud: 115_200, make: (clock) => createSm10Emulator({ clock }) },
  pbox: { baud: PBOX_BAUD, make: (clock, seed) => createPressureBoxEmulator({ clock, seed }) },
  amp: {
    baud: AMP_BRIDGE_BAUD,
    // Two electrodes with their tips in the bath of a simulated slice chamber.
    make: (clock, seed) => {
      const world = createSimWorld({ seed, preparation: 'slice', pipettes: [{ id: 'e1', axis: [0.77, 0, 0.64] }, { id: 'e2', axis: [-0.77, 0, 0.64] }] });
      world.pipette('e1').bindPosition(() => [-200, 0, -300]);
      world.pipette('e2').bindPosition(() => [200, 0, -300]);
      world.pipette('e1').bindPressure(() => 0);
      world.pipette('e2').bindPressure(() => 0);
      return createAmpBridgeEmulator({ clock, channels: [world.pipette('e1'), world.pipette('e2')] });
    },
  },
};

const RIG_USAGE = `usage: autopatch emulate rig [options]
  every device of a simulated rig on pseudo-terminals, and a rig file for \`autopatch run --rig\`
  --seed N         seed of the simulated preparation (default 1)
  --pipettes N     number of pipettes (default 4)
  --preset NAME    preset the rig is emulated for: its preparation is the simulated tissue (default in-vivo-blind)
  --speed X        emulator clock X times faster than the wall (default 1; run --rig with the same --speed)
  --out FILE       where to write the rig description (default: rig.json in the PTY folder)
  --dir DIR        folder for the PTY links (default: a new folder under the system's temp folder)
`;

interface EmulateRigOptions {
  seed: number;
  pipettes: number;
  preset: string;
  speed: number;
  out: string | null;
  dir: string | null;
}

function parseRigOptions(argv: string[]): EmulateRigOptions {
  const o = parseOptions(argv, {
    seed: { value: true },
    pipettes: { value: true },
    preset: { value: true },
    speed: { value: true },
    out: { value: true },
    dir: { value: true },
    help: { value: false },
  });
  if (o.flags.has('help')) throw new UsageError('');
  const num = numberOption(o);
  return {
    ...simulatedRigNumbers(num),
    preset: o.values.get('preset')?.[0] ?? 'in-vivo-blind',
    speed: num('speed', 1, (n) => n > 0 && n <= 1000, 'a factor between 0 and 1000'),
    out: o.values.get('out')?.[0] ?? null,
    dir: o.values.get('dir')?.[0] ?? null,
  };
}

/** `rig.json` → `rig.targets.json` */
const targetsPathFor = (rigPath: string): string => (rigPath.endsWith('.json') ? `${rigPath.slice(0, -5)}.targets.json` : `${rigPath}.targets.json`);

const emulateRig: CliCommand = async (argv, io) => {
  let opts: EmulateRigOptions;
  try {
    opts = parseRigOptions(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    if (e.message) io.stderr(`autopatch emulate rig: ${e.message}\n`);
    io.stderr(RIG_USAGE);
    return e.message ? 2 : 0;
  }
  // absolute, so the rig file works from any folder
  const dir = resolve(opts.dir ?? mkdtempSync(join(tmpdir(), 'autopatch-rig-')));
  const out = opts.out ?? join(dir, 'rig.json');
  let rig;
  try {
    rig = await startEmulatedRig({ seed: opts.seed, pipettes: opts.pipettes, preset: opts.preset, speed: opts.speed, dir, binding: await defaultSerialBinding() });
  } catch (e) {
    // a preset that does not load, socat missing: the message says which
    io.stderr(`autopatch emulate rig: ${(e as Error).message}\n`);
    return 1;
  }
  // Ctrl-C from here on closes every PTY, whatever else fails.
  const stopped = new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
  try {
    writeRigFile(out, rig.config);
    let targets = '';
    if (rig.cells.length > 0) {
      const path = targetsPathFor(out);
      writeFileSync(path, targetsFileText(rig.cells, `cells of the emulated ${rig.sim.world.preparation} preparation, seed ${opts.seed}`));
      targets = ` --targets ${path}`;
    }
    io.stdout(`${rig.config.name}: ${rig.paths().length} devices on pseudo-terminals in ${dirname(rig.paths()[0])}\n`);
    io.stdout(`rig description: ${out}\n`);
    const speed = opts.speed === 1 ? '' : ` --speed ${opts.speed}`;
    const preset = opts.preset === 'in-vivo-blind' ? '' : ` --preset ${opts.preset}`;
    io.stdout(`in another terminal: autopatch run --rig ${out}${targets}${preset}${speed}\n`);
    io.stdout('Ctrl-C to stop\n');
    await stopped;
  } finally {
    await rig.close();
  }
  return 0;
};

export const emulateCommand: CliCommand = async (argv, io) => {
  const [name, ...rest] = argv;
  if (name === 'rig') return emulateRig(rest, io);
  const spec = name ? DEVICES[name] : undefined;
  if (!spec) {
    io.stderr(`usage: autopatch emulate <${Object.keys(DEVICES).join('|')}> [--link PATH] [--seed N]\n       autopatch emulate rig [--seed N] [--pipettes N] [--preset NAME] [--speed X] [--out FILE] (--help for more)\n`);
    return name === '--help' ? 0 : 2;
  }
  const linkAt = rest.indexOf('--link');
  const seedAt = rest.indexOf('--seed');
  const link = linkAt >= 0 ? rest[linkAt + 1] : `/tmp/autopatch-${name}`;
  const seed = seedAt >= 0 ? Number(rest[seedAt + 1]) : 1;
  const clock = createRealClock();
  let pty;
  try {
    pty = await exposeOnPty({ device: spec.make(clock, seed), clock, link, baudRate: spec.baud, binding: await defaultSerialBinding() });
  } catch (e) {
    io.stderr(`autopatch emulate: ${(e as Error).message}\n`);
    return 1;
  }
  io.stdout(`${name} emulator on ${pty.path} (${spec.baud} baud); Ctrl-C to stop\n`);
  await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
  await pty.close();
  return 0;
};
