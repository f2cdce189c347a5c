/**
 * Binary trace frames: how test-pulse and stimulus traces travel to the
 * browser (WebSocket binary frames, and `GET /api/sweeps/:id?format=bin`).
 * JSON would cost ~4× the bytes and a parse per sample; a fixed header plus
 * raw samples is decoded with one DataView and one typed-array copy.
 *
 * Layout, little-endian, 40-byte header then samples (mirrored in
 * ui/js/trace-frame.js — change both together):
 *
 *   off size field
 *    0  u8   magic 0xA7
 *    1  u8   version (1)
 *    2  u8   kind: 0 test-pulse response, 1 stimulus response, 2 stimulus command
 *    3  u8   encoding: 0 float32, 1 int16 (value = raw × scale + offset; raw −32768 = NaN)
 *    4  u16  pipette index in snapshot.pipettes (0xFFFF = unknown)
 *    6  u8   unit: 0 A, 1 V
 *    7  u8   clamp mode: 0 VC, 1 IC, 2 I0
 *    8  u32  sweep seq (device sequence number)
 *   12  u32  n, samples in this frame
 *   16  f32  sample rate of the samples as sent, Hz (lower than the device's after decimation)
 *   20  f32  scale (1 for float32)
 *   24  f32  offset (0 for float32)
 *   28  u32  samples the sweep had before decimation
 *   32  f64  start time of the first sample, clock ms
 *   40  n × f32 | n × i16
 *
 * Frames are self-delimiting, so several may be concatenated (a sweep and its
 * stimulus in one HTTP body).
 */
import type { ClampMode } from '../control/api.ts';

export const FRAME_MAGIC = 0xa7;
export const FRAME_VERSION = 1;
export const FRAME_HEADER_BYTES = 40;
export const UNKNOWN_PIPETTE = 0xffff;
const INT16_NAN = -32768;
const INT16_MAX = 32767;

export type TraceKind = 'testpulse' | 'stimulus' | 'command';
export type TraceEncoding = 'float32' | 'int16';

const KINDS: readonly TraceKind[] = ['testpulse', 'stimulus', 'command'];
const MODES: readonly ClampMode[] = ['VC', 'IC', 'I0'];
const UNITS: readonly ('A' | 'V')[] = ['A', 'V'];

export interface TraceFrameInput {
  pipetteIndex: number;
  kind: TraceKind;
  unit: 'A' | 'V';
  mode: ClampMode;
  seq: number;
  startTime: number;
  /** rate of `samples` (already decimated if it was) */
  sampleRateHz: number;
  samples: Float32Array;
  /** length before decimation; defaults to samples.length */
  originalLength?: number;
}

export interface TraceFrame {
  pipetteIndex: number;
  kind: TraceKind;
  encoding: TraceEncoding;
  unit: 'A' | 'V';
  mode: ClampMode;
  seq: number;
  sampleRateHz: number;
  originalLength: number;
  startTime: number;
  samples: Float32Array;
}

/** Encode one frame. int16 halves the bytes at a resolution of (max − min)/65000, ample for a screen. */
export function encodeTraceFrame(input: TraceFrameInput, encoding: TraceEncoding = 'float32'): Buffer {
  const n = input.samples.length;
  const bytesPer = encoding === 'float32' ? 4 : 2;
  const buf = Buffer.alloc(FRAME_HEADER_BYTES + n * bytesPer);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let scale = 1;
  let offset = 0;
  if (encoding === 'int16') [scale, offset] = int16Scaling(input.samples);

  view.setUint8(0, FRAME_MAGIC);
  view.setUint8(1, FRAME_VERSION);
  view.setUint8(2, KINDS.indexOf(input.kind));
  view.setUint8(3, encoding === 'float32' ? 0 : 1);
  const idx = Number.isInteger(input.pipetteIndex) && input.pipetteIndex >= 0 && input.pipetteIndex < UNKNOWN_PIPETTE
    ? input.pipetteIndex
    : UNKNOWN_PIPETTE;
  view.setUint16(4, idx, true);
  view.setUint8(6, UNITS.indexOf(input.unit));
  view.setUint8(7, MODES.indexOf(input.mode));
  view.setUint32(8, input.seq >>> 0, true);
  view.setUint32(12, n, true);
  view.setFloat32(16, input.sampleRateHz, true);
  view.setFloat32(20, scale, true);
  view.setFloat32(24, offset, true);
  view.setUint32(28, (input.originalLength ?? n) >>> 0, true);
  view.setFloat64(32, input.startTime, true);

  let p = FRAME_HEADER_BYTES;
  if (encoding === 'float32') {
    for (let i = 0; i < n; i++, p += 4) view.setFloat32(p, input.samples[i], true);
  } else {
    for (let i = 0; i < n; i++, p += 2) {
      const v = input.samples[i];
      let raw = INT16_NAN;
      if (Number.isFinite(v)) raw = Math.max(-INT16_MAX, Math.min(INT16_MAX, Math.round((v - offset) / scale)));
      view.setInt16(p, raw, true);
    }
  }
  return buf;
}

/** Scale/offset rounded to float32 first, so encoder and decoder use the very same numbers. */
function int16Scaling(samples: Float32Array): [number, number] {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < samples.length; i++) {
    const v = samples[i];
    if (!Number.isFinite(v)) continue;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (min === Infinity) return [1, 0];
  const offset = Math.fround((min + max) / 2);
  // 65000 rather than 65534 leaves headroom for the float32 rounding of offset
  const span = max - min;
  const scale = Math.fround(span > 0 ? span / 65000 : Math.abs(offset) > 0 ? Math.abs(offset) / 65000 : 1);
  return [scale, offset];
}

/** Decode the frame at `byteOffset`; returns it and the offset just past it. */
export function decodeTraceFrameAt(bytes: Uint8Array, byteOffset = 0): { frame: TraceFrame; next: number } {
  if (bytes.byteLength - byteOffset < FRAME_HEADER_BYTES) throw new Error('trace frame: shorter than its header');
  const view = new DataView(bytes.buffer, bytes.byteOffset + byteOffset, bytes.byteLength - byteOffset);
  if (view.getUint8(0) !== FRAME_MAGIC) throw new Error('trace frame: bad magic byte');
  if (view.getUint8(1) !== FRAME_VERSION) throw new Error(`trace frame: unsupported version ${view.getUint8(1)}`);
  const kind = KINDS[view.getUint8(2)];
  const encoding: TraceEncoding | undefined = [ 'float32', 'int16' ][view.getUint8(3)] as TraceEncoding | undefined;
  const unit = UNITS[view.getUint8(6)];
  const mode = MODES[view.getUint8(7)];
  if (!kind || !encoding || !unit || !mode) throw new Error('trace frame: unknown kind, encoding, unit or mode');
  const n = view.getUint32(12, true);
  const bytesPer = encoding === 'float32' ? 4 : 2;
  const end = FRAME_HEADER_BYTES + n * bytesPer;
  if (view.byteLength < end) throw new Error(`trace frame: ${n} samples announced, body truncated`);
  const scale = view.getFloat32(20, true);
  const offset = view.getFloat32(24, true);
  const samples = new Float32Array(n);
  let p = FRAME_HEADER_BYTES;
  if (encoding === 'float32') {
    for (let i = 0; i < n; i++, p += 4) samples[i] = view.getFloat32(p, true);
  } else {
    for (let i = 0; i < n; i++, p += 2) {
      const raw = view.getInt16(p, true);
      samples[i] = raw === INT16_NAN ? NaN : raw * scale + offset;
    }
  }
  return {
    frame: {
      pipetteIndex: view.getUint16(4, true),
      kind,
      encoding,
      unit,
      mode,
      seq: view.getUint32(8, true),
      sampleRateHz: view.getFloat32(16, true),
      originalLength: view.getUint32(28, true),
      startTime: view.getFloat64(32, true),
      samples,
    },
    next: byteOffset + end,
  };
}

export function decodeTraceFrame(bytes: Uint8Array): TraceFrame {
  return decodeTraceFrameAt(bytes, 0).frame;
}

/** Every frame of a concatenation. */
export function decodeTraceFrames(bytes: Uint8Array): TraceFrame[] {
  const frames: TraceFrame[] = [];
  let at = 0;
  while (at < bytes.byteLength) {
    const { frame, next } = decodeTraceFrameAt(bytes, at);
    frames.push(frame);
    at = next;
  }
  return frames;
}
