/**
 * `autopatch protocols check FILE...` — validate preset and stimulus-set files
 * (told apart by their `kind`); `autopatch protocols list` — what is shipped.
 * Exit 0 when everything is valid, 1 when a file has problems, 2 on misuse.
 */
import { join } from 'node:path';
import type { CliCommand, CliIO } from '../io.ts';
import {
  listPresets,
  listStimulusSets,
  loadPreset,
  loadProtocolFile,
  loadStimulusSet,
  ProtocolError,
  PROTOCOLS_DIR,
  type LoadOptions,
} from '../../protocol/load.ts';
import { sweepCount, sweepDurationMs } from '../../protocol/stimulus.ts';

const USAGE = `usage: autopatch protocols check FILE...   validate preset / stimulus-set files (or names)
       autopatch protocols list             list the shipped presets and stimulus sets
`;

function reportError(e: unknown, io: CliIO): void {
  if (e instanceof ProtocolError) io.stderr(`${e.message}\n`);
  else throw e;
}

function check(files: string[], io: CliIO, options: LoadOptions): number {
  if (files.length === 0) {
    io.stderr(`protocols check: no files given\n${USAGE}`);
    return 2;
  }
  let failed = 0;
  for (const file of files) {
    try {
      const loaded = loadProtocolFile(file, options);
      const what = loaded.kind === 'autopatch-preset' ? 'preset' : 'stimulus set';
      io.stdout(`${file}: ok (${what} "${loaded.value.name}")\n`);
    } catch (e) {
      reportError(e, io);
      failed++;
    }
  }
  if (failed > 0) io.stderr(`${failed} of ${files.length} file${files.length === 1 ? '' : 's'} invalid\n`);
  return failed > 0 ? 1 : 0;
}

/** First sentence of a description, kept to one short line. */
function summary(description: string): string {
  const first = description.split(/(?<=\.)\s/)[0] ?? description;
  return first.length > 90 ? `${first.slice(0, 89)}…` : first;
}

function list(io: CliIO, options: LoadOptions): number {
  const dir = options.protocolsDir ?? PROTOCOLS_DIR;
  let failed = 0;
  const rows = (names: string[], describe: (name: string) => string): void => {
    const width = Math.max(0, ...names.map((n) => n.length));
    for (const name of names) {
      try {
        io.stdout(`  ${name.padEnd(width)}  ${describe(name)}\n`);
      } catch (e) {
        io.stdout(`  ${name.padEnd(width)}  INVALID (see below)\n`);
        reportError(e, io);
        failed++;
      }
    }
  };
  io.stdout(`presets (${join(dir, 'presets')}):\n`);
  rows(listPresets(options), (name) => {
    const p = loadPreset(name, options);
    return `${p.preparation}, ${p.targeting} — ${summary(p.description)}`;
  });
  io.stdout(`stimulus sets (${join(dir, 'stimuli')}):\n`);
  rows(listStimulusSets(options), (name) => {
    const s = loadStimulusSet(name, options);
    const n = sweepCount(s);
    return `${n} sweep${n === 1 ? '' : 's'} of ${sweepDurationMs(s) / 1000} s at ${s.sample_rate_kHz} kHz — ${summary(s.description)}`;
  });
  return failed > 0 ? 1 : 0;
}

/** The command over another protocols folder (tests, or a rig with its own). */
export function protocolsCommandFor(options: LoadOptions = {}): CliCommand {
  return async (argv, io) => run(argv, io, options);
}

export const protocolsCommand: CliCommand = protocolsCommandFor();

function run(argv: string[], io: CliIO, options: LoadOptions): number {
  const [sub, ...rest] = argv;
  switch (sub) {
    case 'check':
      return check(rest, io, options);
    case 'list':
      if (rest.length > 0) {
        io.stderr(`protocols list: takes no arguments\n${USAGE}`);
        return 2;
      }
      return list(io, options);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      io.stdout(USAGE);
      return sub === undefined ? 2 : 0;
    default:
      io.stderr(`protocols: unknown subcommand "${sub}"\n${USAGE}`);
      return 2;
  }
}
