/**
 * A small NWB reader over h5wasm, enough to check what writeNwb wrote: every
 * PatchClampSeries with its samples and metadata, links and object references
 * resolved to HDF5 paths, the icephys tables decoded, and every typed object.
 * It reads any NWB file laid out the same way; it is not a general NWB API.
 */
import h5wasm, { type Dataset, type File, type Group, type Reference } from 'h5wasm/node';

export interface NwbTypedObject {
  path: string;
  neurodataType: string;
  namespace: string;
  objectId: string;
}

export interface NwbSeriesView {
  path: string;
  name: string;
  neurodataType: string;
  objectId: string;
  /** null when read with `samples: false` */
  data: Float32Array | null;
  dataDtype: string;
  dataLength: number;
  /** compression filters on `data`, e.g. ['deflate'] */
  dataFilters: string[];
  dataChunks: number[] | null;
  unit: string;
  conversion: number;
  offset: number;
  resolution: number;
  startingTime: number;
  rate: number;
  startingTimeUnit: string;
  /** target of the `electrode` soft link, and whether an IntracellularElectrode is there */
  electrodeLink: string | null;
  electrodeResolves: boolean;
  sweepNumber: number | null;
  stimulusDescription: string;
  description: string | null;
  /** gain and the other optional float32 scalars (bias_current, capacitance_fast, …) */
  scalars: Record<string, number>;
  /** `unit` attributes of those scalars, where present */
  scalarUnits: Record<string, string>;
}

export interface NwbElectrodeView {
  path: string;
  name: string;
  objectId: string;
  /** text datasets: description, seal, resistance, … */
  fields: Record<string, string>;
  deviceLink: string | null;
  deviceResolves: boolean;
}

export interface NwbDeviceView {
  path: string;
  name: string;
  description: string | null;
  manufacturer: string | null;
}

export interface TimeSeriesRefView {
  idxStart: number;
  count: number;
  /** HDF5 path the reference resolves to */
  target: string;
}

export interface NwbTablesView {
  sweepTable: { sweepNumber: number; series: string[] }[];
  recordings: { electrode: string; stimulus: TimeSeriesRefView; response: TimeSeriesRefView }[];
  /** rows of each ragged column, and the table each DynamicTableRegion points at */
  simultaneous: number[][];
  sequential: { stimulusType: string; simultaneous: number[] }[];
  repetitions: number[][];
  conditions: { label: string | null; repetitions: number[] }[];
  regionTargets: Record<string, string>;
  /** `id` column of each table, by table path */
  ids: Record<string, number[]>;
  colnames: Record<string, string[]>;
}

export interface NwbFileView {
  rootAttributes: Record<string, string>;
  identifier: string;
  sessionDescription: string;
  sessionStartTime: string;
  timestampsReferenceTime: string;
  fileCreateDate: string[];
  rootGroups: string[];
  general: Record<string, string | string[]>;
  subject: Record<string, string>;
  devices: NwbDeviceView[];
  electrodes: NwbElectrodeView[];
  acquisition: NwbSeriesView[];
  stimulus: NwbSeriesView[];
  /** null when the file has no icephys tables (no sweeps) */
  tables: NwbTablesView | null;
  typedObjects: NwbTypedObject[];
  /** cached namespaces: name → version → source names */
  specifications: Record<string, Record<string, string[]>>;
  /** where `.specloc` points */
  specloc: string | null;
}

export interface ReadOptions {
  /** load sample arrays (default true) */
  samples?: boolean;
}

type Obj = Group | Dataset;

function attr(obj: Obj, name: string): unknown {
  const a = obj.attrs[name];
  return a === undefined ? undefined : a.value;
}

function attrString(obj: Obj, name: string): string | null {
  const v = attr(obj, name);
  return typeof v === 'string' ? v : null;
}

function attrNumber(obj: Obj, name: string): number | null {
  const v = attr(obj, name);
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  return null;
}

function attrStrings(obj: Obj, name: string): string[] {
  const v = attr(obj, name);
  if (v === undefined || v === null) return [];
  return (Array.isArray(v) ? v : [v]).map(String);
}

function attrRef(obj: Obj, name: string): Reference | null {
  const v = attr(obj, name);
  const r = Array.isArray(v) ? v[0] : v;
  return r && typeof r === 'object' && 'ref_data' in r ? (r as Reference) : null;
}

function numbers(ds: Dataset): number[] {
  const v = ds.value;
  if (v === null) return [];
  if (typeof v === 'number' || typeof v === 'bigint') return [Number(v)];
  return Array.from(v as ArrayLike<number | bigint>, Number);
}

function texts(ds: Dataset): string[] {
  const v = ds.value;
  return Array.isArray(v) ? v.map(String) : [String(v)];
}

function children(g: Group): string[] {
  return g.keys().sort();
}

function isDataset(o: unknown): o is Dataset {
  return o instanceof h5wasm.Dataset;
}

function isGroup(o: unknown): o is Group {
  return o instanceof h5wasm.Group;
}

function resolve(f: File, ref: Reference | null): string {
  if (!ref) return '';
  const target: unknown = f.dereference(ref);
  return isGroup(target) || isDataset(target) ? target.path : '';
}

/**
 * h5wasm 0.10 decodes a reference member of a compound as an empty list (the
 * member metadata lacks total_size); giving it one makes it decode.
 */
function compoundRows(ds: Dataset): unknown[][] {
  const members = ds.metadata.compound_type?.members ?? [];
  for (const m of members) if ((m as { ref_type?: string }).ref_type !== undefined) (m as { total_size?: number }).total_size = 1;
  return (ds.value ?? []) as unknown[][];
}

function linkTarget(f: File, path: string): string | null {
  try {
    return f.get_link(path) || null;
  } catch {
    return null;
  }
}

function typeAt(f: File, path: string | null): string | null {
  if (!path) return null;
  const o = f.get(path) as Obj | null;
  return o && (isGroup(o) || isDataset(o)) ? attrString(o, 'neurodata_type') : null;
}

function readSeries(f: File, g: Group, samples: boolean): NwbSeriesView {
  const data = g.get('data') as Dataset;
  const t0 = g.get('starting_time') as Dataset;
  const scalars: Record<string, number> = {};
  const scalarUnits: Record<string, string> = {};
  for (const k of children(g)) {
    if (k === 'data' || k === 'starting_time' || linkTarget(f, `${g.path}/${k}`)) continue;
    const ds = g.get(k);
    if (!isDataset(ds) || ds.shape?.length !== 0) continue;
    const v = ds.value;
    if (typeof v !== 'number') continue;
    scalars[k] = v;
    const u = attrString(ds, 'unit');
    if (u !== null) scalarUnits[k] = u;
  }
  const electrodeLink = linkTarget(f, `${g.path}/electrode`);
  return {
    path: g.path,
    name: g.path.split('/').pop()!,
    neurodataType: attrString(g, 'neurodata_type') ?? '',
    objectId: attrString(g, 'object_id') ?? '',
    data: samples ? (data.value as Float32Array) : null,
    dataDtype: String(data.dtype),
    dataLength: data.shape?.[0] ?? 0,
    dataFilters: data.filters.map((x) => x.name),
    dataChunks: data.metadata.chunks ?? null,
    unit: attrString(data, 'unit') ?? '',
    conversion: attrNumber(data, 'conversion') ?? NaN,
    offset: attrNumber(data, 'offset') ?? NaN,
    resolution: attrNumber(data, 'resolution') ?? NaN,
    startingTime: Number(t0.value),
    rate: attrNumber(t0, 'rate') ?? NaN,
    startingTimeUnit: attrString(t0, 'unit') ?? '',
    electrodeLink,
    electrodeResolves: typeAt(f, electrodeLink) === 'IntracellularElectrode',
    sweepNumber: attrNumber(g, 'sweep_number'),
    stimulusDescription: attrString(g, 'stimulus_description') ?? '',
    description: attrString(g, 'description'),
    scalars,
    scalarUnits,
  };
}

function readSeriesIn(f: File, path: string, samples: boolean): NwbSeriesView[] {
  const g = f.get(path) as Group | null;
  if (!g) return [];
  return children(g).map((k) => readSeries(f, g.get(k) as Group, samples));
}

/** Ragged column `name` (+ `name_index`) of a table: one list per row. */
function ragged(table: Group, name: string): number[][] {
  const flat = numbers(table.get(name) as Dataset);
  const ends = numbers(table.get(`${name}_index`) as Dataset);
  let start = 0;
  return ends.map((end) => flat.slice(start, (start = end)));
}

function raggedRefs(f: File, table: Group, name: string): string[][] {
  const refs = ((table.get(name) as Dataset).value ?? []) as Reference[];
  const ends = numbers(table.get(`${name}_index`) as Dataset);
  let start = 0;
  return ends.map((end) => refs.slice(start, (start = end)).map((r) => resolve(f, r)));
}

function tsRefs(f: File, ds: Dataset): TimeSeriesRefView[] {
  return compoundRows(ds).map((row) => ({
    idxStart: Number(row[0]),
    count: Number(row[1]),
    target: resolve(f, (row[2] as Reference[])[0] ?? null),
  }));
}

function readTables(f: File): NwbTablesView | null {
  const base = '/general/intracellular_ephys';
  const g = (p: string) => f.get(`${base}/${p}`) as Group | null;
  const rec = g('intracellular_recordings');
  const sweep = g('sweep_table');
  if (!rec || !sweep) return null;

  const ids: Record<string, number[]> = {};
  const colnames: Record<string, string[]> = {};
  const regionTargets: Record<string, string> = {};
  const tablePaths = ['sweep_table', 'intracellular_recordings', 'intracellular_recordings/electrodes', 'intracellular_recordings/stimuli', 'intracellular_recordings/responses', 'simultaneous_recordings', 'sequential_recordings', 'repetitions', 'experimental_conditions'];
  for (const p of tablePaths) {
    const t = g(p);
    if (!t) continue;
    ids[t.path] = numbers(t.get('id') as Dataset);
    colnames[t.path] = attrStrings(t, 'colnames');
  }
  const region = (table: Group, col: string): number[][] => {
    regionTargets[`${table.path}/${col}`] = resolve(f, attrRef(table.get(col) as Dataset, 'table'));
    return ragged(table, col);
  };

  const series = raggedRefs(f, sweep, 'series');
  const sweepNumbers = numbers(sweep.get('sweep_number') as Dataset);
  const electrodes = ((rec.get('electrodes/electrode') as Dataset).value ?? []) as Reference[];
  const stimuli = tsRefs(f, rec.get('stimuli/stimulus') as Dataset);
  const responses = tsRefs(f, rec.get('responses/response') as Dataset);

  const sim = g('simultaneous_recordings')!;
  const seq = g('sequential_recordings')!;
  const rep = g('repetitions')!;
  const cond = g('experimental_conditions')!;
  const seqRows = region(seq, 'simultaneous_recordings');
  const stimTypes = texts(seq.get('stimulus_type') as Dataset);
  const condRows = region(cond, 'repetitions');
  const labels = cond.get('label') ? texts(cond.get('label') as Dataset) : [];
  return {
    sweepTable: sweepNumbers.map((n, i) => ({ sweepNumber: n, series: series[i] })),
    recordings: electrodes.map((e, i) => ({ electrode: resolve(f, e), stimulus: stimuli[i], response: responses[i] })),
    simultaneous: region(sim, 'recordings'),
    sequential: seqRows.map((rows, i) => ({ stimulusType: stimTypes[i], simultaneous: rows })),
    repetitions: region(rep, 'sequential_recordings'),
    conditions: condRows.map((rows, i) => ({ label: labels[i] ?? null, repetitions: rows })),
    regionTargets,
    ids,
    colnames,
  };
}

/** Every group/dataset with a neurodata_type, walking hard links only (soft links would revisit objects). */
function typedObjects(f: File): NwbTypedObject[] {
  const out: NwbTypedObject[] = [];
  const visit = (o: Obj): void => {
    const t = attrString(o, 'neurodata_type');
    if (t !== null) out.push({ path: o.path, neurodataType: t, namespace: attrString(o, 'namespace') ?? '', objectId: attrString(o, 'object_id') ?? '' });
    if (!isGroup(o)) return;
    for (const k of children(o)) {
      const p = o.path === '/' ? `/${k}` : `${o.path}/${k}`;
      if (linkTarget(f, p)) continue;
      const c = o.get(k);
      if (isGroup(c) || isDataset(c)) visit(c);
    }
  };
  visit(f);
  return out;
}

function textFields(g: Group): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const k of children(g)) {
    const c = g.get(k);
    if (!isDataset(c) || c.metadata.type !== 3 /* H5T_STRING */) continue;
    const v = texts(c);
    out[k] = c.shape?.length === 0 ? v[0] : v;
  }
  return out;
}

function readElectrodes(f: File): NwbElectrodeView[] {
  const g = f.get('/general/intracellular_ephys') as Group | null;
  if (!g) return [];
  return children(g)
    .map((k) => g.get(k))
    .filter((c): c is Group => isGroup(c) && attrString(c, 'neurodata_type') === 'IntracellularElectrode')
    .map((e) => {
      const deviceLink = linkTarget(f, `${e.path}/device`);
      return {
        path: e.path,
        name: e.path.split('/').pop()!,
        objectId: attrString(e, 'object_id') ?? '',
        fields: textFields(e) as Record<string, string>,
        deviceLink,
        deviceResolves: typeAt(f, deviceLink) === 'Device',
      };
    });
}

function readDevices(f: File): NwbDeviceView[] {
  const g = f.get('/general/devices') as Group | null;
  if (!g) return [];
  return children(g).map((k) => {
    const d = g.get(k) as Group;
    return { path: d.path, name: k, description: attrString(d, 'description'), manufacturer: attrString(d, 'manufacturer') };
  });
}

function readSpecifications(f: File): Record<string, Record<string, string[]>> {
  const spec = f.get('/specifications') as Group | null;
  const out: Record<string, Record<string, string[]>> = {};
  if (!spec) return out;
  for (const ns of children(spec)) {
    const nsGroup = spec.get(ns) as Group;
    out[ns] = {};
    for (const v of children(nsGroup)) out[ns][v] = children(nsGroup.get(v) as Group);
  }
  return out;
}

export async function readNwb(path: string, options: ReadOptions = {}): Promise<NwbFileView> {
  await h5wasm.ready;
  const samples = options.samples ?? true;
  const f = new h5wasm.File(path, 'r');
  try {
    const text = (p: string) => texts(f.get(p) as Dataset);
    const rootAttributes: Record<string, string> = {};
    for (const k of Object.keys(f.attrs)) {
      const v = attrString(f, k);
      if (v !== null) rootAttributes[k] = v;
    }
    const subject = f.get('/general/subject') as Group | null;
    return {
      rootAttributes,
      identifier: text('/identifier')[0],
      sessionDescription: text('/session_description')[0],
      sessionStartTime: text('/session_start_time')[0],
      timestampsReferenceTime: text('/timestamps_reference_time')[0],
      fileCreateDate: text('/file_create_date'),
      rootGroups: children(f),
      general: textFields(f.get('/general') as Group),
      subject: subject ? (textFields(subject) as Record<string, string>) : {},
      devices: readDevices(f),
      electrodes: readElectrodes(f),
      acquisition: readSeriesIn(f, '/acquisition', samples),
      stimulus: readSeriesIn(f, '/stimulus/presentation', samples),
      tables: readTables(f),
      typedObjects: typedObjects(f),
      specifications: readSpecifications(f),
      specloc: attrRef(f, '.specloc') ? resolve(f, attrRef(f, '.specloc')) : null,
    };
  } finally {
    f.close();
  }
}

/** The JSON text of one cached specification source (`namespace` or a schema file). */
export async function readCachedSpec(path: string, namespace: string, version: string, source: string): Promise<unknown> {
  await h5wasm.ready;
  const f = new h5wasm.File(path, 'r');
  try {
    const ds = f.get(`/specifications/${namespace}/${version}/${source}`) as Dataset | null;
    if (!ds) throw new Error(`no cached ${namespace} ${version} ${source}`);
    return JSON.parse(String(ds.value));
  } finally {
    f.close();
  }
}
