/**
 * Seeded randomness for the emulator's sensor noise. A simulation passes its
 * own seeded stream (`random`); the seed fallback keeps a lone emulator
 * deterministic too.
 */

/** Uniform [0, 1) from a 32-bit seed (xorshift32 after a seed scramble, so nearby seeds diverge at once). */
export function seededUniform(seed: number): () => number {
  let s = Math.imul((seed | 0) ^ 0x9e3779b9, 0x85ebca6b) >>> 0;
  s = (s ^ (s >>> 13)) >>> 0;
  if (s === 0) s = 0x6d2b79f5; // xorshift has one absorbing state
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4_294_967_296;
  };
}

/** Standard normal samples (Box–Muller) from a uniform source. */
export function gaussian(random: () => number): () => number {
  let spare: number | undefined;
  return () => {
    if (spare !== undefined) {
      const v = spare;
      spare = undefined;
      return v;
    }
    const u = 1 - random(); // (0, 1]: log stays finite
    const v = random();
    const r = Math.sqrt(-2 * Math.log(u));
    spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  };
}
