// @ts-check
/**
 * The live page's picture of the rig: built from the server's snapshot and
 * kept current by its events. Pure data and functions (no DOM), so a reload
 * restores everything from the snapshot and the reducer can be tested alone.
 */

/** R points kept per pipette for the resistance plot */
export const HISTORY_POINTS = 3000;
export const LOG_ENTRIES = 200;
const FUNNEL = ['approached', 'detected', 'sealed', 'wholeCell', 'recorded'];
const FAILED_STATES = new Set(['broken', 'fouled', 'needsPipette']);
/** bumped on every history change, so a view can tell without comparing arrays */
let historyVersion = 0;

/**
 * @typedef {{ t: number[], r: number[] }} History
 * @typedef {Record<string, any> & { pipetteId: string, state: string, stateSince: number, history: History, historyVersion: number, trace: any, stimulus: any }} PipetteView
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
    session: { sessionId: null, phase: 'idle', preset: null, startedAt: null, funnel: emptyFunnel(), cellsPerHour: 0, thresholds: null, recentAttempts: [], limits: null, attemptsStarted: 0 },
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

/** @param {Model} model @param {any} snap @param {number} receivedAt */
export function applySnapshot(model, snap, receivedAt) {
  const ids = snap.pipettes.map((/** @type {any} */ p) => p.pipetteId).join('|');
  const oldIds = model.pipettes.map((p) => p.pipetteId).join('|');
  const previous = model.byId;
  model.session = {
    sessionId: snap.sessionId,
    phase: snap.phase,
    preset: snap.preset,
    startedAt: snap.startedAt,
    funnel: { ...snap.funnel },
    cellsPerHour: snap.cellsPerHour,
    thresholds: snap.thresholds,
    recentAttempts: snap.recentAttempts ?? [],
    limits: snap.limits ?? null,
    attemptsStarted: snap.attemptsStarted ?? 0,
  };
  model.pipettes = snap.pipettes.map((/** @type {any} */ p) => ({
    ...p,
    history: { t: p.history.map((/** @type {number[]} */ h) => h[0]), r: p.history.map((/** @type {number[]} */ h) => h[1]) },
    historyVersion: ++historyVersion,
    // traces are not in snapshots: keep the last one shown until the next arrives
    trace: previous.get(p.pipetteId)?.trace ?? null,
    stimulus: previous.get(p.pipetteId)?.stimulus ?? null,
  }));
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

/** @param {PipetteView} p @param {number} t @param {number} r */
function pushHistory(p, t, r) {
  p.historyVersion = ++historyVersion;
  p.history.t.push(t);
  p.history.r.push(r);
  if (p.history.t.length > HISTORY_POINTS) {
    const cut = p.history.t.length - HISTORY_POINTS;
    p.history.t.splice(0, cut);
    p.history.r.splice(0, cut);
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
  const at = { t: ev.t, epochMs: ev.epochMs };
  switch (ev.type) {
    case 'session.started':
      Object.assign(s, { sessionId: ev.sessionId, phase: 'running', preset: ev.preset, startedAt: ev.t, funnel: emptyFunnel(), cellsPerHour: 0, recentAttempts: [], limits: ev.limits ?? null, attemptsStarted: 0 });
      model.sessionDirty = true;
      log(model, { ...at, level: 'info', pipetteId: null, text: `session ${ev.sessionId} started: ${ev.preset}, operator ${ev.operator}` });
      break;
    case 'session.paused':
    case 'session.resumed':
      s.phase = ev.type === 'session.paused' ? 'paused' : 'running';
      model.sessionDirty = true;
      log(model, { ...at, level: 'info', pipetteId: null, text: `${ev.type.slice(8)} by ${ev.by}` });
      break;
    case 'session.ended':
      s.phase = ev.reason === 'estop' ? 'estopped' : 'ended';
      model.sessionDirty = true;
      log(model, { ...at, level: ev.reason === 'error' ? 'error' : 'info', pipetteId: null, text: `session ended: ${ev.reason}${ev.detail ? ` (${ev.detail})` : ''}` });
      break;
    case 'estop':
      s.phase = 'estopped';
      model.sessionDirty = true;
      log(model, { ...at, level: 'error', pipetteId: null, text: `EMERGENCY STOP by ${ev.by}` });
      break;
    case 'pipette.state':
      if (p) {
        p.state = ev.to;
        p.stateSince = ev.t;
        p.lastReason = ev.reason;
        p.attemptId = ev.attemptId;
        if (FAILED_STATES.has(ev.to)) p.health = 'failed';
        else if (p.health === 'failed') p.health = 'ok';
      }
      log(model, { ...at, level: FAILED_STATES.has(ev.to) ? 'warn' : 'info', pipetteId: ev.pipetteId, text: `${ev.from} → ${ev.to}: ${ev.reason}` });
      break;
    case 'pipette.testpulse':
      if (p) {
        p.lastReading = ev.reading;
        pushHistory(p, ev.t, ev.reading.r);
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
      model.sessionDirty = true;
      break;
    case 'attempt.ended': {
      const r = ev.record;
      const reached = FUNNEL.indexOf(r.stageReached);
      // the funnel counts ended attempts, as the rig's snapshot does
      s.funnel.attempts++;
      for (let i = 0; i <= reached; i++) s.funnel[FUNNEL[i]]++;
      s.recentAttempts = [r, ...s.recentAttempts].slice(0, 20);
      if (s.startedAt !== null && ev.t > s.startedAt) s.cellsPerHour = s.funnel.recorded / ((ev.t - s.startedAt) / 3_600_000);
      model.sessionDirty = true;
      const rp = model.byId.get(r.pipetteId);
      if (rp) model.dirty.add(rp.pipetteId);
      log(model, {
        ...at,
        level: r.outcome === 'recorded' ? 'info' : 'warn',
        pipetteId: r.pipetteId,
        text: `attempt ${r.attemptId} ${r.outcome} (reached ${r.stageReached}${r.failureReason ? `, ${r.failureReason}` : ''})`,
      });
      break;
    }
    case 'fault':
      if (p) p.health = p.health === 'failed' ? 'failed' : 'warning';
      log(model, { ...at, level: 'error', pipetteId: ev.pipetteId, text: `${ev.device} ${ev.kind}: ${ev.message}` });
      break;
    case 'log':
      log(model, { ...at, level: ev.level, pipetteId: ev.pipetteId, text: ev.message });
      break;
    default:
      break;
  }
}

/**
 * A decoded trace frame goes to the pipette at its index.
 * @param {Model} model @param {import('./trace-frame.js').TraceFrame} frame
 */
export function applyTrace(model, frame) {
  const p = model.pipettes[frame.pipetteIndex];
  if (!p) return;
  if (frame.kind === 'testpulse') p.trace = frame;
  else p.stimulus = frame;
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
