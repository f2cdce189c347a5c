// @ts-check
/**
 * One session's report on the sessions page, section by section as
 * `autopatch report` prints it: the session (seed, back-pressure notes,
 * hardware at the end), the funnel with unfinished attempts, ≥ 2 simultaneous whole-cell
 * by time and by round, time per state, failure reasons, quality with the
 * spontaneous break-in share, per-pipette and per-preset funnels, and the
 * recorded cells with the CLI table's columns (sent with the report). The
 * figures are the store's (GET /api/sessions/:id/report); nothing is
 * recomputed here but shares of counts.
 */
import { h } from './dom.js';
import * as fmt from './format.js';

const STAGES = [
  ['approached', 'approached'],
  ['detected', 'cell detected'],
  ['sealed', 'sealed'],
  ['wholeCell', 'whole-cell'],
  ['recorded', 'recorded'],
];
/** the CLI's quality rows, in its order: [key, label, format] */
const QUALITY = /** @type {Array<[string, string, (v: number) => string]>} */ ([
  ['peakSeal', 'peak seal', fmt.ohms],
  ['timeToSeal', 'time to seal', fmt.seconds],
  ['r0', 'R0', fmt.ohms],
  ['ra', 'Ra', fmt.ohms],
  ['rm', 'Rm', fmt.ohms],
  ['cm', 'Cm', fmt.farads],
  ['ihold', 'Ihold', fmt.amps],
  ['vrest', 'Vrest', fmt.volts],
]);
const DROPPED = [
  ['backpressure_dropped_testpulse_sweeps', 'test-pulse sweeps'],
  ['backpressure_dropped_readings', 'readings'],
  ['backpressure_dropped_positions', 'positions'],
];

/** @param {string[]} labels the first one left-aligned, the others numbers */
const head = (labels) => h('thead', null, h('tr', null, ...labels.map((l, i) => h('th', { class: i ? 'num' : '' }, l))));
/** @param {string | number} v */
const num = (v) => h('td', { class: 'num' }, v);
/** A table that scrolls inside its card when it is wider than it. @param {HTMLElement} table */
const scroll = (table) => h('div', { class: 'scroll-x' }, table);
/** @param {number} value @param {number} max @param {string} cls */
const bar = (value, max, cls) => h('td', { class: 'bar' }, h('span', { class: `track ${cls}` }, h('i', { style: { width: `${(100 * value) / Math.max(max, 1e-9)}%` } })));
/** @param {string} title @param {...(Node | string | null)} body */
const section = (title, ...body) => h('div', { class: 'report-section' }, h('h2', null, title), ...body);

/** @param {any} r SessionReport @returns {HTMLElement[]} */
export function renderReport(r) {
  const s = r.session;
  const f = r.funnel;
  const sim = r.simultaneous;
  const byRound = sim.roundMode === 'synchronized' ? 'by round' : 'by attempt index';
  return [
    h('h2', { id: 'report-title' }, `Session ${s.sessionId} · ${s.preset} · ${s.operator} · ${fmt.dateTime(s.startEpochMs)} · ${s.status}${s.endReason && s.endReason !== s.status ? ` (${s.endReason})` : ''}`),
    h('p', { class: 'muted', id: 'session-meta' }, `${s.rig}${s.virtual ? ' · virtual time' : ''} · seed ${r.seed ?? '—'} · ${s.pipettes.length} pipette${s.pipettes.length === 1 ? '' : 's'}`),
    figures(r, byRound),
    ...backPressureNotes(r.stats ?? {}),
    h(
      'div',
      { class: 'report-grid' },
      section(`Funnel (${f.attempts} ended attempts${f.unfinished ? `, ${f.unfinished} unfinished` : ''})`, scroll(funnelTable(f))),
      section('≥2 simultaneous whole-cell', scroll(simultaneityTable(sim, byRound)), h('p', { class: 'muted definition' }, sim.definition)),
      section('Time per state (all pipettes)', r.timePerState.length ? scroll(timeTable(r.timePerState)) : h('p', { class: 'muted' }, 'none')),
      section('Failure reasons', r.failureReasons.length ? scroll(failureTable(r.failureReasons)) : h('p', { class: 'muted', id: 'failures' }, 'none')),
      section('Quality (ended attempts where known)', scroll(qualityTable(r.quality)), breakInLine(r.spontaneousBreakIn)),
    ),
    h('h2', null, 'By pipette'),
    scroll(byTable(r.byPipette, 'pipetteId', 'pipette', 'by-pipette')),
    h('h2', null, 'By preset'),
    scroll(byTable(r.byPreset, 'preset', 'preset', 'by-preset')),
    h('h2', null, `Recorded cells: e-features (IPFX definitions; ${r.cells.length} cell${r.cells.length === 1 ? '' : 's'})`),
    scroll(cellsTable(r.cellColumns, r.cells)),
    h('h2', null, 'Hardware'),
    r.hardwareTable ? scroll(hardwareTable(r.hardwareTable)) : h('p', { class: 'muted', id: 'hardware' }, 'not recorded'),
  ];
}

/** @param {any} r @param {string} byRound */
function figures(r, byRound) {
  const f = r.funnel;
  const sim = r.simultaneous;
  const items = [
    ['duration', fmt.seconds(r.durationS), 'duration'],
    ['attempts', String(f.attempts), 'ended attempts'],
    ['unfinished', String(f.unfinished), 'unfinished'],
    ['recorded', String(f.recorded), 'recorded'],
    ['cells-per-hour', r.cellsPerHour.toFixed(2), `cells / hour (${r.recorded} in ${r.hours.toFixed(2)} h)`],
    ['overlap', fmt.share(sim.overlapShare), `wc overlap (${sim.overlappingAttempts}/${sim.wholeCellAttempts} attempts)`],
    ['by-round', fmt.share(sim.rate), `≥2 ${byRound} (${sim.atLeastTwo}/${sim.trials} trials)`],
  ];
  return h('div', { class: 'figures' }, ...items.map(([key, v, l]) => h('div', { class: 'figure', dataset: { figure: key } }, h('b', null, v), h('span', null, l))));
}

/** The CLI's note when back-pressure thinned what was stored. @param {Record<string, number>} stats */
function backPressureNotes(stats) {
  const parts = DROPPED.map(([k, label]) => [stats[k] ?? 0, label]);
  if (!parts.some(([n]) => Number(n) > 0)) return [];
  return [h('p', { class: 'note', id: 'backpressure' }, `back-pressure shed ${parts.map(([n, l]) => `${n} ${l}`).join(', ')}`)];
}

/** @param {any} f FunnelCounts */
function funnelTable(f) {
  const rows = [['attempts', 'ended attempts', f.attempts, null], ...STAGES.map(([k, label], i) => [k, label, f[k], i === 0 ? f.attempts : f[STAGES[i - 1][0]]])];
  return h(
    'table',
    { id: 'funnel-table' },
    head(['stage', 'count', 'of attempts', 'of previous']),
    h(
      'tbody',
      null,
      ...rows.map(([key, label, n, prev]) =>
        h('tr', { dataset: { stage: key } }, h('td', null, label), num(n), num(key === 'attempts' ? '' : fmt.share(f.attempts ? n / f.attempts : null)), num(prev === null ? '' : fmt.share(prev ? n / prev : null))),
      ),
      h('tr', { dataset: { stage: 'unfinished' }, class: 'muted' }, h('td', null, 'unfinished (never ended)'), num(f.unfinished), num(''), num('')),
    ),
  );
}

/** @param {any} sim @param {string} byRound */
function simultaneityTable(sim, byRound) {
  const rows = [
    ['episodes', 'by time: episodes with ≥2 pipettes in whole-cell or record', String(sim.episodes)],
    ['episode-time', 'by time: their total time', fmt.seconds(sim.episodeSeconds)],
    ['overlap', "by time: whole-cell attempts that overlapped another pipette's", `${sim.overlappingAttempts} of ${sim.wholeCellAttempts} (${fmt.share(sim.overlapShare)})`],
    ['rounds', `${byRound}: trials with ≥2 overlapping whole-cell`, `${sim.atLeastTwo} of ${sim.trials} (${fmt.share(sim.rate)})`],
  ];
  return h('table', { id: 'simultaneity' }, h('tbody', null, ...rows.map(([key, label, v]) => h('tr', { dataset: { figure: key } }, h('td', { class: 'wrap' }, label), num(v)))));
}

/** @param {Array<{state: string, seconds: number, fraction: number, visits: number}>} rows */
function timeTable(rows) {
  const max = Math.max(...rows.map((x) => x.seconds));
  return h(
    'table',
    { id: 'time-per-state' },
    head(['state', '', 'time', 'share', 'visits']),
    h('tbody', null, ...rows.map((x) => h('tr', { dataset: { state: x.state } }, h('td', null, x.state), bar(x.seconds, max, 'state'), num(fmt.seconds(x.seconds)), num(fmt.share(x.fraction)), num(x.visits)))),
  );
}

/** @param {Array<{reason: string, count: number, fraction: number, failedIn: Array<{state: string, count: number}>}>} rows */
function failureTable(rows) {
  const max = Math.max(...rows.map((x) => x.count));
  return h(
    'table',
    { id: 'failures' },
    head(['reason', '', 'count', 'share', 'failed in']),
    h(
      'tbody',
      null,
      ...rows.map((x) =>
        h('tr', { dataset: { reason: x.reason } }, h('td', null, x.reason), bar(x.count, max, 'failure'), num(x.count), num(fmt.share(x.fraction)), h('td', { class: 'wrap' }, x.failedIn.map((s) => `${s.state} ${s.count}`).join(', '))),
      ),
    ),
  );
}

/** @param {Record<string, any>} quality */
function qualityTable(quality) {
  const stats = ['min', 'q1', 'median', 'q3', 'max'];
  return h(
    'table',
    { id: 'quality' },
    head(['figure', 'n', ...stats]),
    h(
      'tbody',
      null,
      ...QUALITY.map(([key, label, show]) => {
        const d = quality[key];
        return h('tr', { dataset: { figure: key } }, h('td', null, label), num(d ? d.n : 0), ...stats.map((k) => num(d ? show(d[k]) : '—')));
      }),
    ),
  );
}

/** @param {{attempts: number, spontaneous: number, rate: number | null}} b */
function breakInLine(b) {
  return h('p', { id: 'spontaneous-break-in' }, `Spontaneous break-in: ${b.spontaneous} of ${b.attempts} attempts that reached whole-cell (${fmt.share(b.rate)})`);
}

/** @param {{headers: string[], rows: string[][]}} t the CLI's hardware table */
function hardwareTable(t) {
  return h(
    'table',
    { id: 'hardware' },
    h('thead', null, h('tr', null, ...t.headers.map((l) => h('th', null, l)))),
    h('tbody', null, ...t.rows.map((row) => h('tr', { dataset: { pipette: row[0] } }, ...row.map((v) => h('td', null, v))))),
  );
}

/** @param {any[]} rows @param {string} key @param {string} label @param {string} id */
function byTable(rows, key, label, id) {
  return h(
    'table',
    { id },
    head([label, 'attempts', 'unfinished', ...STAGES.map(([, l]) => l), 'WC rate', 'yield', 'cells/h']),
    h(
      'tbody',
      null,
      ...rows.map((row) => {
        const f = row.funnel;
        return h(
          'tr',
          { dataset: { key: row[key] } },
          h('td', null, row[key]),
          num(f.attempts),
          num(f.unfinished),
          ...STAGES.map(([k]) => num(f[k])),
          num(fmt.share(f.attempts ? f.wholeCell / f.attempts : null)),
          num(fmt.share(f.attempts ? f.recorded / f.attempts : null)),
          num(row.cellsPerHour.toFixed(2)),
        );
      }),
    ),
  );
}

/**
 * @param {Array<{key: string, of: 'cell' | 'feature', label: string, scale: number, digits: number}>} columns
 * @param {any[]} cells RecordedCellView[]
 */
function cellsTable(columns, cells) {
  if (cells.length === 0) return h('p', { class: 'muted', id: 'cells' }, 'no recorded cells');
  const value = (/** @type {any} */ c, /** @type {typeof columns[number]} */ col) => (col.of === 'feature' ? c.features[col.key] : c[col.key]);
  return h(
    'table',
    { id: 'cells' },
    h('thead', null, h('tr', null, h('th', null, 'attempt'), h('th', null, 'pipette'), ...columns.map((col) => h('th', { class: 'num', dataset: { column: col.key } }, col.label)))),
    h(
      'tbody',
      null,
      ...cells.map((c) =>
        h('tr', { dataset: { attempt: c.attemptId } }, h('td', null, c.attemptId), h('td', null, c.pipetteId), ...columns.map((col) => h('td', { class: 'num', dataset: { column: col.key } }, fmt.fixed(value(c, col), col.scale, col.digits)))),
      ),
    ),
  );
}
