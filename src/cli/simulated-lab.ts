/**
 * Everything `npm start` needs on the built-in simulated rig, assembled once:
 * the physics world and device emulators, the real drivers opened on them,
 * and on top the same lab a real rig gets (lab.ts: event sink, session host,
 * presets from `protocols/`), with the simulated tissue's observed cells as
 * targets. Tests, benchmarks and the CLI all build sessions here, so they
 * exercise the same wiring.
 *
 * A simulated technician stands in for the human who refits broken pipettes
 * (the controller cannot): after `refitAfterMs` it puts a fresh pipette on a
 * holder that is waiting for one. A real rig has no such thing.
 */
import type { Clock } from '../clock/clock.ts';
import type { VirtualClock } from '../clock/virtual-clock.ts';
import { loadPreset } from '../protocol/load.ts';
import { openRig } from '../rig/open-rig.ts';
import { createSimulatedRigFor, type SimulatedRig, type SimulatedRigOptions } from '../rig/simulated-rig.ts';
import { createLab, type Lab } from './lab.ts';

export { newSessionId } from './lab.ts';

export interface SimulatedLabOptions {
  clock: Clock;
  seed: number;
  pipettes: number;
  /** preset the lab is built for: its preparation decides the simulated tissue */
  preset: string;
  operator?: string;
  /** minutes after which a session stops starting attempts (null: until stopped) */
  durationMin?: number | null;
  /** stop starting attempts after this many in total */
  maxAttempts?: number | null;
  /** simulated technician refits a broken pipette after this long, ms (null: never) */
  refitAfterMs?: number | null;
  /** test-pulse sweeps stored per pipette: one every this many ms */
  tpSweepStoreEveryMs?: number;
  worldOverrides?: SimulatedRigOptions['worldOverrides'];
  /** manipulator drivers to cycle through (default: all four) */
  manipulators?: SimulatedRigOptions['manipulators'];
  /** every pipette cleans in the same two wells (coordination tests) */
  sharedWells?: boolean;
  /** keep byte-log digests (determinism tests; see SimulatedRigOptions.byteDigest) */
  byteDigest?: boolean;
}

export interface SimulatedLab extends Lab {
  sim: SimulatedRig;
}

/** Open drivers in virtual time (the clock must run for replies to arrive) or real time. */
async function settle<T>(clock: Clock, work: Promise<T>): Promise<T> {
  return clock.kind === 'virtual' ? (clock as VirtualClock).runUntilSettled(work, 120_000) : work;
}

export async function createSimulatedLab(options: SimulatedLabOptions): Promise<SimulatedLab> {
  const { clock } = options;
  const initialPreset = loadPreset(options.preset);
  const sim = createSimulatedRigFor(initialPreset, {
    clock,
    seed: options.seed,
    pipettes: options.pipettes,
    worldOverrides: options.worldOverrides,
    manipulators: options.manipulators,
    sharedWells: options.sharedWells,
    byteDigest: options.byteDigest,
  });
  const rig = await settle(clock, openRig(sim.config, sim.binding, clock));
  let lab: Lab;
  try {
    lab = createLab({
      clock,
      config: sim.config,
      rig,
      preset: options.preset,
      seed: options.seed,
      operator: options.operator,
      durationMin: options.durationMin,
      maxAttempts: options.maxAttempts,
      tpSweepStoreEveryMs: options.tpSweepStoreEveryMs,
      cells: () => sim.world.observedCells(),
      checkPreset(preset) {
        if (preset.preparation !== sim.world.preparation) {
          throw new Error(`preset ${preset.name} is for ${preset.preparation} preparations; this simulated rig holds a ${sim.world.preparation} preparation`);
        }
      },
    });
  } catch (e) {
    await rig.close();
    throw e;
  }
  const { host, sink } = lab;

  // The simulated technician: refits pipettes the controller reported broken or worn out.
  const refitAfter = options.refitAfterMs === undefined ? 60_000 : options.refitAfterMs;
  if (refitAfter !== null) {
    sink.subscribe((e) => {
      if (e.type !== 'pipette.state' || e.to !== 'needsPipette') return;
      clock.setTimeout(() => {
        const runner = host.current?.runners.find((r) => r.pipetteId === e.pipetteId);
        if (!runner || runner.state !== 'needsPipette') return;
        sim.world.replacePipette(e.pipetteId, clock.now());
        void host.pipette(e.pipetteId, { action: 'replaced' }, 'simulated technician');
      }, refitAfter);
    });
  }

  return { ...lab, sim };
}
