/**
 * How fast the emulated rig runs in virtual time: real drivers, byte-level
 * emulators and the physics, through the real SerialPortStream.
 *  1. the rig alone: one pipette streaming its test pulse (preset rate and
 *     sample rate) while the manipulator steps down through tissue, for 10
 *     virtual minutes — the figure issue 2 asks to be well under a second;
 *  2. a full controlled session: 4 pipettes with their machines, 10 virtual minutes.
 */
import { performance } from 'node:perf_hooks';
import { createVirtualClock } from '../src/clock/index.ts';
import { createSimulatedLab } from '../src/cli/simulated-lab.ts';
import { loadPreset } from '../src/protocol/load.ts';
import { createSimulatedRig } from '../src/rig/simulated-rig.ts';
import { openRig } from '../src/rig/open-rig.ts';
import { alongAxis } from '../src/control/paths.ts';
import { pipetteAxis, toManipulator, toWorld } from '../src/geometry.ts';
import { median } from '../src/analysis/stats.ts';

const VIRTUAL_MIN = 10;
const WARM_RUNS = 5;

/**
 * `pipettes`: how many stream and step at once (each its own amplifier channel,
 * manipulator and pressure line); `byteDigest`: also hash every byte on every
 * port, as the determinism tests ask the rig to.
 */
export async function rigAlone(options: { pipettes?: number; byteDigest?: boolean } = {}): Promise<{ realMs: number; sweeps: number }> {
  const clock = createVirtualClock();
  const preset = loadPreset('in-vivo-blind');
  const n = options.pipettes ?? 1;
  const sim = createSimulatedRig({ clock, seed: 11, preparation: 'in-vivo', pipettes: n, byteDigest: options.byteDigest ?? false });
  const rig = await clock.runUntilSettled(openRig(sim.config, sim.binding, clock));
  let sweeps = 0;
  for (const hw of rig.hardware) hw.amplifier.onSweep(() => sweeps++);
  const started = performance.now();
  const end = clock.now() + VIRTUAL_MIN * 60_000;
  const one = async (i: number): Promise<void> => {
    const hw = rig.hardware[i];
    const spec = sim.config.pipettes[i];
    await hw.amplifier.setMode('VC');
    await hw.pressure.setPressure(preset.hunt.pressure_mbar);
    await hw.pressure.setSource('regulator');
    await hw.amplifier.setTestPulse({
      enabled: true,
      amplitude: preset.test_pulse.amplitude_mV / 1000,
      widthMs: preset.test_pulse.width_ms,
      rateHz: preset.test_pulse.rate_Hz,
      sampleRateHz: preset.test_pulse.sample_rate_kHz * 1000,
    });
    // Step down along the axis, 2 µm every 0.75 s, like a stepwise hunt, until 10 minutes have passed.
    const axis = pipetteAxis(spec.mount);
    while (clock.now() < end) {
      const here = toWorld(spec.mount, await hw.manipulator.position());
      const next = alongAxis(here, axis, here[2] < 600 ? 2 : -300);
      await hw.manipulator.moveTo(toManipulator(spec.mount, next), { speed: here[2] < 600 ? 5 : 200 });
      await new Promise<void>((r) => clock.setTimeout(r, 350));
    }
  };
  await clock.runUntilSettled(Promise.all(rig.hardware.map((_, i) => one(i))), VIRTUAL_MIN * 60_000 + 5_000);
  const realMs = performance.now() - started;
  await rig.close();
  return { realMs, sweeps };
}

export async function session(pipettes: number): Promise<{ realMs: number; attempts: number; readings: number }> {
  const clock = createVirtualClock();
  const lab = await createSimulatedLab({ clock, seed: 5, pipettes, preset: 'in-vivo-blind', durationMin: VIRTUAL_MIN });
  let readings = 0;
  let attempts = 0;
  lab.sink.subscribe((e) => {
    if (e.type === 'pipette.testpulse') readings++;
    if (e.type === 'attempt.ended') attempts++;
  });
  const started = performance.now();
  const supervisor = await lab.startSession();
  await clock.runUntilSettled(supervisor.done, 24 * 3_600_000);
  const realMs = performance.now() - started;
  await lab.close();
  return { realMs, attempts, readings };
}

/** `n` runs of rigAlone: median and best real time, and the sweeps of one run (the same in each: the seed is fixed). */
async function runs(n: number, options: Parameters<typeof rigAlone>[0]): Promise<{ median: number; best: number; sweeps: number }> {
  const times: number[] = [];
  let sweeps = 0;
  for (let i = 0; i < n; i++) {
    const r = await rigAlone(options);
    times.push(r.realMs);
    sweeps = r.sweeps;
  }
  return { median: median(times), best: Math.min(...times), sweeps };
}

export async function bench(): Promise<void> {
  // The first run pays for module loading and JIT warm-up, and the next ones still
  // recompile a little (each rig is new closures): the first run and the median and
  // best of the next WARM_RUNS are reported.
  const cold = await rigAlone();
  console.log(`emulated rig alone, first run (cold JIT): ${cold.realMs.toFixed(0)} ms real for ${VIRTUAL_MIN} virtual min`);
  const one = await runs(WARM_RUNS, {});
  console.log(
    `emulated rig alone, 1 pipette, ${VIRTUAL_MIN} virtual min, next ${WARM_RUNS} runs: median ${one.median.toFixed(0)} ms real, ` +
      `best ${one.best.toFixed(0)} ms (${((VIRTUAL_MIN * 60_000) / one.median).toFixed(0)}× real time; goal < 1000 ms → ratio ${(one.median / 1000).toFixed(2)}); ` +
      `${one.sweeps} test-pulse sweeps, ${((one.median * 1000) / one.sweeps).toFixed(1)} µs per sweep end to end`,
  );
  const hashed = await runs(3, { byteDigest: true });
  console.log(
    `the same with SHA-256 byte-log digests on every port (as the determinism tests run it), 3 runs: median ${hashed.median.toFixed(0)} ms real ` +
      `(${(hashed.median / one.median).toFixed(2)}× the run without)`,
  );
  const four = await runs(3, { pipettes: 4 });
  console.log(
    `emulated rig alone, 4 pipettes streaming and stepping at once, ${VIRTUAL_MIN} virtual min, 3 runs: median ${four.median.toFixed(0)} ms real ` +
      `(${((VIRTUAL_MIN * 60_000) / four.median).toFixed(0)}× real time); ${four.sweeps} sweeps, ${((four.median * 1000) / four.sweeps).toFixed(1)} µs per sweep`,
  );
  const s = await session(4);
  console.log(
    `controlled session, 4 pipettes, ${VIRTUAL_MIN} virtual min (until attempts end): ${s.realMs.toFixed(0)} ms real; ` +
      `${s.attempts} attempts, ${s.readings} readings, ${((s.realMs * 1000) / s.readings).toFixed(1)} µs per reading`,
  );
}
