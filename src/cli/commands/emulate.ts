/**
 * `autopatch emulate <device> [--link PATH]`: one device emulator on a
 * pseudo-terminal, in real time, for poking at with any serial tool
 * (e.g. `screen /tmp/autopatch-pbox 115200`). Ctrl-C to stop.
 */
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

export const emulateCommand: CliCommand = async (argv, io) => {
  const [name, ...rest] = argv;
  const spec = name ? DEVICES[name] : undefined;
  if (!spec) {
    io.stderr(`usage: autopatch emulate <${Object.keys(DEVICES).join('|')}> [--link PATH] [--seed N]\n`);
    return name === '--help' ? 0 : 2;
  }
  const linkAt = rest.indexOf('--link');
  const seedAt = rest.indexOf('--seed');
  const link = linkAt >= 0 ? rest[linkAt + 1] : `/tmp/autopatch-${name}`;
  const seed = seedAt >= 0 ? Number(rest[seedAt + 1]) : 1;
  const clock = createRealClock();
  const { SerialPort } = await import('serialport');
  let pty;
  try {
    pty = await exposeOnPty({ device: spec.make(clock, seed), clock, link, baudRate: spec.baud, binding: SerialPort.binding });
  } catch (e) {
    io.stderr(`autopatch emulate: ${(e as Error).message}\n`);
    return 1;
  }
  io.stdout(`${name} emulator on ${pty.path} (${spec.baud} baud); Ctrl-C to stop\n`);
  await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
  await pty.close();
  return 0;
};
