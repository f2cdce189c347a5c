/**
 * `autopatch ports`: the serial ports this machine has, for writing a rig
 * description. On Linux serialport lists ports through `udevadm`; where it is
 * missing (minimal containers, these build machines) that is said plainly
 * instead of crashing, and ports can still be used by path.
 */
import type { CliCommand } from '../io.ts';

export interface PortListing {
  path: string;
  manufacturer?: string;
  serialNumber?: string;
  vendorId?: string;
  productId?: string;
}

/** Explain a failed listing in terms an operator can act on. */
export function describeListError(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  if (err?.code === 'ENOENT' && /udevadm/.test(`${err.path ?? ''} ${err.message ?? ''}`)) {
    return (
      'cannot list serial ports: `udevadm` is not installed, and serialport needs it to enumerate ports on Linux.\n' +
      'Install it (Debian: apt-get install udev) or give ports by path in the rig description (e.g. /dev/ttyUSB0, /dev/serial/by-id/…).'
    );
  }
  return `cannot list serial ports: ${err?.message ?? String(e)}`;
}

export async function listPorts(): Promise<PortListing[]> {
  const { SerialPort } = await import('serialport');
  return SerialPort.list();
}

export function makePortsCommand(lister: () => Promise<PortListing[]> = listPorts): CliCommand {
  return async (argv, io) => {
    if (argv.includes('--help')) {
      io.stdout('usage: autopatch ports [--json]\n');
      return 0;
    }
    let ports: PortListing[];
    try {
      ports = await lister();
    } catch (e) {
      io.stderr(describeListError(e) + '\n');
      return 1;
    }
    if (argv.includes('--json')) {
      io.stdout(JSON.stringify(ports, null, 2) + '\n');
      return 0;
    }
    if (ports.length === 0) io.stdout('no serial ports found\n');
    for (const p of ports) {
      const info = [p.manufacturer, p.vendorId && p.productId ? `${p.vendorId}:${p.productId}` : undefined, p.serialNumber].filter(Boolean).join(' ');
      io.stdout(`${p.path}${info ? `  ${info}` : ''}\n`);
    }
    return 0;
  };
}

export const portsCommand: CliCommand = makePortsCommand();
