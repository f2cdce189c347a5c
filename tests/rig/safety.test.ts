/**
 * Safety of exits on the emulated rig, judged on what the pressure box
 * emulator applied (decoded from its port): an abort or an emergency stop that
 * lands while a regulator switch waits out its settle delay leaves the line at
 * atmosphere — the pending valve-open never happens.
 */
import { describe, expect, it } from 'vitest';
import { createVirtualClock, type VirtualClock } from '../../src/clock/index.ts';
import { createSimulatedLab, type SimulatedLab } from '../../src/cli/simulated-lab.ts';
import type { PipetteStateName } from '../../src/control/events.ts';
import type { Supervisor } from '../../src/control/supervisor.ts';

interface Rig {
  clock: VirtualClock;
  lab: SimulatedLab;
  supervisor: Supervisor;
}

async function start(seed: number): Promise<Rig> {
  const clock = createVirtualClock();
  const lab = await createSimulatedLab({ clock, seed, pipettes: 4, preset: 'in-vivo-blind', durationMin: 60 });
  const supervisor = await lab.startSession();
  return { clock, lab, supervisor };
}

function channelOf(r: Rig, pipetteId: string) {
  const spec = r.lab.sim.config.pipettes.find((p) => p.id === pipetteId)!;
  const box = r.lab.sim.pressureBoxes.get(spec.pressure.box)!.emulator;
  return { box, ch: spec.pressure.channel };
}

/** Run until some pipette enters `state`; returns it and the time it did. */
async function untilState(r: Rig, state: PipetteStateName, maxMs: number): Promise<{ pipetteId: string; t: number }> {
  let hit: { pipetteId: string; t: number } | null = null;
  const off = r.lab.sink.subscribe((e) => {
    if (!hit && e.type === 'pipette.state' && e.to === state) hit = { pipetteId: e.pipetteId, t: e.t };
  });
  for (let waited = 0; !hit && waited < maxMs; waited += 5) await r.clock.runFor(5);
  off();
  if (!hit) throw new Error(`no pipette entered ${state} within ${maxMs} ms`);
  return hit;
}

/** Run until the box has applied a setpoint of `mbar` on the pipette's channel after `since`, with the valve not yet on the regulator. */
async function untilSettling(r: Rig, pipetteId: string, mbar: number, since: number, maxMs: number): Promise<number> {
  const { box, ch } = channelOf(r, pipetteId);
  for (let waited = 0; waited < maxMs; waited += 2) {
    const sp = box.commands.find((c) => c.t >= since && c.channel === ch && c.kind === 'setpoint' && c.mbar === mbar && c.refused === undefined);
    if (sp) {
      expect(box.state(ch).source).toBe('atmosphere');
      return sp.t;
    }
    await r.clock.runFor(2);
  }
  throw new Error(`no ${mbar} mbar setpoint for ${pipetteId} within ${maxMs} ms`);
}

const valvesAfter = (r: Rig, pipetteId: string, t: number) => {
  const { box, ch } = channelOf(r, pipetteId);
  return box.commands.filter((c) => c.t > t && c.channel === ch && c.kind === 'valve').map((c) => c.source);
};

describe('exits during a regulator settle delay', () => {
  it('an abort 50 ms into sealing leaves the line at atmosphere (the suction never comes back on)', async () => {
    const r = await start(4);
    const { pipetteId, t } = await untilState(r, 'seal', 30 * 60_000);
    // sealing suction: the setpoint is written, the valve opens after the settle delay
    const sp = await untilSettling(r, pipetteId, r.lab.preset.seal.suction_mbar, t, 100);
    await r.clock.runUntilTime(t + 50);
    expect(sp).toBeLessThan(t + 50);
    await r.supervisor.pipette(pipetteId, { action: 'abort' }, 'test');
    await r.clock.runFor(5_000);
    const { box, ch } = channelOf(r, pipetteId);
    expect(box.state(ch).source).toBe('atmosphere');
    expect(valvesAfter(r, pipetteId, t)).not.toContain('regulator');
    expect(r.supervisor.runners.find((x) => x.pipetteId === pipetteId)!.state).toBe('safe');
  }, 300_000);

  it('an abort while the +800 mbar of the pipette check is settling leaves the line at atmosphere', async () => {
    const r = await start(3);
    // every pipette starts its first attempt with the session: +800 mbar once at its start point
    const pipetteId = 'p1';
    expect(r.supervisor.runners[0].state).toBe('pipetteCheck');
    const sp = await untilSettling(r, pipetteId, r.lab.preset.pipette_check.pressure_mbar, 0, 60_000);
    await r.clock.runUntilTime(sp + 50);
    await r.supervisor.pipette(pipetteId, { action: 'abort' }, 'test');
    await r.clock.runFor(30_000);
    const { box, ch } = channelOf(r, pipetteId);
    expect(box.state(ch).source).toBe('atmosphere');
    expect(valvesAfter(r, pipetteId, sp)).not.toContain('regulator');
  }, 300_000);

  it('an emergency stop 50 ms into sealing leaves every line at atmosphere', async () => {
    const r = await start(4);
    const { pipetteId, t } = await untilState(r, 'seal', 30 * 60_000);
    await untilSettling(r, pipetteId, r.lab.preset.seal.suction_mbar, t, 100);
    await r.clock.runUntilTime(t + 50);
    const stopped = r.lab.host.emergencyStop('test');
    await r.clock.runUntilSettled(stopped, 10_000);
    await r.clock.runFor(5_000);
    for (const spec of r.lab.sim.config.pipettes) {
      const { box, ch } = channelOf(r, spec.id);
      expect(box.state(ch).source, spec.id).toBe('atmosphere');
    }
    expect(valvesAfter(r, pipetteId, t)).not.toContain('regulator');
  }, 300_000);
});
