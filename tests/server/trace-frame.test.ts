import { describe, expect, it } from 'vitest';
import { decimateMinMax } from '../../src/server/decimate.ts';
import {
  decodeTraceFrame,
  decodeTraceFrames,
  encodeTraceFrame,
  FRAME_HEADER_BYTES,
  UNKNOWN_PIPETTE,
  type TraceFrameInput,
} from '../../src/server/trace-frame.ts';
import { createRng } from '../../src/sim/rng.ts';

interface UiDecoder {
  decodeFrames(bytes: Uint8Array): Array<{ pipetteIndex: number; kind: string; unit: string; mode: string; seq: number; sampleRateHz: number; startTime: number; originalLength: number; samples: Float32Array }>;
}

function randomSamples(n: number, seed: number, scale = 1e-9): Float32Array {
  const rng = createRng(seed);
  return Float32Array.from({ length: n }, () => rng.normal(0, scale));
}

const input = (samples: Float32Array, over: Partial<TraceFrameInput> = {}): TraceFrameInput => ({
  pipetteIndex: 3,
  kind: 'testpulse',
  unit: 'A',
  mode: 'VC',
  seq: 4_000_000_123,
  startTime: 123456.789,
  sampleRateHz: 20_000,
  samples,
  ...over,
});

describe('trace frames', () => {
  it('float32 frames round-trip every header field and every sample bit-exactly', () => {
    const samples = randomSamples(777, 1);
    samples[5] = -0;
    samples[6] = 1.4e-45; // smallest denormal
    const buf = encodeTraceFrame(input(samples, { originalLength: 20_000 }), 'float32');
    expect(buf.byteLength).toBe(FRAME_HEADER_BYTES + 777 * 4);
    const f = decodeTraceFrame(buf);
    expect(f).toMatchObject({
      pipetteIndex: 3,
      kind: 'testpulse',
      encoding: 'float32',
      unit: 'A',
      mode: 'VC',
      seq: 4_000_000_123,
      startTime: 123456.789,
      sampleRateHz: 20_000,
      originalLength: 20_000,
    });
    expect(Buffer.from(f.samples.buffer)).toEqual(Buffer.from(samples.buffer));
  });

  it('int16 frames are half the size and within one quantum of the input; NaN survives', () => {
    const samples = randomSamples(1000, 2, 50e-12);
    samples[10] = NaN;
    const buf = encodeTraceFrame(input(samples, { kind: 'stimulus', unit: 'V', mode: 'IC' }), 'int16');
    expect(buf.byteLength).toBe(FRAME_HEADER_BYTES + 1000 * 2);
    const f = decodeTraceFrame(buf);
    expect(f).toMatchObject({ kind: 'stimulus', unit: 'V', mode: 'IC', encoding: 'int16' });
    let min = Infinity;
    let max = -Infinity;
    for (const v of samples) if (Number.isFinite(v)) [min, max] = [Math.min(min, v), Math.max(max, v)];
    const quantum = (max - min) / 65000;
    expect(Number.isNaN(f.samples[10])).toBe(true);
    for (let i = 0; i < samples.length; i++) {
      if (i === 10) continue;
      expect(Math.abs(f.samples[i] - samples[i])).toBeLessThanOrEqual(quantum * 0.51 + Math.abs(samples[i]) * 1e-6);
    }
  });

  it('a constant trace survives int16 (no division by a zero span)', () => {
    const f = decodeTraceFrame(encodeTraceFrame(input(new Float32Array(50).fill(-0.07)), 'int16'));
    for (const v of f.samples) expect(v).toBeCloseTo(-0.07, 6);
  });

  it('unknown pipette indices are marked, concatenated frames decode in order', () => {
    const a = encodeTraceFrame(input(randomSamples(10, 3), { pipetteIndex: -1 }));
    const b = encodeTraceFrame(input(randomSamples(20, 4), { kind: 'command', seq: 9 }), 'int16');
    const frames = decodeTraceFrames(Buffer.concat([a, b]));
    expect(frames.map((f) => [f.pipetteIndex, f.kind, f.samples.length, f.seq])).toEqual([
      [UNKNOWN_PIPETTE, 'testpulse', 10, 4_000_000_123],
      [3, 'command', 20, 9],
    ]);
  });

  it('truncated or foreign bytes are rejected with a reason', () => {
    const buf = encodeTraceFrame(input(randomSamples(100, 5)));
    expect(() => decodeTraceFrame(buf.subarray(0, 20))).toThrow(/shorter than its header/);
    expect(() => decodeTraceFrame(buf.subarray(0, buf.byteLength - 4))).toThrow(/truncated/);
    const foreign = Buffer.from(buf);
    foreign[0] = 0x7b; // '{'
    expect(() => decodeTraceFrame(foreign)).toThrow(/magic/);
  });

  it('the browser decoder (ui/js/trace-frame.js) reads what the server writes', async () => {
    const path = new URL('../../ui/js/trace-frame.js', import.meta.url).href;
    const ui = (await import(path)) as UiDecoder;
    const s1 = randomSamples(300, 6);
    const s2 = randomSamples(64, 7, 0.01);
    const bytes = Buffer.concat([
      encodeTraceFrame(input(s1), 'float32'),
      encodeTraceFrame(input(s2, { pipetteIndex: 7, unit: 'V', mode: 'I0', kind: 'stimulus' }), 'int16'),
    ]);
    const server = decodeTraceFrames(bytes);
    const browser = ui.decodeFrames(new Uint8Array(bytes));
    expect(browser).toHaveLength(2);
    for (let i = 0; i < 2; i++) {
      const { samples: sa, ...ha } = server[i];
      const { samples: sb, ...hb } = browser[i];
      expect(hb).toEqual(ha);
      expect(Array.from(sb)).toEqual(Array.from(sa));
    }
  });
});

describe('min/max decimation', () => {
  it('leaves a trace that already fits untouched', () => {
    const s = randomSamples(500, 8);
    const d = decimateMinMax(s, 20_000, 600);
    expect(d.samples).toBe(s);
    expect(d.sampleRateHz).toBe(20_000);
  });

  it('cuts a long trace to at most maxPoints, keeps spikes and the duration', () => {
    const n = 20_000;
    const s = randomSamples(n, 9, 1e-12);
    s[12_345] = 5e-9; // a one-sample transient
    s[777] = -3e-9;
    const d = decimateMinMax(s, 20_000, 600);
    expect(d.samples.length).toBeLessThanOrEqual(600);
    expect(d.samples.length).toBeGreaterThan(500);
    expect(Math.max(...d.samples)).toBe(s[12_345]);
    expect(Math.min(...d.samples)).toBe(s[777]);
    // same span of time: n / rate == out / outRate
    expect(d.samples.length / d.sampleRateHz).toBeCloseTo(n / 20_000, 9);
  });

  it('keeps min and max in the order they happened', () => {
    const s = new Float32Array(1000);
    s[10] = 1; // max first in bucket 0
    s[12] = -1;
    const d = decimateMinMax(s, 1000, 20); // 10 buckets of 100
    expect([d.samples[0], d.samples[1]]).toEqual([1, -1]);
  });
});
