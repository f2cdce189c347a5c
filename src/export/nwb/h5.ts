/**
 * Thin helpers over h5wasm for the shapes NWB uses: typed objects (with
 * neurodata_type / namespace / object_id), scalar text and numbers, text
 * arrays, and sample arrays written chunked + gzip in bounded slices so the
 * wasm heap never holds more than one slice of a sweep.
 */
import type { Dataset, Group, Reference } from 'h5wasm/node';

export type Namespace = 'core' | 'hdmf-common';

export interface H5Context {
  /** object_id for an HDF5 path */
  objectId: (path: string) => string;
  /** every object_id written, by path (for the report and for uniqueness checks) */
  readonly typed: Map<string, string>;
}

type HasAttrs = Group | Dataset;

/** Marks a group or dataset as an instance of a schema type. */
export function markTyped(ctx: H5Context, obj: HasAttrs, type: string, ns: Namespace): void {
  const id = ctx.objectId(obj.path);
  obj.create_attribute('namespace', ns);
  obj.create_attribute('neurodata_type', type);
  obj.create_attribute('object_id', id);
  ctx.typed.set(obj.path, id);
}

export function typedGroup(ctx: H5Context, parent: Group, name: string, type: string, ns: Namespace = 'core'): Group {
  const g = parent.create_group(name);
  markTyped(ctx, g, type, ns);
  return g;
}

export function textAttr(obj: HasAttrs, name: string, value: string): void {
  obj.create_attribute(name, value);
}

/**
 * A 1-D array of variable-length UTF-8 strings. An empty one is written as
 * fixed-length: h5wasm hands HDF5 a NULL buffer for an empty vlen array.
 */
export function textArrayAttr(obj: HasAttrs, name: string, values: string[]): void {
  obj.create_attribute(name, values, [values.length], values.length ? 'S' : 'S1');
}

export function float32Attr(obj: HasAttrs, name: string, value: number): void {
  obj.create_attribute(name, value, null, '<f');
}

export function uint32Attr(obj: HasAttrs, name: string, value: number): void {
  obj.create_attribute(name, value, null, '<I');
}

export function refAttr(obj: HasAttrs, name: string, ref: Reference): void {
  obj.create_attribute(name, ref);
}

export function textScalar(parent: Group, name: string, value: string): Dataset {
  return parent.create_dataset({ name, data: value, shape: [], dtype: 'S' });
}

export function textArray(parent: Group, name: string, values: string[]): Dataset {
  return parent.create_dataset({ name, data: values, shape: [values.length], dtype: 'S' });
}

export function float32Scalar(parent: Group, name: string, value: number): Dataset {
  return parent.create_dataset({ name, data: value, shape: [], dtype: '<f' });
}

export function float64Scalar(parent: Group, name: string, value: number): Dataset {
  return parent.create_dataset({ name, data: value, shape: [], dtype: '<d' });
}

export interface SampleWriteOptions {
  /** largest number of samples per HDF5 chunk (chunks are made equal, up to this) */
  chunkSamples: number;
  /** samples handed to HDF5 per call (bounds the wasm heap in use); a multiple of chunkSamples */
  sliceSamples: number;
  /** gzip level 0–9; 0 = chunked, uncompressed */
  gzipLevel: number;
}

/**
 * Writes a float32 vector as a chunked (optionally gzip) dataset. Large vectors
 * go in slices: create with the first slice, then grow and fill the rest.
 */
export function writeSamples(parent: Group, name: string, samples: Float32Array, opt: SampleWriteOptions): Dataset {
  const n = samples.length;
  // equal chunks no larger than asked: an uncompressed edge chunk is stored full size
  const chunk = Math.ceil(n / Math.ceil(n / Math.max(1, opt.chunkSamples)));
  const slice = Math.max(chunk, Math.floor(opt.sliceSamples / chunk) * chunk);
  const compression = opt.gzipLevel > 0 ? ({ compression: 'gzip', compression_opts: opt.gzipLevel } as const) : {};
  const first = samples.subarray(0, Math.min(n, slice));
  const ds = parent.create_dataset({
    name,
    data: first,
    shape: [first.length],
    maxshape: [n],
    dtype: '<f',
    chunks: [chunk],
    ...compression,
  });
  for (let start = first.length; start < n; start += slice) {
    const end = Math.min(n, start + slice);
    ds.resize([end]);
    ds.write_slice([[start, end]], samples.subarray(start, end));
  }
  return ds;
}
