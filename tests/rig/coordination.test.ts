/**
 * Coordination on the emulated rig with a layout built to make it matter:
 * every pipette cleans in the same two wells (on the first pipette's side), so
 * the others cross the prep — over the first pipette's shaft — to reach them,
 * and queue for them. Judged on the manipulator emulators' positions over the
 * whole session (not on what the controller meant): no two shafts ever come
 * within the preset's clearance, and each well is granted in request order.
 *
 * The emulators' stages move in straight lines between changes of motion, and
 * every change (start, stop, arrival) is seen by a motion observer; between two
 * consecutive changes on the rig every tip moves at a constant velocity, so the
 * closest approach of two shafts in that interval is the distance between the
 * parallelogram one sweeps relative to the other and the other's shaft: exact,
 * whatever the sampling.
 */
import { describe, expect, it } from 'vitest';
import { createVirtualClock } from '../../src/clock/index.ts';
import { createSimulatedLab } from '../../src/cli/simulated-lab.ts';
import { parallelogramDistance, stillShaft, sweptShaft } from '../../src/control/clearance.ts';
import type { RigEvent } from '../../src/control/events.ts';
import { pipetteAxis, toWorld, type Vec3 } from '../../src/geometry.ts';

const sub = (a: Vec3, b: Vec3): Vec3 => [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
const add = (a: Vec3, b: Vec3): Vec3 => [a[0] + b[0], a[1] + b[1], a[2] + b[2]];

describe('coordination with shared wells and crossing paths', () => {
  it('no two shafts ever come within the clearance; wells are granted first come, first served', async () => {
    const clock = createVirtualClock();
    const lab = await createSimulatedLab({ clock, seed: 6, pipettes: 3, preset: 'in-vivo-blind', durationMin: 40, sharedWells: true });
    const clearance = lab.preset.coordination.clearance_um;
    const specs = lab.sim.config.pipettes;
    const shaftOf = new Map(specs.map((p) => [p.id, { axis: pipetteAxis(p.mount), length: p.shaftLengthUm }]));
    expect(new Set(specs.map((p) => p.wells!.detergent)).size).toBe(1);

    // every change of motion on any stage: a snapshot of all tips (world µm) at that instant
    const snapshots: Array<{ t: number; tips: Map<string, Vec3> }> = [];
    const tipsAt = (t: number): Map<string, Vec3> =>
      new Map(specs.map((p) => {
        const m = lab.sim.manipulators.get(p.id)!;
        return [p.id, toWorld(p.mount, m.emulator.motion(m.unit).positionAt(t))];
      }));
    for (const [, m] of lab.sim.manipulators) {
      m.emulator.motion(m.unit).observers.push({ beforeChange: (t) => snapshots.push({ t, tips: tipsAt(t) }) });
    }

    const events: RigEvent[] = [];
    lab.sink.subscribe((e) => {
      if (e.type === 'fault' || e.type === 'attempt.ended') events.push(e);
    });
    const supervisor = await lab.startSession();
    // what the coordinator was asked and when it answered
    const coordinator = supervisor.coordinator;
    const acquire = coordinator.acquire;
    const lockLog: Array<{ resource: string; id: string; asked: number; granted: number | null }> = [];
    coordinator.acquire = async (resource, id, signal) => {
      const entry = { resource, id, asked: clock.now(), granted: null as number | null };
      lockLog.push(entry);
      const release = await acquire(resource, id, signal);
      entry.granted = clock.now();
      return release;
    };
    const reservePath = coordinator.reservePath;
    let pathWaits = 0;
    coordinator.reservePath = async (id, from, to, signal) => {
      const asked = clock.now();
      const release = await reservePath(id, from, to, signal);
      if (clock.now() > asked) pathWaits++;
      return release;
    };

    await clock.runUntilSettled(supervisor.done, 6 * 3_600_000);
    snapshots.push({ t: clock.now(), tips: tipsAt(clock.now()) });

    // closest approach of every pair of shafts over every interval between changes
    let closest = Infinity;
    let where = '';
    for (let k = 0; k + 1 < snapshots.length; k++) {
      const [s0, s1] = [snapshots[k], snapshots[k + 1]];
      for (let i = 0; i < specs.length; i++) {
        for (let j = i + 1; j < specs.length; j++) {
          const a = specs[i].id;
          const b = specs[j].id;
          const A = shaftOf.get(a)!;
          const B = shaftOf.get(b)!;
          // b's frame: b's shaft still at its start, a's tip moving by (its motion − b's motion)
          const relStart = s0.tips.get(a)!;
          const relEnd = sub(add(s1.tips.get(a)!, s0.tips.get(b)!), s1.tips.get(b)!);
          const d = parallelogramDistance(sweptShaft(relStart, relEnd, A.axis, A.length), stillShaft(s0.tips.get(b)!, B.axis, B.length));
          if (d < closest) {
            closest = d;
            where = `${a}–${b} between ${s0.t.toFixed(0)} and ${s1.t.toFixed(0)} ms`;
          }
        }
      }
    }
    expect(snapshots.length).toBeGreaterThan(500);
    expect(closest, `closest approach ${closest.toFixed(1)} µm (${where})`).toBeGreaterThanOrEqual(clearance);

    // the layout did make them wait: for a path and for a well (so the checks above could fail)
    expect(pathWaits).toBeGreaterThan(0);
    const contended = lockLog.filter((l) => l.granted !== null && l.granted > l.asked);
    expect(contended.length).toBeGreaterThan(0);
    // FIFO per well: grants come in the order of the requests
    for (const resource of new Set(lockLog.map((l) => l.resource))) {
      const granted = lockLog.filter((l) => l.resource === resource && l.granted !== null);
      const byGrant = [...granted].sort((x, y) => x.granted! - y.granted! || lockLog.indexOf(x) - lockLog.indexOf(y));
      expect(byGrant.map((l) => lockLog.indexOf(l))).toEqual(granted.map((l) => lockLog.indexOf(l)));
    }
    expect(lab.sim.world.eventCounts()['collision'] ?? 0).toBe(0);
    expect(events.filter((e) => e.type === 'attempt.ended').length).toBeGreaterThan(6);
    await lab.close();
  }, 600_000);
});
