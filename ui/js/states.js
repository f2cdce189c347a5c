// @ts-check
/**
 * Pipette states by kind, for colours and legends: the live panels (state
 * badge) and the sessions page (timeline segments, legend) use the same
 * groups. `lost` and `fouled` end an attempt with a problem the rig deals
 * with itself (retract, then clean), so they share the warning colour of the
 * health rule (src/control/health.ts); `broken` and `needsPipette` wait for
 * the operator.
 */

/** @type {Record<string, string>} */
export const STATE_GROUP = {
  pipetteCheck: 'approach', descent: 'approach', hunt: 'approach', confirmHit: 'approach',
  seal: 'seal', cellAttached: 'seal',
  breakIn: 'cell', wholeCell: 'cell', record: 'cell',
  retract: 'service', clean: 'service',
  lost: 'lost', fouled: 'lost',
  broken: 'failed', needsPipette: 'failed',
  idle: 'rest', safe: 'rest', done: 'rest',
};

/** The groups in legend order: [group, label, what it covers]. */
export const GROUPS = /** @type {const} */ ([
  ['approach', 'approach', 'pipette check, descent, hunt, confirming a hit'],
  ['seal', 'seal', 'sealing, cell-attached'],
  ['cell', 'cell', 'break-in, whole cell, recording'],
  ['service', 'retract · clean', 'retracting, cleaning the tip'],
  ['lost', 'lost · fouled', 'seal or cell lost, or tip fouled: retracting, then cleaning'],
  ['failed', 'broken · needs pipette', 'tip broken or used up: waiting for a new pipette'],
  ['rest', 'idle · safe · done', 'between attempts, in the safe state, or finished'],
]);

/** @param {string} state @returns {string} */
export function groupOf(state) {
  return STATE_GROUP[state] ?? 'rest';
}

/** @param {string} state @returns {string} what the state's group means, for a tooltip */
export function groupNote(state) {
  const group = groupOf(state);
  return GROUPS.find(([g]) => g === group)?.[2] ?? '';
}
