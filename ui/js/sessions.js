// @ts-check
/**
 * Sessions page: the list of past sessions, one session's report (funnel,
 * time per state, failure reasons, quality, ≥2-simultaneous rate, cells per
 * hour, per-pipette and per-preset tables), its attempts as state timelines,
 * and the sweeps of an attempt plotted. Selection lives in the URL hash so a
 * view can be reloaded or shared.
 */
import { adoptTokenFromUrl, getBinary, getJson } from './api.js';
import { $, h, setText } from './dom.js';
import { toast, wireEstop } from './feedback.js';
import * as fmt from './format.js';
import { createTracePlot, displayUnit } from './plots.js';
import { createTokenBox } from './token-box.js';
import { decodeFrames } from './trace-frame.js';

adoptTokenFromUrl();
createTokenBox($('#token-slot'), () => void loadSessions());
wireEstop($('#estop'));

const GROUP = /** @type {Record<string, string>} */ ({
  pipetteCheck: 'approach', descent: 'approach', hunt: 'approach', confirmHit: 'approach',
  seal: 'seal', cellAttached: 'seal', breakIn: 'cell', wholeCell: 'cell', record: 'cell',
  retract: 'service', clean: 'service', broken: 'failed', fouled: 'failed', lost: 'failed', needsPipette: 'failed',
  idle: 'rest', safe: 'rest', done: 'rest',
});
const STAGES = [
  ['attempts', 'attempts'],
  ['approached', 'approached'],
  ['detected', 'cell detected'],
  ['sealed', 'sealed'],
  ['wholeCell', 'whole-cell'],
  ['recorded', 'recorded'],
];
const QUALITY = /** @type {Array<[string, string, (v: number) => string]>} */ ([
  ['peakSeal', 'peak seal', fmt.ohms],
  ['timeToSeal', 'time to seal', fmt.seconds],
  ['ra', 'Ra', fmt.ohms],
  ['rm', 'Rm', fmt.ohms],
  ['cm', 'Cm', fmt.farads],
  ['ihold', 'Ihold', fmt.amps],
]);

/** @returns {Record<string, string>} */
function readHash() {
  return Object.fromEntries(new URLSearchParams(location.hash.slice(1)));
}
/** @param {Record<string, string | undefined>} patch */
function writeHash(patch) {
  const cur = readHash();
  for (const [k, v] of Object.entries(patch)) {
    if (v === undefined) delete cur[k];
    else cur[k] = v;
  }
  history.replaceState(history.state, '', `#${new URLSearchParams(cur)}`);
}

/** @param {Element} tbody @param {Element} row */
function select(tbody, row) {
  for (const r of tbody.querySelectorAll('tr.selected')) r.classList.remove('selected');
  row.classList.add('selected');
}

// ------------------------------------------------------------------ sessions

async function loadSessions() {
  const tbody = $('#sessions tbody');
  try {
    /** @type {any[]} */
    const sessions = await getJson('/api/sessions?limit=500');
    setText($('#sessions-msg'), sessions.length ? '' : 'No sessions recorded yet.');
    tbody.replaceChildren(
      ...sessions.map((s) => {
        const row = h(
          'tr',
          { class: 'clickable', dataset: { session: s.sessionId } },
          h('td', null, fmt.dateTime(s.startEpochMs)),
          h('td', null, s.sessionId),
          h('td', null, s.preset),
          h('td', null, s.operator),
          h('td', { class: `status-${s.status}` }, s.status + (s.virtual ? ' · sim' : '')),
          h('td', { class: 'num' }, s.attempts),
          h('td', { class: 'num' }, s.wholeCell),
          h('td', { class: 'num' }, s.recorded),
        );
        row.addEventListener('click', () => {
          select(tbody, row);
          writeHash({ session: s.sessionId, attempt: undefined });
          void openSession(s.sessionId);
        });
        return row;
      }),
    );
    const want = readHash().session;
    const row = want ? tbody.querySelector(`tr[data-session="${CSS.escape(want)}"]`) : null;
    if (row) {
      select(tbody, row);
      await openSession(want);
    }
  } catch (err) {
    setText($('#sessions-msg'), `Could not load sessions: ${err instanceof Error ? err.message : err}`);
  }
}

// -------------------------------------------------------------------- report

/** @param {string} sessionId */
async function openSession(sessionId) {
  const reportEl = $('#report');
  reportEl.replaceChildren(h('p', { class: 'muted' }, `Loading ${sessionId}…`));
  $('#sweep-viewer').hidden = true;
  try {
    const [report, attempts] = await Promise.all([
      getJson(`/api/sessions/${encodeURIComponent(sessionId)}/report`),
      getJson(`/api/sessions/${encodeURIComponent(sessionId)}/attempts`),
    ]);
    renderReport(report);
    renderAttempts(attempts);
  } catch (err) {
    reportEl.replaceChildren(h('p', { class: 'error-text' }, String(err instanceof Error ? err.message : err)));
    $('#attempts-card').hidden = true;
  }
}

/** @param {Record<string, number>} f */
function funnelCells(f) {
  return [
    ...STAGES.map(([k]) => h('td', { class: 'num' }, f[k] ?? 0)),
    h('td', { class: 'num' }, fmt.percent(f.wholeCell ?? 0, f.attempts ?? 0)),
    h('td', { class: 'num' }, fmt.percent(f.recorded ?? 0, f.attempts ?? 0)),
  ];
}

/** @param {string} firstLabel */
function funnelHead(firstLabel) {
  return h('thead', null, h('tr', null, h('th', null, firstLabel), ...STAGES.map(([, l]) => h('th', { class: 'num' }, l)), h('th', { class: 'num' }, 'WC rate'), h('th', { class: 'num' }, 'rec. rate'), h('th', { class: 'num' }, 'cells/h')));
}

/** @param {Array<{label: string, value: number, text: string}>} rows @param {string} cls */
function hbars(rows, cls) {
  const max = Math.max(1e-9, ...rows.map((r) => r.value));
  return h(
    'div',
    null,
    ...rows.map((r) =>
      h('div', { class: `hbar ${cls}` }, h('span', null, r.label), h('span', { class: 'track' }, h('i', { style: { width: `${(100 * r.value) / max}%` } })), h('span', { class: 'num' }, r.text)),
    ),
  );
}

/** @param {any} r */
function renderReport(r) {
  const f = r.funnel;
  const sim = r.simultaneous;
  const figures = h(
    'div',
    { class: 'figures' },
    ...[
      [fmt.seconds(r.durationS), 'duration'],
      [String(f.attempts), 'attempts'],
      [String(f.recorded), 'recorded'],
      [r.cellsPerHour.toFixed(2), 'cells / hour'],
      [sim.rate === null ? '—' : `${(100 * sim.rate).toFixed(0)} %`, `≥2 simultaneous (${sim.atLeastTwo}/${sim.trials} trials)`],
    ].map(([v, l]) => h('div', { class: 'figure' }, h('b', null, v), h('span', null, l))),
  );
  const funnelTable = h(
    'table',
    { id: 'funnel-table' },
    h('thead', null, h('tr', null, h('th', null, 'stage'), h('th', { class: 'num' }, 'count'), h('th', { class: 'num' }, '% of attempts'), h('th', { class: 'num' }, '% of previous'))),
    h(
      'tbody',
      null,
      ...STAGES.map(([k, label], i) => {
        const prev = i === 0 ? f.attempts : f[STAGES[i - 1][0]];
        return h('tr', null, h('td', null, label), h('td', { class: 'num' }, f[k]), h('td', { class: 'num' }, fmt.percent(f[k], f.attempts)), h('td', { class: 'num' }, i === 0 ? '' : fmt.percent(f[k], prev)));
      }),
    ),
  );
  const byTable = (/** @type {any[]} */ rows, /** @type {string} */ key, /** @type {string} */ label) =>
    h('table', null, funnelHead(label), h('tbody', null, ...rows.map((row) => h('tr', null, h('td', null, row[key]), ...funnelCells(row.funnel), h('td', { class: 'num' }, row.cellsPerHour.toFixed(2))))));
  const states = Object.entries(r.timePerState ?? {})
    .filter(([, s]) => Number(s) > 0)
    .sort((a, b) => Number(b[1]) - Number(a[1]))
    .map(([state, s]) => ({ label: state, value: Number(s), text: fmt.seconds(Number(s)) }));
  const failures = (r.failureReasons ?? []).map((/** @type {any} */ x) => ({ label: x.reason, value: x.count, text: String(x.count) }));
  const quality = h(
    'table',
    { id: 'quality' },
    h('thead', null, h('tr', null, ...['figure', 'n', 'min', 'q1', 'median', 'q3', 'max'].map((x, i) => h('th', { class: i ? 'num' : '' }, x)))),
    h(
      'tbody',
      null,
      ...QUALITY.map(([key, label, f1]) => {
        const d = r.quality?.[key];
        return h('tr', null, h('td', null, label), h('td', { class: 'num' }, d ? d.n : 0), ...['min', 'q1', 'median', 'q3', 'max'].map((k) => h('td', { class: 'num' }, d ? f1(d[k]) : '—')));
      }),
    ),
  );
  const s = r.session;
  $('#report').replaceChildren(
    h('h2', null, `Session ${s.sessionId} · ${s.preset} · ${s.operator} · ${fmt.dateTime(s.startEpochMs)} · ${s.status}${s.endReason && s.endReason !== s.status ? ` (${s.endReason})` : ''}`),
    figures,
    h(
      'div',
      { class: 'report-grid' },
      h('div', null, h('h2', null, 'Funnel'), funnelTable),
      h('div', null, h('h2', null, 'Time per state'), states.length ? hbars(states, 'state') : h('p', { class: 'muted' }, 'none')),
      h('div', null, h('h2', null, 'Failure reasons'), failures.length ? hbars(failures, 'failure') : h('p', { class: 'muted' }, 'none')),
      h('div', null, h('h2', null, 'Quality'), quality, h('p', { class: 'muted' }, `Trial (for ≥2 simultaneous): ${sim.definition}`)),
    ),
    h('h2', null, 'Per pipette'),
    byTable(r.byPipette, 'pipetteId', 'pipette'),
    h('h2', null, 'Per preset'),
    byTable(r.byPreset, 'preset', 'preset'),
    h('h2', null, `Recorded cells: e-features (IPFX definitions; ${(r.cells ?? []).length})`),
    h('div', { class: 'scroll-x' }, cellsTable(r.cells ?? [])),
  );
}

/** [column, unit scale, digits, value of a cell] — the same columns and units as `autopatch report` */
const CELL_COLUMNS = /** @type {Array<[string, number, number, (c: any) => number | null | undefined]>} */ ([
  ['Vrest mV', 1e3, 1, (c) => c.vrest],
  ['Ra MΩ', 1e-6, 1, (c) => c.ra],
  ['Cm pF', 1e12, 1, (c) => c.cm],
  ['Rin MΩ', 1e-6, 0, (c) => c.features.inputResistance],
  ['tau ms', 1e3, 1, (c) => c.features.tau],
  ['rheobase pA', 1e12, 0, (c) => c.features.rheobaseA],
  ['f-I Hz/pA', 1e-12, 3, (c) => c.features.fiSlope],
  ['AP thr mV', 1e3, 1, (c) => c.features.apThreshold],
  ['AP amp mV', 1e3, 1, (c) => c.features.apAmplitude],
  ['AP width ms', 1e3, 2, (c) => c.features.apWidth],
  ['up/down', 1, 2, (c) => c.features.apUpDownRatio],
  ['sag', 1, 3, (c) => c.features.sag],
  ['adapt.', 1, 3, (c) => c.features.heroAdaptation],
  ['latency ms', 1e3, 1, (c) => c.features.heroLatency],
]);

/** @param {any[]} cells RecordedCell[] */
function cellsTable(cells) {
  if (cells.length === 0) return h('p', { class: 'muted', id: 'cells' }, 'no recorded cells');
  const cell = (/** @type {number | null | undefined} */ v, /** @type {number} */ scale, /** @type {number} */ digits) =>
    h('td', { class: 'num' }, v === null || v === undefined || !Number.isFinite(v) ? '—' : (v * scale).toFixed(digits));
  return h(
    'table',
    { id: 'cells' },
    h('thead', null, h('tr', null, h('th', null, 'attempt'), h('th', null, 'pipette'), ...CELL_COLUMNS.map(([label]) => h('th', { class: 'num' }, label)))),
    h(
      'tbody',
      null,
      ...cells.map((c) =>
        h('tr', { 'data-attempt': c.attemptId }, h('td', null, c.attemptId), h('td', null, c.pipetteId), ...CELL_COLUMNS.map(([, scale, digits, get]) => cell(get(c), scale, digits))),
      ),
    ),
  );
}

// ------------------------------------------------------------------ attempts

/** @param {any} a AttemptTimeline */
function timeline(a) {
  const tr = a.transitions;
  const end = a.record.endT;
  const start = tr.length ? tr[0].t : a.record.startT;
  const span = Math.max(1, end - start);
  const segs = tr.map((/** @type {any} */ x, /** @type {number} */ i) => {
    const until = i + 1 < tr.length ? tr[i + 1].t : end;
    const dur = Math.max(0, until - x.t);
    return h('i', { class: `seg-${GROUP[x.to] ?? 'rest'}`, dataset: { state: x.to }, style: { width: `${(100 * dur) / span}%` }, title: `${x.to}: ${fmt.seconds(dur / 1000)} — ${x.reason}` });
  });
  return h('div', { class: 'timeline' }, ...segs);
}

/** @param {any[]} attempts */
function renderAttempts(attempts) {
  $('#attempts-card').hidden = false;
  $('#timeline-legend').replaceChildren(
    ...['approach', 'seal', 'cell', 'service', 'failed'].map((g) => h('span', null, h('i', { class: `seg-${g}` }), g)),
  );
  const cols = ['attempt', 'pipette', 'start', 'duration', 'reached', 'outcome', 'failure', 'R0', 'peak seal', 'Ra', 'Cm', 'Ihold', 'sweeps', 'timeline'];
  $('#attempts thead').replaceChildren(h('tr', null, ...cols.map((c) => h('th', null, c))));
  const tbody = $('#attempts tbody');
  tbody.replaceChildren(
    ...attempts.map((a) => {
      const r = a.record;
      const row = h(
        'tr',
        { class: 'clickable', dataset: { attempt: r.attemptId } },
        h('td', null, r.attemptId),
        h('td', null, r.pipetteId),
        h('td', null, new Date(r.startEpochMs).toLocaleTimeString()),
        h('td', { class: 'num' }, fmt.seconds((r.endT - r.startT) / 1000)),
        h('td', null, r.stageReached),
        h('td', { class: r.outcome === 'recorded' ? 'status-completed' : 'status-aborted' }, r.outcome),
        h('td', null, r.failureReason ? `${r.failureReason}${r.failedIn ? ` (${r.failedIn})` : ''}` : ''),
        h('td', { class: 'num' }, fmt.ohms(r.r0)),
        h('td', { class: 'num' }, fmt.ohms(r.peakSeal)),
        h('td', { class: 'num' }, fmt.ohms(r.ra)),
        h('td', { class: 'num' }, fmt.farads(r.cm)),
        h('td', { class: 'num' }, fmt.amps(r.ihold)),
        h('td', { class: 'num' }, r.sweepsRecorded),
        h('td', null, timeline(a)),
      );
      row.addEventListener('click', () => {
        select(tbody, row);
        writeHash({ attempt: r.attemptId });
        void openAttempt(r.attemptId);
      });
      return row;
    }),
  );
  const want = readHash().attempt;
  const row = want ? tbody.querySelector(`tr[data-attempt="${CSS.escape(want)}"]`) : null;
  if (row) {
    select(tbody, row);
    void openAttempt(want);
  }
}

// -------------------------------------------------------------------- sweeps

/** @type {ReturnType<typeof createTracePlot> | null} */
let responsePlot = null;
/** @type {ReturnType<typeof createTracePlot> | null} */
let commandPlot = null;

/** @param {string} attemptId */
async function openAttempt(attemptId) {
  const viewer = $('#sweep-viewer');
  viewer.hidden = false;
  setText($('#sweep-title'), `Sweeps of ${attemptId}`);
  try {
    /** @type {any[]} */
    const sweeps = await getJson(`/api/attempts/${encodeURIComponent(attemptId)}/sweeps`);
    $('#sweeps thead').replaceChildren(h('tr', null, ...['seq', 'kind', 'stimulus', 'mode', 'samples', 'rate', 'start'].map((c) => h('th', null, c))));
    const tbody = $('#sweeps tbody');
    tbody.replaceChildren(
      ...sweeps.map((s) => {
        const row = h(
          'tr',
          { class: 'clickable', dataset: { sweep: String(s.sweepId) } },
          h('td', null, s.seq),
          h('td', null, s.kind),
          h('td', null, s.stimulusName ?? ''),
          h('td', null, s.mode),
          h('td', { class: 'num' }, s.samples),
          h('td', { class: 'num' }, `${(s.sampleRateHz / 1000).toFixed(1)} kHz`),
          h('td', { class: 'num' }, fmt.duration(s.startTime)),
        );
        row.addEventListener('click', () => {
          select(tbody, row);
          void showSweep(s);
        });
        return row;
      }),
    );
    if (sweeps.length === 0) tbody.replaceChildren(h('tr', null, h('td', { colspan: 7, class: 'muted' }, 'no sweeps stored for this attempt')));
  } catch (err) {
    toast(String(err instanceof Error ? err.message : err), 'error');
  }
}

/** @param {any} info SweepInfo */
async function showSweep(info) {
  try {
    const frames = decodeFrames(await getBinary(`/api/sweeps/${info.sweepId}?format=bin&maxPoints=4000`));
    const [response, command] = frames;
    responsePlot ??= createTracePlot($('#sweep-plot'), { height: 260, interactive: true, label: 'response' });
    responsePlot.set(response);
    setText($('#sweep-caption'), `response, ${displayUnit(response.unit).label} vs ms · ${info.kind} #${info.seq}${info.stimulusName ? ` · ${info.stimulusName}` : ''}`);
    const cmdFig = $('#command-figure');
    cmdFig.hidden = !command;
    if (command) {
      commandPlot ??= createTracePlot($('#command-plot'), { height: 120, interactive: true, label: 'command', stroke: '#ffd166' });
      commandPlot.set(command);
      setText($('#command-caption'), `command, ${displayUnit(command.unit).label} vs ms`);
    }
  } catch (err) {
    toast(String(err instanceof Error ? err.message : err), 'error');
  }
}

void loadSessions();
