/**
 * Issue 6 end to end: a virtual-time session records cells; their IPFX
 * e-features are in the database and in `autopatch report`, and they track the
 * parameters of the model neurons that produced them; `autopatch export
 * --format nwb` writes a file whose samples read back bit-exact and which
 * pynwb validates against the NWB core schema.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type Database from 'better-sqlite3';
import { openDatabase } from '../../src/store/migrations.ts';
import { listAttempts } from '../../src/store/queries.ts';
import { listSweeps, readSweep } from '../../src/store/sweeps.ts';
import { reportCommand } from '../../src/cli/commands/report.ts';
import { exportCommand } from '../../src/cli/commands/export.ts';
import { readNwb } from '../../src/export/nwb/read.ts';
import { needValidator, validate } from '../export/nwb-validator.ts';
import { recordSession, type RecordedSession } from './recorded-session.ts';

let s: RecordedSession;
let db: Database.Database;
let nwbFile: string;

const capture = () => {
  const out: string[] = [];
  return { io: { stdout: (t: string) => out.push(t), stderr: (t: string) => out.push(t) }, text: () => out.join('') };
};
const bytes = (a: Float32Array): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

beforeAll(async () => {
  s = await recordSession();
  db = openDatabase(s.dbPath, { recover: false });
  const outDir = join(s.dbPath, '..', 'export');
  const c = capture();
  expect(await exportCommand(['--session', s.sessionId, '--format', 'nwb', '--db', s.dbPath, '--out', outDir], c.io)).toBe(0);
  const sub = readdirSync(outDir).find((d) => d.startsWith('sub-'))!;
  nwbFile = join(outDir, sub, readdirSync(join(outDir, sub))[0]);
}, 300_000);

describe('recorded cells and their e-features', () => {
  it('the session recorded cells, and their features are in the database', () => {
    const recorded = listAttempts(db, [s.sessionId]).filter((a) => a.stageReached === 'recorded');
    expect(recorded.length).toBeGreaterThanOrEqual(2);
    for (const a of recorded) {
      expect(a.sweepsRecorded).toBeGreaterThan(5);
      for (const k of ['inputResistance', 'tau', 'rheobaseA', 'apThreshold', 'apWidth', 'apAmplitude', 'fiSlope']) {
        expect(a.features?.[k], `${a.attemptId} ${k}`).toEqual(expect.any(Number));
      }
    }
  });

  it('they track the parameters of the model neurons that generated them', () => {
    for (const r of s.records.filter((x) => x.stageReached === 'recorded')) {
      const truth = s.lab.sim.world.cell(r.targetCellId!)!.neuron;
      const f = r.features!;
      // Rin is seen through the seal (a parallel leak) and tau through Ra: a little low, never far.
      expect(f.inputResistance! / truth.inputResistanceOhm).toBeGreaterThan(0.75);
      expect(f.inputResistance! / truth.inputResistanceOhm).toBeLessThan(1.1);
      expect(f.tau! / truth.tauS).toBeGreaterThan(0.7);
      expect(f.tau! / truth.tauS).toBeLessThan(1.2);
      // IPFX threshold (5 % of the upstroke) sits a few mV below the model's initiation voltage
      expect(Math.abs(f.apThreshold! - truth.thresholdV)).toBeLessThan(0.006);
      expect(Math.abs(f.apAmplitude! - truth.apAmplitudeV) / truth.apAmplitudeV).toBeLessThan(0.1);
      expect(f.apWidth! / truth.apWidthS).toBeGreaterThan(0.8);
      expect(f.apWidth! / truth.apWidthS).toBeLessThan(1.4);
      // rheobase is found on a 20 pA grid
      expect(Math.abs(f.rheobaseA! - truth.rheobaseA)).toBeLessThanOrEqual(25e-12);
    }
    // and cells that differ, differ the same way
    const rec = s.records.filter((x) => x.stageReached === 'recorded');
    const truthRin = rec.map((r) => s.lab.sim.world.cell(r.targetCellId!)!.neuron.inputResistanceOhm);
    const measuredRin = rec.map((r) => r.features!.inputResistance!);
    expect(Math.sign(measuredRin[0] - measuredRin[1])).toBe(Math.sign(truthRin[0] - truthRin[1]));
  });

  it('autopatch report shows them', async () => {
    const c = capture();
    expect(await reportCommand(['--session', s.sessionId, '--db', s.dbPath], c.io)).toBe(0);
    const text = c.text();
    expect(text).toMatch(/Recorded cells: e-features \(IPFX definitions; [2-9] cells\)/);
    for (const r of s.records.filter((x) => x.stageReached === 'recorded')) {
      const row = text.split('\n').find((l) => l.startsWith(r.attemptId))!;
      expect(row).toContain((r.features!.inputResistance! / 1e6).toFixed(0));
      expect(row).toContain((r.features!.rheobaseA! * 1e12).toFixed(0));
    }
  });
});

describe('NWB export of the session', () => {
  it('reads back every stored stimulus sweep bit-exact, with its stimulus, units and rate', async () => {
    const view = await readNwb(nwbFile);
    const stored = listSweeps(db, { sessionId: s.sessionId, kind: 'stimulus' }).filter((m) => m.mode !== 'I0');
    expect(stored.length).toBeGreaterThan(10);
    expect(view.acquisition).toHaveLength(stored.length);
    const ordered = [...stored].sort((a, b) => a.startTime - b.startTime || a.id - b.id);
    ordered.forEach((meta, i) => {
      const sweep = readSweep(db, meta.id)!.sweep;
      const response = view.acquisition.find((x) => x.sweepNumber === i)!;
      const stimulus = view.stimulus.find((x) => x.sweepNumber === i)!;
      expect(response.neurodataType).toBe('CurrentClampSeries');
      expect(response.unit).toBe('volts');
      expect(response.rate).toBe(sweep.sampleRateHz);
      expect(bytes(response.data!).equals(bytes(sweep.response))).toBe(true);
      expect(bytes(stimulus.data!).equals(bytes(sweep.stimulus!.samples))).toBe(true);
      expect(response.stimulusDescription).toBe(sweep.stimulus!.name);
      expect(response.electrodeResolves).toBe(true);
    });
    // one electrode per recorded attempt, with its seal and access resistance
    expect(view.electrodes.length).toBe(new Set(stored.map((m) => m.attemptId)).size);
  });

  it('validates against the NWB core schema (pynwb)', (ctx) => {
    const python = needValidator(ctx);
    const { status, report } = validate(python, nwbFile);
    expect(report.errors_cached_spec).toEqual([]);
    expect(report.errors_core_spec).toEqual([]);
    expect(report.valid).toBe(true);
    expect(status).toBe(0);
  }, 180_000);
});
