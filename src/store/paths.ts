/** Where the database lives unless told otherwise. */
import { fileURLToPath } from 'node:url';

/** The repository root (this file is src/store/paths.ts). */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** `AUTOPATCH_DB` if set, else data/autopatch.sqlite under the repository (gitignored). */
export function defaultDbPath(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env.AUTOPATCH_DB;
  if (fromEnv && fromEnv.trim() !== '') return fromEnv;
  return fileURLToPath(new URL('../../data/autopatch.sqlite', import.meta.url));
}

/** Default folder for `export` output. */
export function defaultExportDir(sessionId: string): string {
  return fileURLToPath(new URL(`../../data/export/${encodeURIComponent(sessionId)}/`, import.meta.url));
}
