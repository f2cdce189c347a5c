/**
 * `autopatch export --session ID --format csv|json|nwb [--out DIR] [--db PATH] [NWB options]`
 * Writes a session's attempts, transitions, faults and sweeps (samples
 * included) to a folder; prints the files written. Formats come from the
 * registry in src/store/export-formats.ts ('nwb' plugs in there).
 * Exit 0 on success, 1 when the store or session is unavailable, 2 on misuse (unknown format included).
 */
import { join, resolve } from 'node:path';
import type { CliCommand } from '../io.ts';
import { parseOptions, UsageError } from '../options.ts';
import { StoreError } from '../../store/errors.ts';
import { openDatabase } from '../../store/migrations.ts';
import { defaultDbPath, defaultExportDir } from '../../store/paths.ts';
import { getSession } from '../../store/queries.ts';
import { exportFormatNames, getExportFormat, registerExportFormat } from '../../store/export-formats.ts';
import { createNwbExportFormat, nwbExportFormat, type NwbExportOptions } from '../../export/nwb/format.ts';
import { SIMULATED_SUBJECT } from '../../export/nwb/from-store.ts';

registerExportFormat(nwbExportFormat);

const usage = (): string => `usage: autopatch export --session ID --format ${exportFormatNames().join('|')} [--out DIR] [--db PATH] [NWB options]
  --out DIR   folder to write (default: data/export/<session>/)
  --db PATH   database file (default: $AUTOPATCH_DB or data/autopatch.sqlite)
NWB options (--format nwb only):
  --include-test-pulses  also write the stored test-pulse sweeps (VoltageClampSeries with their command)
  --subject-id ID        subject_id (default: sim-seed-<seed> for simulated sessions, session-<id> otherwise)
  --species NAME         default for simulated sessions: ${SIMULATED_SUBJECT.species}
  --sex M|F|U|O          default for simulated sessions: ${SIMULATED_SUBJECT.sex}
  --age ISO-DURATION     e.g. P56D; default for simulated sessions: ${SIMULATED_SUBJECT.age}
`;

const NWB_VALUES = ['subject-id', 'species', 'sex', 'age'] as const;

/** The NWB-only options, checked; a UsageError when given with another format or malformed. */
function nwbOptions(format: string, flags: Set<string>, values: Map<string, string[]>): NwbExportOptions {
  const given = [...(flags.has('include-test-pulses') ? ['include-test-pulses'] : []), ...NWB_VALUES.filter((k) => values.has(k))];
  if (format !== 'nwb') {
    if (given.length > 0) throw new UsageError(`--${given[0]} applies to --format nwb only`);
    return {};
  }
  const value = (k: (typeof NWB_VALUES)[number]): string | undefined => values.get(k)?.[0];
  const sex = value('sex');
  if (sex !== undefined && !['M', 'F', 'U', 'O'].includes(sex)) throw new UsageError(`--sex must be M, F, U or O (got "${sex}")`);
  const age = value('age');
  // ISO 8601 duration (DANDI: P90D, P3Y…), optionally a range P90D/P120D
  if (age !== undefined && !/^P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+S)?)?(\/P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?)?$/.test(age)) {
    throw new UsageError(`--age must be an ISO 8601 duration such as P56D (got "${age}")`);
  }
  for (const k of ['subject-id', 'species'] as const) {
    const v = value(k);
    if (v !== undefined && v.trim() === '') throw new UsageError(`--${k} must not be empty`);
  }
  return {
    includeTestPulses: flags.has('include-test-pulses'),
    subject: { subjectId: value('subject-id'), species: value('species'), sex, age },
  };
}

export const exportCommand: CliCommand = async (argv, io) => {
  let sessionId: string;
  let formatName: string;
  let outDir: string;
  let path: string;
  let nwb: NwbExportOptions;
  try {
    const opts = parseOptions(argv, {
      session: { value: true },
      format: { value: true },
      out: { value: true },
      db: { value: true },
      'include-test-pulses': { value: false },
      'subject-id': { value: true },
      species: { value: true },
      sex: { value: true },
      age: { value: true },
      help: { value: false },
    });
    if (opts.flags.has('help')) {
      io.stdout(usage());
      return 0;
    }
    const s = opts.values.get('session')?.[0];
    const f = opts.values.get('format')?.[0];
    if (s === undefined) throw new UsageError('--session is required');
    if (f === undefined) throw new UsageError('--format is required');
    sessionId = s;
    formatName = f;
    outDir = resolve(opts.values.get('out')?.[0] ?? defaultExportDir(sessionId));
    path = opts.values.get('db')?.[0] ?? defaultDbPath();
    nwb = nwbOptions(formatName, opts.flags, opts.values);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    io.stderr(`export: ${e.message}\n${usage()}`);
    return 2;
  }

  const format = formatName === 'nwb' ? createNwbExportFormat(nwb) : getExportFormat(formatName);
  if (!format) {
    io.stderr(`export: unknown format "${formatName}" (available: ${exportFormatNames().join(', ')})\n`);
    return 2;
  }

  let db;
  try {
    // read-only: exporting never migrates or recovers the store (an older schema is refused with how to migrate)
    db = openDatabase(path, { readonly: true });
  } catch (e) {
    if (e instanceof StoreError) {
      io.stderr(`export: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
  try {
    if (!getSession(db, sessionId)) {
      io.stderr(`export: no session "${sessionId}" in ${path}\n`);
      return 1;
    }
    const files = await format.run({ db, sessionId, outDir });
    io.stdout(`exported session ${sessionId} as ${formatName} to ${outDir} (${files.length} files)\n`);
    // list the tables; per-sweep sample files are summarised (a session has thousands)
    const isSweepFile = (f: string): boolean => /^[\\/]?sweeps[\\/]/.test(f.slice(outDir.length));
    for (const f of files) if (!isSweepFile(f)) io.stdout(`  ${f}\n`);
    const n = files.filter(isSweepFile).length;
    if (n) io.stdout(`  ${n} sweep sample file${n === 1 ? '' : 's'} in ${join(outDir, 'sweeps')}\n`);
    return 0;
  } finally {
    db.close();
  }
};
