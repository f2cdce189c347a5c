/** Shared bits for the store tests: temp folders and hand-built RigEvents. */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RigEvent, TestPulseReading } from '../../src/control/events.ts';
import type { Sweep } from '../../drivers/types.ts';

export const EPOCH0 = Date.UTC(2026, 0, 1);

export function tempDir(prefix = 'autopatch-store-'): { dir: string; file: (name: string) => string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, file: (name) => join(dir, name), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Every file in a folder with its size and the SHA-256 of its bytes: compare before/after to show nothing was created or changed. */
export function folderSnapshot(dir: string): Record<string, string> {
  return Object.fromEntries(
    readdirSync(dir)
      .sort()
      .map((name) => {
        const bytes = readFileSync(join(dir, name));
        return [name, `${bytes.length} bytes, sha256 ${createHash('sha256').update(bytes).digest('hex')}`];
      }),
  );
}

/** A path in a folder of its own, so a folder snapshot sees only this store's files. */
export function isolatedPath(root: string, name: string): string {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  return join(dir, 'store.sqlite');
}

export function sessionStarted(sessionId: string, t = 0, over: Partial<Extract<RigEvent, { type: 'session.started' }>> = {}): RigEvent {
  return {
    type: 'session.started',
    t,
    epochMs: EPOCH0 + t,
    sessionId,
    preset: 'slice-test',
    pipettes: ['p1', 'p2'],
    seed: 42,
    rig: 'simulated 2-pipette rig',
    operator: 'tester',
    virtual: true,
    limits: { durationMs: null, maxAttempts: null },
    ...over,
  };
}

export function sessionEnded(sessionId: string, t: number, reason: 'completed' | 'aborted' | 'estop' | 'duration' | 'error' = 'completed'): RigEvent {
  return { type: 'session.ended', t, epochMs: EPOCH0 + t, sessionId, reason };
}

/** A float32 ramp with a recognisable value per sample. */
export function ramp(n: number, scale = 1e-12, offset = 0): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (offset + i) * scale;
  return a;
}

export function tpSweep(seq: number, samples: Float32Array, startTime = seq * 33): Sweep {
  return {
    channel: 0,
    seq,
    kind: 'testpulse',
    mode: 'VC',
    startTime,
    sampleRateHz: 20_000,
    response: samples,
    responseUnit: 'A',
    holding: -0.07,
    step: { amplitude: 0.01, onsetIndex: 70, lengthSamples: 200 },
  };
}

export function stimSweep(seq: number, response: Float32Array, stimulus: Float32Array, startTime = seq * 1000): Sweep {
  return {
    channel: 0,
    seq,
    kind: 'stimulus',
    mode: 'IC',
    startTime,
    sampleRateHz: 50_000,
    response,
    responseUnit: 'V',
    holding: -20e-12,
    stimulus: { name: 'long-square', mode: 'IC', sampleRateHz: 50_000, samples: stimulus, onsetIndex: 100, lengthSamples: 500, amplitude: 50e-12 },
  };
}

export function sweepEvent(pipetteId: string, attemptId: string | null, sweep: Sweep, t: number, qc?: Record<string, number | boolean>): RigEvent {
  return { type: 'sweep', t, epochMs: EPOCH0 + t, pipetteId, attemptId, sweep, ...(qc ? { qc } : {}) };
}

export function reading(r: number, over: Partial<TestPulseReading> = {}): TestPulseReading {
  return { r, ra: null, cm: null, rm: null, ihold: -10e-12, fitQuality: 0.9, mode: 'VC', ...over };
}

export function tpEvent(pipetteId: string, t: number, r: number, attemptId: string | null = null): RigEvent {
  return { type: 'pipette.testpulse', t, epochMs: EPOCH0 + t, pipetteId, attemptId, reading: reading(r) };
}
