// @ts-check
/**
 * Sessions page: the list of past sessions, one session's report (as
 * `autopatch report` gives it: report-view.js), its attempts as state
 * timelines, and the sweeps of an attempt plotted. Selection lives in the
 * URL hash so a view can be reloaded or shared.
 */
import { adoptTokenFromUrl, getBinary, getJson } from './api.js';
import { $, h, setText } from './dom.js';
import { toast, wireEstop } from './feedback.js';
import * as fmt from './format.js';
import { createTracePlot, displayUnit } from './plots.js';
import { renderReport } from './report-view.js';
import { GROUPS, groupOf } from './states.js';
import { createTokenBox } from './token-box.js';
import { decodeFrames } from './trace-frame.js';

adoptTokenFromUrl();
createTokenBox($('#token-slot'), () => void loadSessions());
wireEstop($('#estop'));

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
          h('td', { class: 'num', title: s.unfinished ? `${s.attempts} ended, ${s.unfinished} unfinished` : undefined }, s.unfinished ? `${s.attempts}+${s.unfinished}` : s.attempts),
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
    reportEl.replaceChildren(...renderReport(report));
    renderAttempts(attempts);
  } catch (err) {
    reportEl.replaceChildren(h('p', { class: 'error-text' }, String(err instanceof Error ? err.message : err)));
    $('#attempts-card').hidden = true;
  }
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
    return h('i', { class: `seg-${groupOf(x.to)}`, dataset: { state: x.to }, style: { width: `${(100 * dur) / span}%` }, title: `${x.to}: ${fmt.seconds(dur / 1000)} — ${x.reason}` });
  });
  return h('div', { class: 'timeline' }, ...segs);
}

/** @param {any[]} attempts */
function renderAttempts(attempts) {
  $('#attempts-card').hidden = false;
  $('#timeline-legend').replaceChildren(
    ...GROUPS.map(([g, label, note]) => h('span', { title: note, dataset: { group: g } }, h('i', { class: `seg-${g}` }), label)),
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
