/**
 * The browser's reducer (ui/js/model.js) is plain JS without DOM, so it is
 * tested here against the same fake rig: the page's picture after a snapshot
 * plus events must match the rig's own snapshot.
 */
import { describe, expect, it } from 'vitest';
import type { SessionSnapshot } from '../../src/control/api.ts';
import type { RigEvent } from '../../src/control/events.ts';
import { attemptRecord, createFakeRig, reading } from './fake-rig.ts';

interface PipetteView {
  pipetteId: string;
  state: string;
  stateSince: number;
  lastReason: string;
  health: string;
  history: { t: number[]; r: number[] };
  pressure: { mbar: number; source: string } | null;
  trace: { seq: number } | null;
}
interface Model {
  session: { phase: string; funnel: Record<string, number>; sessionId: string | null; attemptsStarted: number; limits: unknown };
  pipettes: PipetteView[];
  byId: Map<string, PipetteView>;
  log: Array<{ text: string; level: string }>;
  dirty: Set<string>;
  structureChanged: boolean;
}
interface ModelModule {
  createModel(): Model;
  applySnapshot(m: Model, s: SessionSnapshot, at: number): void;
  applyEvent(m: Model, e: RigEvent, at: number): void;
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
      { ...rig.stamp(), type: 'attempt.started', pipetteId: 'p2', attemptId: 'a1', target: null, targetCellId: null },
      { ...rig.stamp(), type: 'pipette.state', pipetteId: 'p2', attemptId: 'a1', from: 'idle', to: 'seal', reason: 'hit' },
      { ...rig.stamp(), type: 'pipette.testpulse', pipetteId: 'p2', attemptId: 'a1', reading: reading(2e8) },
      { ...rig.stamp(), type: 'pipette.testpulse', pipetteId: 'p2', attemptId: 'a1', reading: reading(1.2e9) },
      { ...rig.stamp(), type: 'pipette.pressure', pipetteId: 'p2', mbar: -30, source: 'regulator' },
      { ...rig.stamp(), type: 'pipette.state', pipetteId: 'p4', attemptId: null, from: 'descent', to: 'broken', reason: 'R fell' },
      { ...rig.stamp(), type: 'attempt.ended', record: attemptRecord({ attemptId: 'a0', pipetteId: 'p1', stageReached: 'wholeCell' }) },
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
    }
    expect(m.session.funnel).toEqual(truth.funnel);
    expect(m.session.attemptsStarted).toBe(truth.attemptsStarted);
    expect(m.session.limits).toEqual(truth.limits);
    expect(m.dirty).toEqual(new Set(['p1', 'p2', 'p4']));
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
    // a snapshot with the same pipettes keeps the panels, the last trace stays shown
    expect(m.pipettes[2].trace?.seq).toBe(9);
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
