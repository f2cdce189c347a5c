/**
 * Small argv parser for the CLI commands: `--name value`, `--name=value`
 * and bare flags; repeated options collect; anything unknown is an error
 * (a typo must not silently report on the wrong session).
 */
export interface OptionSpec {
  /** takes a value (else a flag) */
  value: boolean;
  repeat?: boolean;
}

export interface ParsedOptions {
  values: Map<string, string[]>;
  flags: Set<string>;
}

export class UsageError extends Error {}

export function parseOptions(argv: readonly string[], spec: Record<string, OptionSpec>): ParsedOptions {
  const values = new Map<string, string[]>();
  const flags = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) throw new UsageError(`unexpected argument "${arg}"`);
    const eq = arg.indexOf('=');
    const name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
    const s = spec[name];
    if (!s) throw new UsageError(`unknown option --${name}`);
    if (!s.value) {
      if (eq >= 0) throw new UsageError(`--${name} takes no value`);
      flags.add(name);
      continue;
    }
    let v: string | undefined;
    if (eq >= 0) v = arg.slice(eq + 1);
    else {
      v = argv[++i];
      if (v === undefined || v.startsWith('--')) throw new UsageError(`--${name} needs a value`);
    }
    const list = values.get(name) ?? [];
    if (list.length > 0 && !s.repeat) throw new UsageError(`--${name} given twice`);
    list.push(v);
    values.set(name, list);
  }
  return { values, flags };
}

/** A numeric option reader over parsed options: `num(name, fallback, check, what)` (what: "an integer ≥ 1"). */
export function numberOption(o: ParsedOptions) {
  return (name: string, fallback: number, check: (n: number) => boolean, what: string): number => {
    const v = o.values.get(name)?.[0];
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isFinite(n) || !check(n)) throw new UsageError(`--${name} must be ${what} (got "${v}")`);
    return n;
  };
}

export function oneOf<T extends string>(name: string, value: string | undefined, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new UsageError(`--${name} must be one of ${allowed.join(', ')} (got "${value}")`);
}

/** `--seed` and `--pipettes` of a simulated rig, read alike by every command that builds one. */
export function simulatedRigNumbers(num: ReturnType<typeof numberOption>): { seed: number; pipettes: number } {
  return {
    seed: num('seed', 1, (n) => Number.isInteger(n) && n >= 0, 'a non-negative integer'),
    pipettes: num('pipettes', 4, (n) => Number.isInteger(n) && n >= 1 && n <= 32, 'an integer from 1 to 32'),
  };
}
