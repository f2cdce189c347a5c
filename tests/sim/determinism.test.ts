import { describe, expect, it } from 'vitest';
import { createSimWorld, type SimWorld } from '../../src/sim/index.ts';
import { axisOf, behind, scripted, testPulseCommand } from './helpers.ts';

/** A fixed call sequence: descent, hunting with test pulses, pressure changes, a current-clamp sweep, a zap. */
function run(seed: number): { world: SimWorld; outputs: Float32Array[] } {
  const a1 = axisOf(35, 0);
  const a2 = axisOf(35, 120);
  const world = createSimWorld({ seed, preparation: 'in-vivo', pipettes: [{ id: 'a', axis: a1 }, { id: 'b', axis: a2 }] });
  const pa = scripted(world, 'a', behind([0, 0, 150], a1, 300));
  const pb = scripted(world, 'b', behind([40, 0, 150], a2, 300));
  const outputs: Float32Array[] = [];
  const { command } = testPulseCommand({ amplitudeV: 0.01, widthMs: 10, sampleRateHz: 20000, holdingV: 0 });
  pa.setPressure(300);
  pb.setPressure(300);
  pa.moveTo(behind([0, 0, 150], a1, -50), 40);
  pb.moveTo(behind([40, 0, 150], a2, -50), 40);
  for (let i = 0; i < 300; i++) {
    pa.t += 33;
    pb.t = pa.t;
    outputs.push(pa.sim.voltageClamp(pa.t, 20000, command), pb.sim.voltageClamp(pb.t, 20000, command));
    if (i === 150) {
      pa.setPressure(0);
      pb.setPressure(-20);
    }
  }
  const ic = new Float32Array(5000).fill(-50e-12);
  outputs.push(pa.sim.currentClamp(pa.t, 50000, ic));
  pa.sim.zap(pa.t + 5, 0.5, 1);
  world.advanceTo(pa.t + 1000);
  return { world, outputs };
}

describe('determinism', () => {
  it('same seed and call sequence → bit-identical outputs, truth and events', () => {
    const x = run(123);
    const y = run(123);
    expect(x.outputs.length).toBe(y.outputs.length);
    for (let i = 0; i < x.outputs.length; i++) expect(Buffer.from(x.outputs[i].buffer).equals(Buffer.from(y.outputs[i].buffer))).toBe(true);
    expect(x.world.pipette('a').truth()).toEqual(y.world.pipette('a').truth());
    expect(x.world.pipette('b').truth()).toEqual(y.world.pipette('b').truth());
    expect(x.world.events()).toEqual(y.world.events());
    expect(x.world.cells()).toEqual(y.world.cells());
  });

  it('different seeds give different outputs', () => {
    const x = run(1);
    const y = run(2);
    let differ = 0;
    for (let i = 0; i < x.outputs.length; i++) if (!Buffer.from(x.outputs[i].buffer).equals(Buffer.from(y.outputs[i].buffer))) differ++;
    expect(differ).toBe(x.outputs.length);
    expect(x.world.pipette('a').truth().pipetteResistance).not.toBe(y.world.pipette('a').truth().pipetteResistance);
  });

  it('cells do not depend on the order the world is explored in', () => {
    const w1 = createSimWorld({ seed: 9, preparation: 'in-vivo', pipettes: [] });
    const w2 = createSimWorld({ seed: 9, preparation: 'slice', pipettes: [] });
    const w3 = createSimWorld({ seed: 9, preparation: 'in-vivo', pipettes: [{ id: 'x', axis: [0, 0, 1] }] });
    // explore two places in opposite orders
    const p1 = w3.pipette('x');
    p1.bindPosition((t) => (t < 10 ? [500, 500, 300] : [0, 0, 300]));
    p1.advanceTo(5);
    p1.advanceTo(20);
    const w4 = createSimWorld({ seed: 9, preparation: 'in-vivo', pipettes: [{ id: 'x', axis: [0, 0, 1] }] });
    const p2 = w4.pipette('x');
    p2.bindPosition((t) => (t < 10 ? [0, 0, 300] : [500, 500, 300]));
    p2.advanceTo(5);
    p2.advanceTo(20);
    const near = (w: SimWorld): unknown[] => w.cells().filter((c) => Math.hypot(c.position[0], c.position[1], c.position[2] - 300) < 40);
    expect(near(w3).length).toBeGreaterThan(0);
    expect(near(w3)).toEqual(near(w4));
    expect(w1.cells().length).toBe(0);
    expect(w2.observedCells().length).toBeGreaterThan(0);
  });
});
