/**
 * Plausible live traffic for the fake rig, so the dashboard can be looked at
 * and browser-tested before the real supervisor exists: each pipette walks
 * through attempts (descent, hunt, seal, break-in, whole-cell, record,
 * retract, clean) with R, pressure, depth and traces to match; some seals
 * stall; one pipette breaks. Seeded, on the injected clock.
 */
import { every, type Clock } from '../../src/clock/clock.ts';
import type { PipetteStateName, TestPulseReading } from '../../src/control/events.ts';
import { createRng, type Rng } from '../../src/sim/rng.ts';
import { attemptRecord, testPulseSweep, type FakeRig } from '../server/fake-rig.ts';

interface Step {
  state: PipetteStateName;
  seconds: number;
  reason: string;
}

interface Walker {
  pipetteId: string;
  index: number;
  rng: Rng;
  r0: number;
  steps: Step[];
  step: number;
  stepStart: number;
  attempt: number;
  attemptId: string | null;
  attemptStart: number;
  sealFails: boolean;
  seq: number;
  cleans: number;
}

const PLAN: Step[] = [
  { state: 'pipetteCheck', seconds: 3, reason: 'attempt start: check pipette in bath' },
  { state: 'descent', seconds: 6, reason: 'R0 accepted' },
  { state: 'hunt', seconds: 8, reason: 'region depth reached' },
  { state: 'confirmHit', seconds: 3, reason: 'R rose 0.4 MΩ over 3 readings' },
  { state: 'seal', seconds: 12, reason: 'hit confirmed at atmosphere' },
  { state: 'cellAttached', seconds: 4, reason: 'gigaseal reached' },
  { state: 'breakIn', seconds: 2, reason: 'seal stable, breaking in' },
  { state: 'wholeCell', seconds: 5, reason: 'R < 500 MΩ and Cm 21 pF' },
  { state: 'record', seconds: 16, reason: 'QC passed: Ra 14 MΩ' },
  { state: 'retract', seconds: 3, reason: 'protocol done' },
  { state: 'clean', seconds: 4, reason: 'retracted' },
];

const FAILED_SEAL: Step[] = [
  ...PLAN.slice(0, 5),
  { state: 'retract', seconds: 3, reason: 'seal-stalled: R < 100 MΩ and dR/dt < 1 MΩ/s for 10 s' },
  { state: 'clean', seconds: 4, reason: 'retracted' },
];

export interface ScenarioOptions {
  seed: number;
  /** test-pulse readings per second per pipette */
  readingHz?: number;
  /** trace frames per second per pipette */
  traceHz?: number;
  /** the pipette that breaks after its first attempt (index), or -1 */
  breaksIndex?: number;
}

export function runFakeScenario(rig: FakeRig, clock: Clock, options: ScenarioOptions): () => void {
  const root = createRng(options.seed);
  const readingHz = options.readingHz ?? 10;
  const traceEvery = Math.max(1, Math.round(readingHz / (options.traceHz ?? 5)));
  const breaksIndex = options.breaksIndex ?? 3;
  let tick = 0;
  const walkers: Walker[] = rig.state.pipettes.map((p, index) => {
    const rng = root.fork(p.pipetteId);
    return {
      pipetteId: p.pipetteId,
      index,
      rng,
      r0: rng.uniform(4e6, 7e6),
      steps: PLAN,
      step: -1,
      stepStart: clock.now() + index * 1500, // stagger the pipettes
      attempt: 0,
      attemptId: null,
      attemptStart: clock.now(),
      sealFails: false,
      seq: 0,
      cleans: 0,
    };
  });

  const stamp = () => ({ t: clock.now(), epochMs: clock.epochMs() });

  const enter = (w: Walker, step: number): void => {
    const from = w.step >= 0 ? w.steps[w.step].state : 'idle';
    if (step === 0) {
      w.attempt++;
      w.sealFails = w.rng.chance(0.35);
      w.steps = w.sealFails ? FAILED_SEAL : PLAN;
      w.attemptId = `${w.pipetteId}-a${w.attempt}`;
      w.attemptStart = clock.now();
      rig.emit({ ...stamp(), type: 'attempt.started', pipetteId: w.pipetteId, attemptId: w.attemptId, target: null, targetCellId: null });
    }
    w.step = step;
    w.stepStart = clock.now();
    const s = w.steps[step];
    rig.emit({ ...stamp(), type: 'pipette.state', pipetteId: w.pipetteId, attemptId: w.attemptId, from, to: s.state, reason: s.reason });
    const pressure: Partial<Record<PipetteStateName, number>> = { pipetteCheck: 35, descent: 800, hunt: 30, confirmHit: 0, seal: -30, cellAttached: 0, breakIn: -250, wholeCell: 0, record: 0, retract: 20, clean: 1000 };
    const mbar = pressure[s.state];
    if (mbar !== undefined) {
      rig.emit({ ...stamp(), type: 'pipette.pressure', pipetteId: w.pipetteId, mbar, source: mbar === 0 ? 'atmosphere' : 'regulator' });
    }
    if (s.state === 'seal') rig.emit({ ...stamp(), type: 'pipette.holding', pipetteId: w.pipetteId, mode: 'VC', holding: -0.07 });
    if (s.state === 'clean') w.cleans++;
  };

  const endAttempt = (w: Walker): void => {
    if (!w.attemptId) return;
    const ok = !w.sealFails;
    rig.emit({
      ...stamp(),
      type: 'attempt.ended',
      record: attemptRecord({
        attemptId: w.attemptId,
        pipetteId: w.pipetteId,
        startT: w.attemptStart,
        endT: clock.now(),
        startEpochMs: clock.epochMs() - (clock.now() - w.attemptStart),
        endEpochMs: clock.epochMs(),
        stageReached: ok ? 'recorded' : 'detected',
        outcome: ok ? 'recorded' : 'failed',
        failureReason: ok ? null : 'seal-stalled',
        failedIn: ok ? null : 'seal',
        r0: w.r0,
        cleanCount: w.cleans,
        ra: ok ? 14e6 : null,
        cm: ok ? 21e-12 : null,
      }),
    });
  };

  const resistance = (w: Walker, s: Step, f: number): Partial<TestPulseReading> & { r: number } => {
    const noise = 1 + w.rng.normal(0, 0.01);
    switch (s.state) {
      case 'hunt':
        return { r: (w.r0 + 0.5e6 * f * f) * noise };
      case 'confirmHit':
        return { r: (w.r0 + 0.5e6) * noise };
      case 'seal': {
        const top = w.sealFails ? 60e6 : 1.6e9;
        return { r: w.r0 * Math.pow(top / w.r0, Math.min(1, f * 1.1)) * noise };
      }
      case 'cellAttached':
        return { r: 2e9 * noise };
      case 'breakIn':
        return f < 0.6 ? { r: 2e9 * noise } : { r: 280e6 * noise, cm: 21e-12, ra: 16e6, rm: 290e6 };
      case 'wholeCell':
      case 'record':
        return { r: 300e6 * noise, ra: 14e6 * noise, rm: 290e6 * noise, cm: 21e-12 * noise, ihold: -45e-12 * noise };
      default:
        return { r: w.r0 * noise };
    }
  };

  const step = (): void => {
    tick++;
    for (const w of walkers) {
      if (rig.state.phase !== 'running') continue;
      if (w.index === breaksIndex && w.attempt >= 2 && w.step === 1) {
        if (rig.state.pipettes[w.index].state !== 'needsPipette') {
          rig.emit({ ...stamp(), type: 'pipette.state', pipetteId: w.pipetteId, attemptId: w.attemptId, from: 'descent', to: 'broken', reason: 'R fell 1.4 MΩ below R0 during descent' });
          rig.emit({ ...stamp(), type: 'pipette.state', pipetteId: w.pipetteId, attemptId: w.attemptId, from: 'broken', to: 'needsPipette', reason: 'tip broken: replace the pipette' });
        }
        continue;
      }
      const elapsed = (clock.now() - w.stepStart) / 1000;
      if (w.step < 0) {
        if (elapsed < 0) continue; // staggered start
        enter(w, 0);
      } else if (elapsed >= w.steps[w.step].seconds) {
        const next = w.step + 1;
        if (next >= w.steps.length) {
          endAttempt(w);
          enter(w, 0);
        } else enter(w, next);
      }
      const s = w.steps[w.step];
      const f = Math.min(1, (clock.now() - w.stepStart) / 1000 / s.seconds);
      const r = resistance(w, s, f);
      const cellMode = s.state === 'wholeCell' || s.state === 'record';
      rig.emit({
        ...stamp(),
        type: 'pipette.testpulse',
        pipetteId: w.pipetteId,
        attemptId: w.attemptId,
        reading: { ra: null, cm: null, rm: null, ihold: -10e-12, fitQuality: 0.9, mode: 'VC', ...r },
      });
      if (s.state === 'descent' || s.state === 'hunt') {
        const z = s.state === 'descent' ? -600 + 660 * f : 60 + 25 * f;
        rig.emit({ ...stamp(), type: 'pipette.position', pipetteId: w.pipetteId, world: [w.index * 40, 0, z], manipulator: [0, 0, z] });
      }
      if (tick % traceEvery === 0) {
        const sweep = testPulseSweep({ channel: w.index, seq: ++w.seq, startTime: clock.now(), samples: 2000, r: r.r });
        // capacitive transient grows with the cell's capacitance
        if (cellMode) for (let i = 500; i < 560; i++) sweep.response[i] *= 3;
        for (let i = 0; i < sweep.response.length; i++) sweep.response[i] += w.rng.normal(0, 2e-12);
        rig.emit({ ...stamp(), type: 'sweep', pipetteId: w.pipetteId, attemptId: w.attemptId, sweep });
      }
    }
  };

  return every(clock, 1000 / readingHz, step);
}
