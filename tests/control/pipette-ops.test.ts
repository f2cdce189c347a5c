/**
 * PipetteOps on stand-in hardware in virtual time: the setpoint-then-valve
 * pressure sequence and what may cancel it, and the safe-state path.
 */
import { describe, expect, it } from 'vitest';
import { createVirtualClock } from '../../src/clock/index.ts';
import { createCoordinator } from '../../src/control/coordinator.ts';
import { geometryFor } from '../../src/control/paths.ts';
import { createPipetteOps } from '../../src/control/pipette-ops.ts';
import type { RigEventInput } from '../../src/control/event-sink.ts';
import type { Mount, Vec3 } from '../../src/geometry.ts';
import { fakeHardware } from './fake-hardware.ts';

const MOUNT: Mount = { origin: [0, 0, 0], axisSign: [1, 1, 1], elevationDeg: 40, azimuthDeg: 0 };
const SETTLE_MS = 300;

function setup(start: Vec3 = [0, 0, -300]) {
  const clock = createVirtualClock();
  const hw = fakeHardware(clock, 'p1', start);
  const geometry = geometryFor(MOUNT, -300, -1500);
  const coordinator = createCoordinator({ clock, pipettes: [{ id: 'p1', axis: geometry.axis, shaftLengthUm: 3000 }], clearanceUm: 100, pauseOthersWhileSealing: true, pathWaitMs: 120_000 });
  const events: RigEventInput[] = [];
  const ops = createPipetteOps({
    pipetteId: 'p1',
    hw,
    geometry,
    clock,
    coordinator,
    emit: (e) => events.push(e),
    valveSettleMs: SETTLE_MS,
    safeSpeeds: { tissue: 25, bath: 100 },
    maxCommand_mV: 200,
  });
  return { clock, hw, ops, events, geometry };
}

const sources = (hw: ReturnType<typeof fakeHardware>) => hw.pressure.log.filter((l) => l.what === 'setSource').map((l) => [l.t, l.value]);

describe('pressure: setpoint, settle, valve', () => {
  it('switching to the regulator writes the setpoint, waits the settle delay, then opens the valve', async () => {
    const { clock, hw, ops } = setup();
    void ops.pressure(-30);
    await clock.runFor(1000);
    const log = hw.pressure.log.map((l) => [l.what, l.value]);
    expect(log).toEqual([['setPressure', -30], ['setSource', 'regulator']]);
    const open = hw.pressure.log[1].t;
    expect(open - hw.pressure.log[0].t).toBeGreaterThanOrEqual(SETTLE_MS);
    expect(ops.pressureState).toEqual({ mbar: -30, source: 'regulator' });
  });

  it('the safe state during the settle delay keeps the valve shut: the line ends at atmosphere', async () => {
    const { clock, hw, ops } = setup();
    void ops.pressure(-30);
    await clock.runFor(50);
    const safe = ops.safeState('abort within the settle window', { retract: false });
    await clock.runFor(2000);
    expect((await safe).complete).toBe(true);
    // vented at ~55 ms and never back on the regulator afterwards
    expect(sources(hw)).toEqual([[expect.any(Number), 'atmosphere']]);
    expect(hw.pressure.sourceAt(clock.now())).toBe('atmosphere');
    expect(ops.pressureState).toEqual({ mbar: 0, source: 'atmosphere' });
  });

  it('atmosphere() during the settle delay wins over the pending valve-open', async () => {
    const { clock, hw, ops } = setup();
    void ops.pressure(800);
    await clock.runFor(100);
    void ops.atmosphere();
    await clock.runFor(2000);
    expect(sources(hw).map(([, s]) => s)).toEqual(['atmosphere']);
    expect(hw.pressure.sourceAt(clock.now())).toBe('atmosphere');
  });

  it('a vent while the setpoint is still on its way also wins', async () => {
    const { clock, hw, ops } = setup();
    void ops.pressure(-30);
    await clock.runFor(1); // setPressure sent, reply not yet in
    void ops.atmosphere();
    await clock.runFor(2000);
    expect(sources(hw).map(([, s]) => s)).toEqual(['atmosphere']);
  });

  it('a service whose signal aborts during the settle delay gets an AbortError and the valve stays shut', async () => {
    const { clock, hw, ops } = setup();
    const ac = new AbortController();
    const p = ops.pressure(-30, ac.signal).then(
      () => 'resolved',
      (e: Error) => e.name,
    );
    await clock.runFor(100);
    ac.abort();
    await clock.runFor(1000);
    expect(await p).toBe('AbortError');
    expect(sources(hw)).toEqual([]);
  });

  it('a later request after a vent opens the valve again (the cancellation is only for what was pending)', async () => {
    const { clock, hw, ops } = setup();
    void ops.pressure(-30);
    await clock.runFor(50);
    void ops.atmosphere();
    await clock.runFor(1000);
    void ops.pressure(30);
    await clock.runFor(1000);
    expect(sources(hw).map(([, s]) => s)).toEqual(['atmosphere', 'regulator']);
    expect(ops.pressureState).toEqual({ mbar: 30, source: 'regulator' });
  });
});

describe('the safe state', () => {
  it('stops, vents (clearing a pressure override), sets VC at 0 mV and retracts along the axis to the standoff plane', async () => {
    const { clock, hw, ops, geometry } = setup([0, 0, -300]);
    // part-way down the axis into the tissue (the move is stopped by the safe state)
    void ops.follow([{ to: [500 / Math.tan((40 * Math.PI) / 180), 0, 200], speed: 500, label: 'down' }], { gated: false }).catch(() => {});
    void ops.overridePressure(50);
    await clock.runFor(1300);
    expect(hw.manipulator.positionAt(clock.now())[2]).toBeGreaterThan(0);
    expect(ops.overrides.pressureMbar).toBe(50);
    const result = ops.safeState('test');
    await clock.runUntilSettled(result, 120_000);
    expect((await result).complete).toBe(true);
    expect(hw.manipulator.log.some((l) => l.what === 'stop')).toBe(true);
    expect(ops.overrides.pressureMbar).toBeNull();
    expect(hw.pressure.sourceAt(clock.now())).toBe('atmosphere');
    expect(hw.amplifier.mode).toBe('VC');
    expect(hw.amplifier.holdingValue).toBe(0);
    const end = hw.manipulator.positionAt(clock.now());
    expect(end[2]).toBeCloseTo(geometry.standoffZ, 3);
    // along the axis only: the retraction stays on the axis line through where it stopped
    const moves = hw.manipulator.log.filter((l) => l.what === 'moveTo').slice(1).map((l) => l.value as Vec3);
    for (const m of moves) expect(m[1]).toBeCloseTo(0, 6);
  });

  it('attempts every step even when one fails, and says exactly what could not be done', async () => {
    const { clock, hw, ops } = setup([0, 0, -300]);
    hw.manipulator.failNext('stop');
    const result = ops.safeState('test', { retract: false });
    await clock.runUntilSettled(result, 10_000);
    const r = await result;
    expect(r.complete).toBe(false);
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]).toMatch(/^stop motion: /);
    expect(hw.pressure.sourceAt(clock.now())).toBe('atmosphere');
    expect(hw.amplifier.holdingValue).toBe(0);
  });
});

describe('pulses', () => {
  const pressures = (events: RigEventInput[]) => events.filter((e) => e.type === 'pipette.pressure').map((e) => [e.mbar, e.source]);

  it('while a pulse lasts, the pressure state is the pulse\'s, as the stream says; then back to what it was', async () => {
    const { clock, ops, events } = setup();
    await clock.runUntilSettled(ops.pressure(-20), 1000);
    const since = events.length;
    const pulse = ops.pulse(-150, 200);
    expect(ops.pressureState).toEqual({ mbar: -150, source: 'regulator' });
    await clock.runFor(100);
    expect(ops.pressureState).toEqual({ mbar: -150, source: 'regulator' });
    await clock.runUntilSettled(pulse, 1000);
    expect(ops.pressureState).toEqual({ mbar: -20, source: 'regulator' });
    expect(pressures(events.slice(since))).toEqual([[-150, 'regulator'], [-20, 'regulator']]);
  });

  it('a vent during a pulse has the last word', async () => {
    const { clock, ops, events } = setup();
    await clock.runUntilSettled(ops.pressure(-20), 1000);
    const since = events.length;
    const pulse = ops.pulse(-150, 200);
    await clock.runFor(50);
    await clock.runUntilSettled(ops.atmosphere(), 1000);
    await clock.runUntilSettled(pulse, 1000);
    expect(ops.pressureState).toEqual({ mbar: 0, source: 'atmosphere' });
    expect(pressures(events.slice(since))).toEqual([[-150, 'regulator'], [0, 'atmosphere']]);
  });
});

describe('operator overrides', () => {
  it('a holding override must leave room for the test pulse inside the amplifier\'s envelope (from the rig, not a constant)', async () => {
    const { clock, hw, ops } = setup();
    void ops.testPulse({ amplitude_mV: 10, width_ms: 10, rate_Hz: 30, sample_rate_kHz: 50 });
    await clock.runFor(10);
    const ok = ops.overrideHolding(-190);
    await clock.runFor(10);
    await ok;
    expect(hw.amplifier.holdingValue).toBeCloseTo(-0.19, 12);
    await expect(ops.overrideHolding(-195)).rejects.toThrow(/-195 mV is outside ±190 mV \(the amplifier takes ±200 mV, the test pulse adds 10 mV\)/);
    await expect(ops.overrideHolding(Number.NaN)).rejects.toThrow(/holding override/);
    expect(ops.overrides.holdingMv).toBe(-190);
    // automation's requests are remembered, and come back when the override is released
    void ops.holding(-70);
    await clock.runFor(10);
    expect(hw.amplifier.holdingValue).toBeCloseTo(-0.19, 12);
    void ops.overrideHolding(null);
    await clock.runFor(10);
    expect(hw.amplifier.holdingValue).toBeCloseTo(-0.07, 12);
  });

  it('a pressure override is checked against the channel limits and outranked only by the safe state', async () => {
    const { clock, hw, ops } = setup();
    await expect(ops.overridePressure(-700)).rejects.toThrow(/limit|outside/);
    void ops.overridePressure(40);
    await clock.runFor(1000);
    void ops.pressure(-30); // automation asks for suction: remembered, not applied
    void ops.atmosphere();
    await clock.runFor(1000);
    expect(hw.pressure.sourceAt(clock.now())).toBe('regulator');
    expect(hw.pressure.commanded.setpoint).toBe(40);
    const safe = ops.safeState('test', { retract: false });
    await clock.runUntilSettled(safe, 10_000);
    expect(ops.overrides.pressureMbar).toBeNull();
    expect(hw.pressure.sourceAt(clock.now())).toBe('atmosphere');
  });
});

describe('back to voltage clamp after current clamp or I=0', () => {
  const TP = { amplitude_mV: 10, width_ms: 10, rate_Hz: 30, sample_rate_kHz: 50 };
  const amp = (hw: ReturnType<typeof fakeHardware>, from = 0) =>
    hw.amplifier.log.slice(from).map((l) => [l.what, l.what === 'setTestPulse' ? (l.value as { enabled?: boolean }).enabled : l.value]);
  const holdings = (events: RigEventInput[]) => events.filter((e) => e.type === 'pipette.holding').map((e) => [e.mode, e.holding]);

  /** in current clamp with a bias and the test pulse off, as during a recording */
  async function recording() {
    const s = setup();
    await s.clock.runUntilSettled(s.ops.testPulseOff(), 1000);
    await s.clock.runUntilSettled(s.ops.zeroCurrent(), 1000);
    await s.clock.runUntilSettled(s.ops.currentClamp(30), 1000);
    return { ...s, mark: s.hw.amplifier.log.length, since: s.events.length };
  }

  it('from current clamp: bias released, I=0 for the settle time, VC at the holding, test pulse on; the snapshot holds SI values as the events do', async () => {
    const { clock, hw, ops, events, mark, since } = await recording();
    expect(ops.holdingState).toEqual({ mode: 'IC', value: 30e-12 });
    const t0 = clock.now();
    await clock.runUntilSettled(ops.restoreVoltageClamp({ holding_mV: -70, testPulse: TP, settleMs: 500 }), 5000);
    expect(amp(hw, mark)).toEqual([
      ['setHolding', 0],
      ['setMode', 'I0'],
      ['setMode', 'VC'],
      ['setHolding', -0.07],
      ['setTestPulse', true],
    ]);
    const i0 = hw.amplifier.log.slice(mark).find((l) => l.value === 'I0')!.t;
    const vc = hw.amplifier.log.slice(mark).find((l) => l.value === 'VC')!.t;
    expect(vc - i0).toBeGreaterThanOrEqual(500);
    expect(clock.now() - t0).toBeLessThan(1000);
    expect(holdings(events.slice(since))).toEqual([['IC', 0], ['I0', 0], ['VC', -0.07]]);
    expect(ops.holdingState).toEqual({ mode: 'VC', value: -0.07 });
  });

  it('already in VC at the holding with the test pulse on: nothing is sent', async () => {
    const { clock, hw, ops } = setup();
    await clock.runUntilSettled(ops.voltageClamp(-70), 1000);
    await clock.runUntilSettled(ops.testPulse(TP), 1000);
    const mark = hw.amplifier.log.length;
    await clock.runUntilSettled(ops.restoreVoltageClamp({ holding_mV: -70, testPulse: TP, settleMs: 500 }), 5000);
    expect(amp(hw, mark)).toEqual([]);
  });

  it('gives way to a safe state that comes while it waits for the recording to stop', async () => {
    const { clock, hw, ops, events, mark, since } = await recording();
    let stopped = (): void => {};
    const recorder = new Promise<void>((r) => (stopped = r));
    const restore = ops.restoreVoltageClamp({ holding_mV: -70, testPulse: TP, settleMs: 500, after: recorder });
    await clock.runUntilSettled(ops.safeState('abort', { retract: false }), 5000);
    stopped();
    await clock.runUntilSettled(restore, 5000);
    await clock.runFor(2000);
    expect(amp(hw, mark)).toEqual([['setMode', 'VC'], ['setHolding', 0]]);
    expect(holdings(events.slice(since))).toEqual([['VC', 0]]);
  });

  it('gives way to a safe state that comes while it settles at I=0', async () => {
    const { clock, hw, ops, mark } = await recording();
    const restore = ops.restoreVoltageClamp({ holding_mV: -70, testPulse: TP, settleMs: 500 });
    await clock.runFor(100); // bias released, at I=0 now
    await clock.runUntilSettled(ops.safeState('abort', { retract: false }), 5000);
    await clock.runUntilSettled(restore, 5000);
    await clock.runFor(2000);
    expect(amp(hw, mark)).toEqual([['setHolding', 0], ['setMode', 'I0'], ['setMode', 'VC'], ['setHolding', 0]]);
    expect(hw.amplifier.holdingValue).toBe(0);
    expect(ops.holdingState).toEqual({ mode: 'VC', value: 0 });
  });

  it('a safe state that starts while the mode goes to current clamp keeps the bias from being sent', async () => {
    const s = setup();
    await s.clock.runUntilSettled(s.ops.testPulseOff(), 1000);
    await s.clock.runUntilSettled(s.ops.zeroCurrent(), 1000);
    const mark = s.hw.amplifier.log.length;
    const toIC = s.ops.currentClamp(30);
    const outcome = toIC.then(() => 'held', (e: unknown) => (e instanceof Error ? e.name : String(e)));
    // setMode('IC') is on its way; the safe state begins before it is answered
    await s.clock.runUntilSettled(s.ops.safeState('abort', { retract: false }), 5000);
    await s.clock.runUntilSettled(outcome, 5000);
    await s.clock.runFor(2000);
    expect(await outcome).not.toBe('held');
    const sent = amp(s.hw, mark);
    expect(sent).not.toContainEqual(['setHolding', 30e-12]);
    expect(s.hw.amplifier.mode).toBe('VC');
    expect(s.hw.amplifier.holdingValue).toBe(0);
    expect(s.ops.holdingState).toEqual({ mode: 'VC', value: 0 });
  });

  it('a holding override given in current clamp is not sent as a current; it applies on the way back to VC', async () => {
    const { clock, hw, ops, mark } = await recording();
    await clock.runUntilSettled(ops.overrideHolding(-60), 1000);
    await clock.runUntilSettled(ops.holding(-50), 1000);
    expect(amp(hw, mark)).toEqual([]);
    expect(hw.amplifier.holdingValue).toBeCloseTo(30e-12, 20);
    await clock.runUntilSettled(ops.restoreVoltageClamp({ holding_mV: -70, testPulse: TP, settleMs: 500 }), 5000);
    expect(hw.amplifier.mode).toBe('VC');
    expect(hw.amplifier.holdingValue).toBeCloseTo(-0.06, 12);
  });
});
