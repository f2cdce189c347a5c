/**
 * `autopatch run` as a command: a virtual-time session end to end with its
 * summary and stored records, refusals of bad options and presets, a
 * dashboard port already taken giving a clear error with everything closed,
 * the dashboard link and control token it prints, --host, and Ctrl-C
 * aborting whichever session runs (one started from the dashboard too).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createServer } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCommand } from '../../src/cli/commands/run.ts';
import { openDatabase } from '../../src/store/migrations.ts';
import { listAttempts, listSessions } from '../../src/store/queries.ts';
import { PIPETTE_STATES } from '../../src/control/events.ts';

const dir = mkdtempSync(join(tmpdir(), 'ap-run-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCommand(argv, { stdout: (t) => (out += t), stderr: (t) => (err += t) });
  return { code, out, err };
}

/** A run in the background, its output as it comes. */
function start(argv: string[]) {
  const o = { out: '', err: '', code: null as number | null };
  const done = runCommand(argv, { stdout: (t) => (o.out += t), stderr: (t) => (o.err += t) }).then((c) => (o.code = c));
  const until = async (what: () => boolean, label: string, ms = 60_000): Promise<void> => {
    const end = Date.now() + ms;
    while (!what()) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${label}; stdout:\n${o.out}\nstderr:\n${o.err}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  };
  return { o, done, until };
}

const DASHBOARD = /^dashboard: (http:\/\/127\.0\.0\.1:(\d+)\/)\?token=([0-9a-f]{24})$/m;
const CONTROL = /^control token: ([0-9a-f]{24}) \(needed for commands; viewing is open on this machine\)$/m;

describe('autopatch run', () => {
  it('runs a virtual-time session to its attempt limit, prints the summary and stores every attempt', async () => {
    const db = join(dir, 'virtual.sqlite');
    const r = await run(['--virtual', '--seed', '3', '--pipettes', '2', '--attempts', '4', '--preset', 'culture', '--db', db]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/simulated culture rig \(2 pipettes, seed 3\); preset culture; virtual time/);
    expect(r.out).toMatch(/session \S+ ended \(completed\)/);
    expect(r.out).toMatch(/Funnel \(4 ended attempts/);
    const store = openDatabase(db);
    const sessions = listSessions(store);
    expect(sessions).toHaveLength(1);
    expect(sessions[0]).toMatchObject({ status: 'completed', preset: 'culture', seed: 3 });
    // the rig description's devices and the preset's settings are recorded with the session
    expect(sessions[0].hardware).toEqual([
      { pipetteId: 'p1', manipulator: { driver: 'sutter-mp285', path: 'sim:sutter-mp285-p1', unit: null }, pressure: { driver: 'autopatch-pbox', path: 'sim:pbox-1', channel: 0 }, amplifier: { driver: 'amp-bridge', path: 'sim:amp-1', channel: 0 } },
      { pipetteId: 'p2', manipulator: { driver: 'sutter-mpc325', path: 'sim:sutter-mpc325-p2', unit: 1 }, pressure: { driver: 'autopatch-pbox', path: 'sim:pbox-1', channel: 1 }, amplifier: { driver: 'amp-bridge', path: 'sim:amp-1', channel: 1 } },
    ]);
    expect(sessions[0].presetSettings).toMatchObject({ kind: 'autopatch-preset', name: 'culture' });
    expect(r.out).toMatch(/^p2\s+sutter-mpc325 #1\s+sim:sutter-mpc325-p2\s+autopatch-pbox\s+sim:pbox-1\s+1\s+amp-bridge\s+sim:amp-1\s+1$/m);
    const attempts = listAttempts(store, [sessions[0].id]);
    expect(attempts).toHaveLength(4);
    expect(new Set(attempts.map((a) => a.pipetteId))).toEqual(new Set(['p1', 'p2']));
    for (const a of attempts) expect(a.outcome).not.toBeNull();
    store.close();
  });

  it('an attempt limit below the number of pipettes still runs exactly that many attempts', async () => {
    const db = join(dir, 'one.sqlite');
    const r = await run(['--virtual', '--seed', '2', '--pipettes', '4', '--attempts', '1', '--preset', 'culture', '--db', db, '--quiet']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/Funnel \(1 ended attempts?/);
    const store = openDatabase(db);
    const [session] = listSessions(store);
    expect(session.status).toBe('completed');
    expect(listAttempts(store, [session.id])).toHaveLength(1);
    store.close();
  });

  it('refuses bad options with the usage and a bad preset with the file problem, starting nothing', async () => {
    let r = await run(['--pipettes', '0']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--pipettes must be an integer from 1 to 32 \(got "0"\)/);
    r = await run(['--virtual', '--duration', '0', '--db', join(dir, 'never.sqlite')]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--virtual needs a --duration or --attempts limit/);
    const db = join(dir, 'bad-preset.sqlite');
    r = await run(['--virtual', '--attempts', '1', '--preset', 'no-such-preset', '--db', db]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/no-such-preset/);
  });

  it('says clearly when the dashboard port is taken, and closes what it opened', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    const db = join(dir, 'port.sqlite');
    try {
      const r = await run(['--port', String(port), '--db', db, '--quiet']);
      expect(r.code).toBe(1);
      expect(r.err).toContain(`port ${port} on 127.0.0.1 is already in use`);
      expect(r.err).toContain('--port');
      // the store was closed properly: no session was started, and the file opens cleanly
      const store = openDatabase(db);
      expect(listSessions(store)).toHaveLength(0);
      store.close();
    } finally {
      blocker.close();
    }
  });

  it('prints the dashboard link with its token and the control token; Ctrl-C aborts a session started from the dashboard, and quits when none runs', async () => {
    const db = join(dir, 'ctrl-c.sqlite');
    const r = start(['--speed', '5', '--port', '0', '--pipettes', '1', '--preset', 'culture', '--db', db, '--quiet']);
    await r.until(() => DASHBOARD.test(r.o.out) && CONTROL.test(r.o.out), 'the dashboard lines');
    const [, base, port, linkToken] = DASHBOARD.exec(r.o.out)!;
    const [, token] = CONTROL.exec(r.o.out)!;
    expect(linkToken).toBe(token);
    expect(Number(port)).toBeGreaterThan(0);
    const api = (path: string, init: RequestInit = {}) =>
      fetch(new URL(path, base), { ...init, headers: { authorization: `Bearer ${token}`, ...(init.body ? { 'content-type': 'application/json' } : {}) } });
    // the printed token is the one the server takes
    expect((await api('/api/auth')).status).toBe(200);
    expect((await fetch(new URL('/api/auth', base))).status).toBe(401);

    // the first session ends (aborted from the dashboard, not by Ctrl-C); the dashboard stays up
    expect((await api('/api/session/abort', { method: 'POST' })).status).toBe(200);
    await r.until(() => /dashboard stays up/.test(r.o.out), 'the end of the first session', 120_000);
    const phase = async (): Promise<string> => ((await (await api('/api/snapshot')).json()) as { phase: string }).phase;
    // a session started from the dashboard: Ctrl-C aborts it and the dashboard stays up
    expect((await api('/api/session/start', { method: 'POST', body: JSON.stringify({ preset: 'culture', operator: 'cli test' }) })).status).toBe(200);
    expect(await phase()).toBe('running');
    process.emit('SIGINT');
    expect(r.o.err).toMatch(/Ctrl-C: aborting session \S+/);
    const end = Date.now() + 60_000;
    while ((await phase()) !== 'ended' && Date.now() < end) await new Promise((res) => setTimeout(res, 50));
    expect(await phase()).toBe('ended');
    expect(r.o.code).toBeNull(); // still serving
    expect((await api('/api/auth')).status).toBe(200);
    // no session running: Ctrl-C quits (a press of its own: SIGINTs within 250 ms are one press)
    await new Promise((res) => setTimeout(res, 300));
    process.emit('SIGINT');
    expect(await r.done).toBe(0);
    const store = openDatabase(db);
    const sessions = listSessions(store);
    expect(sessions.map((s) => s.status)).toEqual(['aborted', 'aborted']);
    store.close();
  }, 180_000);

  it('one Ctrl-C that reaches the process twice (terminal and npm/tsx relaying it) aborts, it is not an emergency stop', async () => {
    const db = join(dir, 'ctrl-c-twice.sqlite');
    const r = start(['--speed', '5', '--port', '0', '--pipettes', '1', '--preset', 'culture', '--db', db, '--quiet']);
    await r.until(() => DASHBOARD.test(r.o.out), 'the dashboard line');
    process.emit('SIGINT');
    process.emit('SIGINT');
    expect(await r.done).toBe(0);
    expect(r.o.err).toMatch(/Ctrl-C: aborting session \S+/);
    expect(r.o.err).not.toMatch(/second Ctrl-C|EMERGENCY STOP/);
    const store = openDatabase(db);
    expect(listSessions(store).map((s) => s.status)).toEqual(['aborted']);
    store.close();
  }, 180_000);

  it('--host another address: warns, and reading needs the token too', async () => {
    const db = join(dir, 'host.sqlite');
    const r = start(['--host', '0.0.0.0', '--speed', '5', '--port', '0', '--pipettes', '1', '--preset', 'culture', '--db', db, '--quiet', '--exit']);
    await r.until(() => /^dashboard: /m.test(r.o.out), 'the dashboard line');
    expect(r.o.err).toMatch(/warning: the dashboard listens on 0\.0\.0\.0, reachable from other machines/);
    expect(r.o.out).toMatch(/^control token: [0-9a-f]{24} \(needed for commands and for viewing\)$/m);
    const [, base, , token] = DASHBOARD.exec(r.o.out)!;
    expect((await fetch(new URL('/api/snapshot', base))).status).toBe(401);
    expect((await fetch(new URL('/api/snapshot', base), { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    expect((await fetch(new URL('/api/session/abort', base), { method: 'POST', headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    expect(await r.done).toBe(0);
  }, 180_000);

  it('refuses a --host that is not an address', async () => {
    const r = await run(['--host', 'no such host!', '--db', join(dir, 'never2.sqlite')]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--host must be an address or a host name/);
  });
});

describe('autopatch run: --duration and the progress line', () => {
  it('stops starting attempts after --duration minutes of rig time, ending as a duration session', async () => {
    const db = join(dir, 'duration.sqlite');
    const r = await run(['--virtual', '--seed', '4', '--pipettes', '2', '--duration', '3', '--preset', 'culture', '--db', db, '--quiet']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/session \S+ ended \(duration\) after \d+\.\d min of rig time/);
    const store = openDatabase(db);
    const [session] = listSessions(store);
    expect(session.status).toBe('completed');
    const attempts = listAttempts(store, [session.id]);
    expect(attempts.length).toBeGreaterThan(0);
    // every attempt started within the first 3 minutes of the session; the running ones were allowed to finish
    for (const a of attempts) expect(a.startEpochMs - session.startEpochMs).toBeLessThanOrEqual(3 * 60_000);
    expect(Math.max(...attempts.map((a) => a.endEpochMs ?? 0)) - session.startEpochMs).toBeGreaterThan(3 * 60_000);
    store.close();
  });

  it('prints a progress line per rig minute: each pipette with its state and time in it, and the running funnel', async () => {
    const db = join(dir, 'progress.sqlite');
    const r = await run(['--virtual', '--seed', '4', '--pipettes', '2', '--duration', '4', '--preset', 'culture', '--db', db]);
    expect(r.code).toBe(0);
    const states = PIPETTE_STATES.join('|');
    const line = new RegExp(`^\\[(\\d+:\\d\\d)\\] p1 (${states}) \\d+:\\d\\d \\| p2 (${states}) \\d+:\\d\\d \\|\\| attempts (\\d+), sealed (\\d+), whole-cell (\\d+), recorded (\\d+) \\((\\d+\\.\\d) cells/h\\)$`);
    const progress = r.out.split('\n').filter((l) => l.startsWith('['));
    expect(progress.length).toBeGreaterThanOrEqual(4);
    const parsed = progress.map((l) => {
      const m = line.exec(l);
      expect(m, l).not.toBeNull();
      return { at: m![1], attempts: Number(m![4]), sealed: Number(m![5]), wholeCell: Number(m![6]), recorded: Number(m![7]) };
    });
    expect(parsed.slice(0, 4).map((p) => p.at)).toEqual(['1:00', '2:00', '3:00', '4:00']);
    for (let i = 1; i < parsed.length; i++) {
      // running counts only grow, and the funnel narrows
      expect(parsed[i].attempts).toBeGreaterThanOrEqual(parsed[i - 1].attempts);
      expect(parsed[i].recorded).toBeGreaterThanOrEqual(parsed[i - 1].recorded);
      expect(parsed[i].recorded).toBeLessThanOrEqual(parsed[i].wholeCell);
      expect(parsed[i].wholeCell).toBeLessThanOrEqual(parsed[i].sealed);
    }
    // the last line's figures agree with what was stored
    const store = openDatabase(db);
    const [session] = listSessions(store);
    const attempts = listAttempts(store, [session.id]);
    expect(parsed.at(-1)!.attempts).toBeLessThanOrEqual(attempts.length);
    expect(parsed.at(-1)!.recorded).toBeLessThanOrEqual(attempts.filter((a) => a.outcome === 'recorded').length);
    store.close();
  });
});
