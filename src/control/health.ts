/**
 * The one rule for a pipette's health, the colour the dashboard gives its
 * panel. The runner applies it, puts the result in the snapshot and streams
 * every change as a `pipette.health` event; nothing downstream recomputes it.
 *
 *   failed   out of action until someone acts: safe, broken, needsPipette
 *   warning  still working but not well: fouled (going to be cleaned), lost
 *            (seal or cell lost, retracting to clean), or in
 *            whole cell with access above the preset's Ra maximum
 *   ok       otherwise
 */
import type { PipetteStateName } from './events.ts';

export type PipetteHealth = 'ok' | 'warning' | 'failed';

const OUT_OF_ACTION: ReadonlySet<PipetteStateName> = new Set(['safe', 'broken', 'needsPipette']);
const WHOLE_CELL: ReadonlySet<PipetteStateName> = new Set(['wholeCell', 'record']);

/**
 * `accessOhm`: the whole-cell access resistance as the machine judges it
 * (its QC mean), null before it has one; `raMaxOhm` from the preset.
 */
export function pipetteHealth(state: PipetteStateName, accessOhm: number | null, raMaxOhm: number): PipetteHealth {
  if (OUT_OF_ACTION.has(state)) return 'failed';
  if (state === 'fouled' || state === 'lost') return 'warning';
  if (WHOLE_CELL.has(state) && accessOhm !== null && accessOhm > raMaxOhm) return 'warning';
  return 'ok';
}
