/**
 * A targets file (`"kind": "autopatch-targets"`): the cells a targeted preset
 * (slice, culture) may patch on a real rig, as a camera and an operator or a
 * detector would give them. Positions are in the rig description's world
 * frame, µm, z pointing down from the tissue surface.
 *
 *     { "kind": "autopatch-targets",
 *       "cells": [ { "id": 1, "position": [120.5, -40.0, 55.0] }, … ] }
 *
 * Checked like a rig file before any port is opened: errors name the file and
 * the field (`cells[3].position`).
 */
import { Ajv } from 'ajv';
import type { ObservedCell } from '../control/targets.ts';
import type { Vec3 } from '../geometry.ts';
import { problemsFromAjv } from '../protocol/describe.ts';
import { ProtocolError, fieldIs, type ProtocolProblem } from '../protocol/errors.ts';
import { readJsonFile } from './load.ts';

export const TARGETS_KIND = 'autopatch-targets';

const coordinate = { type: 'number', unit: 'µm', minimum: -1_000_000, maximum: 1_000_000 };

const targetsSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['kind', 'cells'],
  properties: {
    kind: { type: 'string', const: TARGETS_KIND },
    /** free text: where the positions came from */
    note: { type: 'string', maxLength: 2000 },
    cells: {
      type: 'array',
      minItems: 1,
      maxItems: 100_000,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['id', 'position'],
        properties: {
          id: { type: 'integer', unit: '', minimum: 0, maximum: 2 ** 31 - 1 },
          position: { type: 'array', minItems: 3, maxItems: 3, items: coordinate },
        },
      },
    },
  },
};

const ajv = new Ajv({ allErrors: true, strict: true, verbose: true });
ajv.addKeyword({ keyword: 'unit', schemaType: 'string' });
const validateSchema = ajv.compile(targetsSchema);

/** Checks parsed data as a targets file; returns its cells. */
export function validateTargets(data: unknown, source: string): ObservedCell[] {
  if (!validateSchema(data)) throw new ProtocolError(source, problemsFromAjv(validateSchema.errors));
  const cells = (data as { cells: Array<{ id: number; position: Vec3 }> }).cells;
  const first = new Map<number, number>();
  const problems: ProtocolProblem[] = [];
  cells.forEach((c, i) => {
    const at = first.get(c.id);
    if (at === undefined) first.set(c.id, i);
    else problems.push({ path: `cells[${i}].id`, message: `${fieldIs(`cells[${i}].id`, c.id)} is also the id of cells[${at}]: each cell needs its own id` });
  });
  if (problems.length > 0) throw new ProtocolError(source, problems);
  return cells.map((c) => ({ cellId: c.id, position: [c.position[0], c.position[1], c.position[2]] }));
}

export function loadTargetsFile(path: string): ObservedCell[] {
  return validateTargets(readJsonFile(path), path);
}

/** The file form of a list of cells (what `loadTargetsFile` reads back). */
export function targetsFileText(cells: readonly ObservedCell[], note?: string): string {
  const body = { kind: TARGETS_KIND, ...(note ? { note } : {}), cells: cells.map((c) => ({ id: c.cellId, position: c.position })) };
  return `${JSON.stringify(body, null, 2)}\n`;
}
