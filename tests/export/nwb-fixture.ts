/**
 * A hand-built NwbSessionInput for the NWB tests: two electrodes on two
 * amplifier channels, `perElectrode` sweeps each, VC and IC alternating,
 * recorded simultaneously on both electrodes. Samples come from a seeded PRNG
 * and include the awkward float32 values (−0, denormals, ±max, ±∞, NaN).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NwbSessionInput, NwbSweep } from '../../src/export/nwb/model.ts';

/** mulberry32: small, seeded, good enough for test data */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const SPECIAL_VALUES = [-0, 0, 1.401298464324817e-45, -1.1754942106924411e-38, 3.4028234663852886e38, -3.4028234663852886e38, Infinity, -Infinity, NaN, 1e-12, -2.5e-10];

export function samples(rand: () => number, n: number, scale: number, special: boolean): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (rand() * 2 - 1) * scale;
  if (special) SPECIAL_VALUES.forEach((v, i) => (a[(i * 7) % n] = v));
  return a;
}

export interface FixtureOptions {
  perElectrode?: number;
  samplesPerSweep?: number;
  seed?: number;
  /** sweep (by index per electrode) recorded without a stimulus */
  noStimulusAt?: number | null;
  identifier?: string;
}

export function sweepsFor(opt: FixtureOptions = {}): NwbSweep[] {
  const per = opt.perElectrode ?? 10;
  const n = opt.samplesPerSweep ?? 2000;
  const rand = prng(opt.seed ?? 7);
  const out: NwbSweep[] = [];
  const types = ['long-square', 'long-square', 'short-square', 'ramp'];
  for (let k = 0; k < per; k++) {
    for (const [e, electrode] of ['p1-a1', 'p2-a3'].entries()) {
      const mode = k % 2 === 0 ? 'VC' : 'IC';
      const amp = (k + 1) * 10;
      out.push({
        electrode,
        sweepNumber: 1000 + 2 * k + e,
        mode,
        response: samples(rand, n, mode === 'VC' ? 2e-10 : 0.08, k === 0),
        responseUnit: mode === 'VC' ? 'amperes' : 'volts',
        stimulus: k === opt.noStimulusAt ? null : samples(rand, n, mode === 'VC' ? 0.01 : 1e-10, k === 1),
        stimulusUnit: mode === 'VC' ? 'volts' : 'amperes',
        sampleRateHz: k % 3 === 2 ? 20_000 : 50_000,
        startingTime: 12.5 + 4 * k + (e === 0 ? 0 : 0.0002),
        stimulusDescription: `${types[k % types.length]} ${mode === 'VC' ? `+${amp}mV` : `+${amp}pA`}`,
        gain: mode === 'VC' ? 5e8 : 10,
        ...(mode === 'IC'
          ? { biasCurrent: -2.5e-11, bridgeBalance: 1.2e7, capacitanceCompensation: 3.1e-12 }
          : { capacitanceFast: 4.2e-12, capacitanceSlow: 2.1e-11 }),
      });
    }
  }
  return out;
}

export function fixtureInput(opt: FixtureOptions = {}, sweeps: NwbSessionInput['sweeps'] = sweepsFor(opt)): NwbSessionInput {
  return {
    session: {
      identifier: opt.identifier ?? 'autopatch-test-session-0001',
      sessionId: 'S-2025-05-20 #1',
      description: 'two-pipette test session',
      startTime: '2025-05-20T09:30:00.000+02:00',
      fileCreateDate: '2025-05-20T12:00:00.000+02:00',
      experimenter: ['Tester, Ada'],
      lab: 'Patch lab',
      rig: 'rig-sim-1',
      preset: 'mouse-cortex-l23',
      seed: 42,
      virtual: true,
    },
    subject: { subjectId: 'mouse/17', species: 'Mus musculus' },
    devices: [
      { name: 'amp-ch1', description: 'MultiClamp 700B channel 1 (emulated)', manufacturer: 'Molecular Devices' },
      { name: 'amp-ch2', description: 'MultiClamp 700B channel 2 (emulated)', manufacturer: 'Molecular Devices' },
    ],
    electrodes: [
      { name: 'p1-a1', device: 'amp-ch1', description: 'whole-cell, pipette p1 attempt 1', seal: 2.34e9, resistance: 5.6e6, initialAccessResistance: 1.25e7, cellId: 'cell-12', location: 'L2/3' },
      { name: 'p2-a3', device: 'amp-ch2', description: 'whole-cell, pipette p2 attempt 3', seal: 1.1e9, resistance: 4.9e6, initialAccessResistance: null, cellId: null, location: null },
    ],
    sweeps,
  };
}

export function tempDir(prefix: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
