/**
 * Binary frames: sync 0xA5 0x5A, a fixed 60-byte header, float32 LE samples,
 * CRC-32 over everything after the sync. Lengths come from the header, never
 * from a terminator: payloads hold any byte, 0x0A and 0x0D included.
 */
import type { ClampMode } from '../../types.ts';
import type { ParseResult } from '../../core/serial-link.ts';
import { crc32 } from './crc32.ts';
import { CRC_BYTES, FLAG, FRAME_TYPE, FRAME_VERSION, HDR, HEADER_BYTES, MAX_FRAME_SAMPLES, MODES, SYNC0, SYNC1, UNITS, frameBytes, type SampleUnit } from './protocol.ts';

export interface FrameHeader {
  type: number;
  channel: number;
  mode: ClampMode;
  unit: SampleUnit;
  flags: number;
  /** sweep sequence number (device → host) or stimulus id (chunks) */
  seq: number;
  sampleRateHz: number;
  /** samples in the whole sweep / stimulus */
  total: number;
  /** index of this frame's first sample in the sweep */
  offset: number;
  /** test-pulse sweeps dropped since the previous frame on this channel */
  dropped: number;
  /** holding command during the sweep, SI (V in VC, A in IC) */
  holding: number;
  stepAmplitude: number;
  stepOnset: number;
  stepLength: number;
  /** device clock at the first sample, µs */
  t0Us: number;
}

export interface Frame extends FrameHeader {
  samples: Float32Array;
}

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Frames are cut from 256 kB slabs: a bridge streams thousands of ~3 kB frames
 * a minute, and a fresh backing store for each (or Node's 8 kB pool, two frames
 * a pool) cost more than encoding them. A slab region is never reused: a frame
 * stays valid as long as anyone holds it (and so does its slab).
 */
const SLAB_BYTES = 256 * 1024;
let slab: Buffer | null = null;
let slabUsed = 0;

function frameBuffer(length: number): Buffer {
  if (length > SLAB_BYTES / 8) return Buffer.allocUnsafeSlow(length);
  if (!slab || slabUsed + length > SLAB_BYTES) {
    slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
    slabUsed = 0;
  }
  const buf = slab.subarray(slabUsed, slabUsed + length);
  // next frame on an 8-byte boundary, so a frame's samples can be viewed aligned
  slabUsed += (length + 7) & ~7;
  return buf;
}

export function encodeFrame(h: FrameHeader, samples: Float32Array): Buffer {
  const n = samples.length;
  if (n > MAX_FRAME_SAMPLES) throw new RangeError(`frame of ${n} samples exceeds ${MAX_FRAME_SAMPLES}`);
  // Every byte is written below (header fields, samples, CRC): no need to zero-fill.
  const buf = frameBuffer(frameBytes(n));
  buf[HDR.sync] = SYNC0;
  buf[HDR.sync + 1] = SYNC1;
  buf[HDR.version] = FRAME_VERSION;
  buf[HDR.type] = h.type;
  buf[HDR.channel] = h.channel;
  buf[HDR.mode] = MODES.indexOf(h.mode);
  buf[HDR.unit] = UNITS.indexOf(h.unit);
  buf[HDR.flags] = h.flags;
  buf.writeUInt32LE(h.seq >>> 0, HDR.seq);
  buf.writeUInt32LE(h.sampleRateHz >>> 0, HDR.sampleRate);
  buf.writeUInt32LE(h.total >>> 0, HDR.total);
  buf.writeUInt32LE(h.offset >>> 0, HDR.offset);
  buf.writeUInt16LE(n, HDR.count);
  buf.writeUInt16LE(Math.min(0xffff, h.dropped), HDR.dropped);
  buf.writeDoubleLE(h.holding, HDR.holding);
  buf.writeDoubleLE(h.stepAmplitude, HDR.stepAmplitude);
  buf.writeUInt32LE(h.stepOnset >>> 0, HDR.stepOnset);
  buf.writeUInt32LE(h.stepLength >>> 0, HDR.stepLength);
  buf.writeDoubleLE(h.t0Us, HDR.t0Us);
  if (LITTLE_ENDIAN_HOST) {
    // The wire is little-endian float32, as the host's own layout: one copy.
    Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength).copy(buf, HEADER_BYTES);
  } else {
    for (let i = 0; i < n; i++) buf.writeFloatLE(samples[i], HEADER_BYTES + 4 * i);
  }
  buf.writeUInt32LE(crc32(buf, 2, HEADER_BYTES + 4 * n), HEADER_BYTES + 4 * n);
  return buf;
}

/** Split a sweep into frames of at most `maxSamples`, flagging the last one. */
export function encodeSweepFrames(h: Omit<FrameHeader, 'offset' | 'total'>, samples: Float32Array, maxSamples: number): Buffer[] {
  const frames: Buffer[] = [];
  const total = samples.length;
  let offset = 0;
  do {
    const count = Math.min(maxSamples, total - offset);
    const last = offset + count >= total;
    // Header as a literal with a fixed shape (a spread of `h` made every frame a slow,
    // dictionary-mode object); no view when one frame holds the whole sweep.
    const header: FrameHeader = {
      type: h.type,
      channel: h.channel,
      mode: h.mode,
      unit: h.unit,
      flags: h.flags | (last ? FLAG.last : 0),
      seq: h.seq,
      sampleRateHz: h.sampleRateHz,
      total,
      offset,
      dropped: offset === 0 ? h.dropped : 0,
      holding: h.holding,
      stepAmplitude: h.stepAmplitude,
      stepOnset: h.stepOnset,
      stepLength: h.stepLength,
      t0Us: h.t0Us,
    };
    frames.push(encodeFrame(header, count === total ? samples : samples.subarray(offset, offset + count)));
    offset += count;
  } while (offset < total);
  return frames;
}

export interface FrameRules {
  /** frame types accepted in this direction */
  types: readonly number[];
  channels: number;
  maxSamples: number;
}

/** Where to resume scanning after a bad frame at 0: the next possible sync, never past it. */
export function nextSync(buf: Buffer, from = 1): number {
  const i = buf.indexOf(SYNC0, from);
  return i < 0 ? buf.length : i;
}

export type HeaderCheck = { status: 'more' } | { status: 'bad'; detail: string } | { status: 'ok'; length: number };

/** Validate the header at the head of `buf` (which starts with SYNC0) and give the frame's full length. */
export function checkHeader(buf: Buffer, rules: FrameRules): HeaderCheck {
  if (buf.length < 2) return { status: 'more' };
  if (buf[1] !== SYNC1) return { status: 'bad', detail: `sync byte 0xa5 not followed by 0x5a (got 0x${buf[1].toString(16)})` };
  if (buf.length < HEADER_BYTES) return { status: 'more' };
  const version = buf[HDR.version];
  const type = buf[HDR.type];
  const channel = buf[HDR.channel];
  const count = buf.readUInt16LE(HDR.count);
  const total = buf.readUInt32LE(HDR.total);
  const offset = buf.readUInt32LE(HDR.offset);
  if (version !== FRAME_VERSION) return { status: 'bad', detail: `frame version ${version}, expected ${FRAME_VERSION}` };
  if (!rules.types.includes(type)) return { status: 'bad', detail: `unexpected frame type 0x${type.toString(16)}` };
  if (channel >= rules.channels) return { status: 'bad', detail: `frame for channel ${channel}, device has ${rules.channels}` };
  if (MODES[buf[HDR.mode]] === undefined || UNITS[buf[HDR.unit]] === undefined) return { status: 'bad', detail: 'frame header has an unknown mode or unit code' };
  if (count > rules.maxSamples) return { status: 'bad', detail: `frame claims ${count} samples, limit ${rules.maxSamples}` };
  if (type !== FRAME_TYPE.event && offset + count > total) return { status: 'bad', detail: `frame samples ${offset}+${count} overrun the sweep length ${total}` };
  return { status: 'ok', length: frameBytes(count) };
}

/** True when the CRC of the complete frame at the head of `buf` matches. */
export function crcMatches(buf: Buffer, length: number): { ok: boolean; expected: number; actual: number } {
  const expected = buf.readUInt32LE(length - CRC_BYTES);
  const actual = crc32(buf, 2, length - CRC_BYTES);
  return { ok: expected === actual, expected, actual };
}

/** Read a frame whose header and CRC have been checked. */
export function readFrame(buf: Buffer): Frame {
  const count = buf.readUInt16LE(HDR.count);
  const samples = new Float32Array(count);
  if (LITTLE_ENDIAN_HOST) {
    // Copy into a fresh, aligned array (the frame may sit at any offset of the receive buffer).
    new Uint8Array(samples.buffer).set(buf.subarray(HEADER_BYTES, HEADER_BYTES + 4 * count));
  } else {
    for (let i = 0; i < count; i++) samples[i] = buf.readFloatLE(HEADER_BYTES + 4 * i);
  }
  return {
    type: buf[HDR.type],
    channel: buf[HDR.channel],
    mode: MODES[buf[HDR.mode]],
    unit: UNITS[buf[HDR.unit]],
    flags: buf[HDR.flags],
    seq: buf.readUInt32LE(HDR.seq),
    sampleRateHz: buf.readUInt32LE(HDR.sampleRate),
    total: buf.readUInt32LE(HDR.total),
    offset: buf.readUInt32LE(HDR.offset),
    dropped: buf.readUInt16LE(HDR.dropped),
    holding: buf.readDoubleLE(HDR.holding),
    stepAmplitude: buf.readDoubleLE(HDR.stepAmplitude),
    stepOnset: buf.readUInt32LE(HDR.stepOnset),
    stepLength: buf.readUInt32LE(HDR.stepLength),
    t0Us: buf.readDoubleLE(HDR.t0Us),
    samples,
  };
}

/**
 * Decode the frame at the head of `buf` (which starts with SYNC0). A bad
 * header or CRC consumes only up to the next sync candidate, so a frame hidden
 * behind a corrupted one is still found.
 */
export function decodeFrame(buf: Buffer, rules: FrameRules): ParseResult<Frame> {
  const head = checkHeader(buf, rules);
  if (head.status === 'more') return head;
  if (head.status === 'bad') return { status: 'malformed', detail: head.detail, consumed: nextSync(buf) };
  if (buf.length < head.length) return { status: 'more' };
  const crc = crcMatches(buf, head.length);
  if (!crc.ok) {
    return {
      status: 'malformed',
      detail: `CRC-32 mismatch (frame says 0x${crc.expected.toString(16)}, computed 0x${crc.actual.toString(16)})`,
      consumed: nextSync(buf),
    };
  }
  return { status: 'done', consumed: head.length, value: readFrame(buf.subarray(0, head.length)) };
}
