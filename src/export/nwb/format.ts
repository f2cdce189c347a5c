/**
 * `autopatch export --format nwb`: one NWB 2.x file per session in a
 * DANDI-style layout (<out>/sub-<subject>/sub-<subject>_ses-<session>_icephys.nwb).
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { ExportFormat } from '../../store/export-formats.ts';
import { nwbInputFromStore, type FromStoreOptions } from './from-store.ts';
import { nwbPathFor } from './paths.ts';
import { writeNwb } from './write.ts';

/** What `autopatch export --format nwb` can be told (see the export command's options). */
export type NwbExportOptions = Omit<FromStoreOptions, 'fileCreateDate'>;

export function createNwbExportFormat(options: NwbExportOptions = {}): ExportFormat {
  return {
    name: 'nwb',
    description: 'NWB 2.7 file (icephys series, electrodes, SweepTable and icephys tables) in a DANDI-style folder',
    async run({ db, sessionId, outDir }) {
      // file_create_date is wall time by definition; the export runs outside any session clock.
      const input = nwbInputFromStore(db, sessionId, { ...options, fileCreateDate: new Date().toISOString() });
      const path = nwbPathFor(outDir, input.subject.subjectId, sessionId);
      mkdirSync(dirname(path), { recursive: true });
      await writeNwb(path, input);
      return [path];
    },
  };
}

export const nwbExportFormat: ExportFormat = createNwbExportFormat();
