/**
 * Seeded normal deviates for test doubles: xorshift32 (Marsaglia) feeding a
 * Box–Muller transform. Small and fully determined by the seed; not for
 * statistics that need a long period.
 */
export function createGaussian(seed: number): () => number {
  let s = seed >>> 0 || 0x9e3779b9;
  const uniform = (): number => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    // (0, 1]: log() below must never see 0
    return (s + 1) / 4294967296;
  };
  let spare: number | null = null;
  return () => {
    if (spare !== null) {
      const v = spare;
      spare = null;
      return v;
    }
    const r = Math.sqrt(-2 * Math.log(uniform()));
    const a = 2 * Math.PI * uniform();
    spare = r * Math.sin(a);
    return r * Math.cos(a);
  };
}
