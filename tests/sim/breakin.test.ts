import { describe, expect, it } from 'vitest';
import { oneCell, pulseIn, sealCell, testPulseCommand, touch, type OneCell, type ScriptedPipette } from './helpers.ts';
import { voltageClampResponse, type Preparation } from '../../src/sim/index.ts';

const MOhm = 1e6;

function sealed(seed: number, fate: object = {}, preparation: Preparation = 'in-vivo'): OneCell {
  const c = oneCell({ seed, fate, preparation });
  touch(c);
  sealCell(c);
  expect(c.p.sim.truth().stage).toBe('cell-attached');
  return c;
}

/** Membrane capacitance seen by a test pulse: charge of the transient over ΔV, corrected for the Rm/(Ra+Rm) divider. */
function measuredCm(p: ScriptedPipette): { cm: number; ihold: number; rTotal: number } {
  // a long step, so that even a slow transient (high Ra, big cell) has settled before the steady-state window
  const tp = p.testPulse({ holdingV: -0.07, sampleRateHz: 50000, amplitudeV: -0.01, widthMs: 80 });
  const ss = -0.01 / tp.r;
  let q = 0;
  for (let i = tp.onset; i < tp.onset + tp.length; i++) q += (tp.response[i] - tp.base - ss) / 50000;
  const truth = p.sim.truth();
  const k = truth.stage === 'whole-cell' ? truth.membraneResistance / (truth.accessResistance + truth.membraneResistance) : 1;
  return { cm: q / -0.01 / (k * k), ihold: tp.base, rTotal: tp.r };
}

describe('break-in', () => {
  it('suction pulses rupture the patch and a membrane capacitance appears', () => {
    for (let seed = 1; seed <= 5; seed++) {
      const c = sealed(seed);
      const before = measuredCm(c.p);
      // only noise before break-in (a neuron is ≥ 30 pF)
      expect(Math.abs(before.cm)).toBeLessThan(15e-12);
      const pulses = pulseIn(c, -300, 500, 5);
      expect(pulses).toBeGreaterThan(0);
      const t = c.p.sim.truth();
      expect(t.stage).toBe('whole-cell');
      const after = measuredCm(c.p);
      expect(after.cm / t.membraneCapacitance).toBeGreaterThan(0.8);
      expect(after.cm / t.membraneCapacitance).toBeLessThan(1.2);
      expect(t.membraneCapacitance).toBeGreaterThanOrEqual(30e-12);
      expect(t.membraneCapacitance).toBeLessThanOrEqual(150e-12);
      expect(after.rTotal).toBeLessThan(650 * MOhm);
      expect(c.world.eventCounts()['break-in:suction']).toBe(1);
    }
  });

  it('rupture odds depend on pulse pressure against the cell threshold, and on pulse length', () => {
    const rate = (mbar: number, ms: number): number => {
      let n = 0;
      for (let seed = 1; seed <= 30; seed++) {
        const c = sealed(seed, { ruptureMbar: -250 });
        if (pulseIn(c, mbar, ms, 1) > 0) n++;
      }
      return n / 30;
    };
    const weak = rate(-120, 500);
    const near = rate(-230, 500);
    const strong = rate(-350, 500);
    const nearLong = rate(-230, 1500);
    expect(weak).toBe(0);
    expect(near).toBeGreaterThan(0.1);
    expect(near).toBeLessThan(0.9);
    expect(strong).toBeGreaterThan(0.85);
    expect(nearLong).toBeGreaterThan(near);
  });

  it('zaps rupture with odds rising with duration; some cells never break in', () => {
    const zapRate = (ms: number): number => {
      let n = 0;
      for (let seed = 1; seed <= 30; seed++) {
        const c = sealed(seed, { zapTauMs: 0.4 });
        c.p.sim.zap(c.p.t + 1, ms, 1);
        c.p.wait(100);
        if (c.p.sim.truth().stage === 'whole-cell') n++;
      }
      return n / 30;
    };
    const short = zapRate(0.05);
    const long = zapRate(1);
    expect(short).toBeLessThan(0.4);
    expect(long).toBeGreaterThan(0.6);
    expect(long).toBeGreaterThan(short);

    const never = sealed(3, { rupturable: false });
    never.p.sim.zap(never.p.t + 1, 1, 1);
    never.p.wait(100);
    expect(never.world.eventCounts()['zap-failed']).toBe(1);
    expect(pulseIn(never, -400, 1000, 5)).toBe(-1);
    expect(never.p.sim.truth().stage).not.toBe('whole-cell');
    expect(never.world.eventCounts()['break-in']).toBeUndefined();
    expect(never.world.eventCounts()['break-in-pulse-failed']).toBe(5);
  });

  it('spontaneous break-in under ordinary sealing suction for cells fated to do so', () => {
    const c = oneCell({ seed: 4, fate: { spontaneousBreakIn: true, spontaneousMbar: -20 } });
    touch(c);
    c.p.setPressure(-30);
    c.p.wait(90_000);
    expect(c.world.eventCounts()['spontaneous-break-in']).toBe(1);
    expect(c.p.sim.truth().stage).toBe('whole-cell');
    const calm = oneCell({ seed: 4, fate: { spontaneousBreakIn: false } });
    touch(calm);
    calm.p.setPressure(-30);
    calm.p.wait(30_000);
    expect(calm.world.eventCounts()['spontaneous-break-in']).toBeUndefined();
  });
});

describe('whole cell', () => {
  it('access, capacitance, resistance and resting potential in the published ranges; healthy holding current', () => {
    for (const prep of ['in-vivo', 'slice'] as const) {
      for (let seed = 1; seed <= 6; seed++) {
        const c = oneCell({ seed, preparation: prep, fate: {} });
        // drawn, not the COOPERATIVE overrides, for the electrical values
        const f = c.world.cell(1)!.fate;
        touch(c);
        sealCell(c);
        pulseIn(c);
        const { ihold } = measuredCm(c.p);
        const t = c.p.sim.truth();
        expect(t.stage).toBe('whole-cell');
        const [lo, hi] = prep === 'slice' ? [10, 30] : [30, 70];
        expect(t.accessResistance / MOhm).toBeGreaterThanOrEqual(lo);
        expect(t.accessResistance / MOhm).toBeLessThanOrEqual(hi);
        expect(t.accessResistance).toBe(f.accessOhm);
        expect(t.membraneResistance / MOhm).toBeGreaterThan(100);
        expect(t.membraneResistance / MOhm).toBeLessThan(300);
        expect(t.restingPotential).toBeLessThan(-0.055 + 1e-9);
        expect(t.restingPotential).toBeGreaterThan(-0.075 - 1e-9);
        expect(ihold).toBeLessThan(20e-12);
        expect(ihold).toBeGreaterThan(-200e-12);
        expect(t.holdingCurrent).toBeCloseTo(ihold, 10);
      }
    }
  });

  it('with noise off, the whole-cell test pulse is exactly the circuit of the ground-truth values', () => {
    const c = oneCell({ seed: 3, noise: false });
    touch(c);
    sealCell(c);
    pulseIn(c);
    c.p.wait(1000);
    const t = c.p.sim.truth();
    expect(t.stage).toBe('whole-cell');
    const { command } = testPulseCommand({ amplitudeV: 0.01, widthMs: 10, sampleRateHz: 20000, holdingV: -0.07 });
    const got = c.p.sim.voltageClamp(c.p.t, 20000, command);
    const expected = new Float32Array(command.length);
    voltageClampResponse(
      {
        Rp: t.pipetteResistance,
        Rs: t.sealResistance,
        Ra: t.accessResistance,
        Rm: t.membraneResistance,
        Cm: t.membraneCapacitance,
        Em: t.restingPotential,
        offsetV: c.p.sim.offsetV,
        Cp: c.p.sim.pipetteCapacitanceF,
      },
      20000,
      command,
      expected,
    );
    expect(Array.from(got)).toEqual(Array.from(expected));
    // τ of the transient ≈ Ra·Cm·Rm/(Ra+Rm)
    const tau = (t.accessResistance * t.membraneCapacitance * t.membraneResistance) / (t.accessResistance + t.membraneResistance);
    const on = Math.round(200 * 0.35);
    const ss = got[on + 199];
    const k = on + 1 + Math.round(tau * 20000);
    const frac = (got[k] - ss) / (got[on + 1] - ss);
    expect(frac).toBeGreaterThan(0.25);
    expect(frac).toBeLessThan(0.5);
    expect(c.p.sim.truth().holdingCurrent).toBeCloseTo(got[0], 15);
  });

  it('suction kept on after break-in (the "extra pulse") damages the cell', () => {
    const ok = sealed(2, { suctionToleranceMbarS: 100 });
    pulseIn(ok, -300, 500);
    const good = measuredCm(ok.p);
    const goodRa = ok.p.sim.truth().accessResistance;
    ok.p.wait(10_000);
    expect(ok.world.eventCounts()['cell-damaged']).toBeUndefined();

    const bad = sealed(2, { suctionToleranceMbarS: 100 });
    pulseIn(bad, -300, 500);
    bad.p.setPressure(-300);
    bad.p.wait(1000);
    bad.p.setPressure(0);
    bad.p.wait(10_000);
    expect(bad.world.eventCounts()['cell-damaged:suction']).toBe(1);
    const t = bad.p.sim.truth();
    expect(t.accessResistance).toBeGreaterThan(1.4 * goodRa);
    const hurt = measuredCm(bad.p);
    expect(hurt.ihold).toBeLessThan(good.ihold - 50e-12);
    // a second long pulse kills it
    bad.p.setPressure(-300);
    bad.p.wait(1500);
    bad.p.setPressure(0);
    bad.p.wait(60_000);
    expect(bad.world.eventCounts()['cell-died']).toBe(1);
    expect(measuredCm(bad.p).ihold).toBeLessThan(-1e-9);
  });

  it('access creeps up on some cells, and a short suction pulse clears it', () => {
    const c = sealed(5, { raCreep: true, raCreepOhmPerS: 0.2e6 });
    pulseIn(c, -300, 500);
    const ra0 = c.p.sim.truth().accessResistance;
    c.p.wait(180_000);
    const crept = c.p.sim.truth().accessResistance;
    expect(crept - ra0).toBeGreaterThan(30 * MOhm);
    expect(c.world.eventCounts()['access-creep']).toBe(1);
    c.p.setPressure(-300);
    c.p.wait(150);
    c.p.setPressure(0);
    c.p.wait(1000);
    const cleared = c.p.sim.truth().accessResistance;
    expect(cleared - ra0).toBeLessThan(0.5 * (crept - ra0));
    expect(c.world.eventCounts()['cell-damaged']).toBeUndefined();
  });

  it('a cell fated to die depolarises and its holding current at −70 mV falls below −1 nA', () => {
    const c = sealed(6, { dies: true, deathAfterS: 60 });
    pulseIn(c);
    const before = measuredCm(c.p);
    expect(before.ihold).toBeGreaterThan(-200e-12);
    c.p.wait(50_000);
    expect(c.p.sim.truth().cellHealthy).toBe(true);
    c.p.wait(120_000);
    const t = c.p.sim.truth();
    expect(t.cellHealthy).toBe(false);
    expect(t.restingPotential).toBeGreaterThan(-0.03);
    expect(measuredCm(c.p).ihold).toBeLessThan(-1e-9);
    expect(c.world.eventCounts()['cell-died:fate']).toBe(1);
  });

  it('pulling away tears the cell (or leaves an outside-out patch) and fouls the tip', () => {
    const c = sealed(7);
    pulseIn(c);
    c.p.wait(c.p.moveTo([c.p.position()[0] - 30, 0, c.p.position()[2] - 30], 20) - c.p.t);
    const t = c.p.sim.truth();
    expect(['lost', 'bath', 'tissue', 'outside-out']).toContain(t.stage);
    c.p.wait(c.p.moveTo([c.p.position()[0] - 30, 0, c.p.position()[2] - 30], 20) - c.p.t);
    const after = c.p.sim.truth();
    if (after.stage !== 'outside-out') {
      expect(after.uses).toBe(1);
      expect(after.contamination).toBeGreaterThan(1);
      expect(after.condition).toBe('contaminated');
    }
    expect(c.world.cell(1)!.used).toBe(true);
    expect(c.world.observedCells()).toHaveLength(0);
  });
});
