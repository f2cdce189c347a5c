/**
 * Writes one session as an NWB 2.7.0 file (hdmf-common 1.8.0), schema cached
 * under /specifications. Sweeps are consumed one at a time and written chunked
 * + gzip; only their metadata is kept for the tables written at the end. The
 * file is built as `<path>.partial` and renamed when complete, so a failed
 * export never leaves a plausible-looking file behind.
 *
 * Determinism: object_ids are UUIDv5 of the identifier and HDF5 path, and
 * file_create_date comes from the input, so the same input gives the same
 * contents. The bytes still differ between runs: HDF5 stamps object headers
 * with modification times and h5wasm offers no switch to turn that off.
 */
import { mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import h5wasm, { type File, type Group } from 'h5wasm/node';
import { textArray, textAttr, textScalar, typedGroup, markTyped, type H5Context, type SampleWriteOptions } from './h5.ts';
import { writeIcephysTables, writeSweepTable } from './icephys.ts';
import { defaultGrouping, resolveGrouping } from './grouping.ts';
import { checkSessionParts, checkSweep, NwbInputError, type NwbElectrode, type NwbGrouping, type NwbSessionInput, type NwbSweepMeta } from './model.ts';
import { h5Name } from './paths.ts';
import { writeSweep } from './series.ts';
import { HDMF_COMMON_VERSION, NWB_VERSION, writeSpecifications } from './spec.ts';
import { objectIdsFor } from './uuid.ts';

export interface NwbWriteOptions {
  /** gzip level for sample data, 0–9 (default 4: most of the gain, a fraction of level 9's time) */
  gzipLevel?: number;
  /** largest chunk, samples (default 16 384 = 64 KiB of float32); chunks are made equal up to this */
  chunkSamples?: number;
  /** samples handed to the HDF5 library per call (default 1 048 576 = 4 MiB): bounds the wasm heap */
  sliceSamples?: number;
  /** default grouping: sweeps starting within this many s on different electrodes are simultaneous (default 0.001) */
  simultaneousToleranceS?: number;
}

export interface NwbWriteReport {
  path: string;
  nwbVersion: string;
  hdmfCommonVersion: string;
  identifier: string;
  devices: number;
  electrodes: number;
  sweeps: number;
  /** PatchClampSeries written (responses + stimuli) */
  series: number;
  /** float32 samples written, in bytes (uncompressed) */
  sampleBytes: number;
  fileBytes: number;
  /** typed objects (each with an object_id) */
  typedObjects: number;
  /** the grouping written (given or derived) */
  grouping: NwbGrouping;
  /** size of h5wasm's heap after writing: stays small when sweeps are written incrementally */
  wasmHeapBytes: number;
}

const DEFAULTS: Required<NwbWriteOptions> = {
  gzipLevel: 4,
  chunkSamples: 16_384,
  sliceSamples: 1_048_576,
  simultaneousToleranceS: 0.001,
};

/** NWB stores electrode properties as free text; keep the SI number and name the unit. */
function ohms(v: number | null | undefined): string | null {
  return v === null || v === undefined || !Number.isFinite(v) ? null : `${Number(v.toPrecision(6))} ohms`;
}

function optionalText(g: Group, name: string, value: string | null | undefined): void {
  if (value !== null && value !== undefined && value !== '') textScalar(g, name, value);
}

function uniqueNames<T>(items: readonly T[], name: (t: T) => string, what: string): Map<string, string> {
  const out = new Map<string, string>();
  const used = new Set<string>();
  for (const it of items) {
    const n = h5Name(name(it));
    if (used.has(n)) throw new NwbInputError(`${what} names "${name(it)}" collide once made safe for HDF5 ("${n}")`);
    used.add(n);
    out.set(name(it), n);
  }
  return out;
}

function writeRoot(ctx: H5Context, f: File, input: NwbSessionInput): void {
  const s = input.session;
  textAttr(f, 'nwb_version', NWB_VERSION);
  markTyped(ctx, f, 'NWBFile', 'core');
  textArray(f, 'file_create_date', [s.fileCreateDate]);
  textScalar(f, 'identifier', s.identifier);
  textScalar(f, 'session_description', s.description);
  textScalar(f, 'session_start_time', s.startTime);
  // all times in the file are relative to the session start
  textScalar(f, 'timestamps_reference_time', s.startTime);
  for (const g of ['acquisition', 'analysis', 'processing', 'stimulus', 'stimulus/presentation', 'stimulus/templates']) f.create_group(g);
}

function writeGeneral(ctx: H5Context, f: File, input: NwbSessionInput, deviceNames: Map<string, string>, electrodeNames: Map<string, string>): Map<string, string> {
  const s = input.session;
  const general = f.create_group('general');
  textScalar(general, 'session_id', s.sessionId);
  if (s.experimenter?.length) textArray(general, 'experimenter', s.experimenter);
  optionalText(general, 'lab', s.lab);
  optionalText(general, 'institution', s.institution);
  optionalText(general, 'notes', s.notes);
  textScalar(general, 'protocol', s.preset);
  textScalar(
    general,
    'data_collection',
    `autopatch rig "${s.rig}", preset "${s.preset}", ${s.virtual ? `simulated rig, seed ${s.seed ?? 'none'}` : 'hardware rig'}`,
  );

  const subj = typedGroup(ctx, general, 'subject', 'Subject');
  textScalar(subj, 'subject_id', input.subject.subjectId);
  optionalText(subj, 'species', input.subject.species);
  optionalText(subj, 'description', input.subject.description);
  optionalText(subj, 'sex', input.subject.sex);
  optionalText(subj, 'age', input.subject.age);

  const devices = general.create_group('devices');
  for (const d of input.devices) {
    const g = typedGroup(ctx, devices, deviceNames.get(d.name)!, 'Device');
    textAttr(g, 'description', d.description);
    textAttr(g, 'manufacturer', d.manufacturer);
  }

  const icephys = general.create_group('intracellular_ephys');
  const paths = new Map<string, string>();
  for (const e of input.electrodes) paths.set(e.name, writeElectrode(ctx, icephys, e, electrodeNames.get(e.name)!, `/general/devices/${deviceNames.get(e.device)!}`));
  return paths;
}

function writeElectrode(ctx: H5Context, icephys: Group, e: NwbElectrode, name: string, devicePath: string): string {
  const g = typedGroup(ctx, icephys, name, 'IntracellularElectrode');
  textScalar(g, 'description', e.description);
  optionalText(g, 'cell_id', e.cellId);
  optionalText(g, 'location', e.location);
  optionalText(g, 'filtering', e.filtering);
  optionalText(g, 'seal', ohms(e.seal));
  optionalText(g, 'resistance', ohms(e.resistance));
  optionalText(g, 'initial_access_resistance', ohms(e.initialAccessResistance));
  g.create_soft_link(devicePath, 'device');
  return g.path;
}

export async function writeNwb(path: string, input: NwbSessionInput, options: NwbWriteOptions = {}): Promise<NwbWriteReport> {
  const opt = { ...DEFAULTS, ...options };
  if (!Number.isInteger(opt.gzipLevel) || opt.gzipLevel < 0 || opt.gzipLevel > 9) throw new RangeError('gzipLevel must be an integer 0–9');
  checkSessionParts(input);
  const deviceNames = uniqueNames(input.devices, (d) => d.name, 'device');
  const electrodeNames = uniqueNames(input.electrodes, (e) => e.name, 'electrode');
  const sampleOpt: SampleWriteOptions = { chunkSamples: opt.chunkSamples, sliceSamples: opt.sliceSamples, gzipLevel: opt.gzipLevel };

  const wasm = await h5wasm.ready;
  const target = resolve(path);
  const partial = `${target}.partial`;
  mkdirSync(dirname(target), { recursive: true });
  rmSync(partial, { force: true });

  const ctx: H5Context = { objectId: objectIdsFor(input.session.identifier), typed: new Map() };
  const f = new h5wasm.File(partial, 'w');
  let open = true;
  try {
    writeRoot(ctx, f, input);
    const electrodePaths = writeGeneral(ctx, f, input, deviceNames, electrodeNames);
    const acquisition = f.get('acquisition') as Group;
    const presentation = f.get('stimulus/presentation') as Group;

    const known = new Set(input.electrodes.map((e) => e.name));
    const metas: NwbSweepMeta[] = [];
    const rowOfSweep = new Map<number, number>();
    let sampleBytes = 0;
    for await (const sweep of input.sweeps) {
      checkSweep(sweep, known);
      if (rowOfSweep.has(sweep.sweepNumber)) throw new NwbInputError(`sweep number ${sweep.sweepNumber} is used twice`);
      rowOfSweep.set(sweep.sweepNumber, metas.length);
      metas.push(writeSweep(ctx, acquisition, presentation, sweep, electrodePaths.get(sweep.electrode)!, sampleOpt));
      sampleBytes += sweep.response.byteLength + (sweep.stimulus?.byteLength ?? 0);
    }

    const grouping =
      input.grouping ?? defaultGrouping(metas, { simultaneousToleranceS: opt.simultaneousToleranceS, conditionLabel: input.session.preset });
    const simultaneousRows = resolveGrouping(grouping, rowOfSweep);
    if (metas.length > 0) {
      const icephys = f.get('general/intracellular_ephys') as Group;
      writeSweepTable(ctx, f, icephys, metas);
      writeIcephysTables(ctx, f, icephys, metas, electrodePaths, grouping, simultaneousRows);
    }
    writeSpecifications(f);
    f.close();
    open = false;
    renameSync(partial, target);

    return {
      path: target,
      nwbVersion: NWB_VERSION,
      hdmfCommonVersion: HDMF_COMMON_VERSION,
      identifier: input.session.identifier,
      devices: input.devices.length,
      electrodes: input.electrodes.length,
      sweeps: metas.length,
      series: metas.reduce((n, m) => n + (m.hasStimulus ? 2 : 1), 0),
      sampleBytes,
      fileBytes: statSync(target).size,
      typedObjects: ctx.typed.size,
      grouping,
      wasmHeapBytes: wasm.HEAPU8.byteLength,
    };
  } catch (e) {
    if (open) f.close();
    rmSync(partial, { force: true });
    throw e;
  }
}
