import { describe, expect, it } from 'vitest';
import { createHarness, driveTo } from './machine-harness.ts';

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
