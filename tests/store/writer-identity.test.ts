import { afterAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { openDatabase } from '../../src/store/migrations.ts';
import { createIngestor } from '../../src/store/ingest.ts';
import { getSession } from '../../src/store/queries.ts';
import { currentWriter, writerLockPath } from '../../src/store/writer-identity.ts';
import { isolatedPath, sessionStarted, tempDir } from './helpers.ts';

const tmp = tempDir();
afterAll(() => tmp.cleanup());
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CHILD = fileURLToPath(new URL('./fixtures/foreign-writer.ts', import.meta.url));

/** a pid that no process has here (above the kernel's pid_max) */
const NO_SUCH_PID = 4_194_305;

function startForeignWriter(path: string, sessionId: string): Promise<{ child: ChildProcess; lockPath: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, path, sessionId, String(NO_SUCH_PID)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => {
      out += String(c);
      const m = /^ready (.+)$/m.exec(out);
      if (m) resolve({ child, lockPath: m[1] });
    });
    child.stderr.on('data', (c) => (err += String(c)));
    child.on('exit', (code) => reject(new Error(`writer child exited (${code}): ${err}`)));
  });
}

describe('telling live writers from dead ones', () => {
  it('a session recorded under this process\'s own pid by an earlier process (a restarted container\'s PID 1) is interrupted', () => {
    const path = isolatedPath(tmp.dir, 'same-pid');
    const db = openDatabase(path);
    const earlier = { ...currentWriter(), token: 'a1b2c3d4e5f60718' }; // same host, boot and pid; another process's token
    createIngestor(db, { writer: earlier }).applyBatch([sessionStarted('before-restart', 0)]);
    createIngestor(db).applyBatch([sessionStarted('mine', 10, { epochMs: 2e12 })]);
    db.close();
    let recovered: string[] = [];
    openDatabase(path, { onRecovered: (ids) => (recovered = ids) }).close();
    expect(recovered).toEqual(['before-restart']);
    const again = openDatabase(path);
    expect(getSession(again, 'before-restart')?.status).toBe('interrupted');
    expect(getSession(again, 'mine')?.status).toBe('running'); // this thread wrote it and is alive
    again.close();
  });

  it('a live writer whose pid is not visible here (another PID namespace) is left alone; once it is killed, its session is interrupted', async () => {
    const path = isolatedPath(tmp.dir, 'foreign');
    openDatabase(path).close();
    const { child, lockPath } = await startForeignWriter(path, 'elsewhere');
    try {
      expect(existsSync(lockPath)).toBe(true);
      let recovered: string[] = ['not called'];
      const db = openDatabase(path, { onRecovered: (ids) => (recovered = ids) });
      expect(recovered).toEqual(['not called']);
      expect(getSession(db, 'elsewhere')?.status).toBe('running');
      db.close();
    } finally {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    }
    // the kernel dropped the dead process's lock; its file is left behind until the next open cleans up
    expect(existsSync(lockPath)).toBe(true);
    let recovered: string[] = [];
    const db = openDatabase(path, { onRecovered: (ids) => (recovered = ids) });
    expect(recovered).toEqual(['elsewhere']);
    expect(getSession(db, 'elsewhere')).toMatchObject({ status: 'interrupted', endDetail: expect.stringMatching(/stopped without ending/) });
    db.close();
    expect(existsSync(lockPath)).toBe(false);
    expect(lockPath).toBe(writerLockPath(path, lockPath.slice(lockPath.lastIndexOf('-') + 1)));
  }, 30_000);
});
