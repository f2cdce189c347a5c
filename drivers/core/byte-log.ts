import { createHash, type Hash } from 'node:crypto';

/** 'in' = host → device, 'out' = device → host (named from the device's side, like its manual). */
export type ByteDirection = 'in' | 'out';

export interface ByteLogEntry {
  /** clock time the bytes finished crossing the line, ms */
  t: number;
  dir: ByteDirection;
  bytes: Buffer;
}

export interface ByteLog {
  /** entries kept, oldest first (all of them unless the log was created with a cap) */
  readonly entries: readonly ByteLogEntry[];
  /** entries dropped because of the cap (they still count in the digest and totals) */
  readonly dropped: number;
  readonly totalBytes: { in: number; out: number };
  /** the log keeps `bytes` as given: callers pass a buffer nobody mutates afterwards */
  record(t: number, dir: ByteDirection, bytes: Buffer): void;
  /**
   * SHA-256 over every (time, direction, bytes) recorded: equal digests =
   * identical traffic. Throws if the log was created without a digest.
   */
  digest(): string;
  /** whether this log keeps the digest */
  readonly hasDigest: boolean;
  /** the bytes of one direction among the kept entries, concatenated */
  concat(dir: ByteDirection): Buffer;
}

export interface ByteLogOptions {
  /**
   * Keep the SHA-256 digest (default true). Hashing every byte costs about a
   * tenth of an emulated rig's run when an amplifier streams sweeps, so a rig
   * that nobody checks for determinism can go without.
   */
  digest?: boolean;
  /** what the log records (a port path), for error messages */
  name?: string;
}

/** `keep`: how many most recent entries to keep in memory (Infinity by default). */
export function createByteLog(keep = Infinity, options: ByteLogOptions = {}): ByteLog {
  // A ring once the cap is reached: recording stays O(1) however long the session.
  const ring: ByteLogEntry[] = [];
  let head = 0;
  const hash: Hash | null = options.digest === false ? null : createHash('sha256');
  // What the digest covers is staged here and hashed a block at a time: one
  // hash.update per ~64 kB instead of two per entry (each update is a native
  // call costing more than hashing a small entry). SHA-256 of the same bytes
  // in any chunking is the same digest.
  const stage = Buffer.allocUnsafeSlow(hash ? 64 * 1024 : 0);
  let staged = 0;
  const flush = (): void => {
    if (hash && staged > 0) hash.update(stage.subarray(0, staged));
    staged = 0;
  };
  const absorb = (bytes: Buffer): void => {
    if (staged + bytes.length > stage.length) flush();
    if (bytes.length > stage.length) hash?.update(bytes);
    else staged += bytes.copy(stage, staged);
  };
  const header = Buffer.alloc(9);
  const totals = { in: 0, out: 0 };
  let dropped = 0;
  const ordered = (): ByteLogEntry[] => (head === 0 ? ring : [...ring.slice(head), ...ring.slice(0, head)]);
  return {
    get entries() {
      return ordered();
    },
    get dropped() {
      return dropped;
    },
    totalBytes: totals,
    hasDigest: hash !== null,
    record(t, dir, bytes) {
      if (hash) {
        header.writeDoubleLE(t, 0);
        header[8] = dir === 'in' ? 0x49 : 0x4f;
        absorb(header);
        absorb(bytes);
      }
      totals[dir] += bytes.length;
      if (keep <= 0) {
        dropped++;
        return;
      }
      const entry = { t, dir, bytes };
      if (ring.length < keep) {
        ring.push(entry);
      } else {
        ring[head] = entry;
        head = (head + 1) % ring.length;
        dropped++;
      }
    },
    digest: () => {
      if (!hash) throw new Error(`the byte log${options.name ? ` of ${options.name}` : ''} keeps no digest: it was created with digest: false`);
      flush();
      return hash.copy().digest('hex');
    },
    concat: (dir) => Buffer.concat(ordered().filter((e) => e.dir === dir).map((e) => e.bytes)),
  };
}
