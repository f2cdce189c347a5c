/**
 * The byte log's digest: SHA-256 over every (time, direction, bytes) entry,
 * whatever the sizes of the entries and whenever digest() is asked for.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createByteLog, type ByteDirection } from './byte-log.ts';

type Entry = [number, ByteDirection, Buffer];

/** the digest's definition, entry by entry */
function reference(entries: Entry[]): string {
  const h = createHash('sha256');
  for (const [t, dir, bytes] of entries) {
    const head = Buffer.alloc(9);
    head.writeDoubleLE(t, 0);
    head[8] = dir === 'in' ? 0x49 : 0x4f;
    h.update(head).update(bytes);
  }
  return h.digest('hex');
}

const bytes = (n: number, seed: number): Buffer => Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + seed * 7) & 0xff));

describe('byte log digest', () => {
  it('covers every entry, small and larger than its staging block, asked for at any point', () => {
    const sizes = [0, 1, 9, 3464, 65_536, 70_000, 12, 200_000, 5, 65_527];
    const entries: Entry[] = sizes.map((n, i) => [i * 0.5, i % 3 === 0 ? 'in' : 'out', bytes(n, i)]);
    const log = createByteLog(3);
    entries.forEach((e, i) => {
      log.record(...e);
      expect(log.digest()).toBe(reference(entries.slice(0, i + 1)));
    });
    // asking does not change what comes after
    const once = createByteLog();
    for (const e of entries) once.record(...e);
    expect(once.digest()).toBe(log.digest());
    expect(log.totalBytes.in + log.totalBytes.out).toBe(sizes.reduce((a, b) => a + b, 0));
    expect(log.entries).toHaveLength(3);
  });

  it('differs when a byte, a time or a direction differs', () => {
    const base: Entry[] = [
      [1, 'in', bytes(100, 1)],
      [2, 'out', bytes(5000, 2)],
    ];
    const digestOf = (es: Entry[]): string => {
      const log = createByteLog();
      for (const e of es) log.record(...e);
      return log.digest();
    };
    const flipped = Buffer.from(base[1][2]);
    flipped[4000] ^= 1;
    expect(digestOf(base)).toBe(reference(base));
    expect(digestOf([base[0], [2, 'out', flipped]])).not.toBe(digestOf(base));
    expect(digestOf([base[0], [2.5, 'out', base[1][2]]])).not.toBe(digestOf(base));
    expect(digestOf([base[0], [2, 'in', base[1][2]]])).not.toBe(digestOf(base));
  });

  it('without a digest keeps the same entries and totals, and digest() says why it cannot answer', () => {
    const entries: Entry[] = [
      [1, 'in', bytes(10, 1)],
      [2, 'out', bytes(70_000, 2)],
      [3, 'out', bytes(3, 3)],
    ];
    const plain = createByteLog(2, { digest: false, name: 'sim:amp-1' });
    const hashed = createByteLog(2);
    for (const e of entries) {
      plain.record(...e);
      hashed.record(...e);
    }
    expect(plain.hasDigest).toBe(false);
    expect(hashed.hasDigest).toBe(true);
    expect(plain.entries).toEqual(hashed.entries);
    expect(plain.totalBytes).toEqual({ in: 10, out: 70_003 });
    expect(plain.dropped).toBe(1);
    expect(plain.concat('out')).toEqual(hashed.concat('out'));
    expect(() => plain.digest()).toThrow(/sim:amp-1 keeps no digest/);
  });
});
