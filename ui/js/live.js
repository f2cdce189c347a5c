// @ts-check
/**
 * The live page: one WebSocket for reading (snapshot, then events and
 * binary traces), REST for commands. Incoming data only updates the model;
 * the DOM is redrawn at most once per animation frame, so a burst of events
 * costs one repaint.
 */
import { adoptTokenFromUrl, getJson, post, wsUrl } from './api.js';
import { $, h, setText } from './dom.js';
import { reportResult, toast, wireEstop } from './feedback.js';
import { applyClock, applyEvent, applySnapshot, applyTrace, createModel, rigNow } from './model.js';
import { createPanel } from './panel.js';
import { createSessionBar } from './session-bar.js';
import { createTokenBox } from './token-box.js';
import { decodeFrames } from './trace-frame.js';

adoptTokenFromUrl();
const model = createModel();
/** @type {Map<string, ReturnType<typeof createPanel>>} */
const panels = new Map();
const grid = $('#pipettes');
const conn = $('#conn');
const logList = $('#log-list');

const tokenBox = createTokenBox($('#token-slot'), () => reconnect());

/** @param {string} path @param {string} what @param {unknown} [body] */
async function command(path, what, body) {
  reportResult(what, await post(path, body), () => tokenBox.ask());
}

wireEstop($('#estop'));

const bar = createSessionBar($('#session-bar'), {
  start: (o) => void command('/api/session/start', `start ${o.preset}`, o.durationMin === null ? { preset: o.preset, operator: o.operator } : o),
  pause: () => void command('/api/session/pause', 'pause'),
  resume: () => void command('/api/session/resume', 'resume'),
  abort: () => void command('/api/session/abort', 'abort'),
});

// only presets this rig can run; the session's own preset is selected when a snapshot says which
getJson('/api/presets')
  .then((r) => bar.setPresets(r.presets))
  .catch(() => bar.setPresets([]));

/** @type {import('./panel.js').PanelActions} */
const panelActions = {
  command: (pipetteId, action, body) =>
    command(`/api/pipettes/${encodeURIComponent(pipetteId)}/${action}`, `${pipetteId} ${action}`, body),
};

// ----------------------------------------------------------------- websocket

/** @type {WebSocket | null} */
let ws = null;
let backoff = 500;
/** @type {ReturnType<typeof setTimeout> | undefined} */
let retryTimer;

function connect() {
  const socket = new WebSocket(wsUrl());
  socket.binaryType = 'arraybuffer';
  ws = socket;
  socket.onopen = () => {
    backoff = 500;
    model.connected = true;
    model.sessionDirty = true;
  };
  socket.onmessage = (e) => {
    const now = performance.now();
    if (typeof e.data === 'string') {
      const msg = JSON.parse(e.data);
      if (msg.type === 'snapshot') {
        applySnapshot(model, msg.snapshot, now, msg.recent);
        bar.showSessionPreset(model.session.preset);
      }
      else if (msg.type === 'event') applyEvent(model, msg.event, now);
      else if (msg.type === 'clock') applyClock(model, msg.t, msg.epochMs, now);
      else if (msg.type === 'error') toast(`server: ${msg.error}`, 'error');
    } else {
      for (const frame of decodeFrames(e.data)) applyTrace(model, frame);
    }
    schedule();
  };
  socket.onclose = () => {
    if (ws !== socket) return;
    model.connected = false;
    model.sessionDirty = true;
    schedule();
    retryTimer = setTimeout(connect, backoff);
    backoff = Math.min(backoff * 2, 8000);
  };
}

function reconnect() {
  clearTimeout(retryTimer);
  const old = ws;
  ws = null;
  old?.close();
  connect();
}

// -------------------------------------------------------------------- render

let frameRequested = false;
function schedule() {
  if (frameRequested) return;
  frameRequested = true;
  requestAnimationFrame(render);
}

function rebuildPanels() {
  for (const p of panels.values()) p.destroy();
  panels.clear();
  const n = model.pipettes.length;
  const dense = n > 4;
  grid.dataset.count = String(n);
  grid.classList.toggle('dense', dense);
  for (const p of model.pipettes) {
    const panel = createPanel(p, { dense, actions: panelActions });
    panels.set(p.pipetteId, panel);
    grid.append(panel.el);
  }
  model.structureChanged = false;
}

function renderLog() {
  const entries = model.log.slice(0, 80).map((e) =>
    h(
      'li',
      { class: `lvl-${e.level}` },
      h('time', null, new Date(e.epochMs).toLocaleTimeString()),
      e.pipetteId ? h('b', null, e.pipetteId) : null,
      e.text,
    ),
  );
  logList.replaceChildren(...entries);
  model.logDirty = false;
}

let lastTick = 0;
function render() {
  frameRequested = false;
  if (model.structureChanged) rebuildPanels();
  const now = rigNow(model, performance.now());
  const ctx = { thresholds: model.session.thresholds };
  for (const id of model.dirty) {
    const p = model.byId.get(id);
    if (p) panels.get(id)?.update(p, ctx);
  }
  model.dirty.clear();
  const tick = performance.now() - lastTick > 250;
  if (model.sessionDirty || tick) {
    bar.update(model.session, now);
    conn.className = model.connected ? 'conn up' : 'conn down';
    setText(conn, model.connected ? (model.rig.virtual ? 'live · virtual time' : 'live') : 'reconnecting…');
    document.body.classList.toggle('estopped', model.session.phase === 'estopped');
    model.sessionDirty = false;
  }
  if (tick) {
    lastTick = performance.now();
    for (const p of model.pipettes) panels.get(p.pipetteId)?.tick(now - p.stateSince);
  }
  if (model.logDirty) renderLog();
}

// time in state and elapsed keep moving without events
setInterval(schedule, 250);
connect();
schedule();
