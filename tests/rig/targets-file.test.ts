/**
 * Targets files: what a valid one gives back, and errors that name the file
 * and the field for everything else.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProtocolError } from '../../src/protocol/errors.ts';
import { loadTargetsFile, targetsFileText, validateTargets } from '../../src/rig/targets-file.ts';

const dir = mkdtempSync(join(tmpdir(), 'ap-targets-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function problems(data: unknown): string[] {
  try {
    validateTargets(data, 'cells.json');
  } catch (e) {
    if (e instanceof ProtocolError) return e.message.split('\n');
    throw e;
  }
  return [];
}

describe('targets file', () => {
  it('reads back what it writes', () => {
    const cells = [
      { cellId: 3, position: [10, -20.5, 40] as const },
      { cellId: 7, position: [0, 0, 12] as const },
    ];
    const path = join(dir, 'ok.json');
    writeFileSync(path, targetsFileText(cells, 'from the camera'));
    expect(loadTargetsFile(path)).toEqual(cells.map((c) => ({ cellId: c.cellId, position: [...c.position] })));
  });

  it('names the file and the field of every problem', () => {
    expect(problems({ kind: 'autopatch-rig', cells: [] })).toEqual([
      'cells.json: kind = "autopatch-rig" is not allowed: must be "autopatch-targets"',
      expect.stringMatching(/^cells\.json: cells has 0 entries/),
    ]);
    expect(problems({ kind: 'autopatch-targets', cells: [{ id: 1, position: [0, 0] }] })).toEqual([expect.stringMatching(/^cells\.json: cells\[0\]\.position has 2 entries/)]);
    expect(problems({ kind: 'autopatch-targets', cells: [{ id: 1, position: [0, 'x', 5e6] }] })).toEqual([
      expect.stringMatching(/^cells\.json: cells\[0\]\.position\[1\] = "x" has the wrong type/),
      'cells.json: cells[0].position[2] = 5000000 is out of range: must be between -1000000 and 1000000 µm',
    ]);
    expect(problems({ kind: 'autopatch-targets', cells: [{ id: 1.5, position: [0, 0, 0], size: 3 }] })).toEqual([
      expect.stringMatching(/^cells\.json: cells\[0\]\.size is not a known field/),
      expect.stringMatching(/^cells\.json: cells\[0\]\.id = 1\.5 /),
    ]);
    expect(
      problems({
        kind: 'autopatch-targets',
        cells: [
          { id: 4, position: [0, 0, 0] },
          { id: 4, position: [50, 0, 0] },
        ],
      }),
    ).toEqual(['cells.json: cells[1].id = 4 is also the id of cells[0]: each cell needs its own id']);
  });

  it('says when the file is missing or not JSON', () => {
    expect(() => loadTargetsFile(join(dir, 'none.json'))).toThrow(/none\.json: file not found/);
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{ "kind": "autopatch-targets", ');
    expect(() => loadTargetsFile(bad)).toThrow(ProtocolError);
  });
});
