/**
 * Physics model speed: the test-pulse sweep the amplifier emulator asks for
 * tens of times a second per channel, long current-clamp sweeps, and how much
 * faster than real time a four-pipette world advances while hunting.
 */
import { createSimWorld, voltageClampResponse, type SimPipette, type SimWorld } from '../src/sim/index.ts';
import type { Vec3 } from '../src/geometry.ts';

function timeIt(runs: number, fn: (i: number) => void): number {
  for (let i = 0; i < Math.min(runs, 200); i++) fn(i); // warm-up
  const t0 = performance.now();
  for (let i = 0; i < runs; i++) fn(i);
  return (performance.now() - t0) / runs;
}

function testPulse(fs: number, widthMs: number): Float32Array {
  const n = Math.round((widthMs / 1000) * fs);
  const base = Math.round(n * 0.35);
  const cmd = new Float32Array(n + 2 * base).fill(-0.07);
  for (let i = base; i < base + n; i++) cmd[i] = -0.06;
  return cmd;
}

/** A pipette driven to whole cell on a cooperative cell by a simple script. */
function wholeCellWorld(): { world: SimWorld; sim: SimPipette; t: number } {
  const axis: Vec3 = [Math.cos(Math.PI / 6), 0, Math.sin(Math.PI / 6)];
  const cell: Vec3 = [0, 0, 200];
  const world = createSimWorld({
    seed: 1,
    preparation: 'in-vivo',
    pipettes: [{ id: 'p', axis }],
    overrides: {
      cells: [{ position: cell, radiusUm: 7, fate: { sealKind: 'good', sealLossRatePerS: 0, spontaneousBreakIn: false, rupturable: true, ruptureMbar: -150, dies: false, raCreep: false } }],
      prep: { pipette: { randomBreakPerUm: 0 }, clog: { eventsPerUm: 0 }, population: { debrisDensity: 0 } },
    },
  });
  const sim = world.pipette('p');
  const at = (d: number): Vec3 => [cell[0] - axis[0] * (7 + d), cell[1] - axis[1] * (7 + d), cell[2] - axis[2] * (7 + d)];
  let pos = at(-1);
  let pressure = 0;
  sim.bindPosition(() => pos);
  sim.bindPressure(() => pressure);
  let t = 0;
  const set = (p: number): void => {
    sim.advanceTo(t);
    pressure = p;
  };
  set(-30);
  while (sim.truth().stage !== 'cell-attached' && t < 200_000) sim.advanceTo((t += 500));
  set(0);
  for (let k = 0; k < 10 && sim.truth().stage !== 'whole-cell'; k++) {
    set(-300);
    t += 500;
    set(0);
    sim.advanceTo((t += 1000));
  }
  pos = at(-1);
  return { world, sim, t };
}

export async function bench(): Promise<void> {
  // ---- test pulse: the circuit alone, and the full call (advance + jitter + noise)
  const fs = 20000;
  const cmd = testPulse(fs, 10);
  const out = new Float32Array(cmd.length);
  const circuit = { Rp: 5e6, Rs: 1.5e9, Ra: 40e6, Rm: 200e6, Cm: 80e-12, Em: -0.065, offsetV: 0.002, Cp: 4e-12 };
  const usCircuit = timeIt(20000, () => voltageClampResponse(circuit, fs, cmd, out)) * 1000;
  const { sim, t: t0 } = wholeCellWorld();
  const usCall = timeIt(20000, (i) => sim.voltageClamp(t0 + i * 33, fs, cmd, out)) * 1000;
  console.log(`test pulse, ${cmd.length} samples @ 20 kHz (whole cell):`);
  console.log(`  circuit only            ${usCircuit.toFixed(2)} µs   (goal: well under 10 µs)`);
  console.log(`  full voltageClamp call  ${usCall.toFixed(2)} µs   (incl. advancing the world 33 ms, jitter, noise)`);

  // ---- current clamp: 1 s and 1.5 s sweeps at 50 kHz, sub- and suprathreshold
  const n1 = 50000;
  const icOut = new Float32Array(75000);
  const sweep = (n: number, amp: number): Float32Array => {
    const c = new Float32Array(n);
    for (let i = Math.round(n * 0.1); i < Math.round(n * 0.9); i++) c[i] = amp;
    return c;
  };
  const tStart = t0 + 20000 * 33 + 1000;
  const msSub = timeIt(30, (i) => sim.currentClamp(tStart + i * 2000, 50000, sweep(n1, -50e-12), icOut.subarray(0, n1)));
  const msSpk = timeIt(30, (i) => sim.currentClamp(tStart + 100000 + i * 2000, 50000, sweep(n1, 400e-12), icOut.subarray(0, n1)));
  const ms15 = timeIt(20, (i) => sim.currentClamp(tStart + 200000 + i * 3000, 50000, sweep(75000, 300e-12), icOut));
  const spikes = (v: Float32Array): number => {
    let k = 0;
    for (let i = 1; i < v.length; i++) if (v[i - 1] < 0 && v[i] >= 0) k++;
    return k;
  };
  const fired = spikes(sim.currentClamp(tStart + 400000, 50000, sweep(75000, 300e-12), icOut));
  console.log(`current clamp @ 50 kHz, whole cell (spiking model; stage ${sim.truth().stage}, ${fired} spikes in the 1.5 s sweep):`);
  console.log(`  1 s, hyperpolarising    ${msSub.toFixed(2)} ms   (goal: a few ms)`);
  console.log(`  1 s, firing             ${msSpk.toFixed(2)} ms`);
  console.log(`  1.5 s, firing           ${ms15.toFixed(2)} ms`);

  // ---- a four-pipette world hunting in tissue with 30 Hz test pulses on every channel
  const axes: Vec3[] = [0, 90, 180, 270].map((az) => {
    const a = (az * Math.PI) / 180;
    return [Math.cos(a) * 0.82, Math.sin(a) * 0.82, 0.57];
  });
  const world = createSimWorld({ seed: 3, preparation: 'in-vivo', pipettes: axes.map((axis, i) => ({ id: `p${i}`, axis })) });
  const sims = axes.map((axis, i) => {
    const s = world.pipette(`p${i}`);
    const start: Vec3 = [-axis[0] * 200 + (i % 2) * 150, -axis[1] * 200 + (i > 1 ? 150 : 0), 120];
    // 5 µm/s along the axis, as in a continuous hunt
    s.bindPosition((t) => [start[0] + axis[0] * 0.005 * t, start[1] + axis[1] * 0.005 * t, start[2] + axis[2] * 0.005 * t]);
    s.bindPressure(() => 30);
    return s;
  });
  const simulatedMs = 20_000;
  const w0 = performance.now();
  for (let t = 0; t < simulatedMs; t += 33) for (const s of sims) s.voltageClamp(t, fs, cmd, out);
  const wall = performance.now() - w0;
  console.log('four pipettes hunting (5 µm/s in tissue, 30 Hz test pulses each):');
  console.log(`  ${(simulatedMs / wall).toFixed(0)}× faster than real time (${wall.toFixed(0)} ms for ${simulatedMs / 1000} s)   (goal: ≫ 1×)`);
}
