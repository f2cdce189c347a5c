import { describe, expect, it } from 'vitest';
import { createHarness, driveTo } from './machine-harness.ts';
import { gaussian, vcPulse } from '../analysis/synth.ts';
import type { Signals } from '../../src/control/signals.ts';

const visited = (h: ReturnType<typeof createHarness>): string[] => h.states.map((s) => s.state);

describe('pipette machine: a complete attempt', () => {
  it('goes check → descent → hunt → confirm → seal → cell-attached → break-in → whole-cell → record → retract → clean → idle', async () => {
    const h = createHarness();
    await driveTo(h, 'wholeCell');
    expect(h.state()).toBe('wholeCell');
    // QC window with good access, then Vrest, then recording
    await h.stream(h.preset.whole_cell.qc_s * 1000 + 200, 100, () => ({ r: 200, rGiga: 600, cm: 60, ra: 30, rm: 180, fitQuality: 0.95, ihold: -60 }));
    await h.run(100);
    expect(h.state()).toBe('record');
    await h.stream(h.preset.record.rest_s * 1000 + 6000, 200, () => ({ r: 200, ihold: -60, ra: 30, cm: 60, rm: 180, fitQuality: 0.9 }));
    await h.run(2100);
    expect(visited(h)).toEqual([
      'idle', 'pipetteCheck', 'descent', 'hunt', 'confirmHit', 'seal', 'cellAttached', 'breakIn', 'wholeCell', 'record', 'retract', 'clean',
    ]);
    const rec = h.ended[0].context.facts;
    expect(rec.stage).toBe('recorded');
    expect(rec.failureReason).toBeNull();
    expect(rec.r0).toBe(6);
    expect(rec.qc.vrest).toBe(-0.065);
    expect(rec.qc.ra).toBeCloseTo(30e6, -3);
    expect(rec.qc.cm).toBeCloseTo(60e-12, 15);
    expect(rec.record?.sweeps).toBe(16);
    expect(rec.breakInAttempts).toBe(1);
    expect(rec.timeToSeal).toBeGreaterThanOrEqual(0);
    await h.run(31_000);
    expect(h.state()).toBe('done');
    expect(h.context().cleanCount).toBe(1);
  });
});

describe('pipette machine: pipette check', () => {
  it('a resistance below range means a broken tip: retract and wait for a new pipette', async () => {
    const h = createHarness();
    await h.run(1);
    h.tp({ r: 2, windowCount: 20, windowMedian: 2, windowSpread: 0.1 });
    await h.run(3000);
    expect(visited(h)).toEqual(['idle', 'pipetteCheck', 'broken', 'needsPipette']);
    expect(h.ended[0].context.facts.failureReason).toBe('pipette-resistance-too-low');
    h.actor.send({ type: 'REPLACED' });
    await h.run(1);
    expect(h.context().cleanCount).toBe(0);
  });

  it('a resistance above range means a clogged tip: retract and clean', async () => {
    const h = createHarness();
    await h.run(1);
    h.tp({ r: 14, windowCount: 20, windowMedian: 14, windowSpread: 0.2 });
    await h.run(3000);
    expect(visited(h)).toEqual(['idle', 'pipetteCheck', 'fouled', 'clean']);
    expect(h.ended[0].context.facts.failureReason).toBe('pipette-resistance-too-high');
  });

  it('readings that never settle give up at the check timeout', async () => {
    const h = createHarness();
    await h.run(1);
    await h.stream(h.preset.pipette_check.timeout_s * 1000 + 500, 100, (t) => ({ r: 6, windowCount: 20, windowMedian: 6, windowSpread: 1.5 + (t % 3) }));
    await h.run(2100);
    expect(h.ended[0].context.facts.failureReason).toBe('pipette-resistance-unstable');
    expect(visited(h)).toContain('retract');
  });
});

describe('pipette machine: descent and hunt', () => {
  it('a tip that breaks on the way down is caught during descent', async () => {
    const h = createHarness();
    await driveTo(h, 'descent');
    h.tp({ r: 4.5, rShort: 4.5 });
    await h.run(2100);
    expect(h.ended[0].context.facts.failureReason).toBe('tip-broken');
    expect(h.ended[0].context.facts.failedIn).toBe('descent');
    expect(h.state()).toBe('needsPipette');
  });

  it('a tip that clogs on the way down is retracted and cleaned', async () => {
    const h = createHarness();
    await driveTo(h, 'descent');
    h.tp({ r: 7.5, rShort: 7.5 });
    await h.run(2100);
    expect(h.ended[0].context.facts.failureReason).toBe('tip-clogged');
    expect(h.state()).toBe('clean');
  });

  it('hunting starts at low pressure with a fresh baseline, and gives up when travel is used up', async () => {
    const h = createHarness();
    await driveTo(h, 'hunt');
    expect(h.state()).toBe('hunt');
    expect(h.called('pressure').at(-1)?.args[0]).toBe(h.preset.hunt.pressure_mbar);
    expect(h.called('resetSignals').map((c) => c.args[0])).toContain('baseline');
    h.finishHunt();
    await h.run(2100);
    expect(h.ended[0].context.facts.failureReason).toBe('no-cell-within-travel');
    expect(h.ended[0].context.facts.stage).toBe('approached');
  });

  it('gives up at the hunt timeout', async () => {
    const h = createHarness();
    await driveTo(h, 'hunt');
    await h.run(h.preset.hunt.timeout_s * 1000 + 2100);
    expect(h.ended[0].context.facts.failureReason).toBe('hunt-timeout');
  });

  it('a rise over baseline that is too small or not sustained is not a hit', async () => {
    const h = createHarness();
    await driveTo(h, 'hunt');
    h.tp({ r: 6.1, rShort: 6.1, baseline: 6, rising: 5 });
    h.tp({ r: 6.4, rShort: 6.4, baseline: 6, rising: 1 });
    await h.run(10);
    expect(h.state()).toBe('hunt');
    h.tp({ r: 6.4, rShort: 6.3, baseline: 6, rising: h.preset.hunt.hit_consecutive });
    await h.run(10);
    expect(h.state()).toBe('confirmHit');
  });

  it('a single large jump is a hit on its own', async () => {
    const h = createHarness();
    await driveTo(h, 'hunt');
    h.tp({ r: 6 + h.preset.hunt.hit_jump_MOhm + 0.01, rShort: 6.2, baseline: 6, rising: 0 });
    await h.run(10);
    expect(h.state()).toBe('confirmHit');
    expect(h.called('stopMotion').length).toBeGreaterThan(0);
    expect(h.called('atmosphere').length).toBeGreaterThan(0);
  });

  it('a dead electrode (no variation at all) ends the attempt', async () => {
    const h = createHarness();
    await driveTo(h, 'hunt');
    h.tp({ r: 6, rangeKOhm: 10 });
    await h.run(2100);
    expect(h.ended[0].context.facts.failureReason).toBe('dead-electrode');
  });

  it('a baseline drifting up past the clog limit means a clogged tip', async () => {
    const h = createHarness();
    await driveTo(h, 'hunt');
    h.tp({ r: 8.5, rShort: 8.5, baseline: 8.2 });
    await h.run(2100);
    expect(h.ended[0].context.facts.failureReason).toBe('tip-clogged');
  });
});

describe('pipette machine: hit confirmation', () => {
  it('a rise that vanishes at atmosphere is a false hit: hunting resumes', async () => {
    const h = createHarness();
    await driveTo(h, 'hunt');
    h.tp({ r: 6.6, rShort: 6.5, baseline: 6, rising: 3 });
    await h.stream(h.preset.confirm.wait_s * 1000 + 100, 100, () => ({ r: 6.05, rShort: 6.05, baseline: 6 }));
    expect(h.state()).toBe('hunt');
    expect(h.context().facts.falseHits).toBe(1);
  });

  it('too many false hits end the attempt', async () => {
    const h = createHarness();
    await driveTo(h, 'hunt');
    for (let i = 0; i <= h.preset.confirm.max_false_hits; i++) {
      h.tp({ r: 6.6, rShort: 6.5, baseline: 6, rising: 3 });
      await h.stream(h.preset.confirm.wait_s * 1000 + 100, 100, () => ({ r: 6.05, rShort: 6.05, baseline: 6 }));
    }
    await h.run(2100);
    expect(h.ended[0].context.facts.failureReason).toBe('too-many-false-hits');
    expect(h.ended[0].context.facts.stage).toBe('approached');
  });
});

describe('pipette machine: seal', () => {
  it('suction starts, others are told to hold still, and holding switches on at 100 MΩ exactly once', async () => {
    const h = createHarness();
    await driveTo(h, 'seal');
    expect(h.state()).toBe('seal');
    expect(h.called('sealing').map((c) => c.args[0])).toEqual([true]);
    const sealStart = h.states.find((s) => s.state === 'seal')!.t;
    expect(h.called('pressure').find((c) => c.t >= sealStart)?.args[0]).toBe(h.preset.seal.suction_mbar);
    const holdingBefore = h.called('holding').length;
    h.tp({ r: 80, rHold: 80, rGiga: 60, slope: 5 });
    expect(h.called('holding').length).toBe(holdingBefore);
    h.tp({ r: 101, rHold: 100.5, rGiga: 80, slope: 5 });
    h.tp({ r: 150, rHold: 140, rGiga: 100, slope: 5 });
    h.tp({ r: 250, rHold: 240, rGiga: 150, slope: 5 });
    const holding = h.called('holding').slice(holdingBefore);
    expect(holding.map((c) => c.args[0])).toEqual([h.preset.seal.holding_mV]);
  });

  it('suction is released in the same reaction that detects the gigaseal (no suction left on)', async () => {
    const h = createHarness();
    await driveTo(h, 'seal');
    h.tp({ r: 900, rHold: 900, rGiga: 800, slope: 50 });
    const before = h.calls.length;
    h.tp({ r: 1100, rHold: 1100, rGiga: 1001, slope: 50 });
    // The atmosphere command is issued synchronously by the transition, before any later reading.
    const next = h.calls.slice(before);
    expect(next[0]?.name).toBe('atmosphere');
    expect(h.state()).toBe('cellAttached');
    // and no suction command follows while cell-attached
    await h.stream(3000, 100, () => ({ r: 1500, rHold: 1500, rGiga: 1500, slope: 0 }));
    expect(h.calls.slice(before).filter((c) => c.name === 'pressure' && (c.args[0] as number) < 0)).toEqual([]);
    expect(h.called('sealing').map((c) => c.args[0])).toEqual([true, false]);
  });

  it('suction adapts to the rate of rise: stronger when slow, weaker when fast', async () => {
    const h = createHarness();
    await driveTo(h, 'seal');
    const s = h.preset.seal;
    h.tp({ r: 50, rHold: 50, rGiga: 50, slope: s.slow_rate_MOhm_per_s / 2 });
    expect(h.called('pressure').at(-1)?.args[0]).toBe(s.strong_suction_mbar);
    h.tp({ r: 500, rHold: 500, rGiga: 400, slope: s.fast_rate_MOhm_per_s * 2 });
    expect(h.called('pressure').at(-1)?.args[0]).toBe(s.weak_suction_mbar);
    h.tp({ r: 520, rHold: 520, rGiga: 420, slope: (s.slow_rate_MOhm_per_s + s.fast_rate_MOhm_per_s) / 2 });
    expect(h.called('pressure').at(-1)?.args[0]).toBe(s.suction_mbar);
  });

  it('a seal stalled below 100 MΩ for the stall time is given up', async () => {
    const h = createHarness();
    await driveTo(h, 'seal');
    await h.stream(h.preset.seal.stall_s * 1000 + 500, 100, () => ({ r: 40, rHold: 40, rGiga: 40, slope: 0.1 }));
    await h.run(2100);
    expect(h.ended[0].context.facts.failureReason).toBe('seal-stalled');
    expect(h.ended[0].context.facts.stage).toBe('detected');
    expect(h.called('atmosphere').length).toBeGreaterThan(0);
  });

  it('a seal behind its progress tier is given up', async () => {
    const h = createHarness();
    await driveTo(h, 'seal');
    const tier = h.preset.seal.tiers[0];
    await h.stream(tier.at_s * 1000 + 500, 200, () => ({ r: tier.min_MOhm / 2, rHold: tier.min_MOhm / 2, rGiga: tier.min_MOhm / 2, slope: 2 }));
    await h.run(2100);
    expect(h.ended[0].context.facts.failureReason).toBe('seal-too-slow');
  });

  it('the seal deadline ends the attempt', async () => {
    const h = createHarness({ overrides: (p) => (p.seal.tiers = []) });
    await driveTo(h, 'seal');
    await h.run(h.preset.seal.timeout_s * 1000 + 2100);
    expect(h.ended[0].context.facts.failureReason).toBe('seal-timeout');
  });

  it('a spontaneous break-in is caught on the first reading showing Cm, once the seal passed 500 MΩ', async () => {
    const h = createHarness();
    await driveTo(h, 'seal');
    // Cm before the seal was ever high: not armed, not a break-in (capacitive noise at low R)
    h.tp({ r: 200, rHold: 200, rGiga: 150, cm: 40, fitQuality: 0.9, slope: 10 });
    expect(h.state()).toBe('seal');
    h.tp({ r: 700, rHold: 700, rGiga: 600, slope: 10 });
    const before = h.calls.length;
    h.tp({ r: 400, rHold: 450, rGiga: 580, cm: 45, ra: 40, rm: 200, fitQuality: 0.9, slope: -10 });
    expect(h.state()).toBe('wholeCell');
    expect(h.calls.slice(before)[0]?.name).toBe('atmosphere');
    expect(h.context().facts.spontaneousBreakIn).toBe(true);
  });
});

describe('pipette machine: cell-attached and break-in', () => {
  it('a spontaneous break-in at a 6 Hz test pulse is caught on the first reading (no 1 s smoothing)', async () => {
    const h = createHarness();
    await driveTo(h, 'cellAttached');
    await h.stream(1000, 167, () => ({ r: 1500, rHold: 1500, rGiga: 1500 }));
    h.tp({ r: 450, rHold: 700, rGiga: 1300, cm: 50, ra: 35, rm: 200, fitQuality: 0.9 });
    expect(h.state()).toBe('wholeCell');
    expect(h.context().facts.spontaneousBreakIn).toBe(true);
  });

  it('a seal falling below 500 MΩ in cell-attached is lost', async () => {
    const h = createHarness();
    await driveTo(h, 'cellAttached');
    h.tp({ r: 300, rHold: 300, rGiga: 400 });
    await h.run(2100);
    expect(h.ended[0].context.facts.failureReason).toBe('seal-lost');
    expect(h.ended[0].context.facts.stage).toBe('sealed');
  });

  it('break-in runs faster test pulses, and stops suction and pulses the moment whole-cell is detected', async () => {
    const h = createHarness();
    await driveTo(h, 'breakIn');
    expect(h.state()).toBe('breakIn');
    expect(h.called('testPulseRate').at(-1)?.args[0]).toBe(h.preset.test_pulse.break_in_rate_Hz);
    await h.run(4000);
    expect(h.breakIns.length).toBe(2);
    const before = h.calls.length;
    h.tp({ r: 220, rGiga: 700, cm: 55, ra: 30, rm: 200, fitQuality: 0.95 });
    expect(h.calls.slice(before)[0]?.name).toBe('atmosphere');
    expect(h.state()).toBe('wholeCell');
    expect(h.breakIns.at(-1)!.aborted).toBe(true);
    const attempts = h.breakIns.length;
    await h.run(20_000);
    // no further pulse after break-in
    expect(h.breakIns.length).toBe(attempts);
    expect(h.called('testPulseRate').at(-1)?.args[0]).toBe(h.preset.test_pulse.rate_Hz);
  });

  it('break-in attempts exhausted ends the attempt as sealed but not whole-cell', async () => {
    const h = createHarness({ overrides: (p) => (p.break_in.max_attempts = 3) });
    await driveTo(h, 'breakIn');
    await h.stream(3 * 3000 + 500, 100, () => ({ r: 1500, rHold: 1500, rGiga: 1500 }));
    await h.run(2100);
    expect(h.ended[0].context.facts.failureReason).toBe('break-in-failed');
    expect(h.ended[0].context.facts.breakInAttempts).toBe(3);
    expect(h.ended[0].context.facts.stage).toBe('sealed');
  });
});

describe('pipette machine: whole-cell', () => {
  it('QC fails on high access resistance', async () => {
    const h = createHarness({ overrides: (p) => (p.whole_cell.clear_access_max = 0) });
    await driveTo(h, 'wholeCell');
    await h.stream(h.preset.whole_cell.qc_s * 1000 + 200, 100, () => ({ r: 200, cm: 60, ra: h.preset.whole_cell.ra_max_MOhm + 20, rm: 300, fitQuality: 0.95, ihold: -50 }));
    await h.run(2200);
    expect(h.ended[0].context.facts.failureReason).toBe('qc-access-too-high');
    expect(h.ended[0].context.facts.stage).toBe('wholeCell');
  });

  it('creeping access gets clear-access pulses, at most the preset number', async () => {
    const h = createHarness();
    await driveTo(h, 'wholeCell');
    await h.stream(h.preset.whole_cell.qc_s * 1000, 100, () => ({ r: 200, cm: 60, ra: h.preset.whole_cell.clear_access_MOhm + 5, rm: 300, fitQuality: 0.95, ihold: -50 }));
    expect(h.called('clearAccess').length).toBe(h.preset.whole_cell.clear_access_max);
  });

  it('a holding current below -1 nA means the cell is lost', async () => {
    const h = createHarness();
    await driveTo(h, 'wholeCell');
    h.tp({ r: 100, cm: 60, ra: 30, rm: 100, fitQuality: 0.9, ihold: -1200 });
    await h.run(2100);
    expect(h.ended[0].context.facts.failureReason).toBe('cell-lost');
  });
});

describe('pipette machine: aborts, faults, skip', () => {
  it('ABORT from any stage goes through the one safe-state path', async () => {
    for (const stage of ['descent', 'hunt', 'seal', 'breakIn', 'wholeCell'] as const) {
      const h = createHarness();
      await driveTo(h, stage);
      h.actor.send({ type: 'ABORT', reason: 'operator abort' });
      await h.run(10);
      expect(h.state()).toBe('safe');
      expect(h.called('safeState').map((c) => c.args[0])).toEqual(['operator abort']);
      expect(h.ended[0].state).toBe('safe');
      expect(h.ended[0].context.facts.failureReason).toBe('operator abort');
      expect(h.ended[0].context.facts.failedIn).toBe(stage); // the stage it was in, for the failure report
      // a second abort while securing does not restart the safe path
      h.actor.send({ type: 'ABORT', reason: 'again' });
      await h.run(10);
      expect(h.called('safeState').length).toBe(1);
    }
  });

  it('a device error in a service ends in the safe state, and RETRY starts over', async () => {
    const h = createHarness({ targets: 2, recordFails: true });
    await driveTo(h, 'wholeCell');
    await h.stream(h.preset.whole_cell.qc_s * 1000 + 200, 100, () => ({ r: 200, cm: 60, ra: 30, rm: 180, fitQuality: 0.95, ihold: -60 }));
    await h.run(h.preset.record.rest_s * 1000 + 6000);
    expect(h.state()).toBe('safe');
    expect(h.ended[0].context.facts.failureReason).toBe('fault: amplifier vanished');
    expect(h.called('reportFault').map((c) => c.args[0])).toEqual(['amplifier vanished']);
    h.actor.send({ type: 'RETRY' });
    await h.run(10);
    expect(h.state()).toBe('pipetteCheck');
  });

  it('an abort during cleaning cancels the clean and takes the safe path (out of the well)', async () => {
    const h = createHarness();
    await h.run(1);
    h.tp({ r: 14, windowCount: 20, windowMedian: 14, windowSpread: 0.2 });
    await h.run(5000);
    expect(h.state()).toBe('clean');
    h.actor.send({ type: 'ABORT', reason: 'stop cleaning' });
    await h.run(10);
    expect(h.state()).toBe('safe');
    expect(h.called('safeState').length).toBe(1);
    await h.run(60_000);
    expect(h.context().cleanCount).toBe(0);
  });

  it('SKIP during a seal releases suction and retracts', async () => {
    const h = createHarness();
    await driveTo(h, 'seal');
    h.actor.send({ type: 'SKIP', reason: 'skipped by operator' });
    await h.run(2100);
    expect(h.called('atmosphere').length).toBeGreaterThan(0);
    expect(h.ended[0].context.facts.failureReason).toBe('skipped by operator');
    expect(visited(h)).toContain('retract');
  });
});

describe('pipette machine: finishing', () => {
  it('a FINISH that arrives while the safe path is still running ends the machine once the pipette is secured', async () => {
    const h = createHarness({ targets: 5 });
    await driveTo(h, 'hunt');
    h.actor.send({ type: 'ABORT', reason: 'session aborted' });
    h.actor.send({ type: 'FINISH' });
    await h.run(10);
    expect(h.state()).toBe('done');
    expect(h.called('safeState').length).toBe(1);
  });

  it('a FINISH that arrives while a broken pipette is retracting ends it instead of waiting for a new pipette', async () => {
    const h = createHarness({ targets: 5 });
    await h.run(1);
    h.tp({ r: 2, windowCount: 20, windowMedian: 2, windowSpread: 0.1 });
    h.actor.send({ type: 'FINISH' });
    await h.run(3000);
    // needsPipette is passed straight through; the attempt still records the broken tip
    expect(h.states.map((s) => s.state)).toEqual(['idle', 'pipetteCheck', 'broken', 'done']);
    expect(h.ended[0].context.facts.failureReason).toBe('pipette-resistance-too-low');
  });
});

describe('failure reasons', () => {
  it('name a device fault by kind, command and device, without the bytes', async () => {
    const { faultReason } = await import('../../src/control/pipette-machine.ts');
    const { DeviceError } = await import('../../drivers/errors.ts');
    const e = new DeviceError('timeout', 'amp-bridge @ sim:amp-1', 'mode (set clamp mode)', 'incomplete reply after 500 ms', Buffer.from([0xa5, 0x5a, 1, 2]));
    expect(e.message).toContain('a5 5a');
    expect(faultReason(e)).toBe('device-timeout: mode (set clamp mode) on amp-bridge @ sim:amp-1');
    expect(faultReason(new Error('x'.repeat(400)))).toHaveLength(7 + 158);
  });
});

describe('pipette machine: hunt time counts only while the motion gate is open', () => {
  it('a pipette held still while another seals (or the session is paused) does not time out for it', async () => {
    const h = createHarness();
    await driveTo(h, 'hunt');
    const timeout = h.preset.hunt.timeout_s * 1000;
    await h.run(10_000);
    h.setGate(false);
    await h.run(2 * timeout); // far longer than the whole allowance
    expect(h.state()).toBe('hunt');
    h.setGate(true);
    // about 10.5 s were used before the gate closed
    await h.run(timeout - 10_500 - 500);
    expect(h.state()).toBe('hunt');
    await h.run(1000);
    expect(h.state()).toBe('retract');
    expect(h.context().facts.failureReason).toBe('hunt-timeout');
  });

  it('a hunt entered with the gate closed starts counting only when it opens', async () => {
    const h = createHarness();
    await driveTo(h, 'hunt');
    // a false hit, confirmed while another pipette seals (gate closed)
    h.tp({ r: 6.6, rShort: 6.5, baseline: 6, rising: 3 });
    h.setGate(false);
    await h.stream(h.preset.confirm.wait_s * 1000 + 100, 100, () => ({ r: 6.05, rShort: 6.05, baseline: 6 }));
    expect(h.state()).toBe('hunt');
    await h.run(h.preset.hunt.timeout_s * 1000 + 5000);
    expect(h.state()).toBe('hunt');
    h.setGate(true);
    await h.run(h.preset.hunt.timeout_s * 1000 + 100);
    expect(h.context().facts.failureReason).toBe('hunt-timeout');
  });
});

describe('pipette machine: hit confirmation through the real signal filters', () => {
  const RATE_MS = 33;
  /** readings with 30 kΩ RMS seeded noise (a live electrode: a flat one reads as dead) */
  const noisy = (seed: number) => {
    const g = gaussian(seed);
    return (mohm: number) => ({ r: mohm * 1e6 + 30e3 * g() });
  };
  async function settledHunt() {
    const h = createHarness();
    const at = noisy(7);
    await driveTo(h, 'hunt');
    // 30 s at 6 MΩ: the 20 s baseline settles there
    for (let t = 0; t < 30_000; t += RATE_MS) {
      h.reading(at(6));
      await h.run(RATE_MS);
    }
    expect(h.state()).toBe('hunt');
    // contact: R up 0.5 MΩ, detected as a hit within a few readings
    for (let i = 0; i < 30 && h.state() === 'hunt'; i++) {
      h.reading(at(6.5));
      await h.run(RATE_MS);
    }
    expect(h.state()).toBe('confirmHit');
    return { h, at };
  }

  it('the baseline is held during the wait at atmosphere: a rise that holds is confirmed', async () => {
    // Without the hold the 20 s baseline absorbs 1 − e^(−10/20) ≈ 39 % of the 0.5 MΩ rise in the
    // 10 s wait, leaving 0.30 MΩ, under the 0.35 MΩ the confirmation asks for: a real cell read as a false hit.
    const { h, at } = await settledHunt();
    for (let t = 0; t < h.preset.confirm.wait_s * 1000 + 200; t += RATE_MS) {
      h.reading(at(6.5));
      await h.run(RATE_MS);
    }
    expect(h.state()).toBe('seal');
    expect(h.called('holdBaseline').map((c) => c.args[0])).toEqual([true]);
  });

  it('after a false hit the baseline carries on from where it was held, and the held time does not count', async () => {
    const { h, at } = await settledHunt();
    let s = h.reading(at(6.02));
    const held = s.baseline;
    for (let t = 0; t < h.preset.confirm.wait_s * 1000 + 200; t += RATE_MS) {
      const confirming = h.state() === 'confirmHit';
      s = h.reading(at(6.02)); // it fell back: debris, not a cell
      if (confirming) expect(s.baseline).toBe(held);
      await h.run(RATE_MS);
      if (h.state() === 'hunt') break;
    }
    expect(h.state()).toBe('hunt');
    expect(h.context().facts.falseHits).toBe(1);
    s = h.reading({ r: 6.3e6 });
    // one reading's worth of time (33 ms of a 20 s filter) moves the baseline 0.16 % of the way to
    // 6.3 MΩ; counting the 10 s held would move it 39 % (~0.1 MΩ)
    expect(s.baseline - held).toBeGreaterThan(0);
    expect(s.baseline - held).toBeLessThan(0.002);
  });
});

describe('pipette machine: lost seals and cells', () => {
  it('a seal lost in cell-attached goes to lost: retract, then clean the used tip', async () => {
    const h = createHarness();
    await driveTo(h, 'cellAttached');
    h.tp({ r: 300, rHold: 300, rGiga: 400 });
    await h.run(2100);
    expect(visited(h).slice(-3)).toEqual(['cellAttached', 'lost', 'clean']);
    expect(h.called('retract').length).toBe(1);
    expect(h.ended[0].state).toBe('lost');
    expect(h.ended[0].context.facts).toMatchObject({ failureReason: 'seal-lost', failedIn: 'cellAttached', stage: 'sealed' });
  });

  it('a cell lost during recording goes to lost and its tip is cleaned', async () => {
    const h = createHarness();
    await driveTo(h, 'wholeCell');
    await h.stream(h.preset.whole_cell.qc_s * 1000 + 200, 100, () => ({ r: 200, cm: 60, ra: 30, rm: 180, fitQuality: 0.95, ihold: -60 }));
    await h.run(100);
    expect(h.state()).toBe('record');
    h.tp({ r: 80, ihold: -1500 });
    await h.run(2100);
    expect(visited(h).slice(-3)).toEqual(['record', 'lost', 'clean']);
    expect(h.ended[0].context.facts).toMatchObject({ failureReason: 'cell-lost', failedIn: 'record', stage: 'wholeCell' });
  });

  it('with cleaning off, a lost cell goes back to idle after retracting', async () => {
    const h = createHarness({ overrides: (p) => (p.clean.enabled = false), targets: 1 });
    await driveTo(h, 'wholeCell');
    h.tp({ r: 100, cm: 60, ra: 30, rm: 100, fitQuality: 0.9, ihold: -1200 });
    await h.run(2100);
    expect(visited(h).slice(-3)).toEqual(['lost', 'idle', 'done']);
  });

  it('a seal that vanishes during break-in with no capacitance is seal-lost-during-break-in', async () => {
    const h = createHarness();
    await driveTo(h, 'breakIn');
    h.tp({ r: 300, rGiga: 450, transient: 'none', cmAtLeast: 0.3 });
    await h.run(2100);
    expect(h.ended[0].context.facts).toMatchObject({ failureReason: 'seal-lost-during-break-in', failedIn: 'breakIn', stage: 'sealed' });
    expect(visited(h)).toContain('lost');
  });

  it('R collapsing with a transient too slow to fit, but a whole cell\'s charge, is a break-in — not a lost seal', async () => {
    const h = createHarness();
    await driveTo(h, 'breakIn');
    const before = h.calls.length;
    h.tp({ r: 180, rGiga: 450, transient: 'slow', cmAtLeast: 25, fitQuality: 0.2 });
    expect(h.state()).toBe('wholeCell');
    expect(h.calls.slice(before)[0]?.name).toBe('atmosphere');
    expect(h.context().facts.breakInUnfitted).toBe(true);
    expect(h.context().reason).toMatch(/too slow to fit/);
  });
});

describe('pipette machine: whole-cell QC failures', () => {
  const qcStream = (h: ReturnType<typeof createHarness>, s: Partial<Signals>) => h.stream(h.preset.whole_cell.qc_s * 1000 + 200, 100, () => s);

  it('Ra/Rm above the preset ratio (with Ra itself acceptable)', async () => {
    const h = createHarness();
    await driveTo(h, 'wholeCell');
    await qcStream(h, { r: 100, cm: 60, ra: 40, rm: 60, fitQuality: 0.95, ihold: -50 });
    await h.run(2200);
    expect(h.ended[0].context.facts.failureReason).toBe('qc-access-to-membrane-ratio');
  });

  it('holding current outside the window', async () => {
    const h = createHarness();
    await driveTo(h, 'wholeCell');
    await qcStream(h, { r: 200, cm: 60, ra: 30, rm: 170, fitQuality: 0.95, ihold: -400 });
    await h.run(2200);
    expect(h.ended[0].context.facts.failureReason).toBe('qc-holding-current');
  });

  it('a resting potential above the preset limit', async () => {
    const h = createHarness({ vrest: -0.03 });
    await driveTo(h, 'wholeCell');
    await qcStream(h, { r: 200, cm: 60, ra: 30, rm: 170, fitQuality: 0.95, ihold: -50 });
    await h.run(2200);
    expect(h.ended[0].context.facts.failureReason).toBe('qc-resting-potential');
    expect(h.ended[0].context.facts.qc.vrest).toBe(-0.03);
  });

  it('no reading with a trusted fit in the whole QC window', async () => {
    const h = createHarness();
    await driveTo(h, 'wholeCell');
    await qcStream(h, { r: 200, cm: 60, ra: 30, rm: 170, fitQuality: h.preset.test_pulse.analysis.min_fit_quality - 0.1, ihold: -50 });
    await h.run(2200);
    expect(h.ended[0].context.facts.failureReason).toBe('qc-no-access-fit');
  });

  it('the fit cut-off is the preset\'s: the same readings pass with a lower one', async () => {
    const h = createHarness({ overrides: (p) => (p.test_pulse.analysis.min_fit_quality = 0.3) });
    await driveTo(h, 'wholeCell');
    await qcStream(h, { r: 200, cm: 60, ra: 30, rm: 170, fitQuality: 0.4, ihold: -50 });
    await h.run(200);
    expect(h.state()).toBe('record');
  });
});

describe('pipette machine: seal tiers', () => {
  const sealAt = (mohm: number) => () => ({ r: mohm, rHold: mohm, rGiga: mohm, slope: 5 });

  it.each([
    [1, 'tier 2 (100 MΩ by 90 s)', 60],
    [2, 'tier 3 (500 MΩ by 120 s)', 300],
    [3, 'tier 4 (1 GΩ by 180 s)', 800],
  ])('%s: %s is enforced at its time, not before', async (tierIndex, _name, mohm) => {
    const h = createHarness({ overrides: (p) => (p.seal.timeout_s = 400) });
    await driveTo(h, 'seal');
    const tier = h.preset.seal.tiers[tierIndex];
    const prev = h.preset.seal.tiers[tierIndex - 1];
    expect(mohm).toBeGreaterThanOrEqual(prev.min_MOhm);
    expect(mohm).toBeLessThan(tier.min_MOhm);
    await h.stream(tier.at_s * 1000 - 1000, 200, sealAt(mohm));
    expect(h.state()).toBe('seal');
    await h.stream(1500, 200, sealAt(mohm));
    expect(h.state()).toBe('retract');
    expect(h.context().facts.failureReason).toBe('seal-too-slow');
  });

  it('holding goes to -70 mV even when the first seal reading is already a gigaseal', async () => {
    const h = createHarness();
    await driveTo(h, 'seal');
    const before = h.called('holding').length;
    h.tp({ r: 1500, rHold: 1500, rGiga: 1200, slope: 50 });
    expect(h.state()).toBe('cellAttached');
    expect(h.called('holding').slice(before).map((c) => c.args[0])).toEqual([h.preset.seal.holding_mV]);
  });
});

describe('pipette machine: partners, cleaning, retiring', () => {
  it('a sealed pipette waits for partners at most break_in_wait_s, then breaks in alone', async () => {
    const h = createHarness({ partnersNeverReady: true });
    await driveTo(h, 'breakIn'); // cell-attached wait, then waiting for partners
    expect(h.state()).toBe('cellAttached');
    expect(h.called('waitForBreakInPartners').length).toBe(1);
    await h.stream(h.preset.coordination.break_in_wait_s * 1000 - 1000, 500, () => ({ r: 1500, rHold: 1500, rGiga: 1500 }));
    expect(h.state()).toBe('cellAttached');
    await h.stream(1500, 500, () => ({ r: 1500, rHold: 1500, rGiga: 1500 }));
    expect(h.state()).toBe('breakIn');
    expect(h.context().reason).toBe('partner wait over: breaking in');
  });

  it('the fouled flag is cleared by cleaning: the next attempt without contact is not cleaned again', async () => {
    const h = createHarness({ targets: 2 });
    await h.run(1);
    h.tp({ r: 14, windowCount: 20, windowMedian: 14, windowSpread: 0.2 });
    await h.run(2100 + 30_100);
    expect(visited(h)).toEqual(['idle', 'pipetteCheck', 'fouled', 'clean', 'idle', 'pipetteCheck']);
    expect(h.context().tipFouled).toBe(false);
    expect(h.context().cleanCount).toBe(1);
    // second attempt: hunting without a cell, retract, straight back to idle
    h.tp({ r: 6, windowCount: 20, windowMedian: 6, windowSpread: 0.1 });
    await h.run(1500);
    h.finishHunt();
    await h.run(2100);
    expect(h.called('clean').length).toBe(1);
    expect(visited(h).slice(-3)).toEqual(['retract', 'idle', 'done']);
  });

  it('a pipette cleaned its maximum number of times is retired (needs a new pipette)', async () => {
    const h = createHarness({ overrides: (p) => (p.clean.max_cleans = 1) });
    await h.run(1);
    h.tp({ r: 14, windowCount: 20, windowMedian: 14, windowSpread: 0.2 });
    await h.run(2100 + 30_100);
    expect(h.state()).toBe('needsPipette');
    expect(h.context().reason).toBe('pipette cleaned its maximum number of times');
    h.actor.send({ type: 'REPLACED' });
    await h.run(1);
    expect(h.context().cleanCount).toBe(0);
  });

  it('CLEAN_NOW in idle cleans, then the pipette is idle again', async () => {
    const h = createHarness({ holdTargets: true });
    await h.run(1);
    expect(h.state()).toBe('idle');
    h.actor.send({ type: 'CLEAN_NOW' });
    await h.run(1);
    expect(h.state()).toBe('clean');
    await h.run(30_100);
    expect(h.state()).toBe('idle');
    expect(h.context().cleanCount).toBe(1);
  });

  it('a failing clean ends in the safe state', async () => {
    const h = createHarness({ failing: ['clean'] });
    await h.run(1);
    h.tp({ r: 14, windowCount: 20, windowMedian: 14, windowSpread: 0.2 });
    await h.run(2100 + 30_100);
    expect(h.state()).toBe('safe');
    expect(h.called('safeState').length).toBe(1);
    expect(h.context().cleanCount).toBe(0);
  });
});

describe('pipette machine: skip, device errors and failing services from more states', () => {
  it.each(['descent', 'confirmHit', 'cellAttached', 'breakIn', 'record'] as const)('SKIP in %s retracts and records the skip there', async (stage) => {
    const h = createHarness();
    if (stage === 'confirmHit') {
      await driveTo(h, 'hunt');
      h.tp({ r: 6.6, rShort: 6.5, baseline: 6, rising: 3 });
    } else if (stage === 'record') {
      await driveTo(h, 'wholeCell');
      await h.stream(h.preset.whole_cell.qc_s * 1000 + 200, 100, () => ({ r: 200, cm: 60, ra: 30, rm: 180, fitQuality: 0.95, ihold: -60 }));
      await h.run(100);
    } else {
      await driveTo(h, stage);
    }
    expect(h.state()).toBe(stage);
    h.actor.send({ type: 'SKIP', reason: 'skipped by operator' });
    await h.run(1);
    expect(h.state()).toBe('retract');
    await h.run(2100);
    expect(h.ended[0].context.facts).toMatchObject({ failureReason: 'skipped by operator', failedIn: stage });
    if (stage === 'breakIn') expect(h.breakIns.at(-1)!.aborted).toBe(true); // no pulse after the skip
  });

  it.each([
    ['SKIP in record', 'record', (h: ReturnType<typeof createHarness>) => h.actor.send({ type: 'SKIP', reason: 'skipped by operator' }), 1],
    ['a cell lost in record', 'record', (h: ReturnType<typeof createHarness>) => h.tp({ r: 80, ihold: -1500 }), 1],
    ['SKIP in whole-cell', 'wholeCell', (h: ReturnType<typeof createHarness>) => h.actor.send({ type: 'SKIP', reason: 'skipped by operator' }), 1],
    ['ABORT in record', 'record', (h: ReturnType<typeof createHarness>) => h.actor.send({ type: 'ABORT', reason: 'operator' }), 0],
    ['a DEVICE_ERROR in record', 'record', (h: ReturnType<typeof createHarness>) => h.actor.send({ type: 'DEVICE_ERROR', error: 'device-timeout' }), 0],
  ] as const)('%s: back to voltage clamp on the way out unless it is the safe state (%#)', async (_, stage, leave, restores) => {
    const h = createHarness();
    await driveTo(h, 'wholeCell');
    if (stage === 'record') {
      await h.stream(h.preset.whole_cell.qc_s * 1000 + 200, 100, () => ({ r: 200, cm: 60, ra: 30, rm: 180, fitQuality: 0.95, ihold: -60 }));
      await h.run(100);
    }
    expect(h.state()).toBe(stage);
    leave(h);
    await h.run(2100);
    expect(h.called('restoreVoltageClamp')).toHaveLength(restores);
    expect(h.called('safeState')).toHaveLength(1 - restores);
  });

  it('a completed recording restores the clamp itself: the machine does not ask again', async () => {
    const h = createHarness();
    await driveTo(h, 'wholeCell');
    await h.stream(h.preset.whole_cell.qc_s * 1000 + 200, 100, () => ({ r: 200, cm: 60, ra: 30, rm: 180, fitQuality: 0.95, ihold: -60 }));
    await h.run(h.preset.record.rest_s * 1000 + 6000);
    expect(h.called('record')).toHaveLength(1);
    expect(visited(h)).toContain('retract');
    expect(h.called('restoreVoltageClamp')).toEqual([]);
  });

  it('a DEVICE_ERROR event while sealing takes the safe path and names the error', async () => {
    const h = createHarness();
    await driveTo(h, 'seal');
    h.actor.send({ type: 'DEVICE_ERROR', error: 'device-timeout: set pressure on pbox @ sim:pbox-1' });
    await h.run(10);
    expect(h.state()).toBe('safe');
    expect(h.called('sealing').map((c) => c.args[0])).toEqual([true, false]);
    expect(h.ended[0].state).toBe('safe');
    expect(h.ended[0].context.facts).toMatchObject({ failureReason: 'device-timeout: set pressure on pbox @ sim:pbox-1', failedIn: 'seal' });
  });

  it.each([
    ['retract', async (h: ReturnType<typeof createHarness>) => { await driveTo(h, 'hunt'); h.finishHunt(); }],
    ['broken', async (h: ReturnType<typeof createHarness>) => { await h.run(1); h.tp({ r: 2, windowCount: 20, windowMedian: 2, windowSpread: 0.1 }); }],
    ['fouled', async (h: ReturnType<typeof createHarness>) => { await h.run(1); h.tp({ r: 14, windowCount: 20, windowMedian: 14, windowSpread: 0.2 }); }],
  ] as const)('a service error in %s ends in the safe state with a fault report', async (state, reach) => {
    const h = createHarness({ failing: ['retract'] });
    await reach(h);
    await h.run(2100);
    expect(h.state()).toBe('safe');
    expect(h.called('reportFault').map((c) => c.args[0])).toEqual(['manipulator stopped answering']);
    expect(h.called('safeState').length).toBe(1);
    expect(visited(h)).toContain(state);
  });
});

describe('pipette machine end to end through the real analysis and filters', () => {
  it('a spontaneous break-in while sealing under suction at a 6 Hz test pulse turns suction off on the first sweep that shows it', async () => {
    // The known bug of existing tools: a 1 s smoothing at 6 Hz hid the break-in for
    // seconds while suction stayed on a whole cell. Here every sweep is analysed
    // (analyzeTestPulse) and filtered (signals.ts) exactly as the runner does.
    const h = createHarness();
    await driveTo(h, 'seal');
    const periodMs = 1000 / 6;
    const fs = h.preset.test_pulse.sample_rate_kHz * 1000;
    const widthMs = h.preset.test_pulse.width_ms;
    let seed = 1;
    // the seal climbs at 40 MΩ/s from 100 MΩ to 900 MΩ and holds there (armed, no gigaseal yet)
    for (let t = 0; t < 25_000; t += periodMs) {
      const r = Math.min(900e6, 100e6 + 40e6 * (t / 1000));
      h.sweep(vcPulse({ fs, widthMs, circuit: { kind: 'resistor', r }, noise: 8e-12, seed: seed++ }));
      await h.run(periodMs);
    }
    expect(h.state()).toBe('seal');
    expect(h.context().armedSpontaneous).toBe(true);
    const suction = h.called('pressure').at(-1)!.args[0] as number;
    expect(suction).toBeLessThan(0);
    expect(h.called('atmosphere').filter((c) => c.t > h.states.find((s) => s.state === 'seal')!.t)).toEqual([]);
    // the membrane ruptures: the very next sweep shows a whole cell
    const before = h.calls.length;
    const breakInT = h.clock.now();
    const s = h.sweep(vcPulse({ fs, widthMs, circuit: { kind: 'wholeCell', ra: 40e6, rm: 200e6, cm: 60e-12 }, noise: 8e-12, seed: seed++ }));
    expect(s.transient).toBe('fitted');
    expect(h.state()).toBe('wholeCell');
    const first = h.calls.slice(before)[0];
    expect(first).toMatchObject({ name: 'atmosphere', t: breakInT });
    expect(h.context().facts.spontaneousBreakIn).toBe(true);
    expect(h.called('sealing').map((c) => c.args[0])).toEqual([true, false]);
  });
});
