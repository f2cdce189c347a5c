/**
 * amp-bridge wire protocol, shared by the driver and the emulator (PROTOCOL.md
 * is the specification; this file is its executable half).
 *
 * Text: ASCII lines `name(arg,arg,…)\n` → `1[,value…]\n` or `0,<code>,<text>\n`.
 * Text units: mV (voltages), pA (currents), pF, ms, Hz; binary frames carry SI.
 */
import type { ClampMode } from '../../types.ts';

/** Nominal line rate: an FT232H-class USB-serial bridge (or a USB CDC device, which ignores it). */
export const AMP_BRIDGE_BAUD = 12_000_000;
export const PROTOCOL_ID = 'ampbridge/1';

export const LF = 0x0a;
export const CR = 0x0d;
/** Frame sync: 0xA5 is not ASCII, so no text line ever contains it. */
export const SYNC0 = 0xa5;
export const SYNC1 = 0x5a;
export const FRAME_VERSION = 1;

export const FRAME_TYPE = {
  /** device → host: one test-pulse sweep (or one part of it) */
  testpulse: 1,
  /** device → host: a stimulus response (usually several parts) */
  stimulus: 2,
  /** device → host: an asynchronous notice, no samples (e.g. a mode switch has settled) */
  event: 3,
  /** host → device: a chunk of an uploaded stimulus */
  chunk: 0x10,
} as const;

export const FLAG = {
  /** acquired while a VC↔IC switch settles in I=0 */
  settling: 0x01,
  /** last part of its sweep */
  last: 0x02,
  /** sent again on request (`resend`) */
  resent: 0x04,
  /** test-pulse sweeps were dropped before this frame because the line was full */
  overrun: 0x08,
  /** event: the channel's mode switch has settled */
  settled: 0x10,
} as const;

/** Byte offsets of the 60-byte frame header (little-endian). */
export const HDR = {
  sync: 0,
  version: 2,
  type: 3,
  channel: 4,
  mode: 5,
  unit: 6,
  flags: 7,
  seq: 8,
  sampleRate: 12,
  total: 16,
  offset: 20,
  count: 24,
  dropped: 26,
  holding: 28,
  stepAmplitude: 36,
  stepOnset: 44,
  stepLength: 48,
  t0Us: 52,
} as const;
export const HEADER_BYTES = 60;
export const CRC_BYTES = 4;
/** Protocol ceiling on samples per frame (a device announces its own, ≤ this). */
export const MAX_FRAME_SAMPLES = 8192;

export const MODES: readonly ClampMode[] = ['VC', 'IC', 'I0'];
export const UNITS = ['A', 'V'] as const;
export type SampleUnit = (typeof UNITS)[number];

/** Error codes of `0,<code>,<text>` replies. */
export const ERR = {
  unknownCommand: 1,
  syntax: 2,
  channel: 3,
  argument: 4,
  range: 5,
  busy: 6,
  crc: 7,
  noStimulus: 8,
  lineTooLong: 9,
  wrongMode: 10,
} as const;

/** Longest command line a device must accept, bytes (without LF). */
export const MAX_LINE = 256;

export const frameBytes = (samples: number): number => HEADER_BYTES + 4 * samples + CRC_BYTES;

/** Numbers on the wire: shortest decimal that round-trips 9 significant digits. */
export function wireNumber(x: number): string {
  if (Number.isInteger(x)) return String(x);
  return String(Number(x.toPrecision(9)));
}

export function formatCommand(name: string, args: ReadonlyArray<string | number>): Buffer {
  const text = args.map((a) => (typeof a === 'number' ? wireNumber(a) : a)).join(',');
  return Buffer.from(`${name}(${text})\n`, 'ascii');
}

export type ReplyLine = { ok: true; fields: string[] } | { ok: false; code: number; text: string };

/** Parses a reply line without its LF (a trailing CR is tolerated); null if it is not a reply. */
export function parseReplyLine(body: string): ReplyLine | null {
  const line = body.endsWith('\r') ? body.slice(0, -1) : body;
  if (line === '1') return { ok: true, fields: [] };
  if (line.startsWith('1,')) return { ok: true, fields: line.slice(2).split(',') };
  const m = /^0,(\d+),(.*)$/.exec(line);
  if (m) return { ok: false, code: Number(m[1]), text: m[2] };
  return null;
}

export type CommandLine = { ok: true; name: string; args: string[] } | { ok: false; code: number; text: string };

/** Device side: `name(a,b,…)` → name and trimmed args. */
export function parseCommandLine(line: string): CommandLine {
  if (!/^[\x20-\x7e]*$/.test(line)) return { ok: false, code: ERR.syntax, text: 'non-printable byte in command line' };
  const m = /^\s*([a-z][a-z0-9_]*)\((.*)\)\s*$/.exec(line);
  if (!m) return { ok: false, code: ERR.syntax, text: 'expected name(arg,…)' };
  const inner = m[2].trim();
  return { ok: true, name: m[1], args: inner === '' ? [] : inner.split(',').map((a) => a.trim()) };
}

/** Finite decimal number or undefined (empty strings and "NaN" are not numbers). */
export function parseNumber(s: string | undefined): number | undefined {
  if (s === undefined || s.trim() === '') return undefined;
  const v = Number(s);
  return Number.isFinite(v) ? v : undefined;
}

export function parseMode(s: string | undefined): ClampMode | undefined {
  return MODES.find((m) => m === s);
}

// ------------------------------------------------------------ hello record

export interface HelloInfo {
  protocol: string;
  model: string;
  firmware: string;
  channels: number;
  maxSampleRateHz: number;
  /** test-pulse baseline before and after the step, as a fraction of the step width */
  baselineFraction: number;
  maxFrameSamples: number;
  maxStimulusSamples: number;
  /** how long a VC↔IC switch stays in I=0, ms */
  modeSettleMs: number;
}

export function formatHello(h: HelloInfo): string[] {
  return [
    h.protocol,
    h.model,
    h.firmware,
    String(h.channels),
    wireNumber(h.maxSampleRateHz),
    wireNumber(h.baselineFraction * 100),
    String(h.maxFrameSamples),
    String(h.maxStimulusSamples),
    wireNumber(h.modeSettleMs),
  ];
}

export function parseHello(f: string[]): HelloInfo | string {
  if (f.length < 9) return `hello reply has ${f.length} fields, expected 9`;
  const nums = f.slice(3, 9).map(parseNumber);
  if (nums.some((n) => n === undefined)) return `hello reply has a non-numeric field: ${f.join(',')}`;
  const [channels, maxSr, basePct, maxFrame, maxStim, settle] = nums as number[];
  if (!Number.isInteger(channels) || channels < 1 || channels > 255) return `implausible channel count ${channels}`;
  if (maxFrame < 1 || maxFrame > MAX_FRAME_SAMPLES) return `frame size ${maxFrame} outside 1…${MAX_FRAME_SAMPLES}`;
  return {
    protocol: f[0],
    model: f[1],
    firmware: f[2],
    channels,
    maxSampleRateHz: maxSr,
    baselineFraction: basePct / 100,
    maxFrameSamples: maxFrame,
    maxStimulusSamples: maxStim,
    modeSettleMs: settle,
  };
}

// ----------------------------------------------------------- status record

export type ChannelActivity = 'idle' | 'settling' | 'running' | 'busy';
const ACTIVITIES: readonly ChannelActivity[] = ['idle', 'settling', 'running', 'busy'];

/** One channel's settings in wire units; every state-changing command replies with it. */
export interface StatusRecord {
  mode: ClampMode;
  holdingVC_mV: number;
  holdingIC_pA: number;
  tpOn: boolean;
  tpVC_mV: number;
  tpIC_pA: number;
  tpWidthMs: number;
  tpRateHz: number;
  tpSampleRateHz: number;
  offset_mV: number;
  fast_pF: number;
  slow_pF: number;
  state: ChannelActivity;
}

export const STATUS_FIELDS = 13;

export function formatStatus(s: StatusRecord): string[] {
  return [
    s.mode,
    wireNumber(s.holdingVC_mV),
    wireNumber(s.holdingIC_pA),
    s.tpOn ? '1' : '0',
    wireNumber(s.tpVC_mV),
    wireNumber(s.tpIC_pA),
    wireNumber(s.tpWidthMs),
    wireNumber(s.tpRateHz),
    wireNumber(s.tpSampleRateHz),
    wireNumber(s.offset_mV),
    wireNumber(s.fast_pF),
    wireNumber(s.slow_pF),
    s.state,
  ];
}

export function parseStatus(f: string[]): StatusRecord | string {
  if (f.length !== STATUS_FIELDS) return `status record has ${f.length} fields, expected ${STATUS_FIELDS}`;
  const mode = parseMode(f[0]);
  if (!mode) return `unknown mode "${f[0]}"`;
  const state = ACTIVITIES.find((a) => a === f[12]);
  if (!state) return `unknown channel state "${f[12]}"`;
  if (f[3] !== '0' && f[3] !== '1') return `test-pulse flag "${f[3]}" is not 0 or 1`;
  const n = [1, 2, 4, 5, 6, 7, 8, 9, 10, 11].map((i) => parseNumber(f[i]));
  if (n.some((v) => v === undefined)) return `status record has a non-numeric field: ${f.join(',')}`;
  const [hv, hi, tv, ti, w, r, sr, off, fast, slow] = n as number[];
  return {
    mode,
    holdingVC_mV: hv,
    holdingIC_pA: hi,
    tpOn: f[3] === '1',
    tpVC_mV: tv,
    tpIC_pA: ti,
    tpWidthMs: w,
    tpRateHz: r,
    tpSampleRateHz: sr,
    offset_mV: off,
    fast_pF: fast,
    slow_pF: slow,
    state,
  };
}
