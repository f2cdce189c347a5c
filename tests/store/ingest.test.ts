import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/store/migrations.ts';
import { createIngestor } from '../../src/store/ingest.ts';
import { listRejectedEvents } from '../../src/store/rejected.ts';
import { getSession, listTransitions, sessionStats } from '../../src/store/queries.ts';
import type { RigEvent } from '../../src/control/events.ts';
import { EPOCH0, isolatedPath, ramp, sessionEnded, sessionStarted, stimSweep, sweepEvent, tempDir, tpEvent } from './helpers.ts';

const tmp = tempDir();
afterAll(() => tmp.cleanup());
let n = 0;
const fresh = (): string => isolatedPath(tmp.dir, `i-${++n}`);

const state = (pipetteId: string, t: number, to: 'hunt' | 'seal', reason: string): RigEvent => ({
  type: 'pipette.state', t, epochMs: EPOCH0 + t, pipetteId, attemptId: null, from: 'hunt', to, reason,
});

describe('ingest', () => {
  it('keeps a rejected event whole, with its error, samples bit-exact', () => {
    const db = openDatabase(fresh());
    const ingest = createIngestor(db);
    const samples = ramp(300, 1e-3, 7);
    samples[3] = NaN;
    const bad = sweepEvent('p1', 'a1', { ...stimSweep(4, samples, ramp(300, 1e-12)), kind: 'bogus' as 'stimulus' }, 50); // fails the kind CHECK
    const result = ingest.applyBatch([sessionStarted('R', 0), sessionStarted('R', 5), bad, tpEvent('p1', 60, 5e6)]);
    expect(result.rejected.map((r) => r.type)).toEqual(['session.started', 'sweep']);
    const kept = listRejectedEvents(db, 'R');
    expect(kept.map((k) => [k.type, k.t])).toEqual([['session.started', 5], ['sweep', 50]]);
    expect(kept[0].error).toMatch(/UNIQUE constraint failed: sessions\.id/);
    expect(kept[0].event).toEqual(sessionStarted('R', 5));
    expect(kept[1].error).toMatch(/CHECK constraint failed/);
    const sweep = kept[1].event as Extract<RigEvent, { type: 'sweep' }>;
    expect(new Uint32Array(sweep.sweep.response.buffer)).toEqual(new Uint32Array(samples.buffer));
    expect(sweep.sweep.stimulus?.samples).toEqual(ramp(300, 1e-12));
    expect({ ...sweep, sweep: { ...sweep.sweep, response: null, stimulus: { ...sweep.sweep.stimulus, samples: null } } }).toEqual({
      ...bad,
      sweep: { ...(bad as typeof sweep).sweep, response: null, stimulus: { ...(bad as typeof sweep).sweep.stimulus, samples: null } },
    });
    expect(sessionStats(db, 'R').events_rejected).toBe(2);
    db.close();
  });

  it('after a transaction fails as a whole (disk full), later batches do not point at what it rolled back', () => {
    const db = openDatabase(fresh());
    const ingest = createIngestor(db);
    ingest.applyBatch([sessionStarted('S1', 0), tpEvent('p1', 10, 5e6), sessionEnded('S1', 100)]);
    const s1Stats = sessionStats(db, 'S1');
    // a full disk: the file may not grow, and this batch needs room for its samples (and for keeping them as rejected)
    db.pragma(`max_page_count = ${db.pragma('page_count', { simple: true }) as number}`);
    const doomed: RigEvent[] = [
      sessionStarted('S2', 200, { epochMs: EPOCH0 + 200 }),
      tpEvent('p1', 210, 5e6), // kept: first reading of p1 in S2
      tpEvent('p1', 220, 5e6), // held back by decimation
      sweepEvent('p1', null, stimSweep(1, ramp(200_000), ramp(200_000)), 230),
    ];
    expect(() => ingest.applyBatch(doomed)).toThrow(/full/);
    expect(getSession(db, 'S2')).toBeNull(); // rolled back
    expect(ingest.currentSession()).toBeNull();
    db.pragma('max_page_count = 1073741823');

    const later = ingest.applyBatch([state('p1', 300, 'seal', 'after the failure'), tpEvent('p1', 310, 6e6)]);
    expect(later.rejected).toEqual([]);
    const tr = listTransitions(db).filter((x) => x.reason === 'after the failure');
    expect(tr.map((x) => x.sessionId)).toEqual([null]);
    // the reading decimation held back in the rolled-back batch is not stored later as if it had been committed
    const readingTimes = db.prepare('SELECT t FROM testpulse_readings ORDER BY t').pluck().all();
    expect(readingTimes).toEqual([10, 310]);
    // S1's counters were neither lost nor bumped by the failed batch
    expect(sessionStats(db, 'S1')).toEqual(s1Stats);
    // and a new session after that is stored normally
    ingest.applyBatch([sessionStarted('S3', 400, { epochMs: EPOCH0 + 400 }), tpEvent('p1', 410, 5e6), sessionEnded('S3', 500)]);
    expect(getSession(db, 'S3')?.status).toBe('completed');
    db.close();
  });
});
