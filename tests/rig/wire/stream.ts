/**
 * Byte streams as the emulator binding recorded them, for the wire decoders.
 *
 * A stream is the chunks one direction of a port carried, each stamped with
 * the clock time its last byte finished crossing the line (the byte log's
 * `t`). The decoders read the stream byte by byte, never by chunk: a command
 * split over two writes, or two commands in one write, decode the same.
 */

/** One write (host → device) or one reply (device → host) as it crossed the line. */
export interface WireChunk {
  /** clock ms when the last byte of the chunk had crossed the line */
  t: number;
  bytes: Uint8Array;
}

/** Bytes a decoder could not read as the protocol documents them. */
export class WireDecodeError extends Error {
  constructor(
    readonly device: string,
    /** clock ms of the offending byte */
    readonly t: number,
    /** offset of the offending byte in the stream */
    readonly offset: number,
    readonly detail: string,
    /** the bytes around it, hex */
    readonly context: string,
  ) {
    super(`${device} @ ${t.toFixed(3)} ms, byte ${offset}: ${detail} [${context}]`);
    this.name = 'WireDecodeError';
  }
}

export interface Decoded<C> {
  commands: C[];
  /** the first thing that could not be decoded; decoding stops there (the framing after it is not trusted) */
  error: WireDecodeError | null;
}

export interface ByteStream {
  readonly device: string;
  readonly bytes: Buffer;
  readonly length: number;
  /** clock ms when byte i had crossed the line */
  timeOf(i: number): number;
  /** hex of the bytes around i, for error messages */
  context(i: number): string;
  /** an error at byte i */
  fail(i: number, detail: string): WireDecodeError;
  /** index of the first byte whose chunk crossed after clock time t (length if none) */
  firstAfter(t: number): number;
}

/**
 * Join chunks into one stream. `msPerByte` (10 bits a byte at the line's
 * baud rate) dates each byte inside its chunk: byte i of an n-byte chunk
 * stamped t crossed at t − (n − 1 − i)·msPerByte.
 */
export function joinChunks(device: string, chunks: readonly WireChunk[], msPerByte = 0): ByteStream {
  const bytes = Buffer.concat(chunks.map((c) => c.bytes));
  const ends: number[] = [];
  let end = 0;
  for (const c of chunks) {
    end += c.bytes.length;
    ends.push(end);
  }
  /** index of the chunk holding byte i */
  const chunkOf = (i: number): number => {
    let lo = 0;
    let hi = ends.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (ends[mid] > i) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  };
  const timeOf = (i: number): number => {
    if (chunks.length === 0) return NaN;
    const k = chunkOf(Math.min(Math.max(i, 0), bytes.length - 1));
    return chunks[k].t - (ends[k] - 1 - i) * msPerByte;
  };
  const context = (i: number): string => {
    const from = Math.max(0, i - 8);
    const to = Math.min(bytes.length, i + 16);
    return `${bytes.subarray(from, i).toString('hex')}|${bytes.subarray(i, to).toString('hex')}`;
  };
  return {
    device,
    bytes,
    length: bytes.length,
    timeOf,
    context,
    fail: (i, detail) => new WireDecodeError(device, timeOf(i), i, detail, context(i)),
    firstAfter(t) {
      const k = countUntil(chunks, t);
      return k === 0 ? 0 : ends[k - 1];
    },
  };
}

/** How many of `items` (in time order) are stamped at or before t. */
export function countUntil(items: ReadonlyArray<{ t: number }>, t: number): number {
  let lo = 0;
  let hi = items.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (items[mid].t <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Printable form of text-protocol bytes (control bytes as <hex>), for wire descriptions. */
export function printable(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : `<${b.toString(16).padStart(2, '0')}>`;
  return s;
}

/**
 * The reply to a command of a one-command-at-a-time protocol: the bytes the
 * device sent first after the command had reached it. Replies earlier than the
 * command had all arrived before it (the host waits for each reply), so the
 * first chunk stamped after the command starts its reply.
 */
export function replyAfter(out: ByteStream, t: number, length: number): { at: number; bytes: Buffer } | null {
  const at = out.firstAfter(t);
  if (at + length > out.length) return null;
  return { at, bytes: out.bytes.subarray(at, at + length) };
}

/** The first line (terminated by `terminator`) the device sent after clock time t, without its terminator. */
export function replyLineAfter(out: ByteStream, t: number, terminator: number, maxLength: number): { at: number; line: string } | null {
  const at = out.firstAfter(t);
  const end = out.bytes.indexOf(terminator, at);
  if (end < 0 || end - at > maxLength) return null;
  return { at, line: out.bytes.subarray(at, end).toString('latin1') };
}
