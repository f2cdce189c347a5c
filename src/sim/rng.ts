/**
 * Seeded randomness for the simulator. Every stream is named by a key path
 * (`root.fork('cell').fork(42)`), and a fork depends only on that path, never
 * on how many numbers the parent has drawn — so a cell's parameters are the
 * same whichever order the world happens to materialise cells in.
 *
 * Generator: sfc32 (small, fast, 128-bit state), keyed through a murmur3-style
 * finaliser.
 */

export interface Rng {
  /** uniform in [0, 1) */
  next(): number;
  /** uniform 32-bit unsigned integer */
  u32(): number;
  /** fill `out` with the next `out.length` u32() draws (the same stream, in one pass) */
  fillU32(out: Uint32Array): void;
  uniform(lo: number, hi: number): number;
  /** log-uniform in [lo, hi] (both > 0): equal odds per decade */
  logUniform(lo: number, hi: number): number;
  normal(mean?: number, sd?: number): number;
  /** exponential with the given mean */
  exponential(mean: number): number;
  chance(p: number): boolean;
  /** integer in [0, n) */
  int(n: number): number;
  /** Poisson-distributed count with the given mean */
  poisson(mean: number): number;
  /** an independent stream named by `label` under this one */
  fork(label: string | number): Rng;
  /** the key of this stream (for diagnostics) */
  readonly key: readonly [number, number, number, number];
}

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

// hash-chain state of mixKey (module-level so forking allocates nothing but the key)
let ma = 0;
let mb = 0;
function absorb(w: number): void {
  ma = fmix32(((ma ^ w) + 0x9e3779b9) | 0);
  mb = fmix32(Math.imul((mb + w) | 0, 0x85ebca6b) ^ ma);
}

/**
 * Derive a child key from a parent key and a label. Two hash chains absorb every
 * parent word and the label, and each of the four output words depends on
 * both chains — so keys that differ in any bit (seed 1 vs seed 2) give
 * unrelated streams.
 */
function mixKey(key: readonly number[], label: string | number): [number, number, number, number] {
  ma = 0x6a09e667;
  mb = 0xbb67ae85;
  for (let i = 0; i < 4; i++) absorb(key[i] >>> 0);
  if (typeof label === 'number') {
    absorb(0x4e554d42); // "NUMB": numbers and strings never share keys
    absorb(label >>> 0);
    absorb(Math.floor(label / 4294967296) >>> 0);
  } else {
    absorb(0x53545247); // "STRG"
    for (let i = 0; i < label.length; i++) absorb(label.charCodeAt(i));
    absorb(label.length);
  }
  return [
    fmix32(ma ^ 0x510e527f),
    fmix32(mb ^ 0x9b05688c),
    fmix32(((ma + mb) | 0) ^ 0x1f83d9ab),
    fmix32((ma ^ Math.imul(mb, 0x5be0cd19)) + 0x428a2f98),
  ];
}

/**
 * sfc32 stream. A class rather than a closure bundle: worlds fork thousands of
 * streams (one per cell), and one object per stream keeps that cheap. Every
 * field is assigned in the constructor, in one order, so all streams share one
 * object shape.
 */
class Stream implements Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  private spare: number;
  readonly key: readonly [number, number, number, number];

  constructor(key: [number, number, number, number]) {
    this.key = key;
    this.a = key[0] | 0;
    this.b = key[1] | 0;
    this.c = key[2] | 0;
    this.d = key[3] | 0 || 1;
    this.spare = NaN;
    for (let i = 0; i < 15; i++) this.u32();
  }

  u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  fillU32(out: Uint32Array): void {
    // The state lives in locals for the whole block (int32 registers rather than
    // object fields: several times faster per draw), written back once.
    let a = this.a | 0;
    let b = this.b | 0;
    let c = this.c | 0;
    let d = this.d | 0;
    const n = out.length;
    for (let i = 0; i < n; i++) {
      const t = (((a + b) | 0) + d) | 0;
      d = (d + 1) | 0;
      a = b ^ (b >>> 9);
      b = (c + (c << 3)) | 0;
      c = (c << 21) | (c >>> 11);
      c = (c + t) | 0;
      out[i] = t;
    }
    this.a = a;
    this.b = b;
    this.c = c;
    this.d = d;
  }

  next(): number {
    return this.u32() / 4294967296;
  }

  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  logUniform(lo: number, hi: number): number {
    return Math.exp(Math.log(lo) + (Math.log(hi) - Math.log(lo)) * this.next());
  }

  normal(mean = 0, sd = 1): number {
    if (!Number.isNaN(this.spare)) {
      const s = this.spare;
      this.spare = NaN;
      return mean + sd * s;
    }
    // Box–Muller; 1 − u keeps the log argument in (0, 1]
    const u = 1 - this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return mean + sd * r * Math.cos(2 * Math.PI * v);
  }

  exponential(mean: number): number {
    return -mean * Math.log(1 - this.next());
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  poisson(mean: number): number {
    if (mean <= 0) return 0;
    if (mean > 60) return Math.max(0, Math.round(mean + Math.sqrt(mean) * this.normal()));
    const limit = Math.exp(-mean);
    let k = 0;
    let p = this.next();
    while (p > limit) {
      k++;
      p *= this.next();
    }
    return k;
  }

  fork(label: string | number): Rng {
    return new Stream(mixKey(this.key, label));
  }
}

function createStream(key: [number, number, number, number]): Rng {
  return new Stream(key);
}

/** The root stream of a world. */
export function createRng(seed: number): Rng {
  const s = Math.floor(seed) >>> 0;
  const hi = Math.floor(seed / 4294967296) >>> 0;
  return createStream(mixKey([s, hi, 0x5eed5eed, 0x0a170a7c], 'root'));
}

/**
 * "When does this hazard fire?" as an exponential clock: draw a unit-exponential
 * threshold, integrate the hazard rate, fire when the integral passes the
 * threshold. The outcome does not depend on how finely time is cut into steps.
 */
export interface Hazard {
  left: number;
  readonly rng: Rng;
}

export function createHazard(rng: Rng): Hazard {
  return { left: rng.exponential(1), rng };
}

/** Add `amount` (rate × dt, dimensionless) to the hazard; true if it fires (and re-arms). */
export function hazardFires(h: Hazard, amount: number): boolean {
  if (!(amount > 0)) return false;
  h.left -= amount;
  if (h.left > 0) return false;
  h.left = h.rng.exponential(1);
  return true;
}

const GAUSS_BITS = 16;
const GAUSS_SIZE = 1 << GAUSS_BITS;
let gaussTable: Float32Array | null = null;

/**
 * A fixed table of standard-normal deviates, built once from a constant seed.
 * Recording noise draws indices into it (two per 32-bit draw), which is several
 * times faster than Box–Muller per sample and statistically fine for noise.
 * Float32, like the samples it is added to: half the cache footprint of
 * float64, which made the noise a third faster on the emulated rig.
 * Exported for tests (the noise's reference path); read it, never write it.
 */
export function gaussianTable(): Float32Array {
  if (gaussTable) return gaussTable;
  const r = createRng(0x6a05);
  const t = new Float64Array(GAUSS_SIZE);
  for (let i = 0; i < GAUSS_SIZE; i++) t[i] = r.normal();
  // remove the table's own sample mean/variance so the noise is zero-mean, unit-variance
  let m = 0;
  for (let i = 0; i < GAUSS_SIZE; i++) m += t[i];
  m /= GAUSS_SIZE;
  let v = 0;
  for (let i = 0; i < GAUSS_SIZE; i++) v += (t[i] - m) ** 2;
  const s = 1 / Math.sqrt(v / GAUSS_SIZE);
  gaussTable = Float32Array.from(t, (x) => (x - m) * s);
  return gaussTable;
}

/** draws for one block of noise: 2 samples per word, NOISE_BLOCK samples per block */
const NOISE_BLOCK = 4096;
const noiseWords = new Uint32Array(NOISE_BLOCK / 2);

/**
 * Add white Gaussian noise of standard deviation `sd` to `out` in place.
 * Word k of the stream gives samples 2k (low half) and 2k + 1 (high half);
 * an odd last sample takes the low half of one more word. The words are drawn
 * in blocks (fillU32), which gives exactly the stream of one u32() per pair.
 */
export function addGaussianNoise(rng: Rng, out: Float32Array, sd: number): void {
  if (!(sd > 0)) return;
  const table = gaussianTable();
  const n = out.length;
  for (let start = 0; start < n; start += NOISE_BLOCK) {
    const len = Math.min(NOISE_BLOCK, n - start);
    const words = noiseWords.subarray(0, (len + 1) >>> 1);
    rng.fillU32(words);
    const pairs = len >>> 1;
    for (let k = 0, i = start; k < pairs; k++, i += 2) {
      const r = words[k];
      out[i] += sd * table[r & 0xffff];
      out[i + 1] += sd * table[r >>> 16];
    }
    if (len & 1) out[start + len - 1] += sd * table[words[pairs] & 0xffff];
  }
}
