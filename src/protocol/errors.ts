/**
 * Problems found in a protocol file, and the error that carries them. Every
 * message names the file, the field (as a JSON path) and what would be allowed,
 * so an operator can fix the file without reading code.
 */

export interface ProtocolProblem {
  /** JSON path of the field, e.g. `seal.tiers[1].min_MOhm`; '' for the whole file */
  path: string;
  /** what is wrong and what is allowed, without the file name */
  message: string;
}

export class ProtocolError extends Error {
  readonly source: string;
  readonly problems: readonly ProtocolProblem[];

  constructor(source: string, problems: readonly ProtocolProblem[]) {
    super(problems.map((p) => `${source}: ${p.message}`).join('\n'));
    this.name = 'ProtocolError';
    this.source = source;
    this.problems = problems;
  }
}

/** `/seal/tiers/1/at_s` → `seal.tiers[1].at_s` */
export function pointerToPath(pointer: string): string {
  let out = '';
  for (const raw of pointer.split('/').slice(1)) {
    const part = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (/^\d+$/.test(part)) out += `[${part}]`;
    else out += out === '' ? part : `.${part}`;
  }
  return out;
}

export function joinPath(parent: string, key: string): string {
  return parent === '' ? key : `${parent}.${key}`;
}

/** A value as it would appear in the file. */
export function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return value.length === 0 ? '[]' : '[…]';
  if (value !== null && typeof value === 'object') return '{…}';
  return String(value);
}

export function fieldIs(path: string, value: unknown): string {
  return `${path || '(top level)'} = ${show(value)}`;
}
