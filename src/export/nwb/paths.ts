/**
 * File and object names. DANDI lays out an archive as
 * `sub-<subject>/sub-<subject>_ses-<session>_icephys.nwb`, where the labels
 * may hold only letters, digits and hyphens (BIDS-style entities, "_" separates
 * entities); HDF5 object names may not contain "/".
 */
import { join } from 'node:path';

/** A DANDI entity label: anything other than [A-Za-z0-9-] becomes "-", runs collapse, ends trimmed. */
export function dandiLabel(id: string): string {
  const label = id.replace(/[^A-Za-z0-9-]+/g, '-').replace(/-+/g, '-').replace(/^-|-$/g, '');
  if (label === '') throw new Error(`"${id}" has no letters or digits to make a DANDI label from`);
  return label;
}

export function nwbPathFor(outDir: string, subjectId: string, sessionId: string): string {
  const sub = dandiLabel(subjectId);
  const ses = dandiLabel(sessionId);
  return join(outDir, `sub-${sub}`, `sub-${sub}_ses-${ses}_icephys.nwb`);
}

/** A safe HDF5 link name: "/" and control characters replaced; "." and ".." avoided. */
export function h5Name(name: string): string {
  const safe = name.replace(/[\/\x00-\x1f\x7f]/g, '_');
  if (safe === '' || safe === '.' || safe === '..') return `_${safe}`;
  return safe;
}
