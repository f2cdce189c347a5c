/**
 * The schema versions this writer targets and the cached specifications it
 * stores under /specifications, the way pynwb/hdmf cache them: one group per
 * namespace and version, one scalar JSON string per schema source plus
 * "namespace"; the root attribute `.specloc` references the group.
 * The JSON files in ./spec are generated from Debian's python3-pynwb (README there).
 */
import { readFileSync } from 'node:fs';
import type { Group } from 'h5wasm/node';
import { refAttr, textScalar } from './h5.ts';

export const NWB_VERSION = '2.7.0';
export const HDMF_COMMON_VERSION = '1.8.0';

interface CachedNamespace {
  origin: string;
  namespace: { name: string; version: string } & Record<string, unknown>;
  sources: Record<string, unknown>;
}

const FILES = [`core-${NWB_VERSION}.json`, `hdmf-common-${HDMF_COMMON_VERSION}.json`];

let cache: CachedNamespace[] | null = null;

export function cachedNamespaces(): CachedNamespace[] {
  cache ??= FILES.map((f) => JSON.parse(readFileSync(new URL(`./spec/${f}`, import.meta.url), 'utf8')) as CachedNamespace);
  return cache;
}

export function writeSpecifications(root: Group): void {
  const spec = root.create_group('specifications');
  for (const ns of cachedNamespaces()) {
    const g = spec.create_group(ns.namespace.name).create_group(ns.namespace.version);
    // compact JSON, as hdmf writes it
    textScalar(g, 'namespace', JSON.stringify({ namespaces: [ns.namespace] }));
    for (const [source, body] of Object.entries(ns.sources)) textScalar(g, source, JSON.stringify(body));
  }
  refAttr(root, '.specloc', spec.create_reference());
}

interface SpecNode {
  neurodata_type_def?: string;
  attributes?: { name: string; value?: unknown }[];
  groups?: SpecNode[];
  datasets?: SpecNode[];
}

/** The fixed `value` the core schema gives an attribute of a type (e.g. a table's description). */
export function fixedAttributeValue(type: string, attribute: string): string {
  const core = cachedNamespaces().find((n) => n.namespace.name === 'core');
  for (const src of Object.values(core?.sources ?? {}) as SpecNode[]) {
    for (const def of [...(src.groups ?? []), ...(src.datasets ?? [])]) {
      if (def.neurodata_type_def !== type) continue;
      const v = def.attributes?.find((a) => a.name === attribute)?.value;
      if (typeof v === 'string') return v;
    }
  }
  throw new Error(`core ${NWB_VERSION} gives ${type}.${attribute} no fixed value`);
}
