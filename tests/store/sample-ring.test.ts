import { describe, expect, it } from 'vitest';
import { createSampleRing } from '../../src/store/sample-ring.ts';

const f32 = (n: number, v: number): Float32Array => new Float32Array(n).fill(v);
const at = (ring: ReturnType<typeof createSampleRing>, offset: number, n: number): number[] =>
  Array.from(new Float32Array(ring.buffer, offset, n));

describe('sample ring', () => {
  it('hands out 8-byte aligned regions in order, copies the bytes, and refuses when full', () => {
    const ring = createSampleRing(64);
    expect(ring.put(f32(3, 1))).toBe(0); // 12 bytes → 16
    expect(ring.put(f32(4, 2))).toBe(16);
    expect(ring.put(f32(8, 3))).toBe(32);
    expect(ring.put(f32(1, 4))).toBe(-1); // 64 bytes in use
    expect(ring.usedBytes()).toBe(64);
    expect(at(ring, 0, 3)).toEqual([1, 1, 1]);
    expect(at(ring, 16, 4)).toEqual([2, 2, 2, 2]);
    expect(ring.regions()).toBe(3);
  });

  it('wraps around once the oldest regions are released, never overwriting live ones', () => {
    const ring = createSampleRing(64);
    ring.put(f32(4, 1)); // [0,16)
    ring.put(f32(4, 2)); // [16,32)
    ring.put(f32(6, 3)); // [32,56)
    expect(ring.put(f32(4, 9))).toBe(-1); // 8 bytes left at the end, nothing free at the start
    ring.release(1); // [0,16) free
    expect(ring.put(f32(4, 4))).toBe(0); // wraps to the start
    expect(ring.put(f32(2, 5))).toBe(-1); // [16,…) still live
    expect(at(ring, 16, 4)).toEqual([2, 2, 2, 2]);
    ring.release(2); // [16,56) free; live: [0,16)
    expect(ring.put(f32(8, 6))).toBe(16);
    expect(at(ring, 0, 4)).toEqual([4, 4, 4, 4]);
    ring.release(2);
    expect(ring.regions()).toBe(0);
    expect(ring.usedBytes()).toBe(0);
    expect(ring.put(f32(16, 7))).toBe(0); // empty again: the whole ring
  });

  it('copies a view exactly, and unput gives back the last region', () => {
    const ring = createSampleRing(32);
    const big = new Float32Array([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(ring.put(big.subarray(2, 5))).toBe(0);
    expect(at(ring, 0, 3)).toEqual([2, 3, 4]);
    expect(ring.put(f32(2, 1))).toBe(16);
    ring.unput();
    expect(ring.regions()).toBe(1);
    expect(ring.put(f32(4, 8))).toBe(16);
  });
});
