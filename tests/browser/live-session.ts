/**
 * A real session behind the dashboard for browser tests and benchmarks: the
 * simulated lab (emulators, drivers, control) in virtual time, the SQLite
 * writer, the archive in its worker thread (as `autopatch run` serves it) and
 * the fastify server, with the virtual clock paced against the wall so a
 * browser can follow it.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { createVirtualClock, type VirtualClock } from '../../src/clock/index.ts';
import { createSimulatedLab, type SimulatedLab } from '../../src/cli/simulated-lab.ts';
import { createServer } from '../../src/server/index.ts';
import { openStoreWriter, type StoreWriter } from '../../src/store/writer.ts';
import { openArchiveWorker } from '../../src/store/archive-thread.ts';

export const TOKEN = 'browser-test-token-0123';

export interface LiveSession {
  clock: VirtualClock;
  lab: SimulatedLab;
  app: FastifyInstance;
  base: string;
  dbPath: string;
  writer: StoreWriter;
  /** advance virtual time at `speed` × the wall until stopped */
  pace(speed: number): void;
  /** stop pacing; resolves once the clock is idle */
  hold(): Promise<void>;
  close(): Promise<void>;
}

export async function startLiveSession(options: { preset?: string; pipettes?: number; seed?: number; dbPath?: string } = {}): Promise<LiveSession> {
  const dbPath = options.dbPath ?? join(mkdtempSync(join(tmpdir(), 'ap-live-')), 'autopatch.sqlite');
  const writer = await openStoreWriter({ path: dbPath });
  const clock = createVirtualClock({ startEpochMs: Date.now() });
  const lab = await createSimulatedLab({ clock, seed: options.seed ?? 4, pipettes: options.pipettes ?? 4, preset: options.preset ?? 'in-vivo-blind', durationMin: null });
  lab.sink.subscribe((e) => writer.write(e));
  const archive = await openArchiveWorker(dbPath);
  const app = createServer({ rig: lab.host, archive, token: TOKEN, port: 0, clock });
  const base = await app.autopatch.listen();

  let pacing: Promise<void> | null = null;
  let running = false;
  const loop = async (speed: number): Promise<void> => {
    const sliceMs = 20;
    while (running) {
      await clock.runFor(sliceMs * speed);
      await new Promise((r) => setTimeout(r, sliceMs));
    }
  };
  return {
    clock,
    lab,
    app,
    base,
    dbPath,
    writer,
    pace(speed) {
      if (running) return;
      running = true;
      pacing = loop(speed);
    },
    async hold() {
      running = false;
      await pacing;
      pacing = null;
    },
    async close() {
      running = false;
      await pacing;
      await app.close();
      await archive.close();
      await lab.close();
      await writer.close();
    },
  };
}
