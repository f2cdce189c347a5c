import { afterAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { openDatabase, integrityProblems } from '../../src/store/migrations.ts';
import { getSession, listTransitions } from '../../src/store/queries.ts';
import { listSweeps, readSweep } from '../../src/store/sweeps.ts';
import { openStoreWriter } from '../../src/store/writer.ts';
import { ramp, sessionEnded, sessionStarted, sweepEvent, tempDir, tpSweep } from './helpers.ts';

const tmp = tempDir();
afterAll(() => tmp.cleanup());
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CHILD = fileURLToPath(new URL('./fixtures/crash-writer.ts', import.meta.url));

/** Runs the writer child until it has reported `atLeast` committed sweeps, then SIGKILLs it. */
function runAndKill(path: string, atLeast: number): Promise<{ lastCommitted: number; signal: string | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, path], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let lastCommitted = -1;
    let buffer = '';
    let stderr = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      buffer += chunk;
      const lines = buffer.split('\n');
      buffer = lines.pop() ?? '';
      for (const line of lines) {
        const m = /^committed (\d+)$/.exec(line);
        if (m) lastCommitted = Number(m[1]);
      }
      // kill right after a report, while the child is busy writing the next batches
      if (lastCommitted >= atLeast && !child.killed) child.kill('SIGKILL');
    });
    child.stderr.on('data', (c) => (stderr += String(c)));
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (signal !== 'SIGKILL') reject(new Error(`child exited on its own (code ${code}): ${stderr}`));
      else resolve({ lastCommitted, signal });
    });
  });
}

describe('crash safety', () => {
  it('after kill -9 mid-session: committed data intact, session interrupted, file sound, next session fine', async () => {
    const path = tmp.file('crash.sqlite');
    const { lastCommitted } = await runAndKill(path, 300);
    expect(lastCommitted).toBeGreaterThanOrEqual(300);

    const db = openDatabase(path);
    expect(integrityProblems(db)).toEqual([]);
    const session = getSession(db, 'crash-1')!;
    expect(session.status).toBe('interrupted');
    expect(session.endReason).toBe('interrupted');

    // every sweep reported committed is there, bit-exact; more may have made it before the kill
    const metas = listSweeps(db, { sessionId: 'crash-1' });
    const seqs = metas.map((m) => m.seq);
    expect(seqs.length).toBeGreaterThanOrEqual(lastCommitted + 1);
    expect(seqs.slice(0, lastCommitted + 1)).toEqual(Array.from({ length: lastCommitted + 1 }, (_, k) => k));
    for (const m of metas.filter((x) => x.seq % 37 === 0 || x.seq === lastCommitted)) {
      const expected = ramp(512, 1e-12, m.seq);
      expect(new Uint32Array(readSweep(db, m.id)!.sweep.response.buffer)).toEqual(new Uint32Array(expected.buffer));
    }
    // and the state events written alongside them
    const marks = listTransitions(db, ['crash-1']).map((x) => x.reason);
    for (let s = 0; s <= lastCommitted; s += 5) expect(marks).toContain(`mark ${s}`);
    // the session ends at its last committed row
    const lastT = Math.max(...metas.map((m) => m.t));
    expect(session.endT).toBe(lastT);
    expect(session.endEpochMs).toBe(metas.find((m) => m.t === lastT)!.epochMs);
    db.close();

    // a new session starts and ends normally on the same file
    const writer = await openStoreWriter({ path });
    writer.write(sessionStarted('after-crash', 0, { epochMs: Date.UTC(2026, 0, 2) }));
    writer.write(sweepEvent('p1', null, tpSweep(0, ramp(64)), 5));
    writer.write(sessionEnded('after-crash', 100));
    await writer.close();
    const again = openDatabase(path);
    expect(getSession(again, 'after-crash')?.status).toBe('completed');
    expect(getSession(again, 'crash-1')?.status).toBe('interrupted');
    expect(listSweeps(again, { sessionId: 'after-crash' })).toHaveLength(1);
    expect(integrityProblems(again)).toEqual([]);
    again.close();
  }, 60_000);
});
