/**
 * `autopatch export --session ID --format csv|json|nwb [--out DIR] [--db PATH]`
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
import { nwbExportFormat } from '../../export/nwb/format.ts';

registerExportFormat(nwbExportFormat);

const usage = (): string => `usage: autopatch export --session ID --format ${exportFormatNames().join('|')} [--out DIR] [--db PATH]
  --out DIR   folder to write (default: data/export/<session>/)
  --db PATH   database file (default: $AUTOPATCH_DB or data/autopatch.sqlite)
`;

export const exportCommand: CliCommand = async (argv, io) => {
  let sessionId: string;
  let formatName: string;
  let outDir: string;
  let path: string;
  try {
    const opts = parseOptions(argv, {
      session: { value: true },
      format: { value: true },
      out: { value: true },
      db: { value: true },
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
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    io.stderr(`export: ${e.message}\n${usage()}`);
    return 2;
  }

  const format = getExportFormat(formatName);
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
