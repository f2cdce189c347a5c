/**
 * `autopatch export --format nwb`: one NWB 2.x file per session in a
 * DANDI-style layout (<out>/sub-<subject>/sub-<subject>_ses-<session>_icephys.nwb).
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { ExportFormat } from '../../store/export-formats.ts';
import { nwbInputFromStore } from './from-store.ts';
import { nwbPathFor } from './paths.ts';
import { writeNwb } from './write.ts';

export const nwbExportFormat: ExportFormat = {
  name: 'nwb',
  description: 'NWB 2.7 file (icephys series, electrodes, SweepTable and icephys tables) in a DANDI-style folder',
  async run({ db, sessionId, outDir }) {
    // file_create_date is wall time by definition; the export runs outside any session clock.
    const input = nwbInputFromStore(db, sessionId, { fileCreateDate: new Date().toISOString() });
    const path = nwbPathFor(outDir, input.subject.subjectId, sessionId);
    mkdirSync(dirname(path), { recursive: true });
    await writeNwb(path, input);
    return [path];
  },
};
