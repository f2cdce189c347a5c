/**
 * `autopatch db migrate [--db PATH]`: bring an older store to this version's
 * schema. A backup copy is written next to it first (PATH.v<N>-backup-<UTC>).
 * `report` and `export` open stores read-only and ask for this when the schema
 * is older. Exit 0 on success (or already current), 1 when the store cannot be
 * migrated, 2 on misuse.
 */
import type { CliCommand } from '../io.ts';
import { parseOptions, UsageError } from '../options.ts';
import { createRealClock } from '../../clock/index.ts';
import { StoreError } from '../../store/errors.ts';
import { migrateWithBackup } from '../../store/maintenance.ts';
import { defaultDbPath } from '../../store/paths.ts';

const USAGE = `usage: autopatch db migrate [--db PATH]
  migrate   bring the store to this autopatch's schema, after a backup copy (PATH.v<N>-backup-<UTC time>)
  --db PATH database file (default: $AUTOPATCH_DB or data/autopatch.sqlite)
`;

export const dbCommand: CliCommand = async (argv, io) => {
  const [action, ...rest] = argv;
  if (action === '--help' || action === 'help') {
    io.stdout(USAGE);
    return 0;
  }
  let path: string;
  try {
    if (action !== 'migrate') throw new UsageError(action === undefined ? 'say what to do: migrate' : `unknown action "${action}"`);
    const opts = parseOptions(rest, { db: { value: true }, help: { value: false } });
    if (opts.flags.has('help')) {
      io.stdout(USAGE);
      return 0;
    }
    path = opts.values.get('db')?.[0] ?? defaultDbPath();
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    io.stderr(`db: ${e.message}\n${USAGE}`);
    return 2;
  }
  try {
    const r = await migrateWithBackup(path, createRealClock().epochMs());
    if (r.backup === null) {
      io.stdout(`${path}: already at schema ${r.to}; nothing to do\n`);
      return 0;
    }
    io.stdout(`${path}: migrated from schema ${r.from} to ${r.to}; the version-${r.from} copy is ${r.backup}\n`);
    if (r.recovered.length) io.stdout(`marked interrupted (their writer had stopped): ${r.recovered.join(', ')}\n`);
    return 0;
  } catch (e) {
    if (e instanceof StoreError) {
      io.stderr(`db migrate: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
};
