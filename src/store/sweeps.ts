/**
 * Sweeps in and out of the database: float32 samples as raw little-endian
 * BLOBs (bit-exact, NaN payloads included — bytes are copied, never values),
 * metadata as columns.
 */
import { endianness } from 'node:os';
import type Database from 'better-sqlite3';
import type { ClampMode, Sweep } from '../../drivers/types.ts';

if (endianness() !== 'LE') {
  // The BLOB layout is little-endian; a big-endian host would need byte swaps here.
  throw new Error('autopatch store: big-endian hosts are not supported');
}

/** A view of the samples' bytes, no copy. */
export function float32ToBlob(samples: Float32Array): Buffer {
  return Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength);
}

/** A Float32Array of its own (aligned copy) holding exactly the BLOB's bytes. */
export function blobToFloat32(blob: Uint8Array): Float32Array {
  if (blob.byteLength % 4 !== 0) throw new Error(`sample BLOB of ${blob.byteLength} bytes is not float32`);
  const copy = new ArrayBuffer(blob.byteLength);
  new Uint8Array(copy).set(blob);
  return new Float32Array(copy);
}

export interface SweepMeta {
  id: number;
  sessionId: string | null;
  pipetteId: string;
  attemptId: string | null;
  channel: number;
  kind: 'testpulse' | 'stimulus';
  mode: ClampMode;
  seq: number;
  /** host clock ms of the first sample */
  startTime: number;
  /** clock ms and wall time of the event that carried the sweep */
  t: number;
  epochMs: number;
  sampleRateHz: number;
  nSamples: number;
  responseUnit: 'A' | 'V';
  holding: number;
  step: { amplitude: number; onsetIndex: number; lengthSamples: number } | null;
  stimulus: {
    name: string;
    mode: ClampMode;
    sampleRateHz: number;
    onsetIndex: number | null;
    lengthSamples: number | null;
    amplitude: number | null;
  } | null;
  qc: Record<string, number | boolean> | null;
}

export interface StoredSweep extends SweepMeta {
  /** the sweep as the amplifier delivered it */
  sweep: Sweep;
}

export interface SweepRow {
  id: number;
  session_id: string | null;
  pipette_id: string;
  attempt_id: string | null;
  channel: number;
  kind: 'testpulse' | 'stimulus';
  mode: ClampMode;
  seq: number;
  start_time: number;
  t: number;
  epoch: number;
  sample_rate_hz: number;
  n_samples: number;
  response_unit: 'A' | 'V';
  holding: number;
  step_amplitude: number | null;
  step_onset: number | null;
  step_length: number | null;
  stimulus_name: string | null;
  stimulus_mode: ClampMode | null;
  stimulus_rate_hz: number | null;
  stimulus_onset: number | null;
  stimulus_length: number | null;
  stimulus_amplitude: number | null;
  qc: string | null;
}

const META_COLUMNS = `id, session_id, pipette_id, attempt_id, channel, kind, mode, seq, start_time, t, epoch,
  sample_rate_hz, n_samples, response_unit, holding, step_amplitude, step_onset, step_length,
  stimulus_name, stimulus_mode, stimulus_rate_hz, stimulus_onset, stimulus_length, stimulus_amplitude, qc`;

export function sweepMetaFromRow(r: SweepRow): SweepMeta {
  return {
    id: r.id,
    sessionId: r.session_id,
    pipetteId: r.pipette_id,
    attemptId: r.attempt_id,
    channel: r.channel,
    kind: r.kind,
    mode: r.mode,
    seq: r.seq,
    startTime: r.start_time,
    t: r.t,
    epochMs: r.epoch,
    sampleRateHz: r.sample_rate_hz,
    nSamples: r.n_samples,
    responseUnit: r.response_unit,
    holding: r.holding,
    step:
      r.step_amplitude !== null && r.step_onset !== null && r.step_length !== null
        ? { amplitude: r.step_amplitude, onsetIndex: r.step_onset, lengthSamples: r.step_length }
        : null,
    stimulus:
      r.stimulus_name !== null
        ? {
            name: r.stimulus_name,
            mode: r.stimulus_mode ?? r.mode,
            sampleRateHz: r.stimulus_rate_hz ?? r.sample_rate_hz,
            onsetIndex: r.stimulus_onset,
            lengthSamples: r.stimulus_length,
            amplitude: r.stimulus_amplitude,
          }
        : null,
    qc: r.qc === null ? null : (JSON.parse(r.qc) as Record<string, number | boolean>),
  };
}

/** One sweep with its samples, or null when there is no such id. */
export function readSweep(db: Database.Database, id: number): StoredSweep | null {
  const row = db.prepare(`SELECT ${META_COLUMNS}, response, stimulus FROM sweeps WHERE id = ?`).get(id) as
    | (SweepRow & { response: Buffer; stimulus: Buffer | null })
    | undefined;
  if (!row) return null;
  const meta = sweepMetaFromRow(row);
  const sweep: Sweep = {
    channel: meta.channel,
    seq: meta.seq,
    kind: meta.kind,
    mode: meta.mode,
    startTime: meta.startTime,
    sampleRateHz: meta.sampleRateHz,
    response: blobToFloat32(row.response),
    responseUnit: meta.responseUnit,
    holding: meta.holding,
  };
  if (meta.step) sweep.step = { ...meta.step };
  if (meta.stimulus && row.stimulus) {
    const s = meta.stimulus;
    sweep.stimulus = { name: s.name, mode: s.mode, sampleRateHz: s.sampleRateHz, samples: blobToFloat32(row.stimulus) };
    if (s.onsetIndex !== null) sweep.stimulus.onsetIndex = s.onsetIndex;
    if (s.lengthSamples !== null) sweep.stimulus.lengthSamples = s.lengthSamples;
    if (s.amplitude !== null) sweep.stimulus.amplitude = s.amplitude;
  }
  return { ...meta, sweep };
}

export interface SweepFilter {
  sessionId?: string;
  pipetteId?: string;
  attemptId?: string;
  kind?: 'testpulse' | 'stimulus';
  limit?: number;
  offset?: number;
}

/** Sweep metadata (no samples), in the order they were stored. */
export function listSweeps(db: Database.Database, filter: SweepFilter = {}): SweepMeta[] {
  const where: string[] = [];
  const args: Array<string | number> = [];
  if (filter.sessionId !== undefined) (where.push('session_id = ?'), args.push(filter.sessionId));
  if (filter.pipetteId !== undefined) (where.push('pipette_id = ?'), args.push(filter.pipetteId));
  if (filter.attemptId !== undefined) (where.push('attempt_id = ?'), args.push(filter.attemptId));
  if (filter.kind !== undefined) (where.push('kind = ?'), args.push(filter.kind));
  const sql =
    `SELECT ${META_COLUMNS} FROM sweeps` +
    (where.length ? ` WHERE ${where.join(' AND ')}` : '') +
    ' ORDER BY id' +
    (filter.limit !== undefined ? ` LIMIT ${Math.max(0, Math.floor(filter.limit))}` : '') +
    (filter.offset !== undefined ? `${filter.limit === undefined ? ' LIMIT -1' : ''} OFFSET ${Math.max(0, Math.floor(filter.offset))}` : '');
  return (db.prepare(sql).all(...args) as SweepRow[]).map(sweepMetaFromRow);
}
