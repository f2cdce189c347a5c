/**
 * The wire checks on small synthetic sessions: byte streams written by hand
 * (MP-285, pressure box, amp-bridge as their protocols define them) and the
 * pipette events that go with them. Each rule is broken once on purpose and
 * must be reported; the same session without the fault reports nothing.
 */
import { describe, expect, it } from 'vitest';
import { createVirtualClock } from '../../src/clock/index.ts';
import { createEmulatorBinding, type EmulatedDevice } from '../../drivers/core/emulator-binding.ts';
import type { PipetteStateName } from '../../src/control/events.ts';
import { loadPreset } from '../../src/protocol/load.ts';
import type { RigConfig } from '../../src/rig/config.ts';
import { checkWire, type SessionEvent, type WireReport } from './wire-checks.ts';
import { zipCrc32 } from './wire/amp-bridge.ts';
import { captureWire, type PortStreams } from './wire/capture.ts';
import type { SimulatedRig } from '../../src/rig/simulated-rig.ts';

const preset = loadPreset('in-vivo-blind');
const MP285 = 'sim:mp285';
const PBOX = 'sim:pbox';
const AMP = 'sim:amp';
const USTEPS = 25;

// World z = manipulator z − 10 000: the surface is at manipulator z = 10 000.
const config: RigConfig = {
  name: 'synthetic one-pipette rig',
  standoffZ: -300,
  travelZ: -1500,
  valveSettleMs: 300,
  travelSpeed: 1000,
  pressureBoxes: [{ id: 'pbox-1', path: PBOX, channels: 4, limits: { min: -600, max: 1000 } }],
  amplifiers: [{ id: 'amp-1', path: AMP, channels: 2 }],
  pipettes: [
    {
      id: 'p1',
      manipulator: { driver: 'sutter-mp285', path: MP285 },
      limits: { min: [0, 0, 0], max: [20_000, 20_000, 20_000], maxSpeed: 1000 },
      mount: { origin: [0, 0, -10_000], axisSign: [1, 1, 1], elevationDeg: 40, azimuthDeg: 0 },
      pressure: { box: 'pbox-1', channel: 0 },
      amplifier: { bridge: 'amp-1', channel: 0 },
      region: [0, 0, 0],
      home: [0, 0, -300],
      shaftLengthUm: 3000,
      wells: null,
    },
  ],
  wells: [],
};

/** A session written out byte by byte, in time order. */
function session() {
  const ports = new Map<string, PortStreams>([MP285, PBOX, AMP].map((p) => [p, { in: [], out: [] }]));
  const events: SessionEvent[] = [];
  const host = (path: string, t: number, bytes: Buffer) => ports.get(path)!.in.push({ t, bytes });
  const device = (path: string, t: number, bytes: Buffer) => ports.get(path)!.out.push({ t, bytes });
  const i32 = (v: readonly number[]) => {
    const b = Buffer.alloc(12);
    v.forEach((x, k) => b.writeInt32LE(Math.round(x * USTEPS), 4 * k));
    return b;
  };
  const s = {
    ports,
    events,
    /** MP-285 set-up: units from the status reply, absolute mode, position read at `at` (µm) */
    manipulator(at: [number, number, number]) {
      const status = Buffer.alloc(33);
      status.writeUInt16LE(USTEPS, 24);
      status[32] = 0x0d;
      host(MP285, 1, Buffer.from('s\r'));
      device(MP285, 2, status);
      host(MP285, 3, Buffer.from('a\r'));
      device(MP285, 4, Buffer.of(0x0d));
      s.position(5, at);
      return s;
    },
    position(t: number, at: readonly number[]) {
      host(MP285, t, Buffer.from('c\r'));
      device(MP285, t + 1, Buffer.concat([i32(at), Buffer.of(0x0d)]));
      return s;
    },
    speed(t: number, umPerS: number) {
      const b = Buffer.from([0x56, 0, 0, 0x0d]);
      b.writeUInt16LE(umPerS, 1);
      host(MP285, t, b);
      return s;
    },
    move(t: number, to: readonly number[]) {
      host(MP285, t, Buffer.concat([Buffer.of(0x6d), i32(to), Buffer.of(0x0d)]));
      return s;
    },
    mp285(t: number, text: string) {
      host(MP285, t, Buffer.from(text, 'latin1'));
      return s;
    },
    pbox(t: number, line: string) {
      host(PBOX, t, Buffer.from(`${line}\n`, 'latin1'));
      return s;
    },
    amp(t: number, line: string) {
      host(AMP, t, Buffer.from(`${line}\n`, 'latin1'));
      return s;
    },
    /** a stimulus chunk frame, IC, samples in A */
    chunk(t: number, id: number, samples: number[]) {
      const f = Buffer.alloc(60 + 4 * samples.length + 4);
      f.set([0xa5, 0x5a, 1, 0x10, 0, 1, 0], 0);
      f.writeUInt32LE(id, 8);
      f.writeUInt32LE(50_000, 12);
      f.writeUInt32LE(samples.length, 16);
      f.writeUInt16LE(samples.length, 24);
      samples.forEach((x, k) => f.writeFloatLE(x, 60 + 4 * k));
      f.writeUInt32LE(zipCrc32(f.subarray(2, 60 + 4 * samples.length)), 60 + 4 * samples.length);
      host(AMP, t, f);
      return s;
    },
    state(t: number, from: PipetteStateName, to: PipetteStateName, attemptId = 'a1') {
      events.push({ type: 'pipette.state', t, pipetteId: 'p1', attemptId, from, to });
      return s;
    },
    reading(t: number, mOhm: number) {
      events.push({ type: 'pipette.testpulse', t, pipetteId: 'p1', r: mOhm * 1e6 });
      return s;
    },
    ended(t: number, attemptId = 'a1') {
      events.push({ type: 'attempt.ended', t, pipetteId: 'p1', attemptId });
      return s;
    },
    check(endT = 100_000): WireReport {
      return checkWire({ config, preset, streams: ports, events, endT });
    },
  };
  return s;
}

const rules = (r: WireReport) => [...r.limits, ...r.rules].map((v) => v.rule);

describe('limits on the decoded commands', () => {
  const above: [number, number, number] = [1000, 1000, 9000];

  it('a session inside every limit reports nothing, and counts what it checked', () => {
    const r = session()
      .manipulator(above)
      .speed(10, 100)
      .move(20, [2000, 2000, 9500])
      .position(30, [2000, 2000, 9500])
      .speed(40, 25)
      .move(50, [2000, 2000, 10_300])
      .pbox(60, 'SET 1 800')
      .pbox(61, 'VALVE 1 REG')
      .amp(70, 'holding(0,-70)')
      .amp(71, 'zap(0,0.5,1000)')
      .pbox(80, 'VALVE 1 ATM')
      .check();
    expect(r.decodeErrors).toEqual([]);
    expect(rules(r)).toEqual([]);
    expect(r.counts).toMatchObject({ moves: 2, inTissueMoves: 1, pressureSetpoints: 1, ampSettings: 2 });
  });

  it.each([
    ['a target beyond the soft limits', (s: ReturnType<typeof session>) => s.speed(10, 100).move(20, [25_000, 1000, 9000]), 'soft-limit'],
    ['a speed above the maximum', (s: ReturnType<typeof session>) => s.speed(10, 1500).move(20, [1000, 1000, 8000]), 'max-speed'],
    ['a move at a speed never set on the wire', (s: ReturnType<typeof session>) => s.move(20, [1000, 1000, 8000]), 'speed-unset'],
    ['a fast move into the tissue', (s: ReturnType<typeof session>) => s.speed(10, 100).move(20, [1000, 1000, 10_500]), 'fast-in-tissue'],
    [
      'a fast move out of the tissue (the start is below the surface)',
      (s: ReturnType<typeof session>) => s.speed(10, 25).move(20, [1000, 1000, 10_400]).position(30, [1000, 1000, 10_400]).speed(40, 100).move(50, [1000, 1000, 9000]),
      'fast-in-tissue',
    ],
    ['a new origin', (s: ReturnType<typeof session>) => s.mp285(10, 'o\r'), 'origin-changed'],
    ['a setpoint beyond the box limits', (s: ReturnType<typeof session>) => s.pbox(10, 'SET 1 -650'), 'pressure-limit'],
    ['a pulse beyond the box limits', (s: ReturnType<typeof session>) => s.pbox(10, 'PULSE 1 1200 100'), 'pressure-limit'],
    ['a pulse too long for the box', (s: ReturnType<typeof session>) => s.pbox(10, 'PULSE 1 -100 20000'), 'pulse-length'],
    ['a holding beyond ±1 V', (s: ReturnType<typeof session>) => s.amp(10, 'holding(0,-1200)'), 'amplifier-limit'],
    ['a test-pulse step that takes holding + step beyond ±1 V', (s: ReturnType<typeof session>) => s.amp(10, 'holding(0,-980)').amp(11, 'tp(0,1,-50,5,30,50000)'), 'amplifier-limit'],
    ['a current-clamp holding beyond 20 nA', (s: ReturnType<typeof session>) => s.amp(10, 'holding(0,25000,IC)'), 'amplifier-limit'],
    ['a zap too long', (s: ReturnType<typeof session>) => s.amp(10, 'zap(0,60,1000)'), 'amplifier-limit'],
    ['a zap too strong', (s: ReturnType<typeof session>) => s.amp(10, 'zap(0,0.5,2000)'), 'amplifier-limit'],
    ['a pipette offset beyond ±150 mV', (s: ReturnType<typeof session>) => s.amp(10, 'offset(0,200)'), 'amplifier-limit'],
    ['compensation beyond its range', (s: ReturnType<typeof session>) => s.amp(10, 'comp(0,60,0)'), 'amplifier-limit'],
    [
      'a stimulus that takes holding + stimulus beyond 20 nA',
      (s: ReturnType<typeof session>) => s.amp(10, 'holding(0,-100,IC)').amp(11, 'stim(0,3,2,50000,IC)').chunk(12, 3, [0, 25e-9]).amp(13, 'run(0,3)'),
      'amplifier-limit',
    ],
  ])('%s is reported', (_what, write, rule) => {
    const r = write(session().manipulator(above)).check();
    expect(r.decodeErrors).toEqual([]);
    expect([...new Set(rules(r))]).toEqual([rule]);
  });

  it('bytes that do not decode are reported', () => {
    const r = session().manipulator(above).pbox(10, 'SET 1 -30').pbox(11, 'SET 1 \xff').check();
    expect(r.decodeErrors).toEqual([expect.stringMatching(/sim:pbox @ .* non-printable/)]);
  });
});

describe('gigaseal: vented within one test-pulse period, no suction until break-in', () => {
  const sealing = () =>
    session()
      .state(0, 'confirmHit', 'seal')
      .pbox(1, 'SET 1 -30')
      .pbox(301, 'VALVE 1 REG')
      .amp(2, 'holding(0,-70)')
      .state(1000, 'seal', 'cellAttached');

  it('a prompt vent and no suction pass', () => {
    const r = sealing().pbox(1003, 'VALVE 1 ATM').pbox(1500, 'SET 1 -150').state(12_000, 'cellAttached', 'breakIn').pbox(12_001, 'PULSE 1 -150 500').check();
    expect(r.rules).toEqual([]);
    expect(r.checked.gigaseal).toBe(1);
  });

  it('a vent later than one period is reported', () => {
    const r = sealing().pbox(1040, 'VALVE 1 ATM').check();
    expect(r.rules.map((v) => v.rule)).toEqual(['gigaseal-vent']);
    expect(r.rules[0].detail).toMatch(/-30 mbar 33.3 ms after the gigaseal/);
  });

  it('suction back on before break-in is reported, valve or pulse', () => {
    const r = sealing().pbox(1003, 'VALVE 1 ATM').pbox(1301, 'VALVE 1 REG').pbox(1400, 'VALVE 1 ATM').pbox(2000, 'PULSE 1 -150 500').check();
    expect(r.rules.map((v) => [v.rule, v.t])).toEqual([
      ['suction-after-gigaseal', 1303],
      ['suction-after-gigaseal', 2002],
    ]);
  });
});

describe("holding at the preset's holding threshold", () => {
  /** R from 50 MΩ up by 5 MΩ per reading at 30 Hz, through 100 MΩ and on to a gigaseal */
  const rising = () => {
    const s = session().state(0, 'confirmHit', 'seal');
    for (let k = 0; k < 200; k++) s.reading(10 + (k * 1000) / 30, 50 + 5 * k);
    return s;
  };

  it('holding commanded as R crosses the threshold passes', () => {
    // the filtered R (τ 0.1 s) reaches 100 MΩ a few readings after the raw one; commanded at the raw crossing it is early enough
    const r = rising().amp(10 + (10 * 1000) / 30, 'holding(0,-70)').state(6000, 'seal', 'cellAttached').check();
    expect(r.rules).toEqual([]);
    expect(r.checked.holding).toBe(1);
  });

  it('holding only at the gigaseal is reported (the known failure of existing tools)', () => {
    const r = rising().state(6000, 'seal', 'cellAttached').amp(6000, 'holding(0,-70)').check();
    expect(r.rules.map((v) => v.rule)).toEqual(['holding-at-threshold']);
    expect(r.rules[0].detail).toMatch(/VC holding 0 mV \(want VC -70 mV\)/);
  });

  it('the wrong holding, or the right one in current clamp, is reported', () => {
    expect(rules(rising().amp(20, 'holding(0,-60)').check())).toEqual(['holding-at-threshold']);
    expect(rules(rising().amp(20, 'holding(0,-70)').amp(21, 'mode(0,IC)').check())).toEqual(['holding-at-threshold']);
  });

  it('a single reading above the threshold is not a crossing of the filtered R', () => {
    const r = session().state(0, 'confirmHit', 'seal').reading(10, 60).reading(43, 140).reading(76, 60).reading(109, 60).state(200, 'seal', 'retract').check();
    expect(r.checked.holding).toBe(0);
  });
});

describe('after break-in: vented, then no zap and no suction but clear-access pulses', () => {
  const brokeIn = () => session().state(0, 'cellAttached', 'breakIn').pbox(800, 'PULSE 1 -150 500').state(1000, 'breakIn', 'wholeCell').ended(20_000);

  it('an aborted pulse and three clear-access pulses in wholeCell pass', () => {
    const r = brokeIn()
      .pbox(1002, 'ABORT 1')
      .pbox(1003, 'VALVE 1 ATM')
      .pbox(4000, 'PULSE 1 -200 200')
      .pbox(5000, 'PULSE 1 -200 200')
      .pbox(6000, 'PULSE 1 -200 200')
      .state(9000, 'wholeCell', 'record')
      .pbox(21_000, 'PULSE 1 -350 1000')
      .check();
    expect(r.rules).toEqual([]);
    expect(r.checked.wholeCell).toBe(1);
  });

  it('a break-in pulse left running is reported', () => {
    expect(rules(brokeIn().check())).toEqual(['whole-cell-vent']);
  });

  it('a further break-in pulse, a zap, a fourth clear-access pulse, one in record, and suction by valve are reported', () => {
    const r = brokeIn()
      .pbox(1002, 'ABORT 1')
      .pbox(2000, 'PULSE 1 -165 500')
      .amp(3000, 'zap(0,0.5,1000)')
      .pbox(4000, 'PULSE 1 -200 200')
      .pbox(5000, 'PULSE 1 -200 200')
      .pbox(6000, 'PULSE 1 -200 200')
      .pbox(7000, 'PULSE 1 -200 200')
      .state(9000, 'wholeCell', 'record')
      .pbox(10_000, 'PULSE 1 -200 200')
      .pbox(11_000, 'SET 1 -20')
      .pbox(11_300, 'VALVE 1 REG')
      .pbox(12_000, 'VALVE 1 ATM')
      .check();
    expect(r.rules.map((v) => [v.rule, v.t])).toEqual([
      ['pulse-after-break-in', 2000],
      ['pulse-after-break-in', 7000],
      ['pulse-after-break-in', 10_000],
      ['suction-after-break-in', 11_302],
      ['zap-after-break-in', 3000],
    ]);
  });
});

describe('safe: ends at atmosphere and VC 0 mV, and nothing undoes it', () => {
  const secured = () =>
    session()
      .pbox(10, 'SET 1 -30')
      .pbox(20, 'VALVE 1 REG')
      .amp(30, 'holding(0,-70)')
      .state(1000, 'seal', 'safe')
      .pbox(1005, 'VALVE 1 ATM')
      .amp(1006, 'mode(0,VC)')
      .amp(1007, 'holding(0,0)');

  it('the safe path and nothing after it passes', () => {
    const r = secured().state(5000, 'safe', 'idle').pbox(5100, 'VALVE 1 REG').pbox(6000, 'VALVE 1 ATM').check();
    expect(r.rules).toEqual([]);
    expect(r.checked.safe).toBe(1);
  });

  it('suction opened after the safe state (a valve that waited for its settle time) is reported', () => {
    const r = secured().pbox(1301, 'VALVE 1 REG').state(5000, 'safe', 'idle').pbox(6000, 'VALVE 1 ATM').check();
    expect(r.rules.map((v) => v.rule)).toEqual(['safe-final-pressure', 'safe-pressure-after-secured']);
    expect(r.rules[1].detail).toMatch(/VALVE 1 REG: line on the regulator at -30 mbar after the safe state was reached at 1007.0/);
  });

  it('a holding restored after the safe state (an aborted recording) is reported, even if it is undone later', () => {
    const r = secured().amp(2000, 'mode(0,IC)').amp(2001, 'mode(0,VC)').amp(2002, 'holding(0,-70)').amp(3000, 'holding(0,0)').state(5000, 'safe', 'idle').check();
    expect(r.rules.map((v) => [v.rule, v.t])).toEqual([
      ['safe-holding-after-secured', 2000],
      ['safe-holding-after-secured', 2002],
    ]);
  });

  it('a pipette never vented is reported when it leaves safe, or when the session ends', () => {
    const r = session().pbox(10, 'SET 1 -30').pbox(20, 'VALVE 1 REG').state(1000, 'seal', 'safe').amp(1006, 'holding(0,0)').check(9000);
    expect(r.rules.map((v) => [v.rule, v.t])).toEqual([
      ['safe-final-pressure', 9000],
      ['line-on-at-end', 9000],
    ]);
  });
});

describe('end of the session', () => {
  it('a line left on the regulator when the session ends is reported', () => {
    const r = session().pbox(10, 'SET 1 30').pbox(310, 'VALVE 1 REG').state(5000, 'retract', 'idle').state(5000, 'idle', 'done').check(9000);
    expect(r.rules.map((v) => [v.rule, v.t])).toEqual([['line-on-at-end', 9000]]);
    expect(r.rules[0].detail).toMatch(/on the regulator at 30 mbar when the session ended \(in done\); last command 310.0 VALVE 1 REG/);
    expect(session().pbox(10, 'SET 1 30').pbox(310, 'VALVE 1 REG').pbox(5000, 'VALVE 1 ATM').check(9000).rules).toEqual([]);
  });
});

describe('capture', () => {
  const quiet: EmulatedDevice = { model: 'silent', connect() {}, disconnect() {}, receive() {} };
  const rig = async (logKeep: number) => {
    const clock = createVirtualClock();
    const binding = createEmulatorBinding(clock);
    binding.attach('sim:a', quiet, { baudRate: 9600, logKeep });
    const port = await binding.open({ path: 'sim:a', baudRate: 9600 });
    const capture = captureWire({ binding, paths: () => binding.paths() } as unknown as SimulatedRig, clock);
    return { clock, port, capture };
  };

  it('takes a complete log as it is, stamped when the bytes had crossed the line', async () => {
    const { clock, port, capture } = await rig(Infinity);
    await port.write(Buffer.from('PING\n'));
    await clock.runFor(100);
    const s = capture.streams().get('sim:a')!;
    expect(s.in.map((c) => [c.t, Buffer.from(c.bytes).toString()])).toEqual([[5 * (10_000 / 9600), 'PING\n']]);
    expect(capture.disagreements()).toEqual([]);
  });

  it("falls back on the host's writes where the log keeps only recent entries", async () => {
    const { clock, port, capture } = await rig(1);
    for (const line of ['A\n', 'B\n', 'C\n']) {
      await port.write(Buffer.from(line));
      await clock.runFor(10);
    }
    expect(capture.streams().get('sim:a')!.in.map((c) => Buffer.from(c.bytes).toString())).toEqual(['A\n', 'B\n', 'C\n']);
  });

  it('reports bytes the host wrote that never reached the device', async () => {
    const { port, capture } = await rig(Infinity);
    await port.write(Buffer.from('PING\n'));
    await port.close(); // before their line time: the device never gets them
    expect(capture.disagreements()).toEqual(['sim:a']);
  });
});
