/**
 * amp-bridge driver: one SerialLink carries text commands and the binary
 * sample stream (PROTOCOL.md).
 *
 *  - Receive path: bytes starting with the sync byte are frames, claimed by
 *    the link's `unsolicited` hook and read by the length in their header
 *    (CRC-checked; a bad frame is reported to `onError` and skipped, the
 *    stream goes on); bytes starting with '0'/'1' are the reply to the
 *    command in flight, read up to LF; anything else is garbage, reported
 *    and dropped up to the next possible frame or reply.
 *  - Sweep times: at open (and after every reconnect) the driver reads the
 *    bridge's clock three times with `time()` (which returns when the bridge
 *    received the command and when it replied) and keeps the exchange with
 *    the least line delay: offset = ((t1 − t2) + (t4 − t3)) / 2, as NTP does.
 *    A sweep's `startTime` is its device timestamp + that offset, in host ms.
 *  - Sequence numbers: `hello()` restarts the bridge's counters, so each
 *    reconnect continues the host numbering above the last sweep delivered;
 *    `Sweep.seq` stays strictly increasing per channel and keeps the device's
 *    gaps (a gap = sweeps that never arrived).
 *  - Reconnect: hello, clock sync, then every channel's mode, holdings (VC
 *    and IC), pipette offset, compensation and test pulse are sent again.
 */
import type { BindingInterface } from '@serialport/bindings-interface';
import type { Clock, TimerHandle } from '../../../src/clock/clock.ts';
import { openSerialLink, terminated, withReconnectHook, type ParseResult, type SerialLink } from '../../core/serial-link.ts';
import { DeviceError } from '../../errors.ts';
import type { ClampMode, StimulusWaveform, Sweep } from '../../types.ts';
import type { StreamingAmplifier } from '../types.ts';
import { createBridgeChannel, type BridgeChannel, type BridgeContext } from './channel.ts';
import { decodeFrame, type Frame } from './frame.ts';
import { DEFAULT_AMP_LIMITS, type AmpBridgeLimits } from './limits.ts';
import {
  AMP_BRIDGE_BAUD,
  FLAG,
  FRAME_TYPE,
  CR,
  LF,
  MAX_FRAME_SAMPLES,
  PROTOCOL_ID,
  SYNC0,
  formatCommand,
  parseHello,
  parseReplyLine,
  type HelloInfo,
} from './protocol.ts';
import { createAssembler, type AssembledSweep } from './reassembly.ts';

export interface AmpBridgeOptions {
  path: string;
  binding: BindingInterface;
  clock: Clock;
  baudRate?: number;
  /** reply deadline for ordinary commands, ms */
  commandTimeoutMs?: number;
  limits?: Partial<AmpBridgeLimits>;
}

export interface AmpBridgeStats {
  framesReceived: number;
  /** frames or bytes dropped as malformed (bad CRC, bad header, garbage) */
  streamErrors: number;
  sweepsDelivered: number;
  /** test-pulse sweeps the bridge dropped for lack of line (from frame headers) */
  sweepsDroppedByDevice: number;
  /** sweeps abandoned because a part never arrived */
  sweepsLost: number;
}

export interface AmpBridge extends StreamingAmplifier {
  readonly info: HelloInfo;
  /** host clock − bridge clock, ms (from the last `time()` exchange) */
  readonly clockOffsetMs: number;
  stats(): AmpBridgeStats;
}

const MAX_REPLY = 1024;
const TEXT_START = new Set([0x30, 0x31]); // '0', '1'

/**
 * Whether bytes starting with '0'/'1' can be a reply line (PROTOCOL.md §2:
 * `1`, `1,…` or `0,…`, printable ASCII up to LF): 'reply', 'more' (too few
 * bytes to tell), or how many bytes to drop as not a reply.
 */
function replyShape(buf: Buffer): 'reply' | 'more' | number {
  if (buf.length < 2) return 'more';
  const second = buf[1];
  const bare = buf[0] === 0x31 && (second === LF || second === CR);
  if (second !== 0x2c && !bare) return 1;
  for (let i = 1; i < buf.length && i < MAX_REPLY; i++) {
    const b = buf[i];
    if (b === LF) return 'reply';
    if (b === CR) {
      if (i + 1 >= buf.length) return 'more';
      if (buf[i + 1] === LF) continue;
    }
    if (b < 0x20 || b > 0x7e) return i;
  }
  return buf.length < MAX_REPLY ? 'more' : MAX_REPLY;
}

interface ResponseWaiter {
  resolve(a: AssembledSweep): void;
  reject(e: Error): void;
  timer: TimerHandle;
}

export async function openAmpBridge(options: AmpBridgeOptions): Promise<AmpBridge> {
  const { clock } = options;
  const label = `amp-bridge @ ${options.path}`;
  const baudRate = options.baudRate ?? AMP_BRIDGE_BAUD;
  const commandTimeoutMs = options.commandTimeoutMs ?? 500;
  const limits: AmpBridgeLimits = { ...DEFAULT_AMP_LIMITS, ...options.limits };
  const errorListeners = new Set<(e: DeviceError) => void>();
  const stats: AmpBridgeStats = { framesReceived: 0, streamErrors: 0, sweepsDelivered: 0, sweepsDroppedByDevice: 0, sweepsLost: 0 };
  let info: HelloInfo | undefined;
  let clockOffsetMs = 0;
  let stimulusId = 0;
  let outstanding = 0;
  let channels: BridgeChannel[] = [];
  /** host seq = base + device seq; the base moves up at every hello */
  const seqBase: number[] = [];
  const nextHostSeq: number[] = [];
  const settleWaiters = new Map<number, { resolve(m: ClampMode): void; reject(e: Error): void; timer: TimerHandle }>();
  const responseWaiters = new Map<string, ResponseWaiter>();
  /** responses completed before their `run` reply was read */
  const unclaimed = new Map<string, AssembledSweep>();
  const key = (ch: number, seq: number): string => `${ch}:${seq}`;

  const emitError = (e: DeviceError): void => {
    stats.streamErrors++;
    for (const l of [...errorListeners]) {
      try {
        l(e);
      } catch {
        // listeners must not break the receive path
      }
    }
  };

  const toSweep = (a: AssembledSweep, stimulus?: StimulusWaveform): Sweep => {
    const seq = (seqBase[a.channel] ?? 0) + a.seq;
    nextHostSeq[a.channel] = Math.max(nextHostSeq[a.channel] ?? 0, seq + 1);
    stats.sweepsDelivered++;
    const testpulse = a.type === FRAME_TYPE.testpulse;
    return {
      channel: a.channel,
      seq,
      kind: testpulse ? 'testpulse' : 'stimulus',
      mode: a.mode,
      startTime: a.t0Us / 1000 + clockOffsetMs,
      sampleRateHz: a.sampleRateHz,
      response: a.samples,
      responseUnit: a.unit,
      holding: a.holding,
      ...(testpulse ? { step: { amplitude: a.stepAmplitude, onsetIndex: a.stepOnset, lengthSamples: a.stepLength } } : {}),
      ...(stimulus ? { stimulus } : {}),
    };
  };

  const assembler = createAssembler({
    complete(a) {
      if (a.type === FRAME_TYPE.testpulse) {
        channels[a.channel]?.deliver(toSweep(a));
        return;
      }
      const k = key(a.channel, a.seq);
      const w = responseWaiters.get(k);
      if (w) {
        responseWaiters.delete(k);
        clock.clearTimeout(w.timer);
        w.resolve(a);
        return;
      }
      unclaimed.set(k, a);
      // Keep only a few: a response nobody claims is from a run that already failed.
      if (unclaimed.size > 8) unclaimed.delete(unclaimed.keys().next().value as string);
    },
    lost(channel, seq, type, detail) {
      stats.sweepsLost++;
      const err = new DeviceError('malformed', label, type === FRAME_TYPE.stimulus ? 'stimulus response' : 'test-pulse sweep', detail);
      emitError(err);
      const w = responseWaiters.get(key(channel, seq));
      if (w && type === FRAME_TYPE.stimulus) {
        responseWaiters.delete(key(channel, seq));
        clock.clearTimeout(w.timer);
        w.reject(err);
      }
    },
  });

  const onFrame = (f: Frame): void => {
    stats.framesReceived++;
    if (f.type === FRAME_TYPE.event) {
      if (f.flags & FLAG.settled) {
        const w = settleWaiters.get(f.channel);
        if (w) {
          settleWaiters.delete(f.channel);
          clock.clearTimeout(w.timer);
          w.resolve(f.mode);
        }
      }
      return;
    }
    if (f.offset === 0) stats.sweepsDroppedByDevice += f.dropped;
    assembler.push(f);
  };

  const unsolicited = (buf: Buffer): ParseResult<void> | null => {
    const b0 = buf[0];
    if (b0 === SYNC0) {
      const r = decodeFrame(buf, {
        types: [FRAME_TYPE.testpulse, FRAME_TYPE.stimulus, FRAME_TYPE.event],
        channels: info?.channels ?? 255,
        maxSamples: info?.maxFrameSamples ?? MAX_FRAME_SAMPLES,
      });
      if (r.status !== 'done') return r;
      onFrame(r.value);
      return { status: 'done', value: undefined, consumed: r.consumed };
    }
    if (TEXT_START.has(b0)) {
      if (outstanding > 0) {
        // Opening onto a bridge that is still streaming (the last host died without
        // stopping it) starts mid-frame: a '0'/'1' among sample bytes is not a reply.
        const shape = replyShape(buf);
        if (shape === 'reply') return null;
        if (shape === 'more') return { status: 'more' };
        return { status: 'malformed', detail: `${shape} byte(s) outside any frame or reply`, consumed: shape };
      }
      // A reply nobody is waiting for (late, after a timeout): drop just that line, keep the frames behind it.
      const lf = buf.indexOf(LF);
      if (lf < 0) return { status: 'more' };
      return { status: 'malformed', detail: 'reply line with no command waiting for it', consumed: lf + 1 };
    }
    let end = 1;
    while (end < buf.length && buf[end] !== SYNC0 && !TEXT_START.has(buf[end])) end++;
    return { status: 'malformed', detail: `${end} byte(s) outside any frame or reply`, consumed: end };
  };

  const link: SerialLink = await openSerialLink({
    label,
    path: options.path,
    baudRate,
    binding: options.binding,
    clock,
    unsolicited,
    onUnsolicitedError: emitError,
    // Frames arrive every few ms while streaming: a long quiet requirement would never be met.
    resyncQuietMs: 2,
  });

  const replyParser = terminated<string[]>(LF, MAX_REPLY, (body, consumed) => {
    const r = parseReplyLine(body.toString('latin1'));
    if (!r) return { status: 'malformed', detail: `not a reply line: "${body.toString('latin1').slice(0, 60)}"`, consumed };
    if (!r.ok) return { status: 'device-error', detail: `E${r.code}: ${r.text}`, consumed };
    return { status: 'done', value: r.fields, consumed };
  });

  /** Requests queued or in flight: while there are none, a reply line is stray. */
  const request = (name: string, bytes: Buffer, timeoutMs: number): Promise<string[]> => {
    outstanding++;
    return link.request({ name, bytes, parse: replyParser, timeoutMs }).finally(() => outstanding--);
  };
  const command = (name: string, args: ReadonlyArray<string | number>, timeoutMs = commandTimeoutMs): Promise<string[]> =>
    request(name, formatCommand(name, args), timeoutMs);

  const rejectWaiters = (kind: 'disconnected' | 'closed'): void => {
    for (const [ch, w] of settleWaiters) {
      clock.clearTimeout(w.timer);
      w.reject(new DeviceError(kind, label, 'mode', `port ${kind} while channel ${ch} was settling`));
    }
    settleWaiters.clear();
    for (const [k, w] of responseWaiters) {
      clock.clearTimeout(w.timer);
      w.reject(new DeviceError(kind, label, 'run (stimulus)', `port ${kind} before response ${k} arrived`));
    }
    responseWaiters.clear();
    unclaimed.clear();
    assembler.clear();
  };
  link.onStateChange((s) => {
    if (s === 'disconnected' || s === 'closed') rejectWaiters(s);
  });

  const hello = async (): Promise<HelloInfo> => {
    const parsed = parseHello(await command('hello', []));
    if (typeof parsed === 'string') throw new DeviceError('malformed', label, 'hello', parsed);
    if (parsed.protocol !== PROTOCOL_ID) throw new DeviceError('device', label, 'hello', `bridge speaks ${parsed.protocol}, driver speaks ${PROTOCOL_ID}`);
    return parsed;
  };

  /**
   * NTP's four timestamps: host send t1, device receive t2, device reply t3,
   * host receive t4. offset = ((t1 − t2) + (t4 − t3)) / 2 is exact when the
   * two line delays are equal; the exchange with the least line delay wins.
   */
  const syncClock = async (): Promise<void> => {
    let best = { delay: Infinity, offset: 0 };
    for (let i = 0; i < 3; i++) {
      const t1 = clock.now();
      const [rx, tx] = await command('time', []);
      const t4 = clock.now();
      const t2 = Number(rx) / 1000;
      const t3 = Number(tx) / 1000;
      if (!Number.isFinite(t2) || !Number.isFinite(t3)) throw new DeviceError('malformed', label, 'time', `device times "${rx}", "${tx}" are not numbers`);
      const delay = t4 - t1 - (t3 - t2);
      if (delay < best.delay) best = { delay, offset: (t1 - t2 + (t4 - t3)) / 2 };
    }
    clockOffsetMs = best.offset;
  };

  const ctx: BridgeContext = {
    label,
    clock,
    limits,
    baudRate,
    commandTimeoutMs,
    info: () => {
      if (!info) throw new DeviceError('invalid', label, 'hello', 'bridge not identified yet');
      return info;
    },
    command,
    sendChunk: (frame, timeoutMs) => request('chunk', frame, timeoutMs),
    expectSettled(channel, timeoutMs) {
      settleWaiters.get(channel)?.reject(new DeviceError('interrupted', label, 'mode', 'superseded by a newer mode switch'));
      const done = new Promise<ClampMode>((resolve, reject) => {
        const timer = clock.setTimeout(() => {
          settleWaiters.delete(channel);
          reject(new DeviceError('timeout', label, 'mode', `channel ${channel} did not report a settled mode within ${timeoutMs} ms`));
        }, timeoutMs);
        settleWaiters.set(channel, { resolve, reject, timer });
      });
      return {
        done,
        cancel() {
          const w = settleWaiters.get(channel);
          if (!w) return;
          clock.clearTimeout(w.timer);
          settleWaiters.delete(channel);
        },
      };
    },
    awaitResponse(channel, seq, timeoutMs, signal) {
      const k = key(channel, seq);
      const ready = unclaimed.get(k);
      if (ready) {
        unclaimed.delete(k);
        return Promise.resolve(ready);
      }
      if (link.state !== 'open') return Promise.reject(new DeviceError('disconnected', label, 'run (stimulus)', `port is ${link.state}`));
      const interrupted = (): DeviceError => new DeviceError('interrupted', label, 'run (stimulus)', `aborted while response ${seq} on channel ${channel} was playing`);
      if (signal?.aborted) return Promise.reject(interrupted());
      return new Promise<AssembledSweep>((resolve, reject) => {
        const onAbort = (): void => {
          const w = responseWaiters.get(k);
          if (!w) return;
          responseWaiters.delete(k);
          clock.clearTimeout(w.timer);
          w.reject(interrupted());
        };
        const settle = <T>(fn: (x: T) => void) => (x: T): void => {
          signal?.removeEventListener('abort', onAbort);
          fn(x);
        };
        const timer = clock.setTimeout(() => {
          responseWaiters.delete(k);
          settle(reject)(new DeviceError('timeout', label, 'run (stimulus)', `response ${seq} on channel ${channel} incomplete after ${timeoutMs.toFixed(0)} ms`));
        }, timeoutMs);
        responseWaiters.set(k, { resolve: settle(resolve), reject: settle(reject), timer });
        signal?.addEventListener('abort', onAbort, { once: true });
      });
    },
    nextStimulusId: () => (stimulusId = (stimulusId + 1) >>> 0),
    toSweep,
  };

  try {
    info = await hello();
    await syncClock();
    channels = Array.from({ length: info.channels }, (_, i) => createBridgeChannel(ctx, i));
    for (let i = 0; i < info.channels; i++) {
      seqBase[i] = 0;
      nextHostSeq[i] = 0;
    }
    for (const c of channels) await c.refresh();
  } catch (e) {
    await link.close();
    throw e;
  }

  const connection = withReconnectHook(link, async () => {
    const again = await hello();
    if (again.channels !== channels.length) {
      throw new DeviceError('device', label, 'hello', `bridge now reports ${again.channels} channels, was ${channels.length}`);
    }
    info = again;
    for (let i = 0; i < channels.length; i++) seqBase[i] = nextHostSeq[i];
    await syncClock();
    for (const c of channels) await c.restore();
  });

  const identified = info;
  return {
    model: identified.model,
    connection,
    channels,
    get info() {
      return info ?? identified;
    },
    get clockOffsetMs() {
      return clockOffsetMs;
    },
    stats: () => ({ ...stats }),
    onError(listener) {
      errorListeners.add(listener);
      return () => errorListeners.delete(listener);
    },
  };
}
