/**
 * `autopatch rig check FILE [--open]`: is this rig description right? Without
 * `--open` only the file is checked (schema and cross-field rules); with it,
 * every device is opened through its driver (whose handshake proves it is the
 * device the file says), each pipette's position, line pressure and amplifier
 * state are read and printed, and every port is closed again. Nothing is
 * commanded: no move, no valve, no setpoint.
 */
import type { BindingInterface } from '@serialport/bindings-interface';
import type { CliCommand, CliIO } from '../io.ts';
import { parseOptions, UsageError } from '../options.ts';
import { createRealClock } from '../../clock/index.ts';
import { ProtocolError } from '../../protocol/errors.ts';
import { DeviceError } from '../../../drivers/errors.ts';
import type { RigConfig } from '../../rig/config.ts';
import { describeHardware } from '../../rig/hardware-info.ts';
import { loadRigFile } from '../../rig/load.ts';
import { openRig } from '../../rig/open-rig.ts';
import { HARDWARE_HEADERS, hardwareRow } from '../../store/report-columns.ts';
import { fmt, renderTable } from '../../store/text-table.ts';
import { defaultSerialBinding } from '../serial-binding.ts';

const USAGE = `usage: autopatch rig check FILE [--open]
  checks a rig description file (kind "autopatch-rig")
  --open     also open every device, read each pipette's position, pressure and amplifier state, then close (nothing moves)
`;

export interface RigCommandDeps {
  serialBinding?: () => Promise<BindingInterface>;
}

const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

function describeFile(config: RigConfig): string {
  return (
    `"${config.name}": ${plural(config.pipettes.length, 'pipette')}, ${plural(config.pressureBoxes.length, 'pressure box', 'pressure boxes')}, ` +
    `${plural(config.amplifiers.length, 'amplifier')}, ${plural(config.wells.length, 'well')}`
  );
}

/** Opens the rig, reads what each device says (never commanding anything), closes it. */
async function openAndRead(config: RigConfig, binding: BindingInterface, io: CliIO): Promise<void> {
  const rig = await openRig(config, binding, createRealClock());
  try {
    io.stdout(`\nopened every device:\n${renderTable(['port', 'device'], [...rig.models].map(([path, model]) => [path, model]))}`);
    const rows: string[][] = [];
    for (const h of rig.hardware) {
      const [position, pressure, amp] = await Promise.all([h.manipulator.position(), h.pressure.read(), h.amplifier.status()]);
      const holding = amp.mode === 'VC' ? `${fmt(amp.holding, 1, 1e3)} mV` : amp.mode === 'IC' ? `${fmt(amp.holding, 1, 1e12)} pA` : '—';
      rows.push([
        h.pipetteId,
        position.map((v) => v.toFixed(1)).join(' '),
        fmt(pressure, 1),
        h.pressure.commanded.source,
        amp.mode,
        holding,
        amp.testPulse.enabled ? 'on' : 'off',
      ]);
    }
    io.stdout(`\n${renderTable(['pipette', 'position µm (manipulator x y z)', 'line mbar', 'valve', 'clamp', 'holding', 'test pulse'], rows)}`);
  } finally {
    await rig.close();
  }
}

export const createRigCommand =
  (deps: RigCommandDeps = {}): CliCommand =>
  async (argv, io) => {
    const [sub, ...rest] = argv;
    if (sub !== 'check') {
      io.stderr(sub && sub !== '--help' ? `autopatch rig: unknown subcommand "${sub}"\n${USAGE}` : USAGE);
      return sub === '--help' ? 0 : 2;
    }
    const file = rest[0] && !rest[0].startsWith('--') ? rest[0] : undefined;
    let open: boolean;
    try {
      const o = parseOptions(file ? rest.slice(1) : rest, { open: { value: false }, help: { value: false } });
      if (o.flags.has('help')) {
        io.stdout(USAGE);
        return 0;
      }
      if (!file) throw new UsageError('rig check needs the rig description FILE');
      open = o.flags.has('open');
    } catch (e) {
      if (!(e instanceof UsageError)) throw e;
      io.stderr(`autopatch rig: ${e.message}\n${USAGE}`);
      return 2;
    }
    try {
      const config = loadRigFile(file);
      io.stdout(`${file}: valid rig description ${describeFile(config)}\n${renderTable(HARDWARE_HEADERS, describeHardware(config).map(hardwareRow))}`);
      if (open) await openAndRead(config, await (deps.serialBinding ?? defaultSerialBinding)(), io);
      return 0;
    } catch (e) {
      if (e instanceof ProtocolError) {
        io.stderr(`${e.message}\n`);
        return 1;
      }
      if (e instanceof DeviceError) {
        io.stderr(`autopatch rig: cannot open the rig of ${file}: ${e.message}\n`);
        return 1;
      }
      throw e;
    }
  };

export const rigCommand: CliCommand = createRigCommand();
