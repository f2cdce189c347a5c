/**
 * The browser's reducer (ui/js/model.js) is plain JS without DOM, so it is
 * tested here against the same fake rig: the page's picture after a snapshot
 * plus events must match the rig's own snapshot.
 */
import { describe, expect, it } from 'vitest';
import type { SessionSnapshot } from '../../src/control/api.ts';
import type { RigEvent } from '../../src/control/events.ts';
import { createHub } from '../../src/server/hub.ts';
import { isLogged } from '../../src/server/messages.ts';
import { attemptRecord, createFakeRig, reading } from './fake-rig.ts';

interface PipetteView {
  pipetteId: string;
  state: string;
  stateSince: number;
  lastReason: string;
  health: string;
  history: { t: number[]; r: number[] };
  pressure: { mbar: number; source: string } | null;
  overrides: { pressureMbar: number | null; holdingMv: number | null };
  cleanCount: number;
  trace: { seq: number } | null;
}
interface Model {
  session: { phase: string; funnel: Record<string, number>; sessionId: string | null; attemptsStarted: number; limits: unknown; startedAt: number | null; endedAt: number | null };
  pipettes: PipetteView[];
  byId: Map<string, PipetteView>;
  log: Array<{ text: string; level: string }>;
  dirty: Set<string>;
  structureChanged: boolean;
}
interface ModelModule {
  createModel(): Model;
  applySnapshot(m: Model, s: SessionSnapshot, at: number, recent?: RigEvent[]): void;
  applyEvent(m: Model, e: RigEvent, at: number): void;
  logEntry(e: RigEvent): { text: string } | null;
  cellsPerHour(s: Model['session'], now: number): number;
  applyTrace(m: Model, f: { pipetteIndex: number; kind: string; seq: number }): void;
  applyClock(m: Model, t: number, epochMs: number, at: number): void;
  rigNow(m: Model, perfNow: number): number;
}

const load = async () => (await import(new URL('../../ui/js/model.js', import.meta.url).href)) as ModelModule;

describe('ui model', () => {
  it('snapshot + events gives the same picture as the rig’s next snapshot', async () => {
    const ui = await load();
    const rig = createFakeRig();
    await rig.start({ preset: 'p', operator: 'o', durationMin: 20 }, 't');
    const m = ui.createModel();
    ui.applySnapshot(m, rig.snapshot(), 0);
    expect(m.structureChanged).toBe(true);
    expect(m.dirty.size).toBe(4);
    m.dirty.clear(); // as the page's render does

    const events: RigEvent[] = [
      { ...rig.stamp(), type: 'pipette.testpulse', pipetteId: 'p2', attemptId: null, reading: reading(5e6) }, // before the attempt: dropped at its start
      { ...rig.stamp(), type: 'attempt.started', pipetteId: 'p2', attemptId: 'a1', target: null, targetCellId: null },
      { ...rig.stamp(), type: 'pipette.state', pipetteId: 'p2', attemptId: 'a1', from: 'idle', to: 'seal', reason: 'hit' },
      { ...rig.stamp(), type: 'pipette.testpulse', pipetteId: 'p2', attemptId: 'a1', reading: reading(2e8) },
      { ...rig.stamp(), type: 'pipette.testpulse', pipetteId: 'p2', attemptId: 'a1', reading: reading(1.2e9) },
      { ...rig.stamp(), type: 'pipette.pressure', pipetteId: 'p2', mbar: -30, source: 'regulator' },
      { ...rig.stamp(), type: 'pipette.overrides', pipetteId: 'p2', pressureMbar: -30, holdingMv: null },
      { ...rig.stamp(), type: 'pipette.state', pipetteId: 'p4', attemptId: null, from: 'descent', to: 'broken', reason: 'R fell' },
      { ...rig.stamp(), type: 'pipette.health', pipetteId: 'p4', health: 'failed' },
      { ...rig.stamp(), type: 'pipette.health', pipetteId: 'p3', health: 'warning' },
      { ...rig.stamp(), type: 'pipette.cleanCount', pipetteId: 'p3', cleanCount: 2 },
      { ...rig.stamp(), type: 'attempt.ended', record: attemptRecord({ attemptId: 'a0', pipetteId: 'p1', stageReached: 'recorded', outcome: 'recorded', failureReason: null }) },
    ];
    for (const e of events) {
      rig.emit(e);
      ui.applyEvent(m, e, 0);
    }
    const truth = rig.snapshot();
    for (const p of truth.pipettes) {
      const v = m.byId.get(p.pipetteId)!;
      expect(v.state, p.pipetteId).toBe(p.state);
      expect(v.stateSince).toBe(p.stateSince);
      expect(v.health).toBe(p.health);
      expect(v.history.r).toEqual(p.history.map((h) => h[1]));
      expect(v.pressure).toEqual(p.pressure);
      expect(v.overrides).toEqual(p.overrides);
      expect(v.cleanCount).toBe(p.cleanCount);
    }
    // health is what the rig said, not a rule of the page's own
    expect(m.pipettes.map((p) => p.health)).toEqual(['ok', 'ok', 'warning', 'failed']);
    expect(m.byId.get('p2')!.history.r).toEqual([2e8, 1.2e9]);
    expect(m.session.funnel).toEqual(truth.funnel);
    expect(truth.cellsPerHour).toBeGreaterThan(0);
    expect(ui.cellsPerHour(m.session, truth.now)).toBeCloseTo(truth.cellsPerHour, 9);
    expect(m.session.attemptsStarted).toBe(truth.attemptsStarted);
    expect(m.session.limits).toEqual(truth.limits);
    expect(m.dirty).toEqual(new Set(['p1', 'p2', 'p3', 'p4']));
    expect(m.log.map((l) => l.level)).toContain('warn'); // the broken pipette
  });

  it('traces go to the pipette at their index; rig time only moves on a virtual rig when told', async () => {
    const ui = await load();
    const rig = createFakeRig();
    const m = ui.createModel();
    ui.applySnapshot(m, { ...rig.snapshot(), now: 1000, virtual: true }, 50);
    ui.applyTrace(m, { pipetteIndex: 2, kind: 'testpulse', seq: 9 });
    ui.applyTrace(m, { pipetteIndex: 99, kind: 'testpulse', seq: 10 }); // unknown: ignored
    expect(m.pipettes.map((p) => p.trace?.seq ?? null)).toEqual([null, null, 9, null]);
    expect(ui.rigNow(m, 5000)).toBe(1000);
    ui.applyClock(m, 1500, 0, 60);
    expect(ui.rigNow(m, 5000)).toBe(1500);
    ui.applySnapshot(m, { ...rig.snapshot(), now: 1000, virtual: false }, 100);
    expect(ui.rigNow(m, 350)).toBe(1250); // real time runs on between messages
    // a snapshot starts from nothing: the server sends each pipette's last traces right after it
    expect(m.pipettes.map((p) => p.trace)).toEqual([null, null, null, null]);
  });

  it('a reloaded page shows the same event log as a page that was open all along', async () => {
    const ui = await load();
    const rig = createFakeRig();
    const hub = createHub({ snapshot: () => rig.snapshot(), limits: { highWaterBytes: 1e9, maxBufferedBytes: 1e9 }, maxInbox: 1e6, maxPoints: 100, encoding: 'float32', defer: () => {} });
    const open = ui.createModel();
    ui.applySnapshot(open, rig.snapshot(), 0);
    const feed = (e: RigEvent): void => {
      rig.emit(e);
      hub.push(e);
      ui.applyEvent(open, e, 0);
    };
    await rig.start({ preset: 'p', operator: 'o' }, 't');
    for (let i = 0; i < 600; i++) {
      const id = `p${(i % 4) + 1}`;
      feed({ ...rig.stamp(), type: 'pipette.testpulse', pipetteId: id, attemptId: null, reading: reading(5e6 + i) });
      if (i % 3 === 0) feed({ ...rig.stamp(), type: 'pipette.state', pipetteId: id, attemptId: null, from: 'hunt', to: 'seal', reason: `hit ${i}` });
      if (i % 7 === 0) feed({ ...rig.stamp(), type: 'log', level: 'info', pipetteId: id, message: `note ${i}` });
      if (i % 50 === 0) feed({ ...rig.stamp(), type: 'fault', pipetteId: id, device: 'pbox', kind: 'timeout', message: `late ${i}` });
    }
    let snapshot = '';
    hub.addClient({ readyState: 1, bufferedAmount: 0, send: (d) => void (typeof d === 'string' && !snapshot && (snapshot = d)), close() {} });
    const msg = JSON.parse(snapshot) as { snapshot: SessionSnapshot; recent: RigEvent[] };
    const reloaded = ui.createModel();
    ui.applySnapshot(reloaded, msg.snapshot, 0, msg.recent);
    expect(open.log.length).toBe(200);
    expect(reloaded.log).toEqual(open.log);
  });

  it('logs exactly the events the server keeps for snapshots', async () => {
    const ui = await load();
    const rig = createFakeRig();
    const samples: RigEvent[] = [
      { ...rig.stamp(), type: 'session.started', sessionId: 's', preset: 'p', pipettes: ['p1'], seed: 1, rig: 'r', operator: 'o', virtual: true, limits: { durationMs: null, maxAttempts: null } },
      { ...rig.stamp(), type: 'session.paused', sessionId: 's', by: 'x' },
      { ...rig.stamp(), type: 'session.resumed', sessionId: 's', by: 'x' },
      { ...rig.stamp(), type: 'session.ended', sessionId: 's', reason: 'completed' },
      { ...rig.stamp(), type: 'estop', by: 'x' },
      { ...rig.stamp(), type: 'pipette.state', pipetteId: 'p1', attemptId: null, from: 'idle', to: 'hunt', reason: 'r' },
      { ...rig.stamp(), type: 'pipette.health', pipetteId: 'p1', health: 'ok' },
      { ...rig.stamp(), type: 'pipette.overrides', pipetteId: 'p1', pressureMbar: null, holdingMv: null },
      { ...rig.stamp(), type: 'pipette.cleanCount', pipetteId: 'p1', cleanCount: 1 },
      { ...rig.stamp(), type: 'pipette.testpulse', pipetteId: 'p1', attemptId: null, reading: reading(1e6) },
      { ...rig.stamp(), type: 'pipette.pressure', pipetteId: 'p1', mbar: 0, source: 'atmosphere' },
      { ...rig.stamp(), type: 'pipette.position', pipetteId: 'p1', world: [0, 0, 0], manipulator: [0, 0, 0] },
      { ...rig.stamp(), type: 'pipette.holding', pipetteId: 'p1', mode: 'VC', holding: 0 },
      { ...rig.stamp(), type: 'attempt.started', pipetteId: 'p1', attemptId: 'a', target: null, targetCellId: null },
      { ...rig.stamp(), type: 'attempt.ended', record: attemptRecord({ attemptId: 'a', pipetteId: 'p1' }) },
      { ...rig.stamp(), type: 'fault', pipetteId: 'p1', device: 'd', kind: 'k', message: 'm' },
      { ...rig.stamp(), type: 'log', level: 'info', pipetteId: null, message: 'm' },
    ];
    for (const e of samples) expect(ui.logEntry(e) !== null, e.type).toBe(isLogged(e));
  });

  it('shows progress towards the session limit: time first, else attempts, nothing without one', async () => {
    const { sessionProgress } = (await import(new URL('../../ui/js/session-bar.js', import.meta.url).href)) as {
      sessionProgress(s: Record<string, unknown>, now: number): { fraction: number; text: string } | null;
    };
    const base = { sessionId: 's1', startedAt: 1000 };
    expect(sessionProgress({ ...base, limits: { durationMs: 20 * 60_000, maxAttempts: null } }, 1000 + 5 * 60_000)).toEqual({ fraction: 0.25, text: '5:00 of 20:00' });
    // past the limit (attempts finishing): full, never more
    expect(sessionProgress({ ...base, limits: { durationMs: 60_000, maxAttempts: 9 } }, 1000 + 90_000)?.fraction).toBe(1);
    expect(sessionProgress({ ...base, attemptsStarted: 3, limits: { durationMs: null, maxAttempts: 12 } }, 5000)).toEqual({ fraction: 0.25, text: '3 of 12 attempts' });
    expect(sessionProgress({ ...base, limits: { durationMs: null, maxAttempts: null } }, 5000)).toBeNull();
    expect(sessionProgress({ sessionId: null, startedAt: null, limits: null }, 5000)).toBeNull();
  });
});
