/**
 * Deterministic object_ids: RFC 4122 version-5 UUIDs (SHA-1 of namespace + name).
 * Each file gets its own namespace from its identifier, each object its HDF5
 * path inside it, so the same input gives the same ids and no two objects share one.
 */
import { createHash } from 'node:crypto';

/** RFC 4122 appendix C name-space id for URLs */
const URL_NAMESPACE = '6ba7b811-9dad-11d1-80b4-00c04fd430c8';

function toBytes(uuid: string): Buffer {
  return Buffer.from(uuid.replace(/-/g, ''), 'hex');
}

function format(b: Buffer): string {
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

export function uuidV5(namespace: string, name: string): string {
  const hash = createHash('sha1').update(toBytes(namespace)).update(name, 'utf8').digest();
  const b = Buffer.from(hash.subarray(0, 16));
  b[6] = (b[6] & 0x0f) | 0x50; // version 5
  b[8] = (b[8] & 0x3f) | 0x80; // RFC 4122 variant
  return format(b);
}

/** Returns a function that gives the object_id for an HDF5 path in the file `identifier`. */
export function objectIdsFor(identifier: string): (path: string) => string {
  const ns = uuidV5(URL_NAMESPACE, `autopatch:nwb:${identifier}`);
  return (path) => uuidV5(ns, path);
}
