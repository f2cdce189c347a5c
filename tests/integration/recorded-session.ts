/**
 * A short simulated session that records cells, written to a real SQLite
 * store through the store writer: the fixture for the end-to-end tests of
 * e-features, reports, NWB export and the dashboard's sessions page.
 * Culture, seed 1, two pipettes, 8 virtual minutes (two recorded cells) unless told otherwise.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createVirtualClock } from '../../src/clock/index.ts';
import { createSimulatedLab, type SimulatedLab } from '../../src/cli/simulated-lab.ts';
import type { AttemptRecord, RigEvent } from '../../src/control/events.ts';
import { openStoreWriter } from '../../src/store/writer.ts';

export interface RecordedSession {
  dbPath: string;
  sessionId: string;
  lab: SimulatedLab;
  records: AttemptRecord[];
}

export async function recordSession(
  options: {
    seed?: number;
    pipettes?: number;
    durationMin?: number;
    preset?: string;
    tpSweepStoreEveryMs?: number;
    /** sees every event as it happens, with the lab (for ground truth read at that moment) */
    watch?: (e: RigEvent, lab: SimulatedLab) => void;
  } = {},
): Promise<RecordedSession> {
  const dbPath = join(mkdtempSync(join(tmpdir(), 'ap-session-')), 'autopatch.sqlite');
  const writer = await openStoreWriter({ path: dbPath });
  const clock = createVirtualClock();
  const lab = await createSimulatedLab({
    clock,
    seed: options.seed ?? 1,
    pipettes: options.pipettes ?? 2,
    preset: options.preset ?? 'culture',
    durationMin: options.durationMin ?? 8,
    tpSweepStoreEveryMs: options.tpSweepStoreEveryMs,
  });
  const records: AttemptRecord[] = [];
  lab.sink.subscribe((e) => {
    writer.write(e);
    options.watch?.(e, lab);
    if (e.type === 'attempt.ended') records.push(e.record);
  });
  const supervisor = await lab.startSession();
  await clock.runUntilSettled(supervisor.done, 24 * 3_600_000);
  await writer.close();
  await lab.close();
  return { dbPath, sessionId: supervisor.sessionId, lab, records };
}
