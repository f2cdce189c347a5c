/**
 * The state groups the live panels and the sessions page colour by
 * (ui/js/states.js): every state of the pipette machine has one, every group
 * has a legend entry and its colours in the stylesheet, and the states that
 * end an attempt the rig recovers from by itself (lost, fouled) share the
 * health rule's warning, apart from those waiting for the operator.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PIPETTE_STATES } from '../../src/control/events.ts';
import { pipetteHealth } from '../../src/control/health.ts';

interface StatesModule {
  STATE_GROUP: Record<string, string>;
  GROUPS: ReadonlyArray<readonly [string, string, string]>;
  groupOf(state: string): string;
  groupNote(state: string): string;
}
const load = async () => (await import(new URL('../../ui/js/states.js', import.meta.url).href)) as StatesModule;
const css = readFileSync(new URL('../../ui/css/app.css', import.meta.url), 'utf8');

describe('ui state groups', () => {
  it('every machine state has a group with a legend entry, a badge colour and a timeline colour', async () => {
    const ui = await load();
    const groups = ui.GROUPS.map(([g]) => g);
    expect(Object.keys(ui.STATE_GROUP).sort()).toEqual([...PIPETTE_STATES].sort());
    for (const state of PIPETTE_STATES) expect(groups, state).toContain(ui.groupOf(state));
    for (const g of groups) {
      expect(css, g).toMatch(new RegExp(`\\.state-${g}\\s*\\{`));
      expect(css, g).toMatch(new RegExp(`\\.seg-${g}\\s*\\{`));
    }
  });

  it('lost has its own colour group with fouled (health: warning), apart from broken and needsPipette (failed)', async () => {
    const ui = await load();
    expect(ui.groupOf('lost')).toBe('lost');
    expect(ui.groupOf('fouled')).toBe('lost');
    for (const s of ['lost', 'fouled'] as const) expect(pipetteHealth(s, null, 1)).toBe('warning');
    for (const s of ['broken', 'needsPipette'] as const) {
      expect(ui.groupOf(s)).toBe('failed');
      expect(pipetteHealth(s, null, 1)).toBe('failed');
    }
    expect(ui.groupNote('lost')).toMatch(/seal or cell lost.*retracting, then cleaning/);
    expect(ui.GROUPS.find(([g]) => g === 'lost')?.[1]).toBe('lost · fouled');
  });
});
