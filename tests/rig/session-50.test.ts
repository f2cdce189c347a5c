/**
 * A seeded four-pipette session of 50 attempts on the emulated rig, in
 * virtual time, with the real drivers and the control core: every attempt
 * ends in a recorded outcome, the outcomes are a realistic mix, and nothing
 * the devices received (decoded from their byte streams) broke a limit.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { createVirtualClock } from '../../src/clock/index.ts';
import { createSimulatedLab, type SimulatedLab } from '../../src/cli/simulated-lab.ts';
import type { AttemptRecord, RigEvent } from '../../src/control/events.ts';
import type { SessionSummary } from '../../src/control/supervisor.ts';
import { limitViolations } from './wire-checks.ts';

let lab: SimulatedLab;
let summary: SessionSummary;
const events: RigEvent[] = [];

beforeAll(async () => {
  const clock = createVirtualClock();
  lab = await createSimulatedLab({ clock, seed: 3, pipettes: 4, preset: 'in-vivo-blind', maxAttempts: 50 });
  lab.sink.subscribe((e) => {
    if (e.type !== 'pipette.testpulse' && e.type !== 'sweep' && e.type !== 'pipette.position') events.push(e);
  });
  const supervisor = await lab.startSession();
  summary = await clock.runUntilSettled(supervisor.done, 24 * 3_600_000);
}, 600_000);

const ended = (): AttemptRecord[] => events.flatMap((e) => (e.type === 'attempt.ended' ? [e.record] : []));

describe('a 50-attempt four-pipette session (seed 3)', () => {
  it('ends normally after 50 attempts, each with a recorded outcome', () => {
    expect(summary.reason).toBe('completed');
    const started = events.filter((e) => e.type === 'attempt.started').map((e) => (e as { attemptId: string }).attemptId);
    const records = ended();
    expect(started.length).toBe(50);
    expect(records.map((r) => r.attemptId).sort()).toEqual([...started].sort());
    for (const r of records) {
      expect(['recorded', 'failed', 'aborted']).toContain(r.outcome);
      if (r.outcome === 'recorded') expect(r.failureReason).toBeNull();
      else expect(r.failureReason).toMatch(/\w/);
      expect(r.endT).toBeGreaterThanOrEqual(r.startT);
    }
    // every pipette took part
    expect(new Set(records.map((r) => r.pipetteId))).toEqual(new Set(['p1', 'p2', 'p3', 'p4']));
    // the limit travels with the session (the dashboard's progress bar) and the snapshot counts against it
    const startedEvent = events.find((e) => e.type === 'session.started') as Extract<RigEvent, { type: 'session.started' }>;
    expect(startedEvent.limits).toEqual({ durationMs: null, maxAttempts: 50 });
    expect(lab.host.snapshot()).toMatchObject({ limits: { durationMs: null, maxAttempts: 50 }, attemptsStarted: 50 });
  });

  it('has a realistic mix of outcomes, not a controller that always wins', () => {
    const records = ended();
    const recorded = records.filter((r) => r.outcome === 'recorded').length;
    const wholeCell = records.filter((r) => ['wholeCell', 'recorded'].includes(r.stageReached)).length;
    expect(recorded).toBeGreaterThanOrEqual(1);
    expect(recorded).toBeLessThan(records.length / 2);
    expect(wholeCell).toBeGreaterThanOrEqual(recorded);
    const reasons = new Set(records.flatMap((r) => (r.failureReason ? [r.failureReason] : [])));
    expect(reasons.size).toBeGreaterThanOrEqual(4);
  });

  it('never sent a device anything outside its limits (decoded from the bytes they received)', () => {
    const { violations, moves, pressureCommands } = limitViolations(lab.sim);
    expect(moves).toBeGreaterThan(500);
    expect(pressureCommands).toBeGreaterThan(200);
    expect(violations).toEqual([]);
  });

  it('broke no tip on a floor or another pipette, and never left suction on a sealed cell', () => {
    lab.sim.world.advanceTo(lab.clock.now());
    const counts = lab.sim.world.eventCounts();
    expect(counts['collision'] ?? 0).toBe(0);
    for (const cause of ['floor', 'well-floor', 'obstacle', 'collision']) expect(counts[`tip-broken:${cause}`] ?? 0).toBe(0);
    expect(counts['suction-after-seal'] ?? 0).toBe(0);
    // the physics saw seals, break-ins and cleanings happen: the session really patched
    expect(counts['gigaseal'] ?? 0).toBeGreaterThan(5);
    expect(counts['break-in'] ?? 0).toBeGreaterThan(3);
    expect(counts['cleaned'] ?? 0).toBeGreaterThan(10);
  });

  it('ends with every pipette at atmosphere and every stage still', () => {
    for (const [, box] of lab.sim.pressureBoxes) {
      for (let ch = 0; ch < box.emulator.channelCount; ch++) expect(box.emulator.state(ch).source).toBe('atmosphere');
    }
    for (const [, m] of lab.sim.manipulators) expect(m.emulator.motion(m.unit).moving).toBe(false);
  });
});
