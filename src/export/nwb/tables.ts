/**
 * hdmf-common DynamicTable building blocks as NWB stores them: a table group
 * with `colnames`/`description`, an `id` column (ElementIdentifiers), VectorData
 * columns, ragged columns as data + `<name>_index` (VectorIndex), row links into
 * other tables (DynamicTableRegion) and TimeSeries reference columns
 * (core TimeSeriesReferenceVectorData: compound idx_start, count, object ref).
 */
import type { CompoundDtype, Dataset, Group, Reference } from 'h5wasm/node';
import { markTyped, textArrayAttr, textAttr, typedGroup, type H5Context, type Namespace } from './h5.ts';

export function dynamicTable(
  ctx: H5Context,
  parent: Group,
  name: string,
  type: string,
  ns: Namespace,
  description: string,
  colnames: string[],
  rows: number,
): Group {
  const g = typedGroup(ctx, parent, name, type, ns);
  textArrayAttr(g, 'colnames', colnames);
  textAttr(g, 'description', description);
  elementIds(ctx, g, rows);
  return g;
}

/** The `id` column: row ids 0…rows-1. */
export function elementIds(ctx: H5Context, table: Group, rows: number): Dataset {
  const id = table.create_dataset({ name: 'id', data: BigInt64Array.from({ length: rows }, (_, i) => BigInt(i)), shape: [rows], dtype: '<q' });
  markTyped(ctx, id, 'ElementIdentifiers', 'hdmf-common');
  return id;
}

function column(ctx: H5Context, ds: Dataset, description: string, type = 'VectorData', ns: Namespace = 'hdmf-common'): Dataset {
  markTyped(ctx, ds, type, ns);
  textAttr(ds, 'description', description);
  return ds;
}

export function textColumn(ctx: H5Context, table: Group, name: string, values: string[], description: string): Dataset {
  return column(ctx, table.create_dataset({ name, data: values, shape: [values.length], dtype: 'S' }), description);
}

export function uint32Column(ctx: H5Context, table: Group, name: string, values: number[], description: string): Dataset {
  return column(ctx, table.create_dataset({ name, data: Uint32Array.from(values), shape: [values.length], dtype: '<I' }), description);
}

export function refColumn(ctx: H5Context, table: Group, name: string, refs: Reference[], description: string): Dataset {
  return column(ctx, table.create_dataset({ name, data: refs, shape: [refs.length], dtype: 'Reference' }), description);
}

export interface TimeSeriesRef {
  idxStart: number;
  count: number;
  ref: Reference;
}

const TS_REF_DTYPE: CompoundDtype = [
  ['idx_start', '<i'],
  ['count', '<i'],
  ['timeseries', 'Reference'],
];

export function timeSeriesRefColumn(ctx: H5Context, table: Group, name: string, rows: TimeSeriesRef[], description: string): Dataset {
  const data = new Map<string, Int32Array | Reference[]>([
    ['idx_start', Int32Array.from(rows, (r) => r.idxStart)],
    ['count', Int32Array.from(rows, (r) => r.count)],
    ['timeseries', rows.map((r) => r.ref)],
  ]);
  const ds = table.create_dataset({
    name,
    data,
    shape: [rows.length],
    dtype: TS_REF_DTYPE,
  });
  return column(ctx, ds, description, 'TimeSeriesReferenceVectorData', 'core');
}

/** Smallest unsigned integer dtype holding `max` (VectorIndex is uint8 in the schema, wider allowed). */
function indexDtype(max: number): { dtype: string; make: (v: number[]) => Uint8Array | Uint16Array | Uint32Array | BigUint64Array } {
  if (max <= 0xff) return { dtype: '<B', make: (v) => Uint8Array.from(v) };
  if (max <= 0xffff) return { dtype: '<H', make: (v) => Uint16Array.from(v) };
  if (max <= 0xffff_ffff) return { dtype: '<I', make: (v) => Uint32Array.from(v) };
  return { dtype: '<Q', make: (v) => BigUint64Array.from(v, (x) => BigInt(x)) };
}

function vectorIndex(ctx: H5Context, table: Group, target: Dataset, lists: readonly unknown[][], description: string): Dataset {
  const ends: number[] = [];
  let end = 0;
  for (const l of lists) ends.push((end += l.length));
  const { dtype, make } = indexDtype(end);
  const ds = table.create_dataset({ name: `${target.path.split('/').pop()}_index`, data: make(ends), shape: [ends.length], dtype });
  column(ctx, ds, description, 'VectorIndex');
  ds.create_attribute('target', target.create_reference());
  return ds;
}

/** A ragged column of rows in `targetTable`: DynamicTableRegion `name` + VectorIndex `name_index`. */
export function raggedRegionColumn(
  ctx: H5Context,
  table: Group,
  name: string,
  lists: number[][],
  targetTable: Group,
  description: string,
): Dataset {
  const flat = lists.flat();
  const ds = table.create_dataset({ name, data: BigInt64Array.from(flat, (x) => BigInt(x)), shape: [flat.length], dtype: '<q' });
  column(ctx, ds, description, 'DynamicTableRegion');
  ds.create_attribute('table', targetTable.create_reference());
  vectorIndex(ctx, table, ds, lists, `Index for ${name}`);
  return ds;
}

/** A ragged column of object references: VectorData `name` + VectorIndex `name_index`. */
export function raggedRefColumn(ctx: H5Context, table: Group, name: string, lists: Reference[][], description: string): Dataset {
  const ds = refColumn(ctx, table, name, lists.flat(), description);
  vectorIndex(ctx, table, ds, lists, `Index for ${name}`);
  return ds;
}
