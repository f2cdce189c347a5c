// @ts-check
/**
 * The live page's picture of the rig: built from the server's snapshot and
 * kept current by its events. Pure data and functions (no DOM), so a reload
 * restores everything from the snapshot and the reducer can be tested alone.
 */

/** log entries kept: as many as the server's snapshot carries (hub.ts RECENT_LOG) */
export const LOG_ENTRIES = 200;
const FUNNEL = ['approached', 'detected', 'sealed', 'wholeCell', 'recorded'];
/** state changes into these are logged as warnings (log styling only; health comes from the rig) */
const WARN_STATES = new Set(['broken', 'fouled', 'lost', 'needsPipette']);
/** bumped on every history change, so a view can tell without comparing arrays */
let historyVersion = 0;

/**
 * @typedef {{ t: number[], r: number[] }} History
 * @typedef {Record<string, any> & { pipetteId: string, state: string, stateSince: number, history: History, historyVersion: number, trace: any, stimulus: any, command: any }} PipetteView
 * @typedef {{ t: number, epochMs: number, level: 'info' | 'warn' | 'error', pipetteId: string | null, text: string }} LogEntry
 * @typedef {{
 *   connected: boolean,
 *   session: Record<string, any>,
 *   pipettes: PipetteView[],
 *   byId: Map<string, PipetteView>,
 *   rig: { t: number, epochMs: number, virtual: boolean, receivedAt: number },
 *   log: LogEntry[],
 *   dirty: Set<string>,
 *   sessionDirty: boolean,
 *   structureChanged: boolean,
 *   logDirty: boolean,
 * }} Model
 */

/** @returns {Model} */
export function createModel() {
  return {
    connected: false,
    session: { sessionId: null, phase: 'idle', preset: null, startedAt: null, endedAt: null, funnel: emptyFunnel(), thresholds: null, historyLimit: 0, limits: null, attemptsStarted: 0 },
    pipettes: [],
    byId: new Map(),
    rig: { t: 0, epochMs: 0, virtual: true, receivedAt: 0 },
    log: [],
    dirty: new Set(),
    sessionDirty: true,
    structureChanged: true,
    logDirty: true,
  };
}

function emptyFunnel() {
  return { attempts: 0, approached: 0, detected: 0, sealed: 0, wholeCell: 0, recorded: 0 };
}

/**
 * @param {Model} model @param {any} snap @param {number} receivedAt
 * @param {any[]} [recent] the recent logged events that came with it, oldest first
 */
export function applySnapshot(model, snap, receivedAt, recent = []) {
  const ids = snap.pipettes.map((/** @type {any} */ p) => p.pipetteId).join('|');
  const oldIds = model.pipettes.map((p) => p.pipetteId).join('|');
  model.session = {
    sessionId: snap.sessionId,
    phase: snap.phase,
    preset: snap.preset,
    startedAt: snap.startedAt,
    endedAt: snap.endedAt ?? null,
    funnel: { ...snap.funnel },
    thresholds: snap.thresholds,
    historyLimit: snap.historyLimit,
    limits: snap.limits ?? null,
    attemptsStarted: snap.attemptsStarted ?? 0,
  };
  model.pipettes = snap.pipettes.map((/** @type {any} */ p) => ({
    ...p,
    history: { t: p.history.map((/** @type {number[]} */ h) => h[0]), r: p.history.map((/** @type {number[]} */ h) => h[1]) },
    historyVersion: ++historyVersion,
    // the server sends each pipette's last traces right after the snapshot
    trace: null,
    stimulus: null,
    command: null,
  }));
  model.log = [];
  for (const ev of recent) {
    const entry = logEntry(ev);
    if (entry) log(model, entry);
  }
  model.logDirty = true;
  model.byId = new Map(model.pipettes.map((p) => [p.pipetteId, p]));
  model.rig = { t: snap.now, epochMs: snap.epochMs, virtual: snap.virtual, receivedAt };
  model.structureChanged ||= ids !== oldIds;
  model.sessionDirty = true;
  for (const p of model.pipettes) model.dirty.add(p.pipetteId);
}

/** @param {Model} model @param {number} t @param {number} epochMs @param {number} receivedAt */
export function applyClock(model, t, epochMs, receivedAt) {
  if (t >= model.rig.t) model.rig = { ...model.rig, t, epochMs, receivedAt };
}

/** @param {Model} model @param {LogEntry} entry */
function log(model, entry) {
  model.log.unshift(entry);
  if (model.log.length > LOG_ENTRIES) model.log.length = LOG_ENTRIES;
  model.logDirty = true;
}

/**
 * The rig's history policy (snapshot.historyLimit): the newest `limit` readings of the current attempt.
 * @param {PipetteView} p @param {number} t @param {number} r @param {number} limit
 */
function pushHistory(p, t, r, limit) {
  p.historyVersion = ++historyVersion;
  p.history.t.push(t);
  p.history.r.push(r);
  if (p.history.t.length > limit) {
    const cut = p.history.t.length - limit;
    p.history.t.splice(0, cut);
    p.history.r.splice(0, cut);
  }
}

/**
 * The event log's line for an event, or null for events the log does not
 * show. It shows exactly the types the server keeps for snapshots
 * (src/server/messages.ts isLogged), so a reload restores the same log.
 * @param {any} ev a RigEvent
 * @returns {LogEntry | null}
 */
export function logEntry(ev) {
  const at = { t: ev.t, epochMs: ev.epochMs };
  switch (ev.type) {
    case 'session.started':
      return { ...at, level: 'info', pipetteId: null, text: `session ${ev.sessionId} started: ${ev.preset}, operator ${ev.operator}` };
    case 'session.paused':
    case 'session.resumed':
      return { ...at, level: 'info', pipetteId: null, text: `${ev.type.slice(8)} by ${ev.by}` };
    case 'session.ended':
      return { ...at, level: ev.reason === 'error' ? 'error' : 'info', pipetteId: null, text: `session ended: ${ev.reason}${ev.detail ? ` (${ev.detail})` : ''}` };
    case 'estop':
      return { ...at, level: 'error', pipetteId: null, text: `EMERGENCY STOP by ${ev.by}` };
    case 'pipette.state':
      return { ...at, level: WARN_STATES.has(ev.to) ? 'warn' : 'info', pipetteId: ev.pipetteId, text: `${ev.from} → ${ev.to}: ${ev.reason}` };
    case 'attempt.ended': {
      const r = ev.record;
      return {
        ...at,
        level: r.outcome === 'recorded' ? 'info' : 'warn',
        pipetteId: r.pipetteId,
        text: `attempt ${r.attemptId} ${r.outcome} (reached ${r.stageReached}${r.failureReason ? `, ${r.failureReason}` : ''})`,
      };
    }
    case 'fault':
      return { ...at, level: 'error', pipetteId: ev.pipetteId, text: `${ev.device} ${ev.kind}: ${ev.message}` };
    case 'log':
      return { ...at, level: ev.level, pipetteId: ev.pipetteId, text: ev.message };
    default:
      return null;
  }
}

/**
 * @param {Model} model
 * @param {any} ev a RigEvent
 * @param {number} receivedAt
 */
export function applyEvent(model, ev, receivedAt) {
  applyClock(model, ev.t, ev.epochMs, receivedAt);
  const s = model.session;
  const p = ev.pipetteId ? model.byId.get(ev.pipetteId) : undefined;
  if (p) model.dirty.add(p.pipetteId);
  switch (ev.type) {
    case 'session.started':
      Object.assign(s, { sessionId: ev.sessionId, phase: 'running', preset: ev.preset, startedAt: ev.t, endedAt: null, funnel: emptyFunnel(), limits: ev.limits ?? null, attemptsStarted: 0 });
      model.sessionDirty = true;
      break;
    case 'session.paused':
    case 'session.resumed':
      s.phase = ev.type === 'session.paused' ? 'paused' : 'running';
      model.sessionDirty = true;
      break;
    case 'session.ended':
      s.phase = ev.reason === 'estop' ? 'estopped' : 'ended';
      s.endedAt = ev.t;
      model.sessionDirty = true;
      break;
    case 'estop':
      s.phase = 'estopped';
      model.sessionDirty = true;
      break;
    case 'pipette.state':
      if (p) {
        p.state = ev.to;
        p.stateSince = ev.t;
        p.lastReason = ev.reason;
        p.attemptId = ev.attemptId;
      }
      break;
    case 'pipette.health':
      if (p) p.health = ev.health;
      break;
    case 'pipette.overrides':
      if (p) p.overrides = { pressureMbar: ev.pressureMbar, holdingMv: ev.holdingMv };
      break;
    case 'pipette.cleanCount':
      if (p) p.cleanCount = ev.cleanCount;
      break;
    case 'pipette.testpulse':
      if (p) {
        p.lastReading = ev.reading;
        pushHistory(p, ev.t, ev.reading.r, s.historyLimit);
      }
      break;
    case 'pipette.pressure':
      if (p) p.pressure = { mbar: ev.mbar, source: ev.source };
      break;
    case 'pipette.position':
      if (p) p.position = ev.world;
      break;
    case 'pipette.holding':
      if (p) p.holding = { mode: ev.mode, value: ev.holding };
      break;
    case 'attempt.started':
      s.attemptsStarted = (s.attemptsStarted ?? 0) + 1;
      model.sessionDirty = true;
      if (p) {
        p.attemptId = ev.attemptId;
        p.attempts = (p.attempts ?? 0) + 1;
        p.history = { t: [], r: [] };
        p.historyVersion = ++historyVersion;
      }
      break;
    case 'attempt.ended': {
      const r = ev.record;
      const reached = FUNNEL.indexOf(r.stageReached);
      // the funnel counts ended attempts, as the rig's snapshot does
      s.funnel.attempts++;
      for (let i = 0; i <= reached; i++) s.funnel[FUNNEL[i]]++;
      model.sessionDirty = true;
      const rp = model.byId.get(r.pipetteId);
      if (rp) {
        model.dirty.add(rp.pipetteId);
        if (rp.attemptId === r.attemptId) rp.attemptId = null; // as on the rig: no attempt until the next starts
      }
      break;
    }
    default:
      break;
  }
  const entry = logEntry(ev);
  if (entry) log(model, entry);
}

/**
 * Recorded cells per hour of session time up to now (or the end), the
 * rig's own formula for snapshot.cellsPerHour.
 * @param {Record<string, any>} s the model's session @param {number} now rig clock ms
 */
export function cellsPerHour(s, now) {
  if (s.startedAt === null || s.startedAt === undefined) return 0;
  const hours = ((s.endedAt ?? now) - s.startedAt) / 3_600_000;
  return hours > 0 ? (s.funnel?.recorded ?? 0) / hours : 0;
}

/**
 * A decoded trace frame goes to the pipette at its index: a test-pulse trace,
 * or a stimulus sweep's response followed by the command it played.
 * @param {Model} model @param {import('./trace-frame.js').TraceFrame} frame
 */
export function applyTrace(model, frame) {
  const p = model.pipettes[frame.pipetteIndex];
  if (!p) return;
  if (frame.kind === 'testpulse') p.trace = frame;
  else if (frame.kind === 'stimulus') {
    p.stimulus = frame;
    p.command = null;
  } else if (p.stimulus && p.stimulus.seq === frame.seq) p.command = frame; // the command played in that sweep
  model.dirty.add(p.pipetteId);
}

/**
 * Rig time now: the last rig time heard, plus (on a real-time rig) the time
 * since; a virtual rig's time only moves when it says so.
 * @param {Model} model @param {number} perfNow
 */
export function rigNow(model, perfNow) {
  return model.rig.t + (model.rig.virtual ? 0 : Math.max(0, perfNow - model.rig.receivedAt));
}
