// @ts-check
/**
 * Decoder for the server's binary trace frames. The layout is documented in
 * src/server/trace-frame.ts; this mirror must change with it (a test decodes
 * server-encoded frames with this file).
 */

const MAGIC = 0xa7;
const VERSION = 1;
export const HEADER_BYTES = 40;
export const UNKNOWN_PIPETTE = 0xffff;
const KINDS = ['testpulse', 'stimulus', 'command'];
const ENCODINGS = ['float32', 'int16'];
const UNITS = ['A', 'V'];
const MODES = ['VC', 'IC', 'I0'];

/**
 * @typedef {{
 *   pipetteIndex: number, kind: string, encoding: string, unit: string, mode: string,
 *   seq: number, sampleRateHz: number, originalLength: number, startTime: number,
 *   samples: Float32Array
 * }} TraceFrame
 */

/**
 * @param {ArrayBuffer | Uint8Array} input
 * @param {number} [byteOffset]
 * @returns {{frame: TraceFrame, next: number}}
 */
export function decodeFrameAt(input, byteOffset = 0) {
  const bytes = input instanceof Uint8Array ? input : new Uint8Array(input);
  if (bytes.byteLength - byteOffset < HEADER_BYTES) throw new Error('trace frame: shorter than its header');
  const view = new DataView(bytes.buffer, bytes.byteOffset + byteOffset, bytes.byteLength - byteOffset);
  if (view.getUint8(0) !== MAGIC) throw new Error('trace frame: bad magic byte');
  if (view.getUint8(1) !== VERSION) throw new Error(`trace frame: unsupported version ${view.getUint8(1)}`);
  const kind = KINDS[view.getUint8(2)];
  const encoding = ENCODINGS[view.getUint8(3)];
  const unit = UNITS[view.getUint8(6)];
  const mode = MODES[view.getUint8(7)];
  if (!kind || !encoding || !unit || !mode) throw new Error('trace frame: unknown kind, encoding, unit or mode');
  const n = view.getUint32(12, true);
  const end = HEADER_BYTES + n * (encoding === 'float32' ? 4 : 2);
  if (view.byteLength < end) throw new Error(`trace frame: ${n} samples announced, body truncated`);
  const scale = view.getFloat32(20, true);
  const offset = view.getFloat32(24, true);
  const samples = new Float32Array(n);
  let p = HEADER_BYTES;
  if (encoding === 'float32') {
    for (let i = 0; i < n; i++, p += 4) samples[i] = view.getFloat32(p, true);
  } else {
    for (let i = 0; i < n; i++, p += 2) {
      const raw = view.getInt16(p, true);
      samples[i] = raw === -32768 ? NaN : raw * scale + offset;
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

/** @param {ArrayBuffer | Uint8Array} input @returns {TraceFrame[]} */
export function decodeFrames(input) {
  const bytes = input instanceof Uint8Array ? input : new Uint8Array(input);
  /** @type {TraceFrame[]} */
  const frames = [];
  let at = 0;
  while (at < bytes.byteLength) {
    const { frame, next } = decodeFrameAt(bytes, at);
    frames.push(frame);
    at = next;
  }
  return frames;
}
