/**
 * Turns ajv errors into one readable line each, stating the allowed range or
 * values from the schema itself (with the `unit` annotation), so the schema
 * stays the single source of the limits quoted to the operator.
 */
import type { AnySchemaObject, ErrorObject } from 'ajv';
import { fieldIs, joinPath, pointerToPath, show, type ProtocolProblem } from './errors.ts';

type Schema = AnySchemaObject;

function withUnit(n: number, unit: string | undefined): string {
  return unit ? `${n} ${unit}` : String(n);
}

/** "a number between -600 and 0 mbar", "an integer between 1 and 20", "one of …" */
export function describeAllowed(schema: Schema | undefined): string {
  if (!schema) return 'a valid value';
  if (schema.const !== undefined) return show(schema.const);
  if (Array.isArray(schema.enum)) return `one of ${schema.enum.map(show).join(', ')}`;
  switch (schema.type) {
    case 'number':
    case 'integer':
      return describeNumber(schema);
    case 'boolean':
      return 'true or false';
    case 'string':
      if (schema.pattern) return `a name of lowercase letters, digits and dashes (at most ${schema.maxLength} characters)`;
      return 'a non-empty string';
    case 'array': {
      const what = schema.items ? describeItems(schema.items as Schema) : 'values';
      const count =
        schema.minItems !== undefined ? `, ${schema.minItems} to ${schema.maxItems} entries` : `, at most ${schema.maxItems} entries`;
      return `a list of ${what}${count}`;
    }
    case 'object':
      if (schema.discriminator) return `an object whose type is ${describeAllowed(schema.properties?.type as Schema)}`;
      return `an object with fields ${Object.keys(schema.properties ?? {}).join(', ')}`;
    default:
      return 'a valid value';
  }
}

function describeItems(items: Schema): string {
  if (items.type === 'object') return `{${Object.keys(items.properties ?? {}).join(', ')}}`;
  if (items.type === 'string' && items.pattern) return 'names';
  return `${items.type}s`;
}

function describeNumber(s: Schema): string {
  const kind = s.type === 'integer' ? 'an integer' : 'a number';
  const unit = s.unit as string | undefined;
  if (s.exclusiveMinimum !== undefined) {
    return `${kind} > ${s.exclusiveMinimum} and ≤ ${withUnit(s.maximum as number, unit)}`;
  }
  return `${kind} between ${s.minimum} and ${withUnit(s.maximum as number, unit)}`;
}

/** For out-of-range values the type is already right: say only the bounds. */
function describeBounds(s: Schema): string {
  return describeNumber(s).replace(/^a number /, '');
}

function closest(word: string, candidates: string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  // only suggest when it looks like a typo, not a different word
  return bestD <= Math.max(2, Math.floor(word.length / 4)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return row[b.length];
}

function one(e: ErrorObject): ProtocolProblem | null {
  const path = pointerToPath(e.instancePath);
  const parent = e.parentSchema as Schema | undefined;
  switch (e.keyword) {
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return { path, message: `${fieldIs(path, e.data)} is out of range: must be ${describeBounds(parent ?? {})}` };
    case 'type':
      return { path, message: `${fieldIs(path, e.data)} has the wrong type: must be ${describeAllowed(parent)}` };
    case 'enum':
    case 'const':
      return { path, message: `${fieldIs(path, e.data)} is not allowed: must be ${describeAllowed(parent)}` };
    case 'pattern':
    case 'maxLength':
    case 'minLength':
      return { path, message: `${fieldIs(path, e.data)} is not allowed: must be ${describeAllowed(parent)}` };
    case 'required': {
      const key = (e.params as { missingProperty: string }).missingProperty;
      const child = parent?.properties?.[key] as Schema | undefined;
      return { path: joinPath(path, key), message: `${joinPath(path, key)} is missing: must be ${describeAllowed(child)}` };
    }
    case 'additionalProperties': {
      const key = (e.params as { additionalProperty: string }).additionalProperty;
      const allowed = Object.keys(parent?.properties ?? {});
      const guess = closest(key, allowed);
      const hint = guess ? ` (did you mean ${guess}?)` : '';
      return {
        path: joinPath(path, key),
        message: `${joinPath(path, key)} is not a known field${hint}: allowed fields here are ${allowed.join(', ')}`,
      };
    }
    case 'minItems':
    case 'maxItems': {
      const n = Array.isArray(e.data) ? e.data.length : 0;
      return { path, message: `${path} has ${n} entries: must be ${describeAllowed(parent)}` };
    }
    case 'uniqueItems': {
      const { i } = e.params as { i: number; j: number };
      const dup = Array.isArray(e.data) ? e.data[i] : undefined;
      return { path, message: `${path} lists ${show(dup)} more than once: each entry must be unique` };
    }
    case 'discriminator':
      // the enum on `type` already reports a bad or missing family type
      return null;
    default:
      return { path, message: `${path || '(top level)'}: ${e.message ?? 'is invalid'}` };
  }
}

export function problemsFromAjv(errors: readonly ErrorObject[] | null | undefined): ProtocolProblem[] {
  const out: ProtocolProblem[] = [];
  const seen = new Set<string>();
  for (const e of errors ?? []) {
    const p = one(e);
    if (p && !seen.has(p.message)) {
      seen.add(p.message);
      out.push(p);
    }
  }
  return out;
}
