/** The emulated amplifier channel behind a pipette of the simulated rig, and its recorded sweeps. */
import type { SimulatedLab } from '../../src/cli/simulated-lab.ts';
import type { RigEvent } from '../../src/control/events.ts';

/** The amp-bridge channel of a pipette (the simulated rig: two pipettes per bridge). */
export function channelOf(lab: SimulatedLab, pipetteId: string) {
  const i = lab.sim.world.pipetteIds.indexOf(pipetteId);
  const bridge = lab.sim.amplifiers.get(`amp-${Math.floor(i / 2) + 1}`)!.emulator;
  return { bridge, ch: i % 2, state: () => bridge.channelState(i % 2) };
}

/** current-clamp stimulus sweeps stored for the pipette */
export const stimulusSweeps = (events: readonly RigEvent[], pipetteId: string): number =>
  events.filter((e) => e.type === 'sweep' && e.pipetteId === pipetteId && e.sweep.kind === 'stimulus' && e.sweep.mode === 'IC').length;
