// @ts-check
/**
 * One pipette's panel: state and time in state, why it got there, the live
 * trace (the test pulse, or while recording the last stimulus sweep with the
 * command it played under it), R over time against the thresholds,
 * pressure/depth/holding, whole-cell figures once there, and the per-pipette
 * controls.
 */
import { h, setText } from './dom.js';
import * as fmt from './format.js';
import { createResistancePlot, createTracePlot, displayUnit } from './plots.js';
import { groupNote, groupOf } from './states.js';

const WHOLE_CELL = new Set(['wholeCell', 'record']);
const BUTTONS = [
  ['skip', 'Skip', 'give up this attempt, go on with the next'],
  ['retry', 'Retry', 'leave a failed state and start again'],
  ['abort', 'Abort', 'stop this pipette safely and keep it out'],
  ['clean', 'Clean', 'clean the tip now'],
  ['replaced', 'Replaced', 'a new pipette was fitted'],
];

/**
 * @typedef {{
 *   command: (pipetteId: string, path: string, body?: unknown) => Promise<void>,
 * }} PanelActions
 */

/**
 * @param {import('./model.js').PipetteView} p
 * @param {{ dense: boolean, actions: PanelActions }} opts
 */
export function createPanel(p, opts) {
  const id = p.pipetteId;
  const plotHeight = opts.dense ? 100 : 140;
  /** @param {string} label @param {string} cls */
  const readout = (label, cls) => {
    const dd = h('dd', { class: cls }, '—');
    return { dt: h('dt', null, label), dd };
  };
  const el = {
    state: h('span', { class: 'state' }),
    tis: h('span', { class: 'tis', title: 'time in state' }),
    attempt: h('span', { class: 'attempt' }),
    reason: h('div', { class: 'reason' }),
    tpCaption: h('figcaption', { class: 'trace-caption' }, 'test pulse'),
    tpBox: h('div', { class: 'plot-box' }),
    rBox: h('div', { class: 'plot-box' }),
    r: readout('R', 'r'),
    pressure: readout('P', 'pressure'),
    depth: readout('depth', 'depth'),
    holding: readout('hold', 'holding'),
    cleans: readout('cleaned', 'cleans'),
    ra: readout('Ra', 'ra'),
    rm: readout('Rm', 'rm'),
    cm: readout('Cm', 'cm'),
    ihold: readout('Ihold', 'ihold'),
    overrides: h('div', { class: 'overrides' }),
  };
  const wcRow = h('dl', { class: 'readouts wc' }, ...[el.ra, el.rm, el.cm, el.ihold].flatMap((r) => [r.dt, r.dd]));

  /** @param {string} path @param {unknown} [body] */
  const run = (path, body) => opts.actions.command(id, path, body);

  /** @param {'pressure' | 'holding'} kind @param {string} unit @param {string} field */
  const overrideForm = (kind, unit, field) => {
    const input = /** @type {HTMLInputElement} */ (h('input', { type: 'number', step: '1', class: `${kind}-input`, placeholder: unit, 'aria-label': `${kind} override, ${unit}` }));
    const form = h(
      'form',
      {
        class: `override ${kind}`,
        onsubmit: (/** @type {Event} */ e) => {
          e.preventDefault();
          const v = input.valueAsNumber;
          if (!Number.isFinite(v)) return input.focus();
          void run(kind, { [field]: v });
        },
      },
      h('label', null, kind === 'pressure' ? 'P' : 'Vh'),
      input,
      h('span', { class: 'unit' }, unit),
      h('button', { type: 'submit', class: 'small', dataset: { action: `${kind}-set` } }, 'Set'),
      h('button', { type: 'button', class: 'small', dataset: { action: `${kind}-release` }, onclick: () => void run(kind, { [field]: null }) }, 'Release'),
    );
    return form;
  };

  const root = h(
    'section',
    { class: 'pipette', dataset: { pipette: id } },
    h('header', { class: 'ph' }, h('span', { class: 'pid' }, id), el.state, el.tis, el.attempt),
    el.reason,
    h(
      'div',
      { class: 'plots' },
      h('figure', { class: 'plot tp' }, el.tpCaption, el.tpBox),
      h('figure', { class: 'plot rt' }, h('figcaption', null, 'R (log) vs time'), el.rBox),
    ),
    h('dl', { class: 'readouts' }, ...[el.r, el.pressure, el.depth, el.holding, el.cleans].flatMap((r) => [r.dt, r.dd])),
    wcRow,
    h(
      'div',
      { class: 'controls' },
      h(
        'div',
        { class: 'buttons' },
        ...BUTTONS.map(([action, label, title]) =>
          h('button', { type: 'button', class: 'small', title, dataset: { action }, onclick: () => void run(action) }, label),
        ),
      ),
      overrideForm('pressure', 'mbar', 'mbar'),
      overrideForm('holding', 'mV', 'mV'),
      el.overrides,
    ),
  );

  const tp = createTracePlot(el.tpBox, { height: plotHeight, command: true });
  const rt = createResistancePlot(el.rBox, { height: plotHeight });
  /** @type {any} */
  let lastTrace = null;
  /** @type {any} */
  let lastCommand = null;
  /** @type {any} */
  let lastThresholds = null;
  let lastHistoryVersion = -1;

  return {
    el: root,
    /**
     * @param {import('./model.js').PipetteView} v
     * @param {{ thresholds: any }} ctx
     */
    update(v, ctx) {
      const group = groupOf(v.state);
      root.className = `pipette health-${v.health ?? 'ok'} group-${group}`;
      el.state.className = `state state-${group}`;
      el.state.title = groupNote(v.state);
      setText(el.state, v.state);
      const n = v.attempts ?? 0;
      setText(el.attempt, v.attemptId ? `#${n} · ${v.attemptId}` : `${n} attempt${n === 1 ? '' : 's'}`);
      setText(el.reason, v.lastReason ? `← ${v.lastReason}` : '');
      el.reason.title = v.lastReason ?? '';
      const rd = v.lastReading;
      setText(el.r.dd, rd ? fmt.ohms(rd.r) : '—');
      setText(el.pressure.dd, v.pressure ? `${fmt.mbar(v.pressure.mbar)}${v.pressure.source === 'atmosphere' ? ' (atm)' : ''}` : '—');
      const z = v.position ? v.position[2] : null;
      setText(el.depth.dd, z === null ? '—' : z < 0 ? `${fmt.microns(-z)} above` : fmt.microns(z));
      setText(el.holding.dd, fmt.holding(v.holding));
      setText(el.cleans.dd, String(v.cleanCount ?? 0));
      const wc = WHOLE_CELL.has(v.state);
      wcRow.hidden = !wc;
      if (wc && rd) {
        setText(el.ra.dd, fmt.ohms(rd.ra));
        setText(el.rm.dd, fmt.ohms(rd.rm));
        setText(el.cm.dd, fmt.farads(rd.cm));
        setText(el.ihold.dd, fmt.amps(rd.ihold));
      }
      const ov = v.overrides ?? { pressureMbar: null, holdingMv: null };
      const parts = [];
      if (ov.pressureMbar !== null) parts.push(`P override ${fmt.mbar(ov.pressureMbar)}`);
      if (ov.holdingMv !== null) parts.push(`Vh override ${ov.holdingMv} mV`);
      setText(el.overrides, parts.join(' · '));
      el.overrides.hidden = parts.length === 0;

      // the newer of the last test pulse and the last stimulus sweep
      const stim = v.stimulus && (!v.trace || v.stimulus.startTime >= v.trace.startTime);
      const shown = stim ? v.stimulus : v.trace;
      const command = stim ? v.command : null;
      if (shown !== lastTrace || command !== lastCommand) {
        lastTrace = shown;
        lastCommand = command;
        tp.set(shown, command);
        if (shown) {
          const unit = displayUnit(shown.unit).label;
          setText(
            el.tpCaption,
            stim ? `stimulus ${shown.mode} (${unit}, ms)${command ? ` · command under it (${displayUnit(command.unit).label})` : ''}` : `test pulse (${unit}, ms)`,
          );
        }
      }
      if (ctx.thresholds !== lastThresholds) {
        lastThresholds = ctx.thresholds;
        rt.setThresholds(ctx.thresholds);
      }
      if (v.historyVersion !== lastHistoryVersion) {
        lastHistoryVersion = v.historyVersion;
        // x axis from the start of this attempt's readings
        rt.set(v.history, v.history.t[0] ?? 0);
      }
    },
    /** @param {number} msInState */
    tick(msInState) {
      setText(el.tis, fmt.duration(msInState));
    },
    destroy() {
      tp.destroy();
      rt.destroy();
      root.remove();
    },
  };
}
