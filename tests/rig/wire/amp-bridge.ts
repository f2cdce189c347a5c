/**
 * amp-bridge host → bridge stream, read from
 * drivers/amplifiers/amp-bridge/PROTOCOL.md: ASCII command lines
 * `name(arg,…)\n` (trailing CR tolerated, ≤ 256 bytes) mixed with binary
 * stimulus-chunk frames that start A5 5A (a byte text never contains):
 * a 60-byte little-endian header, float32 samples, CRC-32 (zip) over every
 * byte from the version to the last sample.
 *
 * Text units: mV, pA, pF, ms, Hz. Channels are numbered from 0.
 */
import { AMP_BRIDGE_BAUD, FRAME_TYPE, FRAME_VERSION, HDR, HEADER_BYTES, LF, MAX_FRAME_SAMPLES, MAX_LINE, SYNC0, SYNC1 } from '../../../drivers/amplifiers/amp-bridge/protocol.ts';
import type { AmpCommand, ClampMode } from './commands.ts';
import { joinChunks, printable, type Decoded, type WireChunk } from './stream.ts';

/** CRC-32 as zip computes it: reflected 0xEDB88320, init and final XOR 0xFFFFFFFF. */
export function zipCrc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const MODES: readonly ClampMode[] = ['VC', 'IC', 'I0'];

export function decodeAmpBridge(device: string, input: readonly WireChunk[], channels: number, baud = AMP_BRIDGE_BAUD): Decoded<AmpCommand> {
  const s = joinChunks(device, input, 10_000 / baud);
  const b = s.bytes;
  const commands: AmpCommand[] = [];
  let i = 0;
  const done = (error: ReturnType<typeof s.fail> | null): Decoded<AmpCommand> => ({ commands, error });
  while (i < s.length) {
    if (b[i] === SYNC0) {
      // ----- a stimulus chunk frame
      if (i + HEADER_BYTES > s.length) return done(s.fail(i, 'frame header cut short'));
      const h = b.subarray(i, i + HEADER_BYTES);
      if (h[1] !== SYNC1) return done(s.fail(i + 1, `sync A5 ${h[1].toString(16)}, not A5 5A`));
      if (h[HDR.version] !== FRAME_VERSION) return done(s.fail(i + HDR.version, `frame version ${h[HDR.version]}`));
      if (h[HDR.type] !== FRAME_TYPE.chunk) return done(s.fail(i + HDR.type, `frame type 0x${h[HDR.type].toString(16)} from the host (only stimulus chunks, 0x10)`));
      const channel = h[HDR.channel];
      if (channel >= channels) return done(s.fail(i + HDR.channel, `frame for channel ${channel} (bridge has ${channels})`));
      const mode = MODES[h[HDR.mode]];
      if (!mode) return done(s.fail(i + HDR.mode, `mode code ${h[HDR.mode]}`));
      const count = h.readUInt16LE(HDR.count);
      const total = h.readUInt32LE(HDR.total);
      const offset = h.readUInt32LE(HDR.offset);
      if (count > MAX_FRAME_SAMPLES || offset + count > total) return done(s.fail(i + HDR.count, `${count} samples at ${offset} of ${total}`));
      const end = i + HEADER_BYTES + 4 * count + 4;
      if (end > s.length) return done(s.fail(i, `frame of ${count} samples cut short`));
      const crc = b.readUInt32LE(end - 4);
      const want = zipCrc32(b.subarray(i + HDR.version, end - 4));
      if (crc !== want) return done(s.fail(end - 4, `frame CRC 0x${crc.toString(16)} where the bytes give 0x${want.toString(16)}`));
      const samples = new Float32Array(count);
      for (let k = 0; k < count; k++) samples[k] = b.readFloatLE(i + HEADER_BYTES + 4 * k);
      const id = h.readUInt32LE(HDR.seq);
      commands.push({ kind: 'chunk', t: s.timeOf(end - 1), channel, id, mode, offset, total, samples, wire: `[chunk ch ${channel} id ${id} ${offset}+${count}/${total}]` });
      i = end;
      continue;
    }
    // ----- a text command line
    const end = b.indexOf(LF, i);
    if (end < 0) return done(s.fail(i, 'command line not terminated by LF'));
    let raw = b.subarray(i, end);
    if (raw.length > 0 && raw[raw.length - 1] === 0x0d) raw = raw.subarray(0, raw.length - 1);
    const text = raw.toString('latin1');
    const t = s.timeOf(end);
    const fail = (detail: string) => done(s.fail(i, `"${printable(raw)}": ${detail}`));
    if (raw.length > MAX_LINE) return fail(`${raw.length} bytes (longest ${MAX_LINE})`);
    const m = /^\s*([a-z][a-z0-9_]*)\((.*)\)\s*$/.exec(text);
    if (!m || !/^[\x20-\x7e]*$/.test(text)) return fail('not name(arg,…)');
    const name = m[1];
    const args = m[2].trim() === '' ? [] : m[2].split(',').map((a) => a.trim());
    i = end + 1;
    const num = (k: number): number | null => (NUMBER.test(args[k] ?? '') && Number.isFinite(Number(args[k])) ? Number(args[k]) : null);
    const nums = (from: number, to: number): number[] | null => {
      const out: number[] = [];
      for (let k = from; k < to; k++) {
        const v = num(k);
        if (v === null) return null;
        out.push(v);
      }
      return out;
    };
    if (name === 'hello' || name === 'time') {
      if (args.length !== 0) return fail('takes no arguments');
      commands.push({ kind: 'query', t, channel: null, wire: text });
      continue;
    }
    const ch = num(0);
    if (ch === null || !Number.isInteger(ch) || ch < 0 || ch >= channels) return fail(`no channel "${args[0]}" (0–${channels - 1})`);
    const wordAt = (k: number, allowed: readonly string[]): string | null => (allowed.includes(args[k]) ? args[k] : null);
    const count = (...allowed: number[]) => allowed.includes(args.length);
    switch (name) {
      case 'mode': {
        const mode = count(2) ? (wordAt(1, MODES) as ClampMode | null) : null;
        if (!mode) return fail('expects mode(ch,VC|IC|I0)');
        commands.push({ kind: 'mode', t, channel: ch, mode, wire: text });
        break;
      }
      case 'holding': {
        const v = count(2, 3) ? num(1) : null;
        const mode = args.length === 3 ? (wordAt(2, ['VC', 'IC']) as 'VC' | 'IC' | null) : null;
        if (v === null || (args.length === 3 && !mode)) return fail('expects holding(ch,value[,VC|IC])');
        commands.push({ kind: 'holding', t, channel: ch, value: v, mode, wire: text });
        break;
      }
      case 'tp': {
        const v = count(6, 7) ? nums(1, 6) : null;
        const mode = args.length === 7 ? (wordAt(6, ['VC', 'IC']) as 'VC' | 'IC' | null) : null;
        if (!v || (v[0] !== 0 && v[0] !== 1) || (args.length === 7 && !mode)) return fail('expects tp(ch,0|1,amplitude,width_ms,rate_Hz,sample_rate_Hz[,VC|IC])');
        commands.push({ kind: 'tp', t, channel: ch, on: v[0] === 1, amplitude: v[1], widthMs: v[2], rateHz: v[3], sampleRateHz: v[4], mode, wire: text });
        break;
      }
      case 'zap': {
        const v = count(3) ? nums(1, 3) : null;
        if (!v) return fail('expects zap(ch,ms,mV)');
        commands.push({ kind: 'zap', t, channel: ch, ms: v[0], mV: v[1], wire: text });
        break;
      }
      case 'offset': {
        const v = args.length === 2 ? num(1) : null;
        if (!count(1, 2) || (args.length === 2 && v === null)) return fail('expects offset(ch[,mV])');
        commands.push({ kind: 'offset', t, channel: ch, mV: v, wire: text });
        break;
      }
      case 'comp': {
        const v = count(3) ? nums(1, 3) : null;
        if (!v) return fail('expects comp(ch,fast_pF,slow_pF)');
        commands.push({ kind: 'comp', t, channel: ch, fastPF: v[0], slowPF: v[1], wire: text });
        break;
      }
      case 'stim': {
        const v = count(5) ? nums(1, 4) : null;
        const mode = count(5) ? (wordAt(4, MODES) as ClampMode | null) : null;
        if (!v || !mode) return fail('expects stim(ch,id,n,sample_rate_Hz,VC|IC|I0)');
        commands.push({ kind: 'stim', t, channel: ch, id: v[0], samples: v[1], sampleRateHz: v[2], mode, wire: text });
        break;
      }
      case 'run': {
        const id = count(2) ? num(1) : null;
        if (id === null) return fail('expects run(ch,id)');
        commands.push({ kind: 'run', t, channel: ch, id, wire: text });
        break;
      }
      case 'abort':
        if (!count(1)) return fail('expects abort(ch)');
        commands.push({ kind: 'abort', t, channel: ch, wire: text });
        break;
      case 'status':
      case 'resend':
        if (!count(name === 'status' ? 1 : 2) || (name === 'resend' && num(1) === null)) return fail(`wrong arguments for ${name}`);
        commands.push({ kind: 'query', t, channel: ch, wire: text });
        break;
      default:
        return fail(`unknown command ${name}`);
    }
  }
  return done(null);
}
