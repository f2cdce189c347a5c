/**
 * Nothing runs with a bad preset: a preset file with an out-of-range field or
 * one the rig cannot honour is refused by `autopatch run --virtual --preset
 * PATH` (exit 1, the file, field and range in the message, no session in the
 * database) and by the session host (the dashboard's "start"), which then has
 * no session and emits no session.started.
 */
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCommand } from '../../src/cli/commands/run.ts';
import { createSimulatedLab, type SimulatedLab } from '../../src/cli/simulated-lab.ts';
import { createVirtualClock, type VirtualClock } from '../../src/clock/index.ts';
import type { RigEvent } from '../../src/control/events.ts';
import { openDatabase } from '../../src/store/migrations.ts';
import { listSessions } from '../../src/store/queries.ts';
import { presetCopy, setPath, tempDir } from './helpers.ts';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

/** A culture preset file with one field changed. */
function presetFile(folder: string, path: string, value: unknown): string {
  const p = presetCopy('culture');
  setPath(p, path, value);
  return tmp.write(`${folder}/culture.json`, JSON.stringify(p, null, 2));
}

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCommand(argv, { stdout: (t) => (out += t), stderr: (t) => (err += t) });
  return { code, out, err };
}

function sessionsIn(db: string): number {
  if (!existsSync(db)) return 0;
  const store = openDatabase(db, { recover: false });
  try {
    return listSessions(store).length;
  } finally {
    store.close();
  }
}

describe('autopatch run --preset PATH with a bad preset', () => {
  it('an out-of-range field: exit 1 naming the file, the field and the range; no session in the database', async () => {
    const file = presetFile('range', 'record.sweep_qc.max_leak_pA', 5000);
    const db = `${tmp.dir}/range.sqlite`;
    const r = await run(['--virtual', '--attempts', '1', '--pipettes', '1', '--preset', file, '--db', db]);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`${file}: record.sweep_qc.max_leak_pA = 5000 is out of range: must be > 0 and ≤ 1000 pA`);
    expect(r.out).not.toMatch(/session .* ended/);
    expect(sessionsIn(db)).toBe(0);
  });

  it('a speed beyond the rig\'s manipulators: exit 1 naming the field and the rig\'s limit; no session', async () => {
    const file = presetFile('rig', 'descent.speed_bath_um_per_s', 2000);
    const db = `${tmp.dir}/rig.sqlite`;
    const r = await run(['--virtual', '--attempts', '1', '--pipettes', '1', '--preset', file, '--db', db]);
    expect(r.code).toBe(1);
    expect(r.err).toContain("descent.speed_bath_um_per_s = 2000 exceeds the manipulator's maximum speed: must be ≤ 1000 µm/s");
    expect(sessionsIn(db)).toBe(0);
  });
});

describe('the session host refuses a bad preset', () => {
  let clock: VirtualClock;
  let lab: SimulatedLab;
  const events: RigEvent[] = [];
  beforeAll(async () => {
    clock = createVirtualClock();
    lab = await createSimulatedLab({ clock, seed: 1, pipettes: 1, preset: 'culture', durationMin: 1 });
    lab.sink.subscribe((e) => events.push(e));
  });
  afterAll(() => lab.close());

  const start = (preset: string) => clock.runUntilSettled(lab.host.start({ preset, operator: 'test', durationMin: 1 }, 'test'), 60_000);

  it('a file with an out-of-range field', async () => {
    const file = presetFile('host-range', 'record.analysis.spike_detection.filter_kHz', 500);
    const result = await start(file);
    expect(result.ok).toBe(false);
    expect(result.error).toContain(`${file}: record.analysis.spike_detection.filter_kHz = 500 is out of range: must be between 1 and 100 kHz`);
    expect(lab.host.current).toBeNull();
    expect(events.some((e) => e.type === 'session.started')).toBe(false);
  });

  it('a preset asking a speed beyond the rig\'s manipulators', async () => {
    const file = presetFile('host-rig', 'retract.speed_bath_um_per_s', 1500);
    const result = await start(file);
    expect(result.ok).toBe(false);
    expect(result.error).toContain("retract.speed_bath_um_per_s = 1500 exceeds the manipulator's maximum speed: must be ≤ 1000 µm/s");
    expect(lab.host.current).toBeNull();
    expect(events.some((e) => e.type === 'session.started')).toBe(false);
  });

  it('and still starts a good one afterwards', async () => {
    const file = presetFile('host-good', 'record.rest_s', 30);
    const result = await start(file);
    expect(result).toEqual({ ok: true });
    expect(events.filter((e) => e.type === 'session.started')).toHaveLength(1);
    await lab.host.abort('test');
    await clock.runUntilSettled(lab.host.current!.done, 30 * 60_000);
  });
});
