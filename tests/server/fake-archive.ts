/**
 * An in-memory SessionArchive with one small session, for server and
 * browser tests. Figures are internally consistent (two attempts, one
 * recorded), not a report computation: that is the store's job.
 */
import type {
  AttemptTimeline,
  SessionArchive,
  SessionReport,
  SessionSummary,
  SweepData,
} from '../../src/server/archive-types.ts';
import { attemptRecord, testPulseSweep } from './fake-rig.ts';

export interface FakeArchive extends SessionArchive {
  readonly sessions: SessionSummary[];
  readonly sweepsById: Map<number, SweepData>;
  calls: string[];
}

const T0 = Date.UTC(2026, 0, 1, 9, 0, 0);

export function createFakeArchive(): FakeArchive {
  const session: SessionSummary = {
    sessionId: 'sess-1',
    preset: 'acute-slice',
    operator: 'ada',
    rig: 'sim',
    virtual: true,
    startEpochMs: T0,
    endEpochMs: T0 + 3_600_000,
    status: 'completed',
    endReason: 'completed',
    pipettes: ['p1', 'p2'],
    attempts: 2,
    unfinished: 0,
    wholeCell: 1,
    recorded: 1,
  };
  const a1 = attemptRecord({
    attemptId: 'a1',
    pipetteId: 'p1',
    stageReached: 'recorded',
    outcome: 'recorded',
    failureReason: null,
    failedIn: null,
    peakSeal: 2.5e9,
    timeToSeal: 12,
    ra: 12e6,
    rm: 300e6,
    cm: 20e-12,
    ihold: -50e-12,
    vrest: -0.068,
    sweepsRecorded: 1,
    startT: 0,
    endT: 200_000,
    stateDurations: { descent: 20, hunt: 40, seal: 12, breakIn: 3, wholeCell: 30, record: 95 },
  });
  const a2 = attemptRecord({ attemptId: 'a2', pipetteId: 'p2', startT: 0, endT: 60_000 });
  const timelines: AttemptTimeline[] = [
    {
      record: a1,
      transitions: [
        { t: 0, epochMs: T0, from: 'idle', to: 'descent', reason: 'attempt start' },
        { t: 20_000, epochMs: T0 + 20_000, from: 'descent', to: 'hunt', reason: 'region reached' },
        { t: 60_000, epochMs: T0 + 60_000, from: 'hunt', to: 'seal', reason: 'cell detected' },
        { t: 72_000, epochMs: T0 + 72_000, from: 'seal', to: 'breakIn', reason: 'gigaseal' },
        { t: 75_000, epochMs: T0 + 75_000, from: 'breakIn', to: 'wholeCell', reason: 'break-in' },
        { t: 105_000, epochMs: T0 + 105_000, from: 'wholeCell', to: 'record', reason: 'QC passed' },
        { t: 200_000, epochMs: T0 + 200_000, from: 'record', to: 'retract', reason: 'protocol done' },
      ],
    },
    {
      record: a2,
      transitions: [
        { t: 0, epochMs: T0, from: 'idle', to: 'descent', reason: 'attempt start' },
        { t: 10_000, epochMs: T0 + 10_000, from: 'descent', to: 'hunt', reason: 'region reached' },
        { t: 30_000, epochMs: T0 + 30_000, from: 'hunt', to: 'seal', reason: 'cell detected' },
        { t: 60_000, epochMs: T0 + 60_000, from: 'seal', to: 'retract', reason: 'seal-stalled' },
      ],
    },
  ];
  const tp = testPulseSweep({ seq: 1, startTime: 50_000, samples: 4000 });
  const stimResponse = new Float32Array(10_000).map((_, i) => -0.07 + (i > 2000 && i < 8000 ? 0.01 : 0));
  const stimCommand = new Float32Array(10_000).map((_, i) => (i > 2000 && i < 8000 ? 50e-12 : 0));
  const sweepsById = new Map<number, SweepData>([
    [
      1,
      {
        info: {
          sweepId: 1, pipetteId: 'p1', attemptId: 'a1', kind: 'testpulse', mode: 'VC', seq: 1, startTime: 50_000,
          sampleRateHz: tp.sampleRateHz, responseUnit: 'A', holding: -0.07, samples: tp.response.length, stimulusName: null, qc: null,
        },
        response: tp.response,
        stimulus: null,
      },
    ],
    [
      2,
      {
        info: {
          sweepId: 2, pipetteId: 'p1', attemptId: 'a1', kind: 'stimulus', mode: 'IC', seq: 2, startTime: 120_000,
          sampleRateHz: 10_000, responseUnit: 'V', holding: 0, samples: 10_000, stimulusName: 'long-square +50pA',
          qc: { baselineStable: true },
        },
        response: stimResponse,
        stimulus: stimCommand,
      },
    ],
  ]);
  const report: SessionReport = {
    session,
    seed: 7,
    hardware: null,
    hardwareTable: null,
    stats: {},
    durationS: 3600,
    funnel: { attempts: 2, unfinished: 0, approached: 2, detected: 2, sealed: 1, wholeCell: 1, recorded: 1 },
    byPipette: [
      { pipetteId: 'p1', funnel: { attempts: 1, unfinished: 0, approached: 1, detected: 1, sealed: 1, wholeCell: 1, recorded: 1 }, cellsPerHour: 1 },
      { pipetteId: 'p2', funnel: { attempts: 1, unfinished: 0, approached: 1, detected: 1, sealed: 0, wholeCell: 0, recorded: 0 }, cellsPerHour: 0 },
    ],
    byPreset: [{ preset: 'acute-slice', funnel: { attempts: 2, unfinished: 0, approached: 2, detected: 2, sealed: 1, wholeCell: 1, recorded: 1 }, cellsPerHour: 1 }],
    timePerState: [
      { state: 'descent', seconds: 30, fraction: 30 / 260, visits: 2 },
      { state: 'hunt', seconds: 60, fraction: 60 / 260, visits: 2 },
      { state: 'seal', seconds: 42, fraction: 42 / 260, visits: 2 },
      { state: 'breakIn', seconds: 3, fraction: 3 / 260, visits: 1 },
      { state: 'wholeCell', seconds: 30, fraction: 30 / 260, visits: 1 },
      { state: 'record', seconds: 95, fraction: 95 / 260, visits: 1 },
    ],
    failureReasons: [{ reason: 'seal-stalled', count: 1, fraction: 1, failedIn: [{ state: 'seal', count: 1 }] }],
    recorded: 1,
    hours: 1,
    cellsPerHour: 1,
    simultaneous: {
      trials: 1, atLeastTwo: 0, rate: 0, roundMode: 'independent', definition: 'overlapping whole-cell intervals within a round',
      episodes: 0, episodeSeconds: 0, wholeCellAttempts: 1, overlappingAttempts: 0, overlapShare: 0,
    },
    quality: {
      peakSeal: { n: 2, min: 4e8, q1: 4e8, median: 1.45e9, q3: 2.5e9, max: 2.5e9 },
      r0: { n: 2, min: 5e6, q1: 5e6, median: 5.5e6, q3: 6e6, max: 6e6 },
      ra: { n: 1, min: 12e6, q1: 12e6, median: 12e6, q3: 12e6, max: 12e6 },
      rm: { n: 1, min: 3e8, q1: 3e8, median: 3e8, q3: 3e8, max: 3e8 },
      cm: { n: 1, min: 2e-11, q1: 2e-11, median: 2e-11, q3: 2e-11, max: 2e-11 },
      ihold: { n: 1, min: -5e-11, q1: -5e-11, median: -5e-11, q3: -5e-11, max: -5e-11 },
      vrest: { n: 1, min: -0.068, q1: -0.068, median: -0.068, q3: -0.068, max: -0.068 },
      timeToSeal: { n: 1, min: 12, q1: 12, median: 12, q3: 12, max: 12 },
    },
    spontaneousBreakIn: { attempts: 1, spontaneous: 0, rate: 0 },
    cellColumns: [
      { key: 'vrest', of: 'cell', label: 'Vrest(QC) mV', scale: 1e3, digits: 1 },
      { key: 'ra', of: 'cell', label: 'Ra MΩ', scale: 1e-6, digits: 1 },
      { key: 'rheobaseA', of: 'feature', label: 'rheobase pA', scale: 1e12, digits: 0 },
    ],
    cells: [
      {
        attemptId: 'a1',
        pipetteId: 'p1',
        ra: 12e6,
        rm: 3e8,
        cm: 2e-11,
        vrest: -0.068,
        features: { inputResistance: 2.9e8, tau: 0.021, rheobaseA: 6e-11, fiSlope: 0.25e12, apThreshold: -0.042, apWidth: 0.0011, sag: null },
      },
    ],
  };

  const calls: string[] = [];
  return {
    sessions: [session],
    sweepsById,
    calls,
    async listSessions({ limit }) {
      calls.push(`listSessions:${limit}`);
      return [session].slice(0, limit);
    },
    async sessionReport(id) {
      calls.push(`sessionReport:${id}`);
      return id === session.sessionId ? report : null;
    },
    async attempts(id) {
      calls.push(`attempts:${id}`);
      return id === session.sessionId ? timelines : null;
    },
    async sweepsOfAttempt(attemptId) {
      calls.push(`sweepsOfAttempt:${attemptId}`);
      if (attemptId === 'a2') return [];
      if (attemptId !== 'a1') return null;
      return [...sweepsById.values()].map((s) => s.info);
    },
    async sweep(id) {
      calls.push(`sweep:${id}`);
      return sweepsById.get(id) ?? null;
    },
  };
}
