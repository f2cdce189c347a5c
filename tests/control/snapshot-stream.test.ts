/**
 * The snapshot and the event stream say the same about a pipette, at every
 * instant — in particular through the runner's own safe-state path after its
 * machine crashed (`abandon` in pipette-runner.ts), which sets the state
 * itself rather than through the machine. A client that rebuilt the pipette
 * from a snapshot plus the events after it (as the dashboard does) must see
 * what a fresh snapshot shows.
 *
 * Stand-in hardware in virtual time (stand-in-rig.ts). The crash: the preset's
 * pipette-check timeout throws once when read, as the machine enters its
 * measuring window (a bug in a machine action, as far as the runner can tell).
 */
import { describe, expect, it } from 'vitest';
import type { PipetteSnapshot } from '../../src/control/api.ts';
import type { RigEvent } from '../../src/control/events.ts';
import { standInRig } from './stand-in-rig.ts';

type Seen = Pick<PipetteSnapshot, 'state' | 'stateSince' | 'lastReason' | 'attemptId' | 'attempts' | 'health' | 'pressure' | 'holding' | 'position' | 'overrides' | 'cleanCount'>;

const fields = (p: PipetteSnapshot): Seen => ({
  state: p.state,
  stateSince: p.stateSince,
  lastReason: p.lastReason,
  attemptId: p.attemptId,
  attempts: p.attempts,
  health: p.health,
  pressure: p.pressure,
  holding: p.holding,
  position: p.position,
  overrides: p.overrides,
  cleanCount: p.cleanCount,
});

/** A pipette as the stream tells it, from a snapshot on. */
function apply(p: Seen, e: RigEvent): void {
  switch (e.type) {
    case 'pipette.state':
      Object.assign(p, { state: e.to, stateSince: e.t, lastReason: e.reason, attemptId: e.attemptId });
      break;
    case 'attempt.started':
      Object.assign(p, { attemptId: e.attemptId, attempts: p.attempts + 1 });
      break;
    case 'attempt.ended':
      if (p.attemptId === e.record.attemptId) p.attemptId = null;
      break;
    case 'pipette.health':
      p.health = e.health;
      break;
    case 'pipette.pressure':
      p.pressure = { mbar: e.mbar, source: e.source };
      break;
    case 'pipette.holding':
      p.holding = { mode: e.mode, value: e.holding };
      break;
    case 'pipette.position':
      p.position = e.world;
      break;
    case 'pipette.overrides':
      p.overrides = { pressureMbar: e.pressureMbar, holdingMv: e.holdingMv };
      break;
    case 'pipette.cleanCount':
      p.cleanCount = e.cleanCount;
      break;
    default:
      break;
  }
}

describe('snapshot and stream', () => {
  it('agree at every instant through a crashed machine\'s safe state, and at the moment it is announced', async () => {
    let armed = false;
    const r = standInRig({
      pipettes: 2,
      overrides: (p) => {
        const timeout = p.pipette_check.timeout_s;
        Object.defineProperty(p.pipette_check, 'timeout_s', {
          enumerable: true,
          get() {
            if (!armed) return timeout;
            armed = false;
            throw new Error('test: machine action crashed');
          },
        });
      },
    });
    const snapshotOf = (id: string): PipetteSnapshot => r.supervisor.snapshot().pipettes.find((p) => p.pipetteId === id)!;
    const told = new Map(r.supervisor.snapshot().pipettes.map((p) => [p.pipetteId, fields(p)]));
    /** the snapshot as it stood while the announcement of the safe state was being delivered */
    let atAnnouncement: { event: Extract<RigEvent, { type: 'pipette.state' }>; snapshot: PipetteSnapshot } | null = null;
    r.sink.subscribe((e) => {
      const id = e.type === 'attempt.ended' ? e.record.pipetteId : 'pipetteId' in e ? e.pipetteId : null;
      if (id !== null && told.has(id)) apply(told.get(id)!, e);
      if (e.type === 'pipette.state' && e.to === 'safe' && !atAnnouncement) atAnnouncement = { event: e, snapshot: snapshotOf(e.pipetteId) };
    });
    r.supervisor.start();
    await r.clock.runFor(30_000); // a few attempts in (no test pulse here: each check times out)
    armed = true;
    const differences: string[] = [];
    const compare = (): void => {
      for (const [id, seen] of told) {
        const now = fields(snapshotOf(id));
        if (JSON.stringify(now) !== JSON.stringify(seen)) differences.push(`t=${r.clock.now()} ${id}: snapshot ${JSON.stringify(now)} vs stream ${JSON.stringify(seen)}`);
      }
    };
    let crashed: string | null = null;
    for (let i = 0; i < 60_000 && !crashed; i++) {
      await r.clock.runFor(1);
      compare();
      const fault = r.events.find((e): e is Extract<RigEvent, { type: 'fault' }> => e.type === 'fault' && e.kind === 'crash');
      crashed = fault?.pipetteId ?? null;
    }
    expect(crashed).not.toBeNull();
    const runner = r.supervisor.runners.find((x) => x.pipetteId === crashed)!;
    // through the whole safe state (vent, VC 0 mV, retraction) and past it, a millisecond at a time
    for (let i = 0; i < 120_000 && !runner.finished; i++) {
      await r.clock.runFor(1);
      compare();
    }
    expect(runner.finished).toBe(true);
    for (let i = 0; i < 2_000; i++) {
      await r.clock.runFor(1);
      compare();
    }
    expect(differences.slice(0, 5)).toEqual([]);
    expect(runner.state).toBe('safe');
    expect(snapshotOf(crashed!)).toMatchObject({ state: 'safe', health: 'failed', attemptId: null, pressure: { mbar: 0, source: 'atmosphere' }, holding: { mode: 'VC', value: 0 } });
    // the announcement: the snapshot already said what the event says, not the state before it
    const { event, snapshot } = atAnnouncement!;
    expect(event).toMatchObject({ pipetteId: crashed, from: 'pipetteCheck', reason: 'controller error: test: machine action crashed' });
    expect(snapshot).toMatchObject({ state: 'safe', stateSince: event.t, lastReason: event.reason, attemptId: event.attemptId });
  });
});
