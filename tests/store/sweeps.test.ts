import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/store/migrations.ts';
import { createIngestor } from '../../src/store/ingest.ts';
import { listSweeps, readSweep } from '../../src/store/sweeps.ts';
import { createStoreWriter } from '../../src/store/writer.ts';
import { sessionStarted, stimSweep, sweepEvent, tempDir, tpSweep } from './helpers.ts';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

/** Float32 samples from raw bit patterns: NaN payloads (quiet and signalling), denormals, ±0, ±∞, extremes. */
function awkwardSamples(): Float32Array {
  const bits = [
    0x00000000, 0x80000000, // +0, -0
    0x00000001, 0x807fffff, 0x00400000, // smallest denormal, largest negative denormal, a mid denormal
    0x7f800000, 0xff800000, // ±∞
    0x7fc00000, 0xffc00000, 0x7fc12345, 0x7f800001, 0xff812345, // quiet NaNs with payloads, signalling NaNs
    0x7f7fffff, 0xff7fffff, 0x00800000, // ±max, smallest normal
    0x3f800000, 0xbdcccccd, // 1, -0.1
  ];
  // plus a deterministic spread of arbitrary bit patterns
  let x = 0x12345678;
  for (let i = 0; i < 1000; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    bits.push(x >>> 0);
  }
  return new Float32Array(new Uint32Array(bits).buffer);
}

const bitsOf = (a: Float32Array): Uint32Array => new Uint32Array(a.buffer, a.byteOffset, a.length);

describe('sweep storage', () => {
  it('round-trips samples bit-exactly with their metadata (direct ingest)', () => {
    const db = openDatabase(tmp.file('direct.sqlite'));
    const response = awkwardSamples();
    const stimulus = awkwardSamples().reverse();
    const ingest = createIngestor(db);
    ingest.applyBatch([
      sessionStarted('S'),
      sweepEvent('p1', 'a1', stimSweep(7, response, stimulus), 1234.5, { noise_rms: 0.03, passed: true }),
      sweepEvent('p2', null, tpSweep(3, new Float32Array([1.5, -2.5, 3.25])), 40),
    ]);
    const [stimMeta, tpMeta] = listSweeps(db, { sessionId: 'S' });
    const back = readSweep(db, stimMeta.id);
    expect(back).not.toBeNull();
    expect(bitsOf(back!.sweep.response)).toEqual(bitsOf(response));
    expect(bitsOf(back!.sweep.stimulus!.samples)).toEqual(bitsOf(stimulus));
    expect(back!.sweep).toMatchObject({
      channel: 0, seq: 7, kind: 'stimulus', mode: 'IC', startTime: 7000, sampleRateHz: 50_000, responseUnit: 'V', holding: -20e-12,
    });
    expect(back!.sweep.stimulus).toMatchObject({ name: 'long-square', mode: 'IC', onsetIndex: 100, lengthSamples: 500, amplitude: 50e-12 });
    expect(back!.qc).toEqual({ noise_rms: 0.03, passed: true });
    expect(back!).toMatchObject({ sessionId: 'S', pipetteId: 'p1', attemptId: 'a1', t: 1234.5, nSamples: response.length });

    const tp = readSweep(db, tpMeta.id)!;
    expect(Array.from(tp.sweep.response)).toEqual([1.5, -2.5, 3.25]);
    expect(tp.sweep.step).toEqual({ amplitude: 0.01, onsetIndex: 70, lengthSamples: 200 });
    expect(tp.sweep.stimulus).toBeUndefined();
    expect(readSweep(db, 999_999)).toBeNull();
    db.close();
  });

  it('stores a view on a larger buffer as exactly its own samples', () => {
    const db = openDatabase(tmp.file('view.sqlite'));
    const ring = new Float32Array(1000).map((_, i) => i);
    const view = ring.subarray(100, 140);
    createIngestor(db).applyBatch([sessionStarted('S'), sweepEvent('p1', null, tpSweep(1, view), 0)]);
    const back = readSweep(db, listSweeps(db)[0].id)!;
    expect(Array.from(back.sweep.response)).toEqual(Array.from(view));
    db.close();
  });

  it('round-trips bit-exactly through the worker-thread writer, leaving the caller its arrays', async () => {
    const path = tmp.file('writer.sqlite');
    const writer = createStoreWriter({ path });
    const response = awkwardSamples();
    const stimulus = awkwardSamples();
    const ring = new Float32Array(4096).fill(0.25);
    writer.write(sessionStarted('W'));
    writer.write(sweepEvent('p1', 'a1', stimSweep(1, response, stimulus), 10));
    writer.write(sweepEvent('p2', null, tpSweep(2, ring.subarray(10, 20)), 11));
    await writer.close();
    // the caller's arrays are still intact (copied, not transferred away)
    expect(response.length).toBe(awkwardSamples().length);
    expect(bitsOf(response)).toEqual(bitsOf(awkwardSamples()));
    expect(ring.length).toBe(4096);

    const db = openDatabase(path);
    const metas = listSweeps(db, { sessionId: 'W' });
    expect(metas.map((m) => [m.pipetteId, m.kind, m.nSamples])).toEqual([
      ['p1', 'stimulus', response.length],
      ['p2', 'testpulse', 10],
    ]);
    const back = readSweep(db, metas[0].id)!;
    expect(bitsOf(back.sweep.response)).toEqual(bitsOf(response));
    expect(bitsOf(back.sweep.stimulus!.samples)).toEqual(bitsOf(stimulus));
    expect(Array.from(readSweep(db, metas[1].id)!.sweep.response)).toEqual(new Array(10).fill(0.25));
    db.close();
  });

  it('stays bit-exact when the shared ring is full (fallback copies) or turned off', async () => {
    for (const ringBytes of [4096, 0]) {
      const path = tmp.file(`ring-${ringBytes}.sqlite`);
      const writer = createStoreWriter({ path, ringBytes });
      writer.write(sessionStarted('R'));
      const sent: Float32Array[] = [];
      // 1017 samples ≈ 4 kB each: the first fits a 4 kB ring, the rest overflow until it is released
      for (let i = 0; i < 6; i++) {
        const samples = awkwardSamples().subarray(i, i + 1017);
        sent.push(samples.slice());
        writer.write(sweepEvent('p1', null, tpSweep(i, samples), i));
      }
      await writer.flush();
      const s = writer.stats();
      expect(s.ringFallbacks).toBe(ringBytes > 0 ? 5 : 0);
      await writer.close();
      const db = openDatabase(path);
      const metas = listSweeps(db, { sessionId: 'R' });
      expect(metas).toHaveLength(6);
      metas.forEach((m, i) => expect(bitsOf(readSweep(db, m.id)!.sweep.response)).toEqual(bitsOf(sent[i])));
      db.close();
    }
  });

  it('lists sweeps by session, pipette, attempt and kind, with paging', () => {
    const db = openDatabase(tmp.file('list.sqlite'));
    const events = [sessionStarted('L')];
    for (let i = 0; i < 10; i++) {
      events.push(sweepEvent(i % 2 ? 'p2' : 'p1', i < 6 ? 'a1' : 'a2', i % 3 ? tpSweep(i, new Float32Array(4)) : stimSweep(i, new Float32Array(4), new Float32Array(4)), i));
    }
    createIngestor(db).applyBatch(events);
    expect(listSweeps(db, { sessionId: 'L' })).toHaveLength(10);
    expect(listSweeps(db, { pipetteId: 'p2' }).map((m) => m.seq)).toEqual([1, 3, 5, 7, 9]);
    expect(listSweeps(db, { attemptId: 'a2', kind: 'stimulus' }).map((m) => m.seq)).toEqual([6, 9]);
    expect(listSweeps(db, { sessionId: 'L', limit: 3, offset: 4 }).map((m) => m.seq)).toEqual([4, 5, 6]);
    expect(listSweeps(db, { offset: 8 }).map((m) => m.seq)).toEqual([8, 9]);
    expect(listSweeps(db, { sessionId: 'nope' })).toEqual([]);
    db.close();
  });
});
