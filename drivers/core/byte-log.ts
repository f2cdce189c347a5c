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
  /** entries kept (all of them unless the log was created with a cap) */
  readonly entries: readonly ByteLogEntry[];
  /** entries dropped because of the cap (they still count in the digest and totals) */
  readonly dropped: number;
  readonly totalBytes: { in: number; out: number };
  record(t: number, dir: ByteDirection, bytes: Buffer): void;
  /** SHA-256 over every (time, direction, bytes) recorded: equal digests = identical traffic */
  digest(): string;
  /** the bytes of one direction, concatenated */
  concat(dir: ByteDirection): Buffer;
}

/** `keep`: how many most recent entries to keep in memory (Infinity by default). */
export function createByteLog(keep = Infinity): ByteLog {
  const entries: ByteLogEntry[] = [];
  const hash: Hash = createHash('sha256');
  const header = Buffer.alloc(9);
  const totals = { in: 0, out: 0 };
  let dropped = 0;
  return {
    entries,
    get dropped() {
      return dropped;
    },
    totalBytes: totals,
    record(t, dir, bytes) {
      header.writeDoubleLE(t, 0);
      header[8] = dir === 'in' ? 0x49 : 0x4f;
      hash.update(header);
      hash.update(bytes);
      totals[dir] += bytes.length;
      if (keep <= 0) {
        dropped++;
        return;
      }
      entries.push({ t, dir, bytes: Buffer.from(bytes) });
      if (entries.length > keep) {
        entries.shift();
        dropped++;
      }
    },
    digest: () => hash.copy().digest('hex'),
    concat: (dir) => Buffer.concat(entries.filter((e) => e.dir === dir).map((e) => e.bytes)),
  };
}
