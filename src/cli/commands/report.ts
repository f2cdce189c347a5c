/**
 * `autopatch report [--session ID]... | --last | --all [--format table|json|csv] [--db PATH]`
 * Funnel, time per state, failure reasons, cells per hour, ≥2-simultaneous
 * rate and quality figures from the store. Default: the last session.
 * Exit 0 on success, 1 when the store or session cannot be read, 2 on misuse.
 */
import type { CliCommand } from '../io.ts';
import { oneOf, parseOptions, UsageError } from '../options.ts';
import { StoreError } from '../../store/errors.ts';
import { openDatabase, sessionsWithDeadWriters } from '../../store/migrations.ts';
import { defaultDbPath } from '../../store/paths.ts';
import { lastSessionId } from '../../store/queries.ts';
import { formatReport, type ReportFormat } from '../../store/report-format.ts';
import { buildReport } from '../../store/reports.ts';

const USAGE = `usage: autopatch report [--session ID]... | --last | --all  [--format table|json|csv] [--db PATH]
  --session ID   report on this session (repeat to compare several)
  --last         the most recent session (default)
  --all          every session in the store
  --format       table (default), json, or csv (long form: section,group,name,value)
  --db PATH      database file (default: $AUTOPATCH_DB or data/autopatch.sqlite)
`;

export const reportCommand: CliCommand = async (argv, io) => {
  let format: ReportFormat;
  let sessions: string[] | undefined;
  let last: boolean;
  let path: string;
  try {
    const opts = parseOptions(argv, {
      session: { value: true, repeat: true },
      last: { value: false },
      all: { value: false },
      format: { value: true },
      db: { value: true },
      help: { value: false },
    });
    if (opts.flags.has('help')) {
      io.stdout(USAGE);
      return 0;
    }
    format = oneOf('format', opts.values.get('format')?.[0], ['table', 'json', 'csv'] as const, 'table');
    sessions = opts.values.get('session');
    const all = opts.flags.has('all');
    last = opts.flags.has('last') || (!all && sessions === undefined);
    if ([sessions !== undefined, opts.flags.has('last'), all].filter(Boolean).length > 1) {
      throw new UsageError('choose one of --session, --last, --all');
    }
    path = opts.values.get('db')?.[0] ?? defaultDbPath();
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    io.stderr(`report: ${e.message}\n${USAGE}`);
    return 2;
  }

  let db;
  try {
    // read-only: looking at a store never migrates or recovers it (an older schema is refused with how to migrate)
    db = openDatabase(path, { readonly: true });
  } catch (e) {
    if (e instanceof StoreError) {
      io.stderr(`report: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
  try {
    if (last) {
      const id = lastSessionId(db);
      if (id === null) {
        io.stderr(`report: no sessions in ${path}\n`);
        return 1;
      }
      sessions = [id];
    }
    for (const id of sessionsWithDeadWriters(db, path)) {
      if (sessions === undefined || sessions.includes(id)) {
        io.stderr(`report: note: session ${id} is still marked running but its writer has stopped; the next \`autopatch run\` or \`autopatch db migrate\` marks it interrupted\n`);
      }
    }
    let report;
    try {
      report = buildReport(db, sessions);
    } catch (e) {
      io.stderr(`report: ${(e as Error).message}\n`);
      return 1;
    }
    io.stdout(formatReport(report, format));
    return 0;
  } finally {
    db.close();
  }
};
