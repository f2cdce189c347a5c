/**
 * A supervisor on stand-in hardware (fake-hardware.ts) in virtual time, for
 * tests of the supervisor and coordinator alone. No test pulse ever arrives,
 * so every attempt goes: to its start point, +800 mbar, the pipette check
 * window times out (pipette-resistance-unstable), retract, next target. A
 * pipette's attempts then differ only in how fast its stage moves.
 */
import { createVirtualClock, type VirtualClock } from '../../src/clock/index.ts';
import { createEventSink, type EventSink } from '../../src/control/event-sink.ts';
import type { RigEvent } from '../../src/control/events.ts';
import { alongAxisToZ } from '../../src/control/paths.ts';
import { createSupervisor, type RigPipette, type Supervisor } from '../../src/control/supervisor.ts';
import { blindTargets } from '../../src/control/targets.ts';
import { pipetteAxis, toManipulator, type Mount, type Vec3 } from '../../src/geometry.ts';
import { loadPreset } from '../../src/protocol/load.ts';
import type { AutopatchPreset } from '../../src/protocol/types.ts';
import { fakeHardware, type FakeHardware } from './fake-hardware.ts';

export interface StandInRig {
  clock: VirtualClock;
  sink: EventSink;
  events: RigEvent[];
  supervisor: Supervisor;
  hw: Map<string, FakeHardware>;
  preset: AutopatchPreset;
}

export function standInRig(options: {
  pipettes?: number;
  preset?: string;
  overrides?: (p: AutopatchPreset) => void;
  /** per pipette id: its stage moves at this fraction of the commanded speed */
  slow?: Record<string, number>;
  maxAttempts?: number | null;
  durationMs?: number | null;
}): StandInRig {
  const clock = createVirtualClock();
  const sink = createEventSink(clock);
  const events: RigEvent[] = [];
  sink.subscribe((e) => events.push(e));
  const preset = structuredClone(loadPreset(options.preset ?? 'in-vivo-blind'));
  options.overrides?.(preset);
  const n = options.pipettes ?? 3;
  const standoffZ = -300;
  const hw = new Map<string, FakeHardware>();
  const pipettes: RigPipette[] = Array.from({ length: n }, (_, i) => {
    const id = `p${i + 1}`;
    // far apart (3 mm), each pointing away from the others: no path ever comes near another shaft
    const azimuthDeg = (360 * i) / n;
    const mount: Mount = { origin: [0, 0, 0], axisSign: [1, 1, 1], elevationDeg: 40, azimuthDeg };
    const a = (azimuthDeg * Math.PI) / 180;
    const region: Vec3 = [3000 * Math.cos(a), 3000 * Math.sin(a), 0];
    const home = alongAxisToZ(region, pipetteAxis(mount), standoffZ);
    const h = fakeHardware(clock, id, toManipulator(mount, home), options.slow?.[id] ?? 1);
    hw.set(id, h);
    return { id, hw: h, mount, region, home, shaftLengthUm: 3000, wells: null, maxCommand_mV: 1000 };
  });
  const supervisor = createSupervisor({
    clock,
    rig: { name: 'stand-in rig', pipettes, standoffZ, travelZ: -1500, connections: [], valveSettleMs: 300, travelSpeed: 1000 },
    preset,
    sink,
    sessionId: 'test-session',
    operator: 'test',
    seed: null,
    virtual: true,
    targets: blindTargets(new Map(pipettes.map((p) => [p.id, p.region])), 50),
    recorder: { record: async () => ({ sweeps: 0, durationS: 0, features: {} }) },
    maxAttempts: options.maxAttempts ?? null,
    durationMs: options.durationMs ?? null,
  });
  return { clock, sink, events, supervisor, hw, preset };
}

/** attempt.started times per pipette, in order */
export function startsByPipette(events: RigEvent[]): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const e of events) {
    if (e.type !== 'attempt.started') continue;
    const list = out.get(e.pipetteId) ?? [];
    list.push(e.t);
    out.set(e.pipetteId, list);
  }
  return out;
}
