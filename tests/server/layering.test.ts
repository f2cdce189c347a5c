/**
 * The server depends on control's API only: RigControl and its types
 * (src/control/api.ts, events.ts, health.ts), the clock, and its own
 * modules — never on drivers, the physics, the store, the rig or the CLI.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const dir = fileURLToPath(new URL('../../src/server/', import.meta.url));
const ALLOWED = [/^\.\//, /^\.\.\/control\/(api|events|health)\.ts$/, /^\.\.\/clock\//, /^node:/, /^[@a-z]/];

describe('src/server imports', () => {
  it('come only from control’s API, the clock, packages and the server itself', () => {
    const bad: string[] = [];
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
      const text = readFileSync(dir + file, 'utf8');
      for (const m of text.matchAll(/^\s*(?:import|export)\b[^'"]*?from\s+'([^']+)'/gm)) {
        if (!ALLOWED.some((re) => re.test(m[1]))) bad.push(`${file}: ${m[1]}`);
      }
    }
    expect(bad).toEqual([]);
  });
});
