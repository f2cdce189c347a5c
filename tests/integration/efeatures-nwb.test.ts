/**
 * E-features and NWB end to end: a virtual-time session (culture, three
 * pipettes) records cells with a preset file whose ramp set sits next to it and
 * holds a bias. Their IPFX e-features are in the database and in `autopatch
 * report` (table, JSON, CSV), and they track the model neurons that produced
 * them, cell to cell. `autopatch export --format nwb` writes every stimulus
 * sweep (current clamp with the bias applied, I=0 as IZeroClampSeries), and
 * with --include-test-pulses the stored test pulses as VoltageClampSeries; the
 * samples pynwb reads back have the same SHA-256 as the stored ones, and pynwb
 * validates the file against the NWB core schema.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type Database from 'better-sqlite3';
import type { Sweep } from '../../drivers/types.ts';
import { openDatabase } from '../../src/store/migrations.ts';
import { listAttempts } from '../../src/store/queries.ts';
import { listSweeps, readSweep, type SweepMeta } from '../../src/store/sweeps.ts';
import { reportCommand } from '../../src/cli/commands/report.ts';
import { exportCommand } from '../../src/cli/commands/export.ts';
import { readNwb } from '../../src/export/nwb/read.ts';
import { loadPreset, loadStimulusSet } from '../../src/protocol/load.ts';
import { expandStimulusSet } from '../../src/protocol/stimulus.ts';
import type { AttemptRecord } from '../../src/control/events.ts';
import { needValidator, validate } from '../export/nwb-validator.ts';
import { modelFeatures, neuronModelOf, type Circuit } from './model-neuron.ts';
import { recordSession, type RecordedSession } from './recorded-session.ts';

const RAMP_BIAS_PA = 10;

/** the session the e-feature checks use: enough recorded cells to compare cell with cell */
let s: RecordedSession;
let db: Database.Database;
/** a short one-pipette session for the NWB checks: every sweep of a small file is checked through pynwb */
let small: RecordedSession;
let smallDb: Database.Database;
let nwbFile: string;
let nwbWithTp: string;

const capture = () => {
  const out: string[] = [];
  return { io: { stdout: (t: string) => out.push(t), stderr: (t: string) => out.push(t) }, text: () => out.join('') };
};
const bytes = (a: Float32Array): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
const sha256 = (a: Float32Array): string => createHash('sha256').update(bytes(a)).digest('hex');

/** A preset file of our own: culture, with a ramp set beside it that holds a bias (the long squares are the shipped ones). */
function presetFolder(): string {
  const dir = mkdtempSync(join(tmpdir(), 'ap-presets-'));
  writeFileSync(join(dir, 'culture.json'), JSON.stringify(loadPreset('culture'), null, 2));
  writeFileSync(join(dir, 'ramp.json'), JSON.stringify({ ...loadStimulusSet('ramp'), bias_pA: RAMP_BIAS_PA }, null, 2));
  return join(dir, 'culture.json');
}

async function exportNwb(session: RecordedSession, outDir: string, extra: string[] = []): Promise<string> {
  const c = capture();
  expect(await exportCommand(['--session', session.sessionId, '--format', 'nwb', '--db', session.dbPath, '--out', outDir, ...extra], c.io), c.text()).toBe(0);
  const sub = readdirSync(outDir).find((d) => d.startsWith('sub-'))!;
  return join(outDir, sub, readdirSync(join(outDir, sub))[0]);
}

const presets = presetFolder();

/** the pipette, seal and access resistances each attempt had when its recording began (ground truth) */
const circuits = new Map<string, Circuit>();
/** …and at the end of each long-square sweep, by attempt and amplitude (pA) */
const sweepCircuits = new Map<string, Circuit>();
const sweepKey = (attemptId: string, amplitudeA: number): string => `${attemptId} ${Math.round(amplitudeA * 1e12)}`;
/** the circuit of the attempt's sweep at this amplitude (the start of the recording if none was seen) */
const circuitAt = (attemptId: string) => (amplitudeA: number): Circuit => sweepCircuits.get(sweepKey(attemptId, amplitudeA)) ?? circuits.get(attemptId)!;

beforeAll(async () => {
  s = await recordSession({
    pipettes: 3,
    durationMin: 12,
    preset: presets,
    watch(e, lab) {
      if (e.type === 'sweep' && e.attemptId && e.sweep.stimulus?.name.startsWith('long-square') && e.sweep.stimulus.amplitude !== undefined) {
        lab.sim.world.advanceTo(e.t);
        const t = lab.sim.world.pipette(e.pipetteId).truth();
        sweepCircuits.set(sweepKey(e.attemptId, e.sweep.stimulus.amplitude), { Rp: t.pipetteResistance, Rs: t.sealResistance, Ra: t.accessResistance });
        return;
      }
      if (e.type !== 'pipette.state' || e.to !== 'record' || !e.attemptId) return;
      lab.sim.world.advanceTo(e.t);
      const t = lab.sim.world.pipette(e.pipetteId).truth();
      circuits.set(e.attemptId, { Rp: t.pipetteResistance, Rs: t.sealResistance, Ra: t.accessResistance });
    },
  });
  db = openDatabase(s.dbPath, { recover: false });
}, 600_000);

const recorded = (): AttemptRecord[] => s.records.filter((x) => x.stageReached === 'recorded');
/** recorded cells with e-features (a cell whose long squares all failed QC has none) */
const withFeatures = (): AttemptRecord[] => recorded().filter((r) => Object.keys(r.features ?? {}).length > 0);
const truthOf = (r: AttemptRecord) => s.lab.sim.world.cell(r.targetCellId!)!.neuron;

/** Spearman's rank correlation (no ties expected in continuous model parameters). */
function spearman(xs: number[], ys: number[]): number {
  const rank = (v: number[]): number[] => {
    const order = v.map((x, i) => [x, i] as const).sort((a, b) => a[0] - b[0]);
    const r = new Array<number>(v.length);
    order.forEach(([, i], k) => (r[i] = k));
    return r;
  };
  const rx = rank(xs);
  const ry = rank(ys);
  const n = xs.length;
  const d2 = rx.reduce((sum, r, i) => sum + (r - ry[i]) ** 2, 0);
  return 1 - (6 * d2) / (n * (n * n - 1));
}

describe('recorded cells and their e-features', () => {
  it('the session recorded several cells, and their features are in the database', () => {
    const stored = listAttempts(db, [s.sessionId]).filter((a) => a.stageReached === 'recorded');
    expect(stored.length).toBeGreaterThanOrEqual(6);
    expect(withFeatures().length).toBeGreaterThanOrEqual(5);
    for (const a of stored.filter((x) => Object.keys(x.features ?? {}).length > 0)) {
      expect(a.sweepsRecorded).toBeGreaterThan(5);
      for (const k of ['inputResistance', 'tau', 'rheobaseA', 'apThreshold', 'apWidth', 'apAmplitude', 'fiSlope', 'vBaseline', 'sag', 'heroIsiCv', 'heroFirstIsi', 'heroSpikeCount']) {
        expect(a.features?.[k], `${a.attemptId} ${k}`).toEqual(expect.any(Number));
      }
    }
    // a recorded cell without features is one whose long squares all failed QC, stored with their QC
    for (const r of recorded().filter((x) => !withFeatures().includes(x))) {
      const squares = listSweeps(db, { sessionId: s.sessionId }).filter((m) => m.attemptId === r.attemptId && m.kind === 'stimulus' && m.mode === 'IC');
      expect(squares.length).toBeGreaterThan(0);
      for (const m of squares.filter((x) => readSweep(db, x.id)!.sweep.stimulus!.name.startsWith('long-square'))) {
        expect(readSweep(db, m.id)!.qc?.passed).toBe(false);
      }
    }
  });

  it('each cell\'s features match its model neuron', () => {
    // the amplitudes of the shipped long-square family the preset records
    const steps = expandStimulusSet(loadStimulusSet('long-square')).map((w) => w.amplitude!);
    for (const r of withFeatures()) {
      const truth = truthOf(r);
      const f = r.features!;
      // Rin is seen through the seal (a parallel leak) and tau through Ra: a little low, never far.
      expect(f.inputResistance! / truth.inputResistanceOhm).toBeGreaterThan(0.7);
      expect(f.inputResistance! / truth.inputResistanceOhm).toBeLessThan(1.1);
      expect(f.tau! / truth.tauS).toBeGreaterThan(0.6);
      expect(f.tau! / truth.tauS).toBeLessThan(1.2);
      // IPFX threshold (5 % of the upstroke) sits a few mV below the model's initiation voltage
      expect(Math.abs(f.apThreshold! - truth.thresholdV)).toBeLessThan(0.006);
      expect(Math.abs(f.apAmplitude! - truth.apAmplitudeV) / truth.apAmplitudeV).toBeLessThan(0.1);
      expect(f.apWidth! / truth.apWidthS).toBeGreaterThan(0.8);
      expect(f.apWidth! / truth.apWidthS).toBeLessThan(1.4);
      // rheobase is found on a 20 pA grid
      expect(Math.abs(f.rheobaseA! - truth.rheobaseA)).toBeLessThanOrEqual(25e-12);
      // the baseline lies between the resting potential and 0 (the seal leaks towards 0 V), a few mV off rest
      expect(f.vBaseline!).toBeGreaterThan(truth.restingPotentialV - 0.5e-3);
      expect(f.vBaseline! - truth.restingPotentialV).toBeLessThan(0.01);

      // the model neuron itself, driven through the circuit the rig had: same baseline, rheobase, f–I slope, adaptation
      const model = neuronModelOf(truth);
      expect(1 / (model.gL + model.gH * model.qRest) / truth.inputResistanceOhm).toBeCloseTo(1, 9); // the rebuild is faithful
      const m = modelFeatures(model, circuitAt(r.attemptId), steps, f.heroAmplitudeA!);
      // the seal only tightens during the recording: the baseline is no further from rest than through the seal it started with
      expect(f.vBaseline!).toBeLessThan(m.baselineV + 1e-3);
      expect(f.rheobaseA).toBeCloseTo(m.rheobaseA!, 20);
      // spike counts of a noisy recording may differ by one per sweep from the noiseless model, no more
      expect(Math.abs(f.fiSlope! - m.fiSlope!)).toBeLessThanOrEqual(m.fiSlopeOneSpike! * (1 + 1e-9));
      expect(f.fiSlope! / m.fiSlope!).toBeGreaterThan(0.75);
      expect(f.fiSlope! / m.fiSlope!).toBeLessThan(1.25);
      // the recording's noise moves spike times near threshold by up to ~1 ms; the noiseless model's index moves by at most this
      expect(Math.abs(f.heroAdaptation! - m.heroAdaptation!)).toBeLessThanOrEqual(m.heroAdaptationBound!);
      expect(m.heroAdaptationBound!).toBeLessThan(0.06);
    }
  });

  it('cells that differ, differ the same way: rank correlation with the model over the recorded cells', () => {
    const cells = withFeatures();
    const corr = (feature: (f: Record<string, number | null>) => number, truth: (r: AttemptRecord) => number): number =>
      spearman(cells.map((r) => feature(r.features!)), cells.map(truth));
    const model = (r: AttemptRecord) => modelFeatures(neuronModelOf(truthOf(r)), circuits.get(r.attemptId)!, [], r.features!.heroAmplitudeA!);
    expect(corr((f) => f.inputResistance!, (r) => truthOf(r).inputResistanceOhm)).toBeGreaterThanOrEqual(0.8);
    expect(corr((f) => f.tau!, (r) => truthOf(r).tauS)).toBeGreaterThanOrEqual(0.8);
    // sag on sweeps that reach −75…−95 mV is a fraction of the model's ratio at −100 mV, but ranks with it
    expect(corr((f) => f.sag!, (r) => truthOf(r).sagTarget)).toBeGreaterThanOrEqual(0.75);
    expect(corr((f) => f.vBaseline!, (r) => truthOf(r).restingPotentialV)).toBeGreaterThanOrEqual(0.75);
    // adapted firing: each spike adds b to a current decaying with τw, so the f–I slope goes as 1/(b·τw)
    expect(corr((f) => f.fiSlope!, (r) => 1 / (truthOf(r).adaptationIncrementA * truthOf(r).adaptationTauS))).toBeGreaterThanOrEqual(0.8);
    expect(corr((f) => f.heroAdaptation!, (r) => model(r).heroAdaptation!)).toBeGreaterThanOrEqual(0.8);
  });

  it('autopatch report shows them, with the hero sweep\'s ISI CV and first ISI and the e-feature baseline, in table, JSON and CSV', async () => {
    const run = async (format: string): Promise<string> => {
      const c = capture();
      expect(await reportCommand(['--session', s.sessionId, '--db', s.dbPath, '--format', format], c.io)).toBe(0);
      return c.text();
    };
    const table = await run('table');
    expect(table).toMatch(/Recorded cells: e-features \(IPFX definitions; [5-9] cells\)/);
    const header = table.split('\n').find((l) => l.startsWith('attempt') && l.includes('Rin MΩ'))!;
    for (const col of ['Vrest(QC) mV', 'Vbase mV', 'ISI CV', '1st ISI ms']) expect(header).toContain(col);
    const json = JSON.parse(await run('json')) as { cells: Array<{ attemptId: string; features: Record<string, number | null> }> };
    const csv = await run('csv');
    for (const r of withFeatures()) {
      const f = r.features!;
      const row = table.split('\n').find((l) => l.startsWith(r.attemptId))!;
      for (const text of [(f.inputResistance! / 1e6).toFixed(0), (f.rheobaseA! * 1e12).toFixed(0), (f.vBaseline! * 1e3).toFixed(1), f.heroIsiCv!.toFixed(3), (f.heroFirstIsi! * 1e3).toFixed(1)]) {
        expect(row).toContain(text);
      }
      const cell = json.cells.find((c) => c.attemptId === r.attemptId)!;
      expect(cell.features).toMatchObject({ heroIsiCv: f.heroIsiCv, heroFirstIsi: f.heroFirstIsi, heroSpikeCount: f.heroSpikeCount, vBaseline: f.vBaseline });
      expect(csv).toContain(`cell_features,${r.attemptId},heroIsiCv,${f.heroIsiCv}`);
      expect(csv).toContain(`cell_features,${r.attemptId},vBaseline,${f.vBaseline}`);
    }
  });
});

/** Stored sweeps of the small session as the exporter numbers them: acquisition order. */
function exported(filter: (m: SweepMeta) => boolean): Array<{ meta: SweepMeta; sweep: Sweep; n: number }> {
  const metas = listSweeps(smallDb, { sessionId: small.sessionId }).filter((m) => m.attemptId !== null && filter(m));
  return [...metas].sort((a, b) => a.startTime - b.startTime || a.id - b.id).map((meta, n) => ({ meta, sweep: readSweep(smallDb, meta.id)!.sweep, n }));
}

describe('NWB export of a session', () => {
  beforeAll(async () => {
    // one stored test pulse a minute (plus one at each state change): a file pynwb reads in reasonable time
    small = await recordSession({ pipettes: 1, durationMin: 8, preset: presets, tpSweepStoreEveryMs: 60_000 });
    smallDb = openDatabase(small.dbPath, { recover: false });
    nwbFile = await exportNwb(small, join(small.dbPath, '..', 'export'));
    nwbWithTp = await exportNwb(small, join(small.dbPath, '..', 'export-tp'), ['--include-test-pulses', '--subject-id', 'model-17', '--sex', 'F', '--age', 'P90D']);
  }, 600_000);

  it('reads back every stored stimulus sweep bit-exact: current clamp with the bias applied, I=0 as IZeroClampSeries', async () => {
    const view = await readNwb(nwbFile);
    const stored = exported((m) => m.kind === 'stimulus');
    expect(stored.filter((x) => x.sweep.mode === 'IC').length).toBeGreaterThan(15);
    const izero = stored.filter((x) => x.sweep.mode === 'I0');
    // every whole-cell attempt measured its Vrest at I=0
    expect(izero.length).toBeGreaterThanOrEqual(small.records.filter((x) => x.stageReached === 'recorded').length);
    expect(izero.length).toBeGreaterThan(0);
    expect(view.acquisition).toHaveLength(stored.length);
    expect(view.acquisition.some((x) => x.neurodataType === 'VoltageClampSeries')).toBe(false); // no test pulses unless asked
    for (const { sweep, n } of stored) {
      const response = view.acquisition.find((x) => x.sweepNumber === n)!;
      expect(response.rate).toBe(sweep.sampleRateHz);
      expect(bytes(response.data!).equals(bytes(sweep.response))).toBe(true);
      expect(response.electrodeResolves).toBe(true);
      if (sweep.mode === 'I0') {
        expect(response.neurodataType).toBe('IZeroClampSeries');
        expect(response.stimulusDescription).toBe('N/A');
        expect(view.stimulus.some((x) => x.sweepNumber === n)).toBe(false);
        continue;
      }
      expect(response.neurodataType).toBe('CurrentClampSeries');
      expect(response.unit).toBe('volts');
      expect(response.stimulusDescription).toBe(sweep.stimulus!.name);
      const stimulus = view.stimulus.find((x) => x.sweepNumber === n)!;
      expect(bytes(stimulus.data!).equals(bytes(sweep.stimulus!.samples))).toBe(true);
      // bias_current is the bias the amplifier held, which the ramp's set asked for; it is not in the stimulus samples
      const ramp = sweep.stimulus!.name.startsWith('ramp');
      expect(response.scalars.bias_current).toBeCloseTo((ramp ? RAMP_BIAS_PA : 0) * 1e-12, 18);
      if (ramp) expect(sweep.stimulus!.samples[0]).toBe(0);
    }
    // the default subject of a simulated session carries what DANDI asks for
    expect(view.subject).toMatchObject({ subject_id: `sim-seed-1`, species: 'Mus musculus', sex: 'U', age: 'P56D' });
  });

  it('with --include-test-pulses: the stored test pulses as VoltageClampSeries with the command they played', async () => {
    const view = await readNwb(nwbWithTp, { samples: false });
    const all = exported((m) => m.kind === 'stimulus' || m.mode === 'VC');
    const tps = all.filter((x) => x.sweep.kind === 'testpulse');
    expect(tps.length).toBeGreaterThan(10);
    expect(view.acquisition).toHaveLength(all.length);
    const vc = view.acquisition.filter((x) => x.neurodataType === 'VoltageClampSeries');
    expect(vc.map((x) => x.sweepNumber).sort((a, b) => a! - b!)).toEqual(tps.map((x) => x.n));
    for (const x of vc) {
      expect(x.unit).toBe('amperes');
      expect(x.stimulusDescription).toBe('testpulse');
      const stim = view.stimulus.find((y) => y.sweepNumber === x.sweepNumber)!;
      expect(stim.neurodataType).toBe('VoltageClampStimulusSeries');
      expect(stim.unit).toBe('volts');
    }
    expect(view.subject).toMatchObject({ subject_id: 'model-17', species: 'Mus musculus', sex: 'F', age: 'P90D' });
  });

  it('validates against the NWB core schema (pynwb), and pynwb reads the very samples that were stored', (ctx) => {
    const python = needValidator(ctx);
    const { status, report } = validate(python, nwbWithTp);
    expect(report.errors_cached_spec).toEqual([]);
    expect(report.errors_core_spec).toEqual([]);
    expect(report.read_error).toBeNull();
    expect(report.valid).toBe(true);
    expect(status).toBe(0);
    const read = report.read!;
    expect(read.subject).toMatchObject({ subject_id: 'model-17', species: 'Mus musculus', sex: 'F', age: 'P90D' });
    const name = (n: number): string => `sweep_${String(n).padStart(6, '0')}`;
    const all = exported((m) => m.kind === 'stimulus' || m.mode === 'VC');
    expect(Object.keys(read.series).filter((k) => k.startsWith('acquisition/'))).toHaveLength(all.length);
    for (const { sweep, n } of all) {
      const response = read.series[`acquisition/${name(n)}`];
      expect(response.dtype).toBe('float32');
      // SHA-256 of the float32 bytes as pynwb/h5py read them vs as the store holds them
      expect(response.sha256, `${name(n)} response`).toBe(sha256(sweep.response));
      if (sweep.kind === 'testpulse') {
        // the command a test pulse played, rebuilt here from the stored step
        const command = new Float32Array(sweep.response.length).fill(sweep.holding);
        command.fill(sweep.holding + sweep.step!.amplitude, sweep.step!.onsetIndex, sweep.step!.onsetIndex + sweep.step!.lengthSamples);
        expect(read.series[`stimulus/${name(n)}`].sha256).toBe(sha256(command));
        expect(response.type).toBe('VoltageClampSeries');
      } else if (sweep.mode === 'IC') {
        expect(read.series[`stimulus/${name(n)}`].sha256, `${name(n)} stimulus`).toBe(sha256(sweep.stimulus!.samples));
        expect(response.bias_current).toBeCloseTo(sweep.holding, 18);
      } else {
        expect(response.type).toBe('IZeroClampSeries');
        expect(read.series[`stimulus/${name(n)}`]).toBeUndefined();
      }
    }
  }, 400_000);
});
