/**
 * Seeded four-pipette sessions of 50 attempts on the emulated rig, in virtual
 * time, with the real drivers and the control core, and an operator who
 * aborts two pipettes on the way (one as it starts sealing, one in the middle
 * of a recording), retries them once they are safe, and skips one a few
 * seconds into its descent through the tissue.
 *
 * Every attempt ends in a recorded outcome, the outcomes are a realistic mix
 * and differ between seeds, and the bytes every device received, decoded from
 * the binding's byte logs by readers written from the protocol documents
 * (./wire-checks.ts), break no limit and no rule tying them to the session's
 * events (gigaseal → vent, holding at the holding threshold, nothing after
 * break-in, safe means safe, vented at the end).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { createVirtualClock } from '../../src/clock/index.ts';
import { createSimulatedLab, type SimulatedLab } from '../../src/cli/simulated-lab.ts';
import type { AttemptRecord, RigEvent } from '../../src/control/events.ts';
import type { SessionSummary } from '../../src/control/supervisor.ts';
import { captureWire, checkWire, sessionEvent, type SessionEvent, type WireReport } from './wire-checks.ts';

interface Session {
  lab: SimulatedLab;
  summary: SessionSummary;
  /** every event but test pulses, sweeps and positions */
  events: RigEvent[];
  wire: WireReport;
  /** ports whose byte log and host writes disagree */
  disagreements: string[];
  /** what the operator did, to which pipette, in which state */
  actions: Array<{ pipetteId: string; action: 'abort' | 'skip'; in: string }>;
}

const ATTEMPTS = 50;

/**
 * The operator: aborts the first pipette that starts sealing after 10 min (its
 * suction is being set up) and the first one to record, a few seconds into its
 * stimuli, and retries each once its attempt has ended in the safe state; skips
 * the first pipette to descend into the tissue after 5 min, a few seconds into
 * its slow leg (the move is interrupted below the surface and it retracts).
 */
function operate(lab: SimulatedLab, actions: Session['actions']): void {
  const { clock, host } = lab;
  const act = (pipetteId: string, action: 'abort' | 'skip', state: string) => {
    actions.push({ pipetteId, action, in: state });
    void host.pipette(pipetteId, { action }, 'test operator');
  };
  const state = (pipetteId: string) => host.current?.runners.find((r) => r.pipetteId === pipetteId)?.state;
  let sealAborted = false;
  let recordAborted = false;
  let skipped = false;
  lab.sink.subscribe((e) => {
    if (e.type === 'pipette.state' && !sealAborted && e.to === 'seal' && e.t > 10 * 60_000) {
      sealAborted = true;
      clock.setTimeout(() => act(e.pipetteId, 'abort', 'seal'), 0);
    }
    if (e.type === 'pipette.state' && !recordAborted && e.to === 'record') {
      recordAborted = true;
      clock.setTimeout(() => state(e.pipetteId) === 'record' && act(e.pipetteId, 'abort', 'record'), (lab.preset.record.rest_s + 5) * 1000);
    }
    // at the surface during descent: the next leg is the slow one into the tissue
    if (e.type === 'pipette.position' && !skipped && e.t > 5 * 60_000 && Math.abs(e.world[2]) < 1 && state(e.pipetteId) === 'descent') {
      skipped = true;
      clock.setTimeout(() => state(e.pipetteId) === 'descent' && act(e.pipetteId, 'skip', 'descent'), 3_000);
    }
    if (e.type === 'attempt.ended' && e.record.outcome === 'aborted' && actions.some((a) => a.action === 'abort' && a.pipetteId === e.record.pipetteId)) {
      clock.setTimeout(() => void host.pipette(e.record.pipetteId, { action: 'retry' }, 'test operator'), 5_000);
    }
  });
}

async function runSession(seed: number): Promise<Session> {
  const clock = createVirtualClock();
  const lab = await createSimulatedLab({ clock, seed, pipettes: 4, preset: 'in-vivo-blind', maxAttempts: ATTEMPTS });
  const capture = captureWire(lab.sim, clock);
  const events: RigEvent[] = [];
  const slim: SessionEvent[] = [];
  lab.sink.subscribe((e) => {
    const s = sessionEvent(e);
    if (s) slim.push(s);
    if (e.type !== 'pipette.testpulse' && e.type !== 'sweep' && e.type !== 'pipette.position') events.push(e);
  });
  const actions: Session['actions'] = [];
  operate(lab, actions);
  const supervisor = await lab.startSession();
  const summary = await clock.runUntilSettled(supervisor.done, 24 * 3_600_000);
  capture.stop();
  const wire = checkWire({ config: lab.sim.config, preset: lab.preset, streams: capture.streams(), events: slim, endT: clock.now() });
  return { lab, summary, events, wire, disagreements: capture.disagreements(), actions };
}

const ended = (s: Session): AttemptRecord[] => s.events.flatMap((e) => (e.type === 'attempt.ended' ? [e.record] : []));
const only = (violations: WireReport['rules'], ...rules: string[]) => violations.filter((v) => rules.includes(v.rule));

const seeds = [3, 8];
const sessions = new Map<number, Session>();

beforeAll(async () => {
  for (const seed of seeds) sessions.set(seed, await runSession(seed));
}, 900_000);

describe.each(seeds)('a 50-attempt four-pipette session (seed %i)', (seed) => {
  const s = () => sessions.get(seed)!;

  it('ends normally after 50 attempts, each with a recorded outcome', () => {
    const { summary, events, lab } = s();
    expect(summary.reason).toBe('completed');
    const started = events.filter((e) => e.type === 'attempt.started').map((e) => (e as { attemptId: string }).attemptId);
    const records = ended(s());
    expect(started.length).toBe(ATTEMPTS);
    expect(records.map((r) => r.attemptId).sort()).toEqual([...started].sort());
    for (const r of records) {
      expect(['recorded', 'failed', 'aborted']).toContain(r.outcome);
      if (r.outcome === 'recorded') expect(r.failureReason).toBeNull();
      else expect(r.failureReason).toMatch(/\w/);
      expect(r.endT).toBeGreaterThanOrEqual(r.startT);
    }
    // every pipette took part
    expect(new Set(records.map((r) => r.pipetteId))).toEqual(new Set(['p1', 'p2', 'p3', 'p4']));
    // the operator's aborts and skip happened; aborts ended their attempts as aborted, and the pipettes came back
    expect(s().actions.map((a) => `${a.action} in ${a.in}`).sort()).toEqual(['abort in record', 'abort in seal', 'skip in descent']);
    for (const a of s().actions.filter((x) => x.action === 'abort')) {
      const mine = records.filter((r) => r.pipetteId === a.pipetteId);
      expect(mine.some((r) => r.outcome === 'aborted')).toBe(true);
      expect(mine[mine.length - 1].outcome).not.toBe('aborted');
    }
    // the limit travels with the session (the dashboard's progress bar) and the snapshot counts against it
    const startedEvent = events.find((e) => e.type === 'session.started') as Extract<RigEvent, { type: 'session.started' }>;
    expect(startedEvent.limits).toEqual({ durationMs: null, maxAttempts: ATTEMPTS });
    expect(lab.host.snapshot()).toMatchObject({ limits: { durationMs: null, maxAttempts: ATTEMPTS }, attemptsStarted: ATTEMPTS });
  });

  it('has a realistic mix of outcomes, not a controller that always wins', () => {
    const records = ended(s());
    const recorded = records.filter((r) => r.outcome === 'recorded').length;
    const wholeCell = records.filter((r) => ['wholeCell', 'recorded'].includes(r.stageReached)).length;
    expect(recorded).toBeGreaterThanOrEqual(1);
    expect(recorded).toBeLessThan(records.length / 2);
    expect(wholeCell).toBeGreaterThanOrEqual(recorded);
    const reasons = new Set(records.flatMap((r) => (r.failureReason ? [r.failureReason] : [])));
    expect(reasons.size).toBeGreaterThanOrEqual(4);
  });

  it('decoded every byte every device received, from complete logs', () => {
    const { wire, lab } = s();
    expect(wire.decodeErrors).toEqual([]);
    expect(wire.strays).toEqual([]);
    // the logs kept everything, except the amplifier bridges' (their host bytes come from the binding's write tap)
    for (const path of lab.sim.paths()) {
      if (!lab.sim.config.amplifiers.some((a) => a.path === path)) expect(lab.sim.binding.byteLog(path).dropped, path).toBe(0);
    }
    expect(s().disagreements).toEqual([]);
    for (const [path, n] of Object.entries(wire.counts.commandsPerPort)) expect(n, path).toBeGreaterThan(300);
  });

  it('sent no move outside the soft limits or above the maximum speed, no pressure or amplifier setting outside its limits', () => {
    const { wire } = s();
    expect(wire.counts.moves).toBeGreaterThan(1500);
    expect(wire.counts.pressureSetpoints).toBeGreaterThan(1000);
    expect(wire.counts.ampSettings).toBeGreaterThan(200);
    expect(wire.limits.filter((v) => v.rule !== 'fast-in-tissue')).toEqual([]);
  });

  // An interrupted leg (tip broken or clogged in descent, or a skip) stops anywhere on it:
  // the retract plans from where the device says the tip is, so it leaves at the tissue speed.
  it('moved no faster than the in-tissue speed below the surface', () => {
    expect(s().wire.counts.inTissueMoves).toBeGreaterThan(1000);
    expect(only(s().wire.limits, 'fast-in-tissue')).toEqual([]);
  });

  it('vented every gigaseal within one test-pulse period and kept suction off until break-in', () => {
    expect(s().wire.checked.gigaseal).toBeGreaterThan(5);
    expect(only(s().wire.rules, 'gigaseal-vent', 'suction-after-gigaseal')).toEqual([]);
  });

  it("switched to the preset's holding within one test-pulse period of the (filtered) holding threshold", () => {
    expect(s().wire.checked.holding).toBeGreaterThan(5);
    expect(only(s().wire.rules, 'holding-at-threshold')).toEqual([]);
  });

  it('sent no further break-in pulse, suction or zap after break-in', () => {
    expect(s().wire.checked.wholeCell).toBeGreaterThan(3);
    expect(only(s().wire.rules, 'whole-cell-vent', 'pulse-after-break-in', 'suction-after-break-in', 'zap-after-break-in')).toEqual([]);
  });

  // Aborted as it starts sealing, the seal suction is still waiting out the valve settle time
  // when the safe path vents: the vent cancels it (the valve must not open onto the regulator after).
  it('vented every safe pipette and kept it vented until the retry', () => {
    expect(s().wire.checked.safe).toBeGreaterThanOrEqual(2);
    expect(only(s().wire.rules, 'safe-final-pressure', 'safe-pressure-after-secured')).toEqual([]);
  });

  // Aborted during a current-clamp stimulus, the recorder restores nothing: the safe state owns the amplifier.
  it('left every safe pipette in VC at 0 mV and kept it there until the retry', () => {
    expect(s().wire.checked.safe).toBeGreaterThanOrEqual(2);
    expect(only(s().wire.rules, 'safe-final-holding', 'safe-holding-after-secured')).toEqual([]);
  });

  it('broke no tip on a floor or another pipette, left no suction on a seal (physics), and really patched', () => {
    const { lab } = s();
    lab.sim.world.advanceTo(lab.clock.now());
    const counts = lab.sim.world.eventCounts();
    expect(counts['collision'] ?? 0).toBe(0);
    for (const cause of ['floor', 'well-floor', 'obstacle', 'collision']) expect(counts[`tip-broken:${cause}`] ?? 0).toBe(0);
    // the physics' own (tolerant) count; the bytes are checked strictly above
    expect(counts['suction-after-seal'] ?? 0).toBe(0);
    // the physics saw seals, break-ins and cleanings happen
    expect(counts['gigaseal'] ?? 0).toBeGreaterThan(5);
    expect(counts['break-in'] ?? 0).toBeGreaterThan(3);
    expect(counts['cleaned'] ?? 0).toBeGreaterThan(10);
  });

  it('ends with every stage still', () => {
    for (const [, m] of s().lab.sim.manipulators) expect(m.emulator.motion(m.unit).moving).toBe(false);
  });

  // whatever path a pipette's last attempt took to `done` (retract → idle → done kept retract.pressure_mbar on before)
  it('ends with every line at atmosphere (on the wire and in the box)', () => {
    expect(only(s().wire.rules, 'line-on-at-end')).toEqual([]);
    for (const [, box] of s().lab.sim.pressureBoxes) {
      for (let ch = 0; ch < box.emulator.channelCount; ch++) expect(box.emulator.state(ch).source).toBe('atmosphere');
    }
  });
});

describe('seeds', () => {
  it('another seed is another preparation: other outcomes, attempt by attempt and in total', () => {
    const [a, b] = seeds.map((seed) => ended(sessions.get(seed)!));
    const shape = (r: AttemptRecord) => `${r.pipetteId}:${r.stageReached}:${r.failureReason}`;
    expect(b.map(shape)).not.toEqual(a.map(shape));
    const tally = (rs: AttemptRecord[]) => {
      const m: Record<string, number> = {};
      for (const r of rs) m[r.failureReason ?? 'recorded'] = (m[r.failureReason ?? 'recorded'] ?? 0) + 1;
      return m;
    };
    expect(tally(b)).not.toEqual(tally(a));
    expect(b.map((r) => r.r0)).not.toEqual(a.map((r) => r.r0));
  });
});
