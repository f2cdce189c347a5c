/**
 * Host side of one serial port: every driver talks to its device through a
 * SerialLink. It owns the things every protocol needs and none should
 * re-implement:
 *
 *  - one command at a time: requests queue and are written only when the
 *    previous reply is complete (half-duplex command/response devices);
 *  - `urgent` requests (stop) bypass the queue and are written at once;
 *  - replies are parsed from a byte buffer by a per-request parser that
 *    reads fixed lengths or up to a terminator (binary payloads may hold
 *    0x0D, so nothing here splits on CR);
 *  - unsolicited frames (streamed samples) are claimed before replies;
 *  - per-request deadlines on the injected clock, a resync after a timeout
 *    (late bytes are dropped, not fed to the next command);
 *  - disconnect detection and `reconnect()`.
 */
import { SerialPortStream } from '@serialport/stream';
import type { BindingInterface, OpenOptions } from '@serialport/bindings-interface';
import type { Clock, TimerHandle } from '../../src/clock/clock.ts';
import { sleep } from '../../src/clock/clock.ts';
import { DeviceError } from '../errors.ts';
import type { ConnectionState, DeviceConnection } from '../types.ts';

export type ParseResult<T> =
  | { status: 'more' }
  | { status: 'done'; value: T; consumed: number }
  /** a well-formed error reply from the device */
  | { status: 'device-error'; detail: string; consumed: number }
  /** bytes that cannot be this reply; `consumed` of them are dropped */
  | { status: 'malformed'; detail: string; consumed: number };

export type ReplyParser<T> = (buf: Buffer) => ParseResult<T>;

export interface RequestPart {
  bytes: Buffer;
  /** pause after writing this part before the next (e.g. MPC-325 speed byte), ms */
  pauseMs?: number;
}

export interface LinkRequest<T> {
  /** command name for errors and logs, e.g. "m (move)" */
  name: string;
  bytes: Buffer | RequestPart[];
  /** null: the device sends no reply; the request resolves once written */
  parse: ReplyParser<T> | null;
  /** deadline for the complete reply, counted from the end of the write, ms */
  timeoutMs: number;
  /** bypass the queue (stop/interrupt) */
  urgent?: boolean;
  /**
   * Called once every part has been written, before the reply deadline starts
   * (lets a driver hold back an interrupt until a multi-part command is whole).
   */
  onWritten?: () => void;
}

export interface SerialLinkOptions {
  /** device label used in errors, e.g. "Sutter MP-285 @ sim:mp285" */
  label: string;
  path: string;
  baudRate: number;
  binding: BindingInterface;
  clock: Clock;
  openOptions?: Partial<OpenOptions>;
  /**
   * Claims bytes at the head of the receive buffer that are not a reply
   * (streamed frames, or a late reply no request waits for: `awaiting` names the
   * request whose reply is due, if any). Return null when the head is not unsolicited data.
   */
  unsolicited?: (buf: Buffer, awaiting: string | undefined) => ParseResult<void> | null;
  /** called for unsolicited frames that were malformed (after dropping them) */
  onUnsolicitedError?: (error: DeviceError) => void;
  /** quiet time required after a timeout before the next command, ms */
  resyncQuietMs?: number;
  /** called with every chunk in and out, for tracing */
  onTraffic?: (dir: 'tx' | 'rx', bytes: Buffer, t: number) => void;
}

interface Pending<T> {
  req: LinkRequest<T>;
  resolve: (v: T) => void;
  reject: (e: Error) => void;
  timer?: TimerHandle;
  seen: Buffer[];
}

export interface SerialLink extends DeviceConnection {
  request<T>(req: LinkRequest<T>): Promise<T>;
  /** bytes dropped because no request was waiting for them */
  readonly strayBytes: number;
  open(): Promise<void>;
}

export function openSerialLink(options: SerialLinkOptions): Promise<SerialLink> {
  const link = createSerialLink(options);
  return link.open().then(() => link);
}

export function createSerialLink(options: SerialLinkOptions): SerialLink {
  const { clock, label } = options;
  const resyncQuietMs = options.resyncQuietMs ?? 30;
  let state: ConnectionState = 'closed';
  let stream: SerialPortStream | undefined;
  let rxBuf: Buffer = Buffer.alloc(0);
  let lastRxAt = -Infinity;
  /** when the last request timed out: a device silent until then may still answer just after */
  let timedOutAt = -Infinity;
  let needsResync = false;
  let strayBytes = 0;
  let writing = false;
  const queue: Pending<unknown>[] = [];
  const inFlight: Pending<unknown>[] = [];
  const listeners = new Set<(s: ConnectionState, e?: Error) => void>();

  const setState = (next: ConnectionState, error?: Error): void => {
    if (state === next) return;
    state = next;
    for (const l of [...listeners]) l(next, error);
  };

  const fail = (p: Pending<unknown>, error: DeviceError): void => {
    clock.clearTimeout(p.timer);
    p.reject(error);
  };

  const failAll = (kind: 'disconnected' | 'closed', detail: string): void => {
    const all = [...inFlight.splice(0), ...queue.splice(0)];
    for (const p of all) fail(p, new DeviceError(kind, label, p.req.name, detail, Buffer.concat(p.seen)));
  };

  const onData = (chunk: Buffer): void => {
    lastRxAt = clock.now();
    options.onTraffic?.('rx', chunk, lastRxAt);
    rxBuf = rxBuf.length === 0 ? chunk : Buffer.concat([rxBuf, chunk]);
    if (inFlight[0]) inFlight[0].seen.push(chunk);
    processBuffer();
  };

  const processBuffer = (): void => {
    while (rxBuf.length > 0) {
      if (options.unsolicited) {
        const claim = options.unsolicited(rxBuf, inFlight[0]?.req.parse ? inFlight[0].req.name : undefined);
        if (claim) {
          if (claim.status === 'more') return;
          if (claim.status === 'malformed' || claim.status === 'device-error') {
            const dropped = rxBuf.subarray(0, Math.max(1, claim.consumed));
            rxBuf = rxBuf.subarray(dropped.length);
            options.onUnsolicitedError?.(new DeviceError('malformed', label, 'stream frame', claim.detail, dropped));
            continue;
          }
          rxBuf = rxBuf.subarray(claim.consumed);
          continue;
        }
      }
      const head = inFlight[0];
      if (!head || !head.req.parse) {
        // Nothing is waiting for these bytes: drop them, but count them.
        strayBytes += rxBuf.length;
        rxBuf = Buffer.alloc(0);
        return;
      }
      const result = head.req.parse(rxBuf);
      if (result.status === 'more') return;
      inFlight.shift();
      clock.clearTimeout(head.timer);
      const used = rxBuf.subarray(0, Math.max(result.status === 'done' ? 0 : 1, result.consumed));
      rxBuf = rxBuf.subarray(used.length);
      if (result.status === 'done') head.resolve(result.value);
      else if (result.status === 'device-error') head.reject(new DeviceError('device', label, head.req.name, result.detail, used));
      else {
        head.reject(new DeviceError('malformed', label, head.req.name, result.detail, used));
        // The rest of a garbled reply would be mistaken for the next one.
        needsResync = true;
        rxBuf = Buffer.alloc(0);
      }
      pump();
    }
  };

  const write = (bytes: Buffer): Promise<void> =>
    new Promise((resolve, reject) => {
      const s = stream;
      if (!s || state !== 'open') {
        reject(new Error('port is not open'));
        return;
      }
      options.onTraffic?.('tx', bytes, clock.now());
      s.write(bytes, (err) => (err ? reject(err) : resolve()));
    });

  const resync = async (): Promise<void> => {
    // Wait until the line has been quiet for resyncQuietMs, dropping whatever arrives. Quiet
    // counts from the timeout at the earliest: a late reply must not answer the next command.
    for (let i = 0; i < 100; i++) {
      const quietFor = clock.now() - Math.max(lastRxAt, timedOutAt);
      if (quietFor >= resyncQuietMs) break;
      await sleep(clock, resyncQuietMs - quietFor);
    }
    strayBytes += rxBuf.length;
    rxBuf = Buffer.alloc(0);
    needsResync = false;
  };

  const send = async (p: Pending<unknown>): Promise<void> => {
    const parts: RequestPart[] = Buffer.isBuffer(p.req.bytes) ? [{ bytes: p.req.bytes }] : p.req.bytes;
    try {
      for (const part of parts) {
        await write(part.bytes);
        if (part.pauseMs) await sleep(clock, part.pauseMs);
      }
    } catch (e) {
      const idx = inFlight.indexOf(p);
      if (idx >= 0) inFlight.splice(idx, 1);
      fail(p, new DeviceError(state === 'closed' ? 'closed' : 'disconnected', label, p.req.name, (e as Error).message));
      return;
    }
    p.req.onWritten?.();
    if (!p.req.parse) {
      const idx = inFlight.indexOf(p);
      if (idx >= 0) inFlight.splice(idx, 1);
      p.resolve(undefined);
      return;
    }
    if (!inFlight.includes(p)) return; // failed while writing (disconnect)
    p.timer = clock.setTimeout(() => {
      const idx = inFlight.indexOf(p);
      if (idx < 0) return;
      inFlight.splice(idx, 1);
      // The head's parser has been looking at everything still unconsumed in rxBuf
      // (the chunks in p.seen are the same bytes: do not count them twice).
      const seen = idx === 0 ? rxBuf : Buffer.concat(p.seen);
      if (idx === 0) rxBuf = Buffer.alloc(0);
      needsResync = true;
      timedOutAt = clock.now();
      p.reject(
        new DeviceError('timeout', label, p.req.name, seen.length > 0 ? `incomplete reply after ${p.req.timeoutMs} ms` : `no reply within ${p.req.timeoutMs} ms`, seen),
      );
      pump();
    }, p.req.timeoutMs);
    processBuffer();
  };

  const pump = (): void => {
    if (writing || inFlight.length > 0 || queue.length === 0 || state !== 'open') return;
    writing = true;
    const p = queue.shift()!;
    void (async () => {
      try {
        if (needsResync) await resync();
        if (state !== 'open') {
          fail(p, new DeviceError('disconnected', label, p.req.name, 'port closed before the command was sent'));
          return;
        }
        inFlight.push(p);
        await send(p);
      } finally {
        writing = false;
        pump();
      }
    })();
  };

  const attachStream = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const s = new SerialPortStream({
        binding: options.binding,
        path: options.path,
        baudRate: options.baudRate,
        autoOpen: false,
        ...options.openOptions,
      });
      s.on('error', () => {
        // Errors are reported per request; an 'error' without a listener would crash the process.
      });
      s.on('data', onData);
      s.on('close', (err: (Error & { disconnected?: boolean }) | null) => {
        if (stream !== s) return;
        stream = undefined;
        if (state === 'closed') return;
        const detail = err?.disconnected ? `port disconnected (${err.message})` : 'port closed';
        setState('disconnected', err ?? undefined);
        failAll('disconnected', detail);
      });
      s.open((err) => {
        if (err) {
          reject(new DeviceError('disconnected', label, 'open', err.message));
          return;
        }
        stream = s;
        rxBuf = Buffer.alloc(0);
        needsResync = false;
        setState('open');
        resolve();
        pump();
      });
    });

  const link: SerialLink = {
    label,
    get state() {
      return state;
    },
    get strayBytes() {
      return strayBytes;
    },
    onStateChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async open() {
      if (state === 'open') return;
      setState('opening');
      try {
        await attachStream();
      } catch (e) {
        setState('disconnected', e as Error);
        throw e;
      }
    },
    async reconnect() {
      if (state === 'open') return;
      await link.open();
    },
    async close() {
      const s = stream;
      setState('closed');
      failAll('closed', 'driver closed');
      stream = undefined;
      if (s?.isOpen) await new Promise<void>((resolve) => s.close(() => resolve()));
    },
    request<T>(req: LinkRequest<T>): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        const p: Pending<T> = { req, resolve, reject, seen: [] };
        if (state !== 'open') {
          reject(new DeviceError(state === 'closed' ? 'closed' : 'disconnected', label, req.name, `port is ${state}`));
          return;
        }
        if (req.urgent) {
          if (req.parse) inFlight.push(p as Pending<unknown>);
          void send(p as Pending<unknown>);
          return;
        }
        queue.push(p as Pending<unknown>);
        pump();
      });
    },
  };
  return link;
}

// ------------------------------------------------------------- reply parsers

/** Exactly `n` bytes, then `decode`; the decoder may still reject the content. */
export function fixedLength<T>(n: number, decode: (bytes: Buffer) => ParseResult<T>): ReplyParser<T> {
  return (buf) => (buf.length < n ? { status: 'more' } : decode(buf.subarray(0, n)));
}

/** Bytes up to and including `terminator`, at most `maxLength` long. */
export function terminated<T>(terminator: number, maxLength: number, decode: (body: Buffer, consumed: number) => ParseResult<T>): ReplyParser<T> {
  return (buf) => {
    const idx = buf.indexOf(terminator);
    if (idx < 0) {
      return buf.length > maxLength
        ? { status: 'malformed', detail: `no terminator 0x${terminator.toString(16)} within ${maxLength} bytes`, consumed: buf.length }
        : { status: 'more' };
    }
    return decode(buf.subarray(0, idx), idx + 1);
  };
}

/** Deadline for a move: a fixed allowance plus 1.5 × the time the move should take. */
export function moveTimeoutMs(distanceUm: number, speedUmPerS: number, baseMs = 1000): number {
  return baseMs + (1.5 * Math.abs(distanceUm) * 1000) / Math.max(speedUmPerS, 1e-6);
}

/**
 * A connection whose reconnect runs `afterReconnect` (e.g. stop motion the
 * controller lost track of, re-read settings) before reporting success.
 */
export function withReconnectHook(link: SerialLink, afterReconnect: () => Promise<void>): DeviceConnection {
  return {
    get label() {
      return link.label;
    },
    get state() {
      return link.state;
    },
    onStateChange: (l) => link.onStateChange(l),
    async reconnect() {
      await link.reconnect();
      await afterReconnect();
    },
    close: () => link.close(),
  };
}
