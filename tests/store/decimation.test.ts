import { describe, expect, it } from 'vitest';
import { createPositionDecimator, createReadingDecimator, type KeptReading } from '../../src/store/decimation.ts';
import { reading } from './helpers.ts';

const offerAll = (
  dec: ReturnType<typeof createReadingDecimator>,
  pipette: string,
  samples: Array<[t: number, r: number]>,
): KeptReading[] => samples.flatMap(([t, r]) => dec.offer(pipette, { t, epochMs: t, attemptId: null, reading: reading(r) }));

describe('test-pulse reading decimation', () => {
  it('keeps at most maxHz readings while R is steady, and counts the rest exactly', () => {
    const dec = createReadingDecimator({ maxHz: 2, relChange: 0.05, iholdChange: 1, smoothingS: 0.5 });
    // 100 Hz for 10 s at a steady 5 MΩ: t = 0, 10, …, 9990 ms
    const samples: Array<[number, number]> = Array.from({ length: 1000 }, (_, i) => [i * 10, 5e6]);
    const kept = offerAll(dec, 'p1', samples);
    // first at 0, then one every 500 ms: 0, 500, …, 9500 → 20 rows
    expect(kept.map((k) => k.t)).toEqual(Array.from({ length: 20 }, (_, i) => i * 500));
    // each kept row after the first summarises the 49 readings between it and the previous
    expect(kept[0].summarised).toBe(0);
    expect(kept.slice(1).every((k) => k.summarised === 49)).toBe(true);
    // 9510…9990 (49 readings) wait for the next kept row
    expect(dec.pendingSummarised()).toBe(49);
    const total = kept.reduce((n, k) => n + 1 + k.summarised, 0) + dec.pendingSummarised();
    expect(total).toBe(1000);
  });

  it('follows a trend step by step but not reading-to-reading noise', () => {
    const dec = createReadingDecimator({ maxHz: 2, relChange: 0.1, iholdChange: 1, smoothingS: 0.5 });
    let x = 12345;
    const noise = (): number => {
      x = (x * 1103515245 + 12345) % 2147483648;
      return (x / 2147483648) * 2 - 1; // deterministic, uniform in [-1, 1)
    };
    // 10 s of a gigaseal at 100 Hz: 2 GΩ with ±40 % jitter in log terms between readings
    const noisy: Array<[number, number]> = Array.from({ length: 1000 }, (_, i) => [i * 10, 2e9 * Math.exp(0.4 * noise())]);
    const keptNoisy = offerAll(dec, 'p1', noisy);
    // the 2 Hz floor gives 20 rows; smoothed noise (σ ≈ 3 % in log R) seldom crosses 10 %
    expect(keptNoisy.length).toBeGreaterThanOrEqual(20);
    expect(keptNoisy.length).toBeLessThanOrEqual(25);
    // then 5 s of a clean exponential ramp 10 MΩ → 1 GΩ (a seal forming): ln(100)/ln(1.1) ≈ 48 steps of 10 %
    const dec2 = createReadingDecimator({ maxHz: 2, relChange: 0.1, iholdChange: 1, smoothingS: 0.5 });
    const ramp: Array<[number, number]> = Array.from({ length: 500 }, (_, i) => [i * 10, 10e6 * Math.exp((Math.log(100) * i) / 499)]);
    const keptRamp = offerAll(dec2, 'p1', ramp);
    expect(keptRamp.length).toBeGreaterThanOrEqual(40); // the 2 Hz floor alone would keep 10
    const rs = keptRamp.map((k) => k.reading.r);
    expect(rs).toEqual([...rs].sort((a, b) => a - b));
    // exact totals in both cases
    expect(keptNoisy.reduce((n, k) => n + 1 + k.summarised, 0) + dec.pendingSummarised()).toBe(1000);
    expect(keptRamp.reduce((n, k) => n + 1 + k.summarised, 0) + dec2.pendingSummarised()).toBe(500);
  });

  it('keeps the first reading after a state change and after a clamp-mode change, per pipette', () => {
    const dec = createReadingDecimator({ maxHz: 1, relChange: 0.5, iholdChange: 1, smoothingS: 0.5 });
    const at = (p: string, t: number, mode: 'VC' | 'IC' = 'VC') =>
      dec.offer(p, { t, epochMs: t, attemptId: null, reading: reading(1e9, { mode }) }).map((k) => k.t);
    expect(at('p1', 0)).toEqual([0]);
    expect(at('p2', 10)).toEqual([10]); // separate pipettes, separate tracks
    expect(at('p1', 100)).toEqual([]);
    dec.stateChanged('p1');
    expect(at('p1', 200)).toEqual([200]);
    expect(at('p1', 300)).toEqual([]);
    expect(at('p1', 400, 'IC')).toEqual([400]);
    expect(at('p2', 500)).toEqual([]);
  });

  it('flush stores the reading held back, so a state change keeps the last value before it', () => {
    const dec = createReadingDecimator({ maxHz: 1, relChange: 0.5, iholdChange: 1, smoothingS: 0.5 });
    const kept = offerAll(dec, 'p1', [[0, 5e6], [100, 5.1e6], [200, 5.2e6]]);
    expect(kept.map((k) => k.t)).toEqual([0]);
    expect(dec.flush('p1')).toMatchObject({ t: 200, summarised: 1 }); // t=100 summarised in it
    expect(dec.flush('p1')).toBeNull();
    expect(dec.flush('p9')).toBeNull();
    offerAll(dec, 'p1', [[300, 5e6]]);
    offerAll(dec, 'p2', [[300, 5e6], [400, 5e6]]);
    expect(dec.flushAll().map((x) => [x.pipetteId, x.kept.t])).toEqual([['p1', 300], ['p2', 400]]);
    expect(dec.pendingSummarised()).toBe(0);
  });
});

describe('position decimation', () => {
  it('keeps moves of at least minMoveUm, else one per 1/maxHz, and counts the rest', () => {
    const dec = createPositionDecimator({ maxHz: 1, minMoveUm: 5 });
    const offer = (t: number, z: number): number | null =>
      dec.offer('p1', { t, epochMs: t, world: [0, 0, z], manipulator: [0, 0, z] });
    expect(offer(0, 0)).toBe(0);
    expect(offer(100, 1)).toBeNull();
    expect(offer(200, 2)).toBeNull();
    expect(offer(300, 5)).toBe(2); // 5 µm from the last kept (z = 0)
    expect(offer(400, 6)).toBeNull();
    expect(offer(1300, 6)).toBe(1); // a second since the last kept
    dec.stateChanged('p1');
    expect(offer(1301, 6)).toBe(0);
  });
});
