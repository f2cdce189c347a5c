import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeNwb, type NwbWriteReport } from '../../src/export/nwb/write.ts';
import { readCachedSpec, readNwb, type NwbFileView, type NwbSeriesView } from '../../src/export/nwb/read.ts';
import { cachedNamespaces, HDMF_COMMON_VERSION, NWB_VERSION } from '../../src/export/nwb/spec.ts';
import { NwbInputError, type NwbSweep } from '../../src/export/nwb/model.ts';
import { fixtureInput, SPECIAL_VALUES, sweepsFor, tempDir } from './nwb-fixture.ts';

const tmp = tempDir('nwb-write-');
afterAll(() => tmp.cleanup());

function bytes(a: Float32Array): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

function byName(list: NwbSeriesView[]): Map<string, NwbSeriesView> {
  return new Map(list.map((s) => [s.name, s]));
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('writeNwb round trip (2 electrodes × 10 sweeps, VC and IC)', () => {
  const sweeps = sweepsFor({ noStimulusAt: 3 });
  const path = join(tmp.dir, 'sub-x', 'session.nwb');
  let report: NwbWriteReport;
  let view: NwbFileView;
  let acq: Map<string, NwbSeriesView>;
  let stim: Map<string, NwbSeriesView>;
  beforeAll(async () => {
    report = await writeNwb(path, fixtureInput({}, sweeps));
    view = await readNwb(path);
    acq = byName(view.acquisition);
    stim = byName(view.stimulus);
  });
  const electrodePath = (name: string) => `/general/intracellular_ephys/${name}`;

  it('reports what it wrote and leaves no partial file', () => {
    expect(report.nwbVersion).toBe('2.7.0');
    expect(report.hdmfCommonVersion).toBe('1.8.0');
    expect(report.sweeps).toBe(20);
    expect(report.series).toBe(20 + 18); // two sweeps (k = 3 on both electrodes) have no stimulus
    expect(report.sampleBytes).toBe(sweeps.reduce((n, s) => n + s.response.byteLength + (s.stimulus?.byteLength ?? 0), 0));
    expect(report.fileBytes).toBeGreaterThan(0);
    expect(readdirSync(join(tmp.dir, 'sub-x'))).toEqual(['session.nwb']);
  });

  it('has the NWBFile root: attributes, required datasets and groups', () => {
    expect(view.rootAttributes).toMatchObject({ nwb_version: NWB_VERSION, neurodata_type: 'NWBFile', namespace: 'core' });
    expect(view.rootAttributes.object_id).toMatch(UUID);
    expect(view.identifier).toBe('autopatch-test-session-0001');
    expect(view.sessionDescription).toBe('two-pipette test session');
    expect(view.sessionStartTime).toBe('2025-05-20T09:30:00.000+02:00');
    expect(view.timestampsReferenceTime).toBe('2025-05-20T09:30:00.000+02:00');
    expect(view.fileCreateDate).toEqual(['2025-05-20T12:00:00.000+02:00']);
    for (const g of ['acquisition', 'analysis', 'processing', 'stimulus', 'general', 'specifications']) expect(view.rootGroups).toContain(g);
    expect(view.general).toMatchObject({ session_id: 'S-2025-05-20 #1', experimenter: ['Tester, Ada'], lab: 'Patch lab', protocol: 'mouse-cortex-l23' });
    expect(view.general.data_collection).toContain('seed 42');
    expect(view.subject).toEqual({ subject_id: 'mouse/17', species: 'Mus musculus' });
  });

  it('stores every sample bit for bit, including −0, denormals, ±max, ±∞ and NaN', () => {
    for (const s of sweeps) {
      const name = `sweep_${String(s.sweepNumber).padStart(6, '0')}`;
      const r = acq.get(name)!;
      expect(r.dataDtype).toBe('<f');
      expect(bytes(r.data!).equals(bytes(s.response))).toBe(true);
      if (s.stimulus) expect(bytes(stim.get(name)!.data!).equals(bytes(s.stimulus))).toBe(true);
      else expect(stim.has(name)).toBe(false);
    }
    // the special values really are in there (and survived)
    const first = acq.get('sweep_001000')!.data!;
    expect(Object.is(first[0], -0)).toBe(true);
    const stored = new Set(Array.from(first, (v) => (Number.isNaN(v) ? 'NaN' : Object.is(v, -0) ? '-0' : String(v))));
    for (const v of SPECIAL_VALUES) expect(stored.has(Number.isNaN(v) ? 'NaN' : Object.is(v, -0) ? '-0' : String(Math.fround(v)))).toBe(true);
  });

  it('writes sample data chunked and gzip-compressed', () => {
    for (const s of [...view.acquisition, ...view.stimulus]) {
      expect(s.dataFilters).toContain('deflate');
      expect(s.dataChunks).not.toBeNull();
    }
  });

  it('gives each series its type, unit, rate, starting time, sweep number and description', () => {
    for (const s of sweeps) {
      const name = `sweep_${String(s.sweepNumber).padStart(6, '0')}`;
      const r = acq.get(name)!;
      expect(r.neurodataType).toBe(s.mode === 'VC' ? 'VoltageClampSeries' : 'CurrentClampSeries');
      expect(r.unit).toBe(s.mode === 'VC' ? 'amperes' : 'volts');
      expect([r.conversion, r.offset, r.resolution]).toEqual([1, 0, -1]);
      expect(r.rate).toBe(s.sampleRateHz);
      expect(r.startingTime).toBe(s.startingTime);
      expect(r.startingTimeUnit).toBe('seconds');
      expect(r.sweepNumber).toBe(s.sweepNumber);
      expect(r.stimulusDescription).toBe(s.stimulusDescription);
      expect(r.scalars.gain).toBe(Math.fround(s.gain!));
      if (s.mode === 'IC') {
        expect(r.scalars).toMatchObject({ bias_current: Math.fround(-2.5e-11), bridge_balance: Math.fround(1.2e7), capacitance_compensation: Math.fround(3.1e-12) });
      } else {
        expect(r.scalars).toMatchObject({ capacitance_fast: Math.fround(4.2e-12), capacitance_slow: Math.fround(2.1e-11) });
        expect(r.scalarUnits).toEqual({ capacitance_fast: 'farads', capacitance_slow: 'farads' });
      }
      if (s.stimulus) {
        const st = stim.get(name)!;
        expect(st.neurodataType).toBe(s.mode === 'VC' ? 'VoltageClampStimulusSeries' : 'CurrentClampStimulusSeries');
        expect(st.unit).toBe(s.mode === 'VC' ? 'volts' : 'amperes');
        expect(st.sweepNumber).toBe(s.sweepNumber);
        expect(st.rate).toBe(s.sampleRateHz);
        expect(st.scalars.gain).toBe(1);
      }
    }
  });

  it('links each series to its electrode and each electrode to its device', () => {
    for (const s of sweeps) {
      const name = `sweep_${String(s.sweepNumber).padStart(6, '0')}`;
      for (const series of [acq.get(name)!, stim.get(name)].filter(Boolean)) {
        expect(series!.electrodeLink).toBe(electrodePath(s.electrode));
        expect(series!.electrodeResolves).toBe(true);
      }
    }
    expect(view.electrodes.map((e) => [e.name, e.deviceLink, e.deviceResolves])).toEqual([
      ['p1-a1', '/general/devices/amp-ch1', true],
      ['p2-a3', '/general/devices/amp-ch2', true],
    ]);
    expect(view.electrodes[0].fields).toEqual({
      description: 'whole-cell, pipette p1 attempt 1',
      seal: '2340000000 ohms',
      resistance: '5600000 ohms',
      initial_access_resistance: '12500000 ohms',
      cell_id: 'cell-12',
      location: 'L2/3',
    });
    // unknown values are left out rather than written as empty text
    expect(Object.keys(view.electrodes[1].fields).sort()).toEqual(['description', 'resistance', 'seal']);
    expect(view.devices.map((d) => [d.name, d.manufacturer])).toEqual([
      ['amp-ch1', 'Molecular Devices'],
      ['amp-ch2', 'Molecular Devices'],
    ]);
  });

  it('writes the SweepTable: one row per sweep with its response and stimulus', () => {
    const t = view.tables!;
    expect(t.sweepTable.map((r) => r.sweepNumber)).toEqual(sweeps.map((s) => s.sweepNumber));
    for (const [i, s] of sweeps.entries()) {
      const name = `sweep_${String(s.sweepNumber).padStart(6, '0')}`;
      expect(t.sweepTable[i].series).toEqual([`/acquisition/${name}`, ...(s.stimulus ? [`/stimulus/presentation/${name}`] : [])]);
    }
  });

  it('writes intracellular_recordings whose references resolve to the right series with the right idx_start/count', () => {
    const t = view.tables!;
    expect(t.recordings).toHaveLength(sweeps.length);
    for (const [i, s] of sweeps.entries()) {
      const name = `sweep_${String(s.sweepNumber).padStart(6, '0')}`;
      const row = t.recordings[i];
      expect(row.electrode).toBe(electrodePath(s.electrode));
      expect(row.response).toEqual({ idxStart: 0, count: s.response.length, target: `/acquisition/${name}` });
      expect(row.stimulus).toEqual(
        s.stimulus ? { idxStart: 0, count: s.response.length, target: `/stimulus/presentation/${name}` } : { idxStart: -1, count: -1, target: `/acquisition/${name}` },
      );
    }
    const base = '/general/intracellular_ephys/intracellular_recordings';
    for (const p of [base, `${base}/electrodes`, `${base}/stimuli`, `${base}/responses`]) expect(t.ids[p]).toEqual(sweeps.map((_, i) => i));
    expect(t.colnames[`${base}/stimuli`]).toEqual(['stimulus']);
  });

  it('groups simultaneous, sequential, repetitions and conditions, each region pointing at the table below', () => {
    const t = view.tables!;
    // both electrodes start within 0.2 ms of each other: one simultaneous recording per pair
    expect(t.simultaneous).toEqual(Array.from({ length: 10 }, (_, k) => [2 * k, 2 * k + 1]));
    expect(t.sequential.map((s) => s.stimulusType)).toEqual(['long-square', 'short-square', 'ramp', 'long-square', 'short-square', 'ramp', 'long-square']);
    expect(t.sequential[0].simultaneous).toEqual([0, 1]);
    expect(t.repetitions).toEqual([[0, 1, 2], [3, 4, 5], [6]]);
    expect(t.conditions).toEqual([{ label: 'mouse-cortex-l23', repetitions: [0, 1, 2] }]);
    const base = '/general/intracellular_ephys';
    expect(t.regionTargets).toEqual({
      [`${base}/simultaneous_recordings/recordings`]: `${base}/intracellular_recordings`,
      [`${base}/sequential_recordings/simultaneous_recordings`]: `${base}/simultaneous_recordings`,
      [`${base}/repetitions/sequential_recordings`]: `${base}/sequential_recordings`,
      [`${base}/experimental_conditions/repetitions`]: `${base}/repetitions`,
    });
    expect(report.grouping.simultaneous).toHaveLength(10);
  });

  it('gives every typed object a unique UUID and a type its namespace defines', () => {
    const ids = view.typedObjects.map((o) => o.objectId);
    expect(ids.every((id) => UUID.test(id))).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.length).toBe(report.typedObjects);
    const defined = new Map<string, Set<string>>();
    for (const ns of cachedNamespaces()) {
      const names = new Set<string>();
      const walk = (node: unknown): void => {
        if (Array.isArray(node)) node.forEach(walk);
        else if (node && typeof node === 'object') {
          const o = node as Record<string, unknown>;
          for (const k of ['neurodata_type_def', 'data_type_def']) if (typeof o[k] === 'string') names.add(o[k] as string);
          Object.values(o).forEach(walk);
        }
      };
      walk(ns.sources);
      defined.set(ns.namespace.name, names);
    }
    for (const o of view.typedObjects) expect(defined.get(o.namespace)?.has(o.neurodataType), `${o.path}: ${o.namespace}/${o.neurodataType}`).toBe(true);
    const types = new Set(view.typedObjects.map((o) => o.neurodataType));
    for (const t of ['NWBFile', 'Device', 'IntracellularElectrode', 'Subject', 'SweepTable', 'IntracellularRecordingsTable', 'TimeSeriesReferenceVectorData', 'VectorIndex', 'DynamicTableRegion', 'ElementIdentifiers', 'ExperimentalConditionsTable']) {
      expect(types.has(t), t).toBe(true);
    }
  });

  it('caches core and hdmf-common specifications, referenced from .specloc', async () => {
    expect(view.specloc).toBe('/specifications');
    expect(Object.keys(view.specifications).sort()).toEqual(['core', 'hdmf-common']);
    expect(Object.keys(view.specifications.core)).toEqual([NWB_VERSION]);
    expect(view.specifications.core[NWB_VERSION]).toContain('nwb.icephys');
    expect(view.specifications['hdmf-common'][HDMF_COMMON_VERSION].sort()).toEqual(['base', 'namespace', 'sparse', 'table']);
    const ns = (await readCachedSpec(path, 'core', NWB_VERSION, 'namespace')) as { namespaces: { name: string; version: string; schema: { source?: string }[] }[] };
    expect(ns.namespaces[0]).toMatchObject({ name: 'core', version: NWB_VERSION });
    // every source the namespace lists is cached under that name
    for (const s of ns.namespaces[0].schema) if (s.source) expect(view.specifications.core[NWB_VERSION]).toContain(s.source);
    const icephys = (await readCachedSpec(path, 'core', NWB_VERSION, 'nwb.icephys')) as { groups: { neurodata_type_def: string }[] };
    expect(icephys.groups.map((g) => g.neurodata_type_def)).toContain('IntracellularRecordingsTable');
  });
});

describe('writeNwb determinism', () => {
  it('writes the same contents and object ids for the same input, different ids for another identifier', async () => {
    const a = join(tmp.dir, 'det-a.nwb');
    const b = join(tmp.dir, 'det-b.nwb');
    const c = join(tmp.dir, 'det-c.nwb');
    await writeNwb(a, fixtureInput());
    await writeNwb(b, fixtureInput());
    await writeNwb(c, fixtureInput({ identifier: 'another-file' }));
    const [va, vb, vc] = await Promise.all([readNwb(a), readNwb(b), readNwb(c)]);
    expect(vb).toEqual(va);
    const idsA = va.typedObjects.map((o) => o.objectId);
    const idsC = new Set(vc.typedObjects.map((o) => o.objectId));
    expect(idsA.some((id) => idsC.has(id))).toBe(false);
  });
});

describe('writeNwb input handling', () => {
  it('streams sweeps from an async iterable and uses an explicit grouping as given', async () => {
    const sweeps = sweepsFor({ perElectrode: 3 });
    async function* stream(): AsyncGenerator<NwbSweep> {
      for (const s of sweeps) yield s;
    }
    const path = join(tmp.dir, 'async.nwb');
    const grouping = {
      simultaneous: [{ sweeps: [1000] }, { sweeps: [1001, 1002] }, { sweeps: [1003, 1004, 1005] }],
      sequential: [{ stimulusType: 'A', simultaneous: [0, 1] }, { stimulusType: 'B', simultaneous: [2] }],
      repetitions: [{ sequential: [1, 0] }],
      experimentalConditions: [{ label: 'control', repetitions: [0] }, { label: 'drug', repetitions: [0] }],
    };
    const report = await writeNwb(path, { ...fixtureInput({}, stream()), grouping });
    expect(report.sweeps).toBe(6);
    const t = (await readNwb(path, { samples: false })).tables!;
    expect(t.simultaneous).toEqual([[0], [1, 2], [3, 4, 5]]);
    expect(t.sequential).toEqual([{ stimulusType: 'A', simultaneous: [0, 1] }, { stimulusType: 'B', simultaneous: [2] }]);
    expect(t.repetitions).toEqual([[1, 0]]);
    expect(t.conditions).toEqual([{ label: 'control', repetitions: [0] }, { label: 'drug', repetitions: [0] }]);
  });

  it('writes a valid skeleton with no sweeps (no icephys tables)', async () => {
    const path = join(tmp.dir, 'empty.nwb');
    const report = await writeNwb(path, fixtureInput({}, []));
    expect(report.sweeps).toBe(0);
    const view = await readNwb(path);
    expect(view.acquisition).toEqual([]);
    expect(view.tables).toBeNull();
    expect(view.electrodes).toHaveLength(2);
  });

  const bad: [string, (s: NwbSweep[]) => void, RegExp][] = [
    ['a duplicate sweep number', (s) => (s[3].sweepNumber = s[2].sweepNumber), /used twice/],
    ['an unknown electrode', (s) => (s[1].electrode = 'p9'), /unknown electrode "p9"/],
    ['a VC response in volts', (s) => (s[0].responseUnit = 'volts'), /VC response unit must be amperes/],
    ['a stimulus of another length', (s) => (s[2].stimulus = new Float32Array(5)), /stimulus has 5 samples/],
    ['a sweep number beyond uint32', (s) => (s[0].sweepNumber = 2 ** 32), /uint32/],
  ];
  for (const [what, spoil, message] of bad) {
    it(`refuses ${what} and removes the partial file`, async () => {
      const sweeps = sweepsFor({ perElectrode: 2 });
      spoil(sweeps);
      const path = join(tmp.dir, `bad-${what.replace(/\W+/g, '-')}.nwb`);
      await expect(writeNwb(path, fixtureInput({}, sweeps))).rejects.toThrow(message);
      expect(existsSync(path)).toBe(false);
      expect(existsSync(`${path}.partial`)).toBe(false);
    });
  }

  it('refuses a grouping that names a sweep it was not given', async () => {
    const path = join(tmp.dir, 'bad-grouping.nwb');
    const input = { ...fixtureInput({ perElectrode: 1 }), grouping: { simultaneous: [{ sweeps: [1000, 77] }], sequential: [], repetitions: [], experimentalConditions: [] } };
    await expect(writeNwb(path, input)).rejects.toThrow(/sweep 77, which was not written/);
    expect(existsSync(path)).toBe(false);
  });

  it('refuses electrodes on unknown devices, and names that collide in HDF5', async () => {
    const a = fixtureInput();
    a.electrodes[1].device = 'nope';
    await expect(writeNwb(join(tmp.dir, 'x.nwb'), a)).rejects.toBeInstanceOf(NwbInputError);
    const b = fixtureInput();
    b.devices[1].name = 'amp/ch1';
    b.devices[0].name = 'amp_ch1';
    b.electrodes[0].device = 'amp_ch1';
    b.electrodes[1].device = 'amp/ch1';
    await expect(writeNwb(join(tmp.dir, 'y.nwb'), b)).rejects.toThrow(/collide/);
    const c = fixtureInput();
    c.session.startTime = '2025-05-20 09:30';
    await expect(writeNwb(join(tmp.dir, 'z.nwb'), c)).rejects.toThrow(/UTC offset/);
  });
});
