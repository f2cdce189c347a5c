/**
 * The real supervisor's event stream against its own snapshot: a page that
 * applies every event (ui/js/model.js) holds, at any moment, what a page
 * reloaded then would get from the snapshot — state, reason, health,
 * overrides, cleanings, R history (one policy on both sides), pressure,
 * position, holding, funnel and cells per hour. The rig here is the emulated
 * one of `autopatch run`, in virtual time.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createVirtualClock, type VirtualClock } from '../../src/clock/index.ts';
import { createSimulatedLab, type SimulatedLab } from '../../src/cli/simulated-lab.ts';
import type { LiveTrace, SessionSnapshot } from '../../src/control/api.ts';
import type { RigEvent } from '../../src/control/events.ts';

interface Model {
  session: Record<string, unknown> & { funnel: Record<string, number> };
  byId: Map<string, Record<string, unknown> & { history: { t: number[]; r: number[] } }>;
}
interface ModelModule {
  createModel(): Model;
  applySnapshot(m: Model, s: SessionSnapshot, at: number): void;
  applyEvent(m: Model, e: RigEvent, at: number): void;
  cellsPerHour(s: Model['session'], now: number): number;
}

let clock: VirtualClock;
let lab: SimulatedLab;
let ui: ModelModule;
let model: Model;
const seen = new Set<string>();
const traces: LiveTrace[] = [];
let storedTestPulses = 0;

beforeAll(async () => {
  ui = (await import(new URL('../../ui/js/model.js', import.meta.url).href)) as ModelModule;
  clock = createVirtualClock();
  lab = await createSimulatedLab({ clock, seed: 3, pipettes: 4, preset: 'in-vivo-blind', durationMin: null });
  model = ui.createModel();
  ui.applySnapshot(model, lab.host.snapshot(), 0);
  lab.sink.subscribe((e) => {
    seen.add(e.type === 'pipette.health' ? `health:${e.health}` : e.type);
    if (e.type === 'log' && e.pipetteId) seen.add(`note:${e.pipetteId} ${e.message}`);
    if (e.type === 'sweep' && e.sweep.kind === 'testpulse') storedTestPulses++;
    ui.applyEvent(model, e, 0);
  });
  lab.host.onTrace((t) => traces.push(t));
  await lab.startSession({ operator: 'test' });
}, 120_000);

afterAll(async () => {
  await lab?.close();
});

/** The page's picture against the rig's snapshot, field by field. */
function compare(): SessionSnapshot {
  const snap = lab.host.snapshot();
  for (const p of snap.pipettes) {
    const v = model.byId.get(p.pipetteId)!;
    const at = `${p.pipetteId} at ${snap.now} ms`;
    expect({ state: v.state, stateSince: v.stateSince, lastReason: v.lastReason, attemptId: v.attemptId, attempts: v.attempts }, at).toEqual({
      state: p.state,
      stateSince: p.stateSince,
      lastReason: p.lastReason,
      attemptId: p.attemptId,
      attempts: p.attempts,
    });
    expect({ health: v.health, overrides: v.overrides, cleanCount: v.cleanCount }, at).toEqual({ health: p.health, overrides: p.overrides, cleanCount: p.cleanCount });
    expect({ pressure: v.pressure, position: v.position, holding: v.holding, lastReading: v.lastReading }, at).toEqual({
      pressure: p.pressure,
      position: p.position,
      holding: p.holding,
      lastReading: p.lastReading,
    });
    expect(v.history.t.map((t, i) => [t, v.history.r[i]]), at).toEqual(p.history);
  }
  expect(model.session.funnel).toEqual(snap.funnel);
  expect(model.session.attemptsStarted).toBe(snap.attemptsStarted);
  expect(ui.cellsPerHour(model.session, snap.now)).toBeCloseTo(snap.cellsPerHour, 9);
  return snap;
}

describe('event stream = snapshot, on the emulated rig', () => {
  it('agrees at every minute of a four-pipette session', async () => {
    for (let minute = 0; minute < 5; minute++) {
      await clock.runFor(60_000);
      compare();
    }
    expect(lab.host.snapshot().funnel.attempts).toBeGreaterThanOrEqual(3);
    expect(seen.has('pipette.cleanCount')).toBe(true);
    // p4's clear-access pulse, a note inside whole-cell, is logged (its panel keeps "broke in")
    expect(seen.has('note:p4 wholeCell: clear-access pulse given')).toBe(true);
  }, 300_000);

  it('operator overrides and their release by the safe state are streamed', async () => {
    expect((await clock.runUntilSettled(lab.host.pipette('p2', { action: 'holding', mV: -60 }, 'test'), 10_000)).ok).toBe(true);
    await clock.runFor(500);
    expect(compare().pipettes[1].overrides.holdingMv).toBe(-60);
    // abort: the safe state releases overrides, and the pipette is out of action (failed)
    await clock.runUntilSettled(lab.host.pipette('p2', { action: 'abort' }, 'test'), 10_000);
    await clock.runFor(60_000);
    const snap = compare();
    expect(snap.pipettes[1]).toMatchObject({ state: 'safe', health: 'failed', overrides: { pressureMbar: null, holdingMv: null } });
    expect(seen.has('pipette.overrides')).toBe(true);
    expect(seen.has('health:failed')).toBe(true);
  }, 120_000);

  it('the live trace carries every test pulse; storage gets its own thinned sweeps', () => {
    const { rate_Hz } = lab.preset.test_pulse;
    const minutes = clock.now() / 60_000;
    // every sweep of every pipette while test pulses ran: far more than the stored one per second
    expect(traces.length).toBeGreaterThan(4 * minutes * 60 * 5);
    expect(traces.length).toBeGreaterThan(5 * storedTestPulses);
    // per pipette, consecutive sweeps at the test-pulse rate
    const p1 = traces.filter((t) => t.pipetteId === 'p1').map((t) => t.sweep.seq);
    const gaps = p1.slice(1).map((s, i) => s - p1[i]);
    expect(gaps.filter((g) => g === 1).length / gaps.length).toBeGreaterThan(0.99);
    expect(rate_Hz).toBeGreaterThanOrEqual(10);
  });

  it('ends with the rate frozen at the session’s end, on both sides', async () => {
    await clock.runUntilSettled(lab.host.abort('test'), 10_000);
    await clock.runUntilSettled(lab.host.current!.done, 30 * 60_000);
    const before = compare();
    await clock.runFor(2 * 60_000);
    const after = compare();
    expect(after.endedAt).not.toBeNull();
    expect(after.cellsPerHour).toBe(before.cellsPerHour);
  }, 300_000);
});
