/**
 * `autopatch <command>`: the command-line entry. Commands load lazily so
 * `autopatch protocols check` does not start the simulator.
 */
import { processIO, type CliCommand } from './io.ts';

const COMMANDS: Record<string, { summary: string; load: () => Promise<CliCommand> }> = {
  run: { summary: 'run a session on the simulated rig (dashboard, or --virtual), or on a real one (--rig FILE)', load: async () => (await import('./commands/run.ts')).runCommand },
  report: { summary: 'success-rate reports from the database', load: async () => (await import('./commands/report.ts')).reportCommand },
  export: { summary: 'export a session (csv, json, nwb)', load: async () => (await import('./commands/export.ts')).exportCommand },
  db: { summary: 'store maintenance: migrate an older store (after a backup copy)', load: async () => (await import('./commands/db.ts')).dbCommand },
  protocols: { summary: 'check or list protocol files', load: async () => (await import('./commands/protocols.ts')).protocolsCommand },
  rig: { summary: 'check a rig description file (--open: open and read every device)', load: async () => (await import('./commands/rig.ts')).rigCommand },
  ports: { summary: 'list serial ports on this machine', load: async () => (await import('./commands/ports.ts')).portsCommand },
  emulate: { summary: 'expose a device emulator on a pseudo-terminal (emulate rig: a whole simulated rig)', load: async () => (await import('./commands/emulate.ts')).emulateCommand },
};

function usage(): string {
  const rows = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`);
  return `usage: autopatch <command> [options]   (autopatch <command> --help for options)\n${rows.join('\n')}\n`;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === 'help') {
    processIO.stdout(usage());
    return name ? 0 : 2;
  }
  const command = COMMANDS[name];
  if (!command) {
    processIO.stderr(`autopatch: unknown command "${name}"\n${usage()}`);
    return 2;
  }
  return (await command.load())(rest, processIO);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`autopatch: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 1;
  },
);
