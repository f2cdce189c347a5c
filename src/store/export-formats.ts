/**
 * Export formats for one session, by name. csv and json are built in; other
 * formats plug in with `registerExportFormat` (src/export/nwb/format.ts
 * provides 'nwb'; the export command registers it).
 *
 * Both built-in formats write a folder:
 *   session.{csv,json}      the session, its writer counters
 *   attempts.{csv,json}     one per attempt, every AttemptRecord field
 *   transitions.{csv,json}  state transitions
 *   faults.{csv,json}       faults and error/warn logs
 *   sweeps.{csv,json}       sweep metadata (the index of the files below)
 *   sweeps/sweep-<id>.{csv,json}  samples: time (s), response, stimulus (SI)
 * Samples are written with the fewest digits that read back to the same
 * float32; JSON has no NaN/Infinity (they become null) and no −0 (it becomes 0).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { getSession, listAttempts, listTransitions, sessionStats, type StoredAttempt } from './queries.ts';
import { listSweeps, readSweep, type SweepMeta } from './sweeps.ts';
import { csvLine } from './text-table.ts';

export interface ExportContext {
  db: Database.Database;
  sessionId: string;
  /** folder to write into (created if missing) */
  outDir: string;
}

export interface ExportFormat {
  name: string;
  description: string;
  /** writes the export; resolves with the files written */
  run(ctx: ExportContext): Promise<string[]>;
}

const formats = new Map<string, ExportFormat>();

export function registerExportFormat(format: ExportFormat): void {
  formats.set(format.name, format);
}

export function getExportFormat(name: string): ExportFormat | undefined {
  return formats.get(name);
}

export function exportFormatNames(): string[] {
  return [...formats.keys()].sort();
}

/** Shortest decimal text that reads back as the same float32. */
export function float32Text(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  if (Object.is(x, -0)) return '-0';
  for (let p = 1; p < 9; p++) {
    const s = x.toPrecision(p);
    if (Math.fround(Number(s)) === x) return String(Number(s));
  }
  return String(Number(x.toPrecision(9)));
}

function jsonNumber(x: number): number | null {
  return Number.isFinite(x) ? Number(float32Text(x)) : null;
}

interface FaultRow {
  kind: 'fault' | 'log';
  pipette_id: string | null;
  source: string;
  what: string;
  message: string;
  t: number;
  epoch: number;
}

function faultsOf(db: Database.Database, sessionId: string): FaultRow[] {
  return db
    .prepare(
      `SELECT 'fault' AS kind, pipette_id, device AS source, kind AS what, message, t, epoch FROM faults WHERE session_id = ?
       UNION ALL
       SELECT 'log', pipette_id, 'log', level, message, t, epoch FROM logs WHERE session_id = ? AND level IN ('warn', 'error')
       ORDER BY t`,
    )
    .all(sessionId, sessionId) as FaultRow[];
}

const ATTEMPT_COLUMNS: Array<keyof StoredAttempt> = [
  'attemptId', 'pipetteId', 'status', 'targetCellId', 'target', 'startEpochMs', 'endEpochMs', 'startT', 'endT',
  'stageReached', 'outcome', 'failureReason', 'failedIn', 'r0', 'cleanCount', 'peakSeal', 'timeToSeal',
  'breakInAttempts', 'spontaneousBreakIn', 'ra', 'rm', 'cm', 'ihold', 'vrest', 'recordingDuration',
  'sweepsRecorded', 'stateDurations', 'features',
];

const SWEEP_COLUMNS: Array<keyof SweepMeta> = [
  'id', 'pipetteId', 'attemptId', 'channel', 'kind', 'mode', 'seq', 'startTime', 't', 'epochMs', 'sampleRateHz',
  'nSamples', 'responseUnit', 'holding', 'step', 'stimulus', 'qc',
];

function sessionOrThrow(db: Database.Database, id: string) {
  const s = getSession(db, id);
  if (!s) throw new Error(`no session "${id}" in the store`);
  return s;
}

/** Sweep ids of the session, in small pages so a long session never sits in memory at once. */
function* sweepPages(db: Database.Database, sessionId: string): Generator<SweepMeta> {
  const page = 500;
  for (let offset = 0; ; offset += page) {
    const metas = listSweeps(db, { sessionId, limit: page, offset });
    yield* metas;
    if (metas.length < page) return;
  }
}

const csvFormat: ExportFormat = {
  name: 'csv',
  description: 'CSV tables and one CSV file of samples per sweep',
  async run({ db, sessionId, outDir }) {
    const session = sessionOrThrow(db, sessionId);
    mkdirSync(join(outDir, 'sweeps'), { recursive: true });
    const written: string[] = [];
    const write = (name: string, text: string): void => {
      const path = join(outDir, name);
      writeFileSync(path, text);
      written.push(path);
    };
    const stats = sessionStats(db, sessionId);
    const sessionFields = Object.entries(session);
    write(
      'session.csv',
      csvLine([...sessionFields.map(([k]) => k), ...Object.keys(stats).map((k) => `stat_${k}`)]) +
        csvLine([...sessionFields.map(([, v]) => v), ...Object.values(stats)]),
    );
    const attempts = listAttempts(db, [sessionId]);
    write('attempts.csv', csvLine(ATTEMPT_COLUMNS) + attempts.map((a) => csvLine(ATTEMPT_COLUMNS.map((c) => a[c]))).join(''));
    const transitions = listTransitions(db, [sessionId]);
    write(
      'transitions.csv',
      csvLine(['pipetteId', 'attemptId', 'from', 'to', 'reason', 't', 'epochMs']) +
        transitions.map((x) => csvLine([x.pipetteId, x.attemptId, x.from, x.to, x.reason, x.t, x.epochMs])).join(''),
    );
    const faults = faultsOf(db, sessionId);
    write(
      'faults.csv',
      csvLine(['kind', 'pipetteId', 'source', 'what', 'message', 't', 'epochMs']) +
        faults.map((f) => csvLine([f.kind, f.pipette_id, f.source, f.what, f.message, f.t, f.epoch])).join(''),
    );
    let index = csvLine([...SWEEP_COLUMNS, 'file']);
    for (const meta of sweepPages(db, sessionId)) {
      const stored = readSweep(db, meta.id);
      if (!stored) continue;
      const file = `sweeps/sweep-${meta.id}.csv`;
      const unit = stored.sweep.responseUnit;
      const stim = stored.sweep.stimulus;
      const stimUnit = stim ? (stim.mode === 'VC' ? 'V' : 'A') : '';
      const lines: string[] = [csvLine(['time_s', `response_${unit}`, ...(stim ? [`stimulus_${stimUnit}`] : [])])];
      const dt = 1 / stored.sweep.sampleRateHz;
      const r = stored.sweep.response;
      for (let i = 0; i < r.length; i++) {
        const t = float32Text(Math.fround(i * dt));
        lines.push(stim ? `${t},${float32Text(r[i])},${float32Text(stim.samples[i] ?? NaN)}\n` : `${t},${float32Text(r[i])}\n`);
      }
      write(file, lines.join(''));
      index += csvLine([...SWEEP_COLUMNS.map((c) => meta[c]), file]);
    }
    write('sweeps.csv', index);
    return written;
  },
};

const jsonFormat: ExportFormat = {
  name: 'json',
  description: 'JSON documents and one JSON file of samples per sweep',
  async run({ db, sessionId, outDir }) {
    const session = sessionOrThrow(db, sessionId);
    mkdirSync(join(outDir, 'sweeps'), { recursive: true });
    const written: string[] = [];
    const write = (name: string, value: unknown): void => {
      const path = join(outDir, name);
      writeFileSync(path, JSON.stringify(value, null, 1) + '\n');
      written.push(path);
    };
    write('session.json', { ...session, stats: sessionStats(db, sessionId) });
    write('attempts.json', listAttempts(db, [sessionId]));
    write('transitions.json', listTransitions(db, [sessionId]));
    write('faults.json', faultsOf(db, sessionId));
    const index: Array<SweepMeta & { file: string }> = [];
    for (const meta of sweepPages(db, sessionId)) {
      const stored = readSweep(db, meta.id);
      if (!stored) continue;
      const file = `sweeps/sweep-${meta.id}.json`;
      const stim = stored.sweep.stimulus;
      const path = join(outDir, file);
      writeFileSync(
        path,
        JSON.stringify({
          id: meta.id,
          sampleRateHz: meta.sampleRateHz,
          responseUnit: meta.responseUnit,
          response: Array.from(stored.sweep.response, jsonNumber),
          stimulus: stim ? Array.from(stim.samples, jsonNumber) : null,
        }) + '\n',
      );
      written.push(path);
      index.push({ ...meta, file });
    }
    write('sweeps.json', index);
    return written;
  },
};

registerExportFormat(csvFormat);
registerExportFormat(jsonFormat);
