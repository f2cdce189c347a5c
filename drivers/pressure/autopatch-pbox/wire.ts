/**
 * Host side of the line protocol: reply parsers for SerialLink and the
 * decoders of each reply's payload. Kept apart from the driver so the
 * driver reads as "which command, when", and this as "what the bytes mean".
 */
import { DeviceError } from '../../errors.ts';
import { terminated, type ParseResult, type ReplyParser } from '../../core/serial-link.ts';
import type { PressureLimits, PressureSource } from '../../types.ts';
import { CR, ERROR_TEXT, INFO_PREFIX, LF, VALVE_WORD } from './protocol.ts';

/** replies are at most ~30 characters per channel; anything much longer is garbage */
const MAX_REPLY = 512;
const NUM = '[+-]?\\d+(?:\\.\\d+)?';
const NUM_RE = new RegExp(`^${NUM}$`);

const lineText = (body: Buffer): string => {
  const text = body.toString('latin1');
  return text.endsWith(String.fromCharCode(CR)) ? text.slice(0, -1) : text;
};

/**
 * One reply line: `OK <payload>` is handed to `decode` (undefined = not the
 * reply this command expects), `ERR <code> <text>` becomes a device error.
 */
export function lineReply<T>(decode: (payload: string) => T | undefined): ReplyParser<T> {
  return terminated(LF, MAX_REPLY, (body, consumed): ParseResult<T> => {
    const text = lineText(body);
    if (text === 'OK' || text.startsWith('OK ')) {
      const value = decode(text.slice(3));
      return value === undefined
        ? { status: 'malformed', detail: `unexpected reply "${text}"`, consumed }
        : { status: 'done', value, consumed };
    }
    if (/^ERR \d+( |$)/.test(text)) return { status: 'device-error', detail: text, consumed };
    return { status: 'malformed', detail: `not a reply line: "${text.slice(0, 80)}"`, consumed };
  });
}

/** Claims `#` info lines (the boot banner) so they are never taken for a reply. */
export function infoLines(buf: Buffer): ParseResult<void> | null {
  if (buf[0] !== INFO_PREFIX.charCodeAt(0)) return null;
  const idx = buf.indexOf(LF);
  if (idx >= 0) return { status: 'done', value: undefined, consumed: idx + 1 };
  return buf.length > MAX_REPLY ? { status: 'malformed', detail: 'info line without LF', consumed: buf.length } : { status: 'more' };
}

/**
 * Claims a whole `OK PONG` line while no PING awaits it: the answer to a PING
 * that timed out (a box still booting, a loaded host) arriving later than the
 * link's resync window. Nothing else the box sends reads `OK PONG`, so it can
 * never be the reply to another command and must not be taken for one.
 */
export function stalePong(buf: Buffer, awaiting: string | undefined): ParseResult<void> | null {
  if (awaiting === 'PING') return null;
  const idx = buf.indexOf(LF);
  // an incomplete line is left to the reply parser, which waits for its LF; this hook sees it again then
  if (idx < 0 || lineText(buf.subarray(0, idx)) !== 'OK PONG') return null;
  return { status: 'done', value: undefined, consumed: idx + 1 };
}

/** The box's error code from a DeviceError of kind 'device' (undefined for any other error). */
export function pboxErrorCode(e: unknown): number | undefined {
  if (!(e instanceof DeviceError) || e.kind !== 'device') return undefined;
  const m = /ERR (\d+)/.exec(e.bytes.toString('latin1')) ?? /ERR (\d+)/.exec(e.message);
  return m ? Number(m[1]) : undefined;
}

/** The documented meaning of an error code. */
export const describePboxError = (code: number): string => ERROR_TEXT[code] ?? `error ${code}`;

/** mbar as the firmware parses it: fixed point, 2 decimals, no exponent. */
export function formatMbar(mbar: number): string {
  const s = (Math.round(mbar * 100) / 100).toFixed(2);
  return s === '-0.00' ? '0.00' : s;
}

const num = (s: string): number | undefined => (NUM_RE.test(s) ? Number(s) : undefined);

// ------------------------------------------------------------------ decoders

/** What `ID?` answered; fields another device would not send are absent. */
export interface PboxIdentityReply {
  model: string;
  firmware?: string;
  channels?: number;
  range?: PressureLimits;
  /** the whole reply line, for messages */
  reply: string;
}

/** `ID?` → the model word and key=value fields; checking them is the caller's job (it knows what it expects). */
export function decodeIdentity(payload: string): PboxIdentityReply | undefined {
  const [model, ...fields] = payload.split(' ');
  if (!model) return undefined;
  const kv = new Map(fields.map((f) => f.split('=') as [string, string | undefined]));
  const ch = kv.get('CH');
  const range = kv.get('RANGE')?.split(',');
  const min = range?.length === 2 ? num(range[0]) : undefined;
  const max = range?.length === 2 ? num(range[1]) : undefined;
  return {
    model,
    firmware: kv.get('FW'),
    channels: ch !== undefined && /^\d+$/.test(ch) ? Number(ch) : undefined,
    range: min !== undefined && max !== undefined ? { min, max } : undefined,
    reply: `OK ${payload}`,
  };
}

export const decodePong = (payload: string): true | undefined => (payload === 'PONG' ? true : undefined);

/** `OK <ch> <mbar> <raw>` for channel `wire` → the applied setpoint */
export const decodeSetpoint =
  (wire: number) =>
  (payload: string): number | undefined => {
    const [ch, mbar, raw, extra] = payload.split(' ');
    if (ch !== String(wire) || extra !== undefined || raw === undefined || !/^\d+$/.test(raw)) return undefined;
    return num(mbar);
  };

/** `OK <ch> REG|ATM` for channel `wire` */
export const decodeValve =
  (wire: number) =>
  (payload: string): PressureSource | undefined => {
    const [ch, word, extra] = payload.split(' ');
    if (ch !== String(wire) || extra !== undefined) return undefined;
    return word === VALVE_WORD.regulator ? 'regulator' : word === VALVE_WORD.atmosphere ? 'atmosphere' : undefined;
  };

/** `OK <ch> <mbar>` for channel `wire` → the sensor reading */
export const decodeReading =
  (wire: number) =>
  (payload: string): number | undefined => {
    const [ch, mbar, extra] = payload.split(' ');
    return ch === String(wire) && extra === undefined && mbar !== undefined ? num(mbar) : undefined;
  };

/** `OK <ch> <mbar> <ms>` for channel `wire` → the accepted pulse */
export const decodePulse =
  (wire: number) =>
  (payload: string): { mbar: number; ms: number } | undefined => {
    const [ch, mbar, ms, extra] = payload.split(' ');
    if (ch !== String(wire) || extra !== undefined || ms === undefined || !/^\d+$/.test(ms)) return undefined;
    const p = num(mbar);
    return p === undefined ? undefined : { mbar: p, ms: Number(ms) };
  };

/** `OK <ch> ABORTED|IDLE` → whether a pulse was cut short */
export const decodeAbort =
  (wire: number) =>
  (payload: string): { aborted: boolean } | undefined => {
    const [ch, word, extra] = payload.split(' ');
    if (ch !== String(wire) || extra !== undefined) return undefined;
    return word === 'ABORTED' ? { aborted: true } : word === 'IDLE' ? { aborted: false } : undefined;
  };

export interface PboxChannelStatus {
  /** 0-based channel index */
  channel: number;
  source: PressureSource;
  /** regulator setpoint in force (the pulse pressure during a pulse), mbar */
  setpoint: number;
  /** sensor reading, mbar */
  pressure: number;
  /** ms until a running pulse ends; 0 when none */
  pulseRemainingMs: number;
}

function decodeStatusField(field: string): PboxChannelStatus | undefined {
  const [ch, valve, setpoint, pressure, remaining, extra] = field.split(',');
  if (extra !== undefined || ch === undefined || !/^\d+$/.test(ch) || remaining === undefined || !/^\d+$/.test(remaining)) return undefined;
  const source = valve === VALVE_WORD.regulator ? 'regulator' : valve === VALVE_WORD.atmosphere ? 'atmosphere' : undefined;
  const sp = num(setpoint);
  const p = num(pressure);
  if (!source || sp === undefined || p === undefined) return undefined;
  return { channel: Number(ch) - 1, source, setpoint: sp, pressure: p, pulseRemainingMs: Number(remaining) };
}

/** `STAT?` (all channels, in order) or `STAT? <ch>` (`only` = that wire channel) */
export const decodeStatus =
  (channels: number, only?: number) =>
  (payload: string): PboxChannelStatus[] | undefined => {
    const fields = payload.split(' ').map(decodeStatusField);
    const expected = only === undefined ? Array.from({ length: channels }, (_, i) => i) : [only - 1];
    if (fields.length !== expected.length) return undefined;
    for (let i = 0; i < fields.length; i++) if (fields[i]?.channel !== expected[i]) return undefined;
    return fields as PboxChannelStatus[];
  };
