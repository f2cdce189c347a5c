/**
 * One amp-bridge channel as an AmplifierChannel: SI in, wire units (mV, pA,
 * pF) out, every limit checked before a byte is sent. Operations on a
 * channel run one after another (a mode switch that is still settling holds
 * back the next operation on the same channel, not the other channels).
 * The channel keeps the last status record the bridge sent; it is what
 * partial updates merge into and what a reconnect restores.
 */
import type { Clock } from '../../../src/clock/clock.ts';
import { DeviceError, isDeviceError } from '../../errors.ts';
import type { AmplifierChannel, AmplifierChannelStatus, ClampMode, StimulusWaveform, Sweep, TestPulseSettings } from '../../types.ts';
import { encodeFrame } from './frame.ts';
import { requireFinite, requireWithin, type AmpBridgeLimits } from './limits.ts';
import { ERR, FRAME_TYPE, MODES, parseStatus, type HelloInfo, type StatusRecord } from './protocol.ts';
import type { AssembledSweep } from './reassembly.ts';
import { planTestPulse, sweepBytes } from './waveforms.ts';

/** What a channel needs from the driver that owns the link. */
export interface BridgeContext {
  readonly label: string;
  readonly clock: Clock;
  readonly limits: AmpBridgeLimits;
  readonly baudRate: number;
  readonly commandTimeoutMs: number;
  info(): HelloInfo;
  /** send a text command; resolves with the fields after `1,` */
  command(name: string, args: ReadonlyArray<string | number>, timeoutMs?: number): Promise<string[]>;
  /** send a stimulus chunk frame; resolves with the fields of its reply */
  sendChunk(frame: Buffer, timeoutMs: number): Promise<string[]>;
  /** resolves when the channel's mode switch has settled (register before sending `mode`) */
  expectSettled(channel: number, timeoutMs: number): { done: Promise<ClampMode>; cancel(): void };
  /** resolves with the response sweep `seq` once all its parts have arrived; rejects with 'interrupted' on abort */
  awaitResponse(channel: number, seq: number, timeoutMs: number, signal?: AbortSignal): Promise<AssembledSweep>;
  nextStimulusId(): number;
  toSweep(a: AssembledSweep, stimulus?: StimulusWaveform): Sweep;
}

export interface BridgeChannel extends AmplifierChannel {
  /** the driver hands every completed sweep of this channel here */
  deliver(sweep: Sweep): void;
  /** re-apply the last known settings after a reconnect */
  restore(): Promise<void>;
  /** read the settings from the device (at open) */
  refresh(): Promise<void>;
  readonly cached: StatusRecord | undefined;
}

/** `E<code>: <text>` is how device errors carry their code (see deviceErrorCode). */
export function deviceErrorCode(e: unknown): number | undefined {
  if (!isDeviceError(e, 'device')) return undefined;
  const m = /: device: E(\d+):/.exec(e.message);
  return m ? Number(m[1]) : undefined;
}

const wire = (mode: 'VC' | 'IC', si: number): number => (mode === 'VC' ? si * 1e3 : si * 1e12);
const fromWire = (mode: 'VC' | 'IC', w: number): number => (mode === 'VC' ? w / 1e3 : w / 1e12);

export function createBridgeChannel(ctx: BridgeContext, index: number): BridgeChannel {
  const { label, limits } = ctx;
  const listeners = new Set<(s: Sweep) => void>();
  let cache: StatusRecord | undefined;
  let tail: Promise<unknown> = Promise.resolve();

  /** Operations on one channel run in order; a failure does not block the next. */
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = tail.then(fn);
    tail = run.catch(() => undefined);
    return run;
  };

  const known = (): StatusRecord => {
    if (!cache) throw new DeviceError('invalid', label, 'status', `channel ${index} settings are not known yet`);
    return cache;
  };

  const apply = (name: string, fields: string[]): StatusRecord => {
    const rec = parseStatus(fields);
    if (typeof rec === 'string') throw new DeviceError('malformed', label, name, rec);
    cache = rec;
    return rec;
  };

  const statusCommand = async (name: string, args: ReadonlyArray<string | number>, timeoutMs?: number): Promise<StatusRecord> =>
    apply(name, await ctx.command(name, args, timeoutMs));

  const setModeNow = async (mode: ClampMode): Promise<void> => {
    const settle = ctx.expectSettled(index, ctx.info().modeSettleMs + ctx.commandTimeoutMs + 1000);
    settle.done.catch(() => {});
    let rec: StatusRecord;
    try {
      rec = await statusCommand('mode', [index, mode]);
    } catch (e) {
      settle.cancel();
      throw e;
    }
    if (rec.state !== 'settling') {
      settle.cancel();
      return;
    }
    const settled = await settle.done;
    cache = { ...rec, mode: settled, state: 'idle' };
  };

  /** Every command level the channel would apply must stay inside the envelope (the bridge checks the same). */
  const checkCommand = (name: string, mode: ClampMode, ...levels: number[]): void => {
    for (const v of levels) {
      if (mode === 'VC') requireWithin(label, name, 'voltage command', v, limits.maxVoltageV, 'V');
      if (mode === 'IC') requireWithin(label, name, 'current command', v, limits.maxCurrentA, 'A');
    }
  };

  const holdingOf = (r: StatusRecord, mode: ClampMode): number =>
    mode === 'VC' ? fromWire('VC', r.holdingVC_mV) : mode === 'IC' ? fromWire('IC', r.holdingIC_pA) : 0;
  const stepOf = (r: StatusRecord, mode: ClampMode): number =>
    mode === 'VC' ? fromWire('VC', r.tpVC_mV) : mode === 'IC' ? fromWire('IC', r.tpIC_pA) : 0;

  const testPulseOf = (r: StatusRecord): TestPulseSettings => ({
    enabled: r.tpOn,
    amplitude: stepOf(r, r.mode),
    widthMs: r.tpWidthMs,
    rateHz: r.tpRateHz,
    sampleRateHz: r.tpSampleRateHz,
  });

  const aborted = (what: string): DeviceError => new DeviceError('interrupted', label, 'run (stimulus)', `aborted ${what}`);

  const runOnce = async (stimulus: StimulusWaveform, signal?: AbortSignal): Promise<Sweep> => {
    const name = 'run (stimulus)';
    if (signal?.aborted) throw aborted('before anything was sent');
    const r = known();
    const n = stimulus.samples?.length ?? 0;
    const fs = stimulus.sampleRateHz;
    const info = ctx.info();
    if (!MODES.includes(stimulus.mode)) throw new DeviceError('invalid', label, name, `unknown stimulus mode ${String(stimulus.mode)}`);
    if (stimulus.mode !== r.mode) throw new DeviceError('invalid', label, name, `stimulus "${stimulus.name}" is ${stimulus.mode} but channel ${index} is in ${r.mode}: switch mode first`);
    requireFinite(label, name, 'sample rate', fs);
    if (!Number.isInteger(fs) || fs <= 0) throw new DeviceError('invalid', label, name, `sample rate must be a positive whole number of Hz (got ${fs})`);
    if (fs > info.maxSampleRateHz) throw new DeviceError('limit', label, name, `sample rate ${fs} Hz exceeds the device maximum ${info.maxSampleRateHz} Hz`);
    if (n < 1) throw new DeviceError('invalid', label, name, 'stimulus has no samples');
    if (n > info.maxStimulusSamples) throw new DeviceError('limit', label, name, `${n} samples exceed the device maximum ${info.maxStimulusSamples}`);
    const holding = holdingOf(r, r.mode);
    let peak = 0;
    for (let k = 0; k < n; k++) {
      const s = stimulus.samples[k];
      if (!Number.isFinite(s)) throw new DeviceError('invalid', label, name, `sample ${k} is not a finite number (${s})`);
      peak = Math.max(peak, Math.abs(holding + s));
    }
    checkCommand(name, r.mode, peak);

    const id = ctx.nextStimulusId();
    await ctx.command('stim', [index, id, n, fs, stimulus.mode]);
    const chunkSamples = info.maxFrameSamples;
    const unit = stimulus.mode === 'VC' ? 'V' : 'A';
    for (let offset = 0; offset < n; offset += chunkSamples) {
      // an upload left incomplete is never played (the bridge refuses to run it)
      if (signal?.aborted) throw aborted('during the upload');
      const part = stimulus.samples.subarray(offset, Math.min(n, offset + chunkSamples));
      const frame = encodeFrame(
        { type: FRAME_TYPE.chunk, channel: index, mode: stimulus.mode, unit, flags: 0, seq: id, sampleRateHz: fs, total: n, offset, dropped: 0, holding: 0, stepAmplitude: 0, stepOnset: 0, stepLength: 0, t0Us: 0 },
        part,
      );
      const timeoutMs = ctx.commandTimeoutMs + (frame.length * 10_000) / ctx.baudRate;
      let reply: string[] | undefined;
      // A chunk corrupted on the way is refused with a CRC error: send it again (twice at most).
      for (let attempt = 0; !reply; attempt++) {
        try {
          reply = await ctx.sendChunk(frame, timeoutMs);
        } catch (e) {
          if (deviceErrorCode(e) !== ERR.crc || attempt >= 2) throw e;
        }
      }
      if (Number(reply[0]) !== id || Number(reply[1]) !== offset + part.length) {
        throw new DeviceError('malformed', label, 'chunk', `chunk reply ${reply.join(',')} does not acknowledge samples ${offset}…${offset + part.length} of ${id}`);
      }
    }

    if (signal?.aborted) throw aborted('before it was played');
    const runReply = await ctx.command('run', [index, id]);
    const seq = Number(runReply[0]);
    if (!Number.isInteger(seq) || seq < 0 || Number(runReply[1]) !== n) throw new DeviceError('malformed', label, 'run', `run reply ${runReply.join(',')}`);
    const durationMs = (n * 1000) / fs;
    const lineMs = (sweepBytes(n, info.maxFrameSamples) * 10_000) / ctx.baudRate;
    // Wait for a test-pulse sweep in progress, the stimulus itself, and the transfer (shared with other channels).
    const tpWaitMs = r.tpOn ? planTestPulse(r.tpWidthMs, r.tpSampleRateHz, info.baselineFraction).durationMs : 0;
    let assembled: AssembledSweep;
    try {
      assembled = await ctx.awaitResponse(index, seq, tpWaitMs + durationMs + 4 * lineMs + ctx.commandTimeoutMs + 1000, signal);
    } catch (e) {
      if (signal?.aborted && isDeviceError(e, 'interrupted')) {
        // Stop it on the device too: the cell must not go on receiving it.
        await ctx.command('abort', [index]).catch(() => {});
        throw e;
      }
      // A part lost on the line (or stuck behind one) can be fetched again once.
      if (!isDeviceError(e, 'malformed') && !isDeviceError(e, 'timeout')) throw e;
      try {
        await ctx.command('resend', [index, seq]);
      } catch {
        throw e;
      }
      assembled = await ctx.awaitResponse(index, seq, 4 * lineMs + ctx.commandTimeoutMs + 1000);
    }
    const sweep = ctx.toSweep(assembled, stimulus);
    deliver(sweep);
    return sweep;
  };

  const deliver = (sweep: Sweep): void => {
    for (const l of [...listeners]) {
      try {
        l(sweep);
      } catch {
        // A listener's bug must not stop the stream for the others.
      }
    }
  };

  const restore = async (): Promise<void> => {
    const want = cache;
    if (!want) return refresh();
    await setModeNow(want.mode);
    await statusCommand('holding', [index, want.holdingVC_mV, 'VC']);
    await statusCommand('holding', [index, want.holdingIC_pA, 'IC']);
    await statusCommand('offset', [index, want.offset_mV]);
    await statusCommand('comp', [index, want.fast_pF, want.slow_pF]);
    const common = [want.tpWidthMs, want.tpRateHz, want.tpSampleRateHz];
    await statusCommand('tp', [index, want.tpOn ? 1 : 0, want.tpVC_mV, ...common, 'VC']);
    await statusCommand('tp', [index, want.tpOn ? 1 : 0, want.tpIC_pA, ...common, 'IC']);
  };

  const refresh = async (): Promise<void> => {
    await statusCommand('status', [index]);
  };

  return {
    channel: index,
    get cached() {
      return cache;
    },
    deliver,
    restore: () => serial(restore),
    refresh: () => serial(refresh),

    setMode: (mode) =>
      serial(async () => {
        if (!MODES.includes(mode)) throw new DeviceError('invalid', label, 'mode', `unknown clamp mode ${String(mode)} (VC, IC or I0)`);
        await setModeNow(mode);
      }),

    setHolding: (value) =>
      serial(async () => {
        const name = 'holding';
        requireFinite(label, name, 'holding', value);
        const r = known();
        if (r.mode === 'I0') return; // nothing is held in I=0
        checkCommand(name, r.mode, value, value + stepOf(r, r.mode));
        await statusCommand(name, [index, wire(r.mode, value)]);
      }),

    setTestPulse: (partial) =>
      serial(async () => {
        const name = 'tp (test pulse)';
        const r = known();
        const next: TestPulseSettings = { ...testPulseOf(r), ...partial };
        if (typeof next.enabled !== 'boolean') throw new DeviceError('invalid', label, name, 'enabled must be true or false');
        requireFinite(label, name, 'amplitude', next.amplitude);
        requireFinite(label, name, 'width', next.widthMs);
        requireFinite(label, name, 'rate', next.rateHz);
        requireFinite(label, name, 'sample rate', next.sampleRateHz);
        if (next.widthMs <= 0) throw new DeviceError('invalid', label, name, `width must be > 0 ms (got ${next.widthMs})`);
        if (next.rateHz <= 0) throw new DeviceError('invalid', label, name, `rate must be > 0 Hz (got ${next.rateHz})`);
        if (!Number.isInteger(next.sampleRateHz) || next.sampleRateHz <= 0) {
          throw new DeviceError('invalid', label, name, `sample rate must be a positive whole number of Hz (got ${next.sampleRateHz})`);
        }
        const info = ctx.info();
        if (next.sampleRateHz > info.maxSampleRateHz) {
          throw new DeviceError('limit', label, name, `sample rate ${next.sampleRateHz} Hz exceeds the device maximum ${info.maxSampleRateHz} Hz`);
        }
        const plan = planTestPulse(next.widthMs, next.sampleRateHz, info.baselineFraction);
        if (plan.durationMs >= 1000 / next.rateHz) {
          throw new DeviceError('limit', label, name, `a ${plan.durationMs.toFixed(2)} ms sweep (step + baselines) does not fit a ${next.rateHz} Hz period`);
        }
        const flag = next.enabled ? 1 : 0;
        const rest = [next.widthMs, next.rateHz, next.sampleRateHz];
        if (r.mode === 'I0') {
          // No step in I=0: keep the current-clamp amplitude as it is.
          await statusCommand('tp', [index, flag, r.tpIC_pA, ...rest, 'IC']);
          return;
        }
        checkCommand(name, r.mode, next.amplitude, holdingOf(r, r.mode) + next.amplitude);
        await statusCommand('tp', [index, flag, wire(r.mode, next.amplitude), ...rest]);
      }),

    onSweep(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },

    zap: (durationMs, amplitude) =>
      serial(async () => {
        const name = 'zap';
        requireFinite(label, name, 'duration', durationMs);
        requireFinite(label, name, 'amplitude', amplitude);
        if (durationMs <= 0) throw new DeviceError('invalid', label, name, `duration must be > 0 ms (got ${durationMs})`);
        if (durationMs > limits.maxZapMs) throw new DeviceError('limit', label, name, `${durationMs} ms exceeds the ${limits.maxZapMs} ms limit`);
        requireWithin(label, name, 'amplitude', amplitude, limits.maxZapV, 'V');
        await ctx.command(name, [index, durationMs, amplitude * 1e3], ctx.commandTimeoutMs + durationMs);
      }),

    autoPipetteOffset: () =>
      serial(async () => {
        const rec = await statusCommand('offset', [index], ctx.commandTimeoutMs + 1000);
        return rec.offset_mV / 1e3;
      }),

    setCompensation: (partial) =>
      serial(async () => {
        const name = 'comp';
        const r = known();
        const fast = partial.fast ?? r.fast_pF * 1e-12;
        const slow = partial.slow ?? r.slow_pF * 1e-12;
        requireFinite(label, name, 'fast capacitance', fast);
        requireFinite(label, name, 'slow capacitance', slow);
        if (fast < 0 || slow < 0) throw new DeviceError('invalid', label, name, 'capacitances cannot be negative');
        if (fast > limits.maxFastF) throw new DeviceError('limit', label, name, `fast ${fast} F exceeds ${limits.maxFastF} F`);
        if (slow > limits.maxSlowF) throw new DeviceError('limit', label, name, `slow ${slow} F exceeds ${limits.maxSlowF} F`);
        await statusCommand(name, [index, fast * 1e12, slow * 1e12]);
      }),

    runStimulus: (stimulus, options) => serial(() => runOnce(stimulus, options?.signal)),

    status: () =>
      serial(async (): Promise<AmplifierChannelStatus> => {
        const r = await statusCommand('status', [index]);
        return {
          mode: r.mode,
          holding: holdingOf(r, r.mode),
          testPulse: testPulseOf(r),
          pipetteOffset: r.offset_mV / 1e3,
          compensation: { fast: r.fast_pF * 1e-12, slow: r.slow_pF * 1e-12 },
        };
      }),
  };
}
