/**
 * The ways out of whole-cell and `record` that are not the safe state, on the
 * emulated rig (real drivers, amp-bridge emulator, physics): an operator's
 * skip in the middle of a current-clamp sweep, and while the resting potential
 * is measured at I=0. The pipette retracts, and on its way out the amplifier
 * is back in voltage clamp at the preset's holding with the test pulse on and
 * no bias left in current clamp — what a completed recording leaves — set
 * through the pipette's ops, so every change is a pipette.holding event and
 * the snapshot says the same as the stream at every event.
 *
 * The preset is culture with a long-square set that holds a +30 pA bias (the
 * shipped sets hold none, which would hide a bias left behind).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createVirtualClock, type VirtualClock } from '../../src/clock/index.ts';
import { createSimulatedLab, type SimulatedLab } from '../../src/cli/simulated-lab.ts';
import type { RigEvent } from '../../src/control/events.ts';
import type { Supervisor } from '../../src/control/supervisor.ts';
import { channelOf, stimulusSweeps } from './amp-channel.ts';

type ChannelState = ReturnType<ReturnType<typeof channelOf>['state']>;

const BIAS_PA = 30;
const dir = mkdtempSync(join(tmpdir(), 'autopatch-record-skip-'));
const presetPath = join(dir, 'culture-bias.json');
{
  const preset = JSON.parse(readFileSync('protocols/presets/culture.json', 'utf8'));
  writeFileSync(presetPath, JSON.stringify({ ...preset, name: 'culture-bias' }));
  const set = JSON.parse(readFileSync('protocols/stimuli/long-square.json', 'utf8'));
  writeFileSync(join(dir, 'long-square.json'), JSON.stringify({ ...set, bias_pA: BIAS_PA }));
}

type Holding = Extract<RigEvent, { type: 'pipette.holding' }>;

interface Running {
  clock: VirtualClock;
  lab: SimulatedLab;
  supervisor: Supervisor;
  events: RigEvent[];
  /** events where the snapshot's holding differed from the last pipette.holding event */
  disagreements: string[];
}

async function start(): Promise<Running> {
  const clock = createVirtualClock();
  const lab = await createSimulatedLab({ clock, seed: 1, pipettes: 2, preset: presetPath, durationMin: 30 });
  const events: RigEvent[] = [];
  const disagreements: string[] = [];
  const lastHolding = new Map<string, Holding>();
  const r: Running = { clock, lab, supervisor: null as unknown as Supervisor, events, disagreements };
  lab.sink.subscribe((e) => {
    if (e.type !== 'pipette.position') events.push(e);
    if (e.type === 'pipette.holding') lastHolding.set(e.pipetteId, e);
    if (!r.supervisor || !('pipetteId' in e) || e.pipetteId === null || e.type === 'pipette.testpulse' || e.type === 'pipette.position') return;
    const said = lastHolding.get(e.pipetteId);
    const snap = r.supervisor.snapshot().pipettes.find((p) => p.pipetteId === e.pipetteId)!.holding;
    if (said && (snap?.mode !== said.mode || snap.value !== said.holding)) {
      disagreements.push(`${e.type} at ${e.t}: snapshot ${JSON.stringify(snap)}, stream ${said.mode} ${said.holding}`);
    }
  });
  r.supervisor = await lab.startSession();
  return r;
}

async function stop(r: Running): Promise<void> {
  await r.lab.host.abort('test');
  await r.clock.runUntilSettled(r.supervisor.done, 30 * 60_000);
  await r.lab.close();
}

async function until(r: Running, what: string, done: () => boolean, maxMs = 20 * 60_000): Promise<void> {
  for (let waited = 0; !done(); waited += 100) {
    if (waited > maxMs) throw new Error(`${what}: not within ${maxMs / 60_000} min`);
    await r.clock.runFor(100);
  }
}

const holdingsOf = (r: Running, pipetteId: string, since: number): Array<[string, number]> =>
  r.events.filter((e): e is Holding => e.type === 'pipette.holding' && e.pipetteId === pipetteId && e.t >= since).map((e) => [e.mode, e.holding]);

/** Records the amplifier channel as the pipette leaves `retract` (it is still on its way out until then). */
function atRetractEnd(r: Running, pipetteId: string): { state: ChannelState | null; t: number } {
  const seen = { state: null as ChannelState | null, t: NaN };
  const off = r.lab.sink.subscribe((e) => {
    if (e.type === 'pipette.state' && e.pipetteId === pipetteId && e.from === 'retract') {
      seen.state = channelOf(r.lab, pipetteId).state();
      seen.t = e.t;
      off();
    }
  });
  return seen;
}

function expectBackInVoltageClamp(s: ChannelState, holding_mV: number): void {
  expect(s.mode).toBe('VC');
  expect(s.target).toBeNull();
  expect(s.holding.VC).toBeCloseTo(holding_mV / 1000, 9);
  expect(s.holding.IC).toBe(0); // no bias left for the next switch to current clamp
  expect(s.testPulse.enabled).toBe(true);
  expect(s.activity).toBe('idle');
}

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('leaving a recording other than by the safe state', () => {
  it('skip in the middle of a current-clamp sweep: stimulus stopped, back to VC at the holding with the test pulse on, bias released', async () => {
    const r = await start();
    await until(r, 'a recording', () => r.lab.sim.world.pipetteIds.some((p) => stimulusSweeps(r.events, p) >= 2));
    const id = r.lab.sim.world.pipetteIds.find((p) => stimulusSweeps(r.events, p) >= 2)!;
    const { bridge, ch, state } = channelOf(r.lab, id);
    const runner = r.supervisor.runners.find((x) => x.pipetteId === id)!;
    await until(r, 'the next sweep', () => state().activity === 'running', 60_000);
    await r.clock.runFor(1_000); // a second into a long-square sweep
    expect(state()).toMatchObject({ mode: 'IC', activity: 'running' });
    expect(state().holding.IC).toBeCloseTo(BIAS_PA * 1e-12, 18);
    const before = bridge.commands.length;
    const skippedAt = r.clock.now();
    const end = atRetractEnd(r, id);
    expect((await r.supervisor.pipette(id, { action: 'skip' }, 'test')).ok).toBe(true);
    await until(r, 'the end of the retraction', () => end.state !== null, 5 * 60_000);
    expect(runner.state).not.toBe('safe');
    expectBackInVoltageClamp(end.state!, r.lab.preset.seal.holding_mV);
    // on the wire: the stimulus stopped first, then bias off, through I=0, VC at the holding, test pulse on
    const sent = bridge.commands.slice(before).filter((c) => c.channel === ch).map((c) => c.name);
    expect(sent[0]).toBe('abort');
    expect(sent).not.toContain('run');
    // through the ops: the stream says each step, the last one VC at the holding
    expect(holdingsOf(r, id, skippedAt)).toEqual([
      ['IC', 0],
      ['I0', 0],
      ['VC', r.lab.preset.seal.holding_mV / 1000],
    ]);
    // the test pulse streams again before the pipette is out
    expect(r.events.some((e) => e.type === 'pipette.testpulse' && e.pipetteId === id && e.t > skippedAt && e.t <= end.t)).toBe(true);
    const ended = r.events.find((e) => e.type === 'attempt.ended' && e.record.pipetteId === id && e.t > skippedAt);
    expect(ended).toMatchObject({ record: { failedIn: 'record', outcome: 'failed' } });
    expect(r.disagreements).toEqual([]);
    await stop(r);
  }, 300_000);

  it('skip while the resting potential is measured at I=0: back to VC at the holding with the test pulse on', async () => {
    const r = await start();
    let skipped: { id: string; t: number } | null = null;
    r.lab.sink.subscribe((e) => {
      if (skipped || e.type !== 'pipette.holding' || e.mode !== 'I0') return;
      const runner = r.supervisor.runners.find((x) => x.pipetteId === e.pipetteId)!;
      if (runner.state !== 'wholeCell') return;
      skipped = { id: e.pipetteId, t: e.t };
      r.clock.setTimeout(() => void r.supervisor.pipette(e.pipetteId, { action: 'skip' }, 'test'), 50);
    });
    await until(r, 'a resting-potential measurement', () => skipped !== null);
    const { id, t } = skipped!;
    const end = atRetractEnd(r, id);
    await until(r, 'the end of the retraction', () => end.state !== null, 5 * 60_000);
    expectBackInVoltageClamp(end.state!, r.lab.preset.seal.holding_mV);
    expect(holdingsOf(r, id, t)).toEqual([
      ['I0', 0],
      ['VC', r.lab.preset.seal.holding_mV / 1000],
    ]);
    // skipped before the measurement's sweep was stored
    expect(r.events.some((e) => e.type === 'sweep' && e.pipetteId === id && e.sweep.mode === 'I0' && e.t >= t)).toBe(false);
    const ended = r.events.find((e) => e.type === 'attempt.ended' && e.record.pipetteId === id && e.t > t);
    expect(ended).toMatchObject({ record: { failedIn: 'wholeCell', outcome: 'failed' } });
    expect(r.disagreements).toEqual([]);
    await stop(r);
  }, 300_000);

  it('the resting potential is measured through the ops: the stream says I=0, then VC at the holding', async () => {
    const r = await start();
    const left = (p: string) => r.events.some((e) => e.type === 'pipette.state' && e.pipetteId === p && e.from === 'wholeCell');
    await until(r, 'a whole-cell QC', () => r.lab.sim.world.pipetteIds.some(left));
    const id = r.lab.sim.world.pipetteIds.find(left)!;
    const entered = r.events.find((e) => e.type === 'pipette.state' && e.pipetteId === id && e.to === 'wholeCell')!.t;
    const exited = r.events.find((e) => e.type === 'pipette.state' && e.pipetteId === id && e.from === 'wholeCell')!.t;
    const inWholeCell = r.events.filter((e) => 'pipetteId' in e && e.pipetteId === id && e.t >= entered && e.t <= exited);
    const steps = inWholeCell
      .filter((e) => e.type === 'pipette.holding' || (e.type === 'sweep' && e.sweep.kind === 'stimulus'))
      .map((e) => (e.type === 'pipette.holding' ? `holding ${e.mode} ${e.holding}` : `sweep ${(e as Extract<RigEvent, { type: 'sweep' }>).sweep.mode}`));
    const hold = r.lab.preset.seal.holding_mV / 1000;
    // the whole-cell entry re-applies the holding; then I=0, the resting-potential sweep, VC at the holding
    expect(steps.slice(-3)).toEqual(['holding I0 0', 'sweep I0', `holding VC ${hold}`]);
    expect(r.disagreements).toEqual([]);
    await stop(r);
  }, 300_000);
});
