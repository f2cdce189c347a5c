import { describe, expect, it } from 'vitest';
import { dandiLabel, h5Name, nwbPathFor } from '../../src/export/nwb/paths.ts';
import { objectIdsFor, uuidV5 } from '../../src/export/nwb/uuid.ts';

describe('nwbPathFor', () => {
  it('lays files out the DANDI way', () => {
    expect(nwbPathFor('/data/export', 'M17', '2025-05-20a')).toBe('/data/export/sub-M17/sub-M17_ses-2025-05-20a_icephys.nwb');
  });

  it('sanitises ids to letters, digits and hyphens', () => {
    expect(nwbPathFor('out', 'mouse/17 (L)', 'S_2025.05.20 #1')).toBe('out/sub-mouse-17-L/sub-mouse-17-L_ses-S-2025-05-20-1_icephys.nwb');
    expect(dandiLabel('--a__b--')).toBe('a-b');
    expect(() => dandiLabel('/_/')).toThrow(/no letters or digits/);
  });
});

describe('h5Name', () => {
  it('keeps ordinary names and replaces what HDF5 cannot hold', () => {
    expect(h5Name('p1-a3')).toBe('p1-a3');
    expect(h5Name('amp/ch1')).toBe('amp_ch1');
    expect(h5Name('.')).toBe('_.');
    expect(h5Name('')).toBe('_');
  });
});

describe('uuidV5', () => {
  it('matches the RFC 4122 name-based (SHA-1) algorithm', () => {
    // Python: uuid.uuid5(uuid.NAMESPACE_DNS, 'python.org')
    expect(uuidV5('6ba7b810-9dad-11d1-80b4-00c04fd430c8', 'python.org')).toBe('886313e1-3b8a-5372-9b90-0c9aee199e5d');
  });

  it('gives stable, distinct ids per file and path', () => {
    const a = objectIdsFor('file-a');
    const b = objectIdsFor('file-b');
    expect(a('/acquisition/x')).toBe(objectIdsFor('file-a')('/acquisition/x'));
    expect(a('/acquisition/x')).not.toBe(a('/acquisition/y'));
    expect(a('/acquisition/x')).not.toBe(b('/acquisition/x'));
  });
});
