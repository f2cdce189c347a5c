/**
 * amp-bridge emulator: the sidecar, the amplifier and the DAQ behind one
 * serial port (PROTOCOL.md). It answers text commands, acquires device-timed
 * test-pulse sweeps on the clock through the electrode physics, plays uploaded
 * stimuli, and streams every sweep as binary frames.
 *
 * Timing kept from a real bridge:
 *  - a test-pulse sweep is sent when its acquisition has ended; the next one
 *    starts `1000/rate` ms after the previous start;
 *  - a VC↔IC switch passes through I=0 for `modeSettleMs` (reply at once with
 *    state "settling", sweeps flagged SETTLING in I0, an event frame when done);
 *  - `run` waits for a test-pulse sweep in progress, pauses the test pulse for
 *    the stimulus, sends the response when the stimulus has ended, then resumes;
 *    `abort` ends it early (the cell has had the part played, no response);
 *  - `zap` and auto `offset` block the command stream while they act;
 *  - the bridge's transmit buffer holds `txBufferMs` of line time: test-pulse
 *    sweeps that do not fit are dropped and counted (OVERRUN flag), replies and
 *    stimulus responses always wait for the line;
 *  - stimulus responses are bulk data (a 5 s sweep at 50 kHz is ~1 MB): their
 *    frames go out one at a time as the line frees, so a reply or a test pulse
 *    for another channel waits at most one frame, never a whole response.
 * Host gone (unplug or close): streaming stops, uploads are discarded and,
 * for a USB-powered bridge (`powerCycleOnUnplug`), settings return to power-up.
 */
import type { Clock, TimerHandle } from '../../../src/clock/clock.ts';
import type { ElectrodePhysics } from '../../../src/sim/types.ts';
import type { DeviceIO } from '../../core/emulator-binding.ts';
import type { ClampMode } from '../../types.ts';
import type { AmplifierEmulator, DecodedAmpCommand } from '../types.ts';
import { acquireCurrentClamp, acquireVoltageClamp, createScratch, measureZeroCurrentPotential, type AcquisitionScratch } from './acquisition.ts';
import { createInputSplitter } from './emulator-input.ts';
import { encodeFrame, encodeSweepFrames, type Frame, type FrameHeader } from './frame.ts';
import { DEFAULT_AMP_LIMITS, type AmpBridgeLimits } from './limits.ts';
import {
  AMP_BRIDGE_BAUD,
  ERR,
  FLAG,
  FRAME_TYPE,
  HEADER_BYTES,
  MAX_FRAME_SAMPLES,
  PROTOCOL_ID,
  formatHello,
  formatStatus,
  parseCommandLine,
  parseMode,
  parseNumber,
  type ChannelActivity,
  type StatusRecord,
} from './protocol.ts';
import { planTestPulse, stepCommand, type TestPulsePlan } from './waveforms.ts';

export interface AmpBridgeEmulatorOptions {
  clock: Clock;
  /** one electrode per amplifier channel */
  channels: readonly ElectrodePhysics[];
  model?: string;
  firmware?: string;
  /** line rate the port is attached at (for the transmit-buffer model) */
  baudRate?: number;
  maxSampleRateHz?: number;
  /** test-pulse baseline each side of the step, fraction of the width (0.35) */
  baselineFraction?: number;
  /** samples per frame the bridge sends (≤ 8192) */
  maxFrameSamples?: number;
  maxStimulusSamples?: number;
  /** uploads kept per channel; the oldest is forgotten first */
  maxStoredStimuli?: number;
  modeSettleMs?: number;
  /** command handling time before a reply, ms */
  processingMs?: number;
  /** the bridge's clock reads host time + this, ms (it booted earlier) */
  deviceClockOffsetMs?: number;
  /** line time the transmit buffer holds before test-pulse sweeps are dropped, ms */
  txBufferMs?: number;
  /** the bridge is powered by the USB cable: an unplug resets its settings */
  powerCycleOnUnplug?: boolean;
  /** each auto-offset level is measured for this long, ms */
  offsetMeasureMs?: number;
  limits?: Partial<AmpBridgeLimits>;
}

export interface EmulatedChannelState {
  mode: ClampMode;
  /** mode a settling switch is heading for */
  target: ClampMode | null;
  activity: ChannelActivity;
  /** V in VC, A in IC */
  holding: { VC: number; IC: number };
  testPulse: { enabled: boolean; amplitude: { VC: number; IC: number }; widthMs: number; rateHz: number; sampleRateHz: number };
  offsetV: number;
  fastF: number;
  slowF: number;
  nextSeq: number;
}

export interface AmpBridgeEmulator extends AmplifierEmulator {
  channelState(channel: number): EmulatedChannelState;
  /**
   * Test hook: the next `count` frames of a kind are corrupted on the line —
   * outgoing sweeps get a payload byte flipped after their CRC is computed,
   * incoming stimulus chunks fail their CRC check. `part` picks which frame of
   * a multi-frame sweep (default the first).
   */
  corruptNext(kind: 'testpulse' | 'stimulus' | 'chunk', count?: number, part?: number): void;
  /** test-pulse sweeps dropped for lack of line, per channel */
  readonly droppedSweeps: readonly number[];
}

interface Upload {
  id: number;
  mode: ClampMode;
  sampleRateHz: number;
  samples: Float32Array;
  received: number;
}

interface Channel extends EmulatedChannelState {
  index: number;
  physics: ElectrodePhysics;
  dropped: number;
  tpTimer?: TimerHandle;
  tpSweepStart: number;
  tpSweepEnd: number;
  activityTimer?: TimerHandle;
  uploads: Map<number, Upload>;
  last?: { header: Omit<FrameHeader, 'offset' | 'total'>; samples: Float32Array };
  /** the stimulus being played (from `run` until its response is sent), for `abort` */
  playing?: { start: number; mode: ClampMode; sampleRateHz: number; command: Float32Array };
  /** the test pulse's command and sample arrays, reused while its shape stays the same */
  tpBuffers?: TestPulseBuffers;
}

interface TestPulseBuffers {
  plan: TestPulsePlan;
  holding: number;
  step: number;
  command: Float32Array;
  scratch: AcquisitionScratch;
}

type Reply = { ok: true; fields: string[] } | { ok: false; code: number; text: string };
const ok = (...fields: string[]): Reply => ({ ok: true, fields });
const fail = (code: number, text: string): Reply => ({ ok: false, code, text });

const powerUp = (): Omit<EmulatedChannelState, 'nextSeq'> => ({
  mode: 'VC',
  target: null,
  activity: 'idle',
  holding: { VC: 0, IC: 0 },
  testPulse: { enabled: false, amplitude: { VC: 0.01, IC: -50e-12 }, widthMs: 10, rateHz: 30, sampleRateHz: 20_000 },
  offsetV: 0,
  fastF: 0,
  slowF: 0,
});

const unitOf = (mode: ClampMode): 'A' | 'V' => (mode === 'VC' ? 'A' : 'V');
const needsSettle = (from: ClampMode, to: ClampMode): boolean => (from === 'VC' && to === 'IC') || (from === 'IC' && to === 'VC');

export function createAmpBridgeEmulator(options: AmpBridgeEmulatorOptions): AmpBridgeEmulator {
  const { clock } = options;
  const limits: AmpBridgeLimits = { ...DEFAULT_AMP_LIMITS, ...options.limits };
  const baud = options.baudRate ?? AMP_BRIDGE_BAUD;
  const msPerByte = 10_000 / baud;
  const maxSampleRateHz = options.maxSampleRateHz ?? 200_000;
  const baselineFraction = options.baselineFraction ?? 0.35;
  const maxFrameSamples = Math.min(MAX_FRAME_SAMPLES, options.maxFrameSamples ?? 4096);
  const maxStimulusSamples = options.maxStimulusSamples ?? 2_000_000;
  const maxStored = options.maxStoredStimuli ?? 8;
  const settleMs = options.modeSettleMs ?? 500;
  const processingMs = options.processingMs ?? 0.2;
  const deviceOffsetMs = options.deviceClockOffsetMs ?? 3_600_000;
  const txBufferMs = options.txBufferMs ?? 50;
  const powerCycle = options.powerCycleOnUnplug ?? true;
  const measureMs = options.offsetMeasureMs ?? 10;
  const model = options.model ?? 'amp-bridge MultiClamp 700B (emulated)';
  const firmware = options.firmware ?? 'emu-1.0';

  const commands: DecodedAmpCommand[] = [];
  const droppedSweeps = options.channels.map(() => 0);
  const channels: Channel[] = options.channels.map((physics, index) => ({
    ...powerUp(),
    nextSeq: 0,
    index,
    physics,
    dropped: 0,
    tpSweepStart: -Infinity,
    tpSweepEnd: -Infinity,
    uploads: new Map(),
  }));
  const splitter = createInputSplitter(() => ({ types: [FRAME_TYPE.chunk], channels: channels.length, maxSamples: maxFrameSamples }));
  const corrupt = { testpulse: 0, stimulus: 0, chunk: 0 };
  const corruptPart = { testpulse: 0, stimulus: 0 };
  let io: DeviceIO | undefined;
  let generation = 0;
  let lineFreeAt = 0;
  let blocked = false;
  /** bulk frames waiting for the line, and the timer that sends the next one */
  let bulk: Buffer[] = [];
  let bulkTimer: TimerHandle | undefined;

  const deviceUs = (t: number): number => (t + deviceOffsetMs) * 1000;

  // ------------------------------------------------------------- sending

  /** Queue bytes on the line; `droppable` bytes are refused when the transmit buffer is full. */
  const transmit = (bytes: Buffer[], droppable: boolean): boolean => {
    if (!io) return false;
    const now = clock.now();
    if (droppable && lineFreeAt - now > txBufferMs) return false;
    for (const b of bytes) {
      lineFreeAt = Math.max(lineFreeAt, now) + b.length * msPerByte;
      io.send(b);
    }
    return true;
  };

  /** Send the next bulk frame once the line is free; interleaved bytes simply push it back. */
  const pumpBulk = (): void => {
    bulkTimer = undefined;
    if (!io || bulk.length === 0) return;
    const now = clock.now();
    if (lineFreeAt > now) {
      bulkTimer = clock.setTimeout(pumpBulk, lineFreeAt - now);
      return;
    }
    const b = bulk.shift()!;
    lineFreeAt = now + b.length * msPerByte;
    io.send(b);
    if (bulk.length > 0) bulkTimer = clock.setTimeout(pumpBulk, b.length * msPerByte);
  };

  const transmitBulk = (frames: Buffer[]): void => {
    bulk.push(...frames);
    if (bulkTimer === undefined) pumpBulk();
  };

  const line = (r: Reply): Buffer => Buffer.from(r.ok ? ['1', ...r.fields].join(',') + '\n' : `0,${r.code},${r.text}\n`, 'ascii');

  /** Reply after the processing time, unless the host has gone in the meantime. */
  const reply = (r: Reply, then?: () => void): void => {
    const gen = generation;
    clock.setTimeout(() => {
      if (gen !== generation) return;
      transmit([line(r)], false);
      then?.();
    }, processingMs);
  };

  const maybeCorrupt = (kind: 'testpulse' | 'stimulus', frames: Buffer[]): Buffer[] => {
    if (corrupt[kind] <= 0) return frames;
    corrupt[kind]--;
    const i = Math.min(frames.length - 1, corruptPart[kind]);
    const f = Buffer.from(frames[i]);
    // A payload byte (or a header byte for an empty frame): the CRC no longer matches.
    f[Math.min(f.length - 5, HEADER_BYTES + 1)] ^= 0x5a;
    return frames.map((x, k) => (k === i ? f : x));
  };

  // ------------------------------------------------------- acquisition

  const effMode = (c: Channel): ClampMode => c.target ?? c.mode;

  /** Record `command` (holding included) in the channel's present mode; into `scratch` when given. */
  const acquire = (c: Channel, mode: ClampMode, t0: number, fs: number, command: Float32Array, scratch?: AcquisitionScratch): Float32Array => {
    if (mode === 'VC') return acquireVoltageClamp(c.physics, t0, fs, command, { offsetV: c.offsetV, fastF: c.fastF }, scratch);
    const injected = mode !== 'I0' ? command : scratch ? scratch.applied.fill(0) : new Float32Array(command.length);
    return acquireCurrentClamp(c.physics, t0, fs, injected, { offsetV: c.offsetV, fastF: 0 }, scratch);
  };

  /** The channel's test-pulse arrays for this sweep: rebuilt only when the pulse's shape or levels change. */
  const testPulseBuffers = (c: Channel, plan: TestPulsePlan, holding: number, step: number): TestPulseBuffers => {
    const b = c.tpBuffers;
    if (b && b.holding === holding && b.step === step && b.plan.onset === plan.onset && b.plan.stepLength === plan.stepLength && b.plan.total === plan.total) {
      return b;
    }
    const fresh = { plan, holding, step, command: stepCommand(plan, holding, step), scratch: createScratch(plan.total) };
    c.tpBuffers = fresh;
    return fresh;
  };

  const levelOf = (c: Channel, mode: ClampMode): { holding: number; step: number } =>
    mode === 'I0' ? { holding: 0, step: 0 } : { holding: c.holding[mode], step: c.testPulse.amplitude[mode] };

  const cancelTp = (c: Channel): void => {
    clock.clearTimeout(c.tpTimer);
    c.tpTimer = undefined;
  };

  const tpInProgress = (c: Channel): boolean => c.tpTimer !== undefined && c.tpSweepStart <= clock.now();

  /** Schedule the sweep starting at `t0`; it is acquired and sent when it ends. */
  const beginSweep = (c: Channel, t0: number): void => {
    const tp = c.testPulse;
    const plan = planTestPulse(tp.widthMs, tp.sampleRateHz, baselineFraction);
    const mode = c.mode;
    const settling = c.activity === 'settling';
    const { holding, step } = levelOf(c, mode);
    const seq = c.nextSeq++;
    c.tpSweepStart = t0;
    c.tpSweepEnd = t0 + plan.durationMs;
    c.tpTimer = clock.setTimeout(() => {
      c.tpTimer = undefined;
      // The response lives in the channel's scratch: it is copied into frames below, before the next sweep.
      const buffers = testPulseBuffers(c, plan, holding, step);
      const response = acquire(c, mode, t0, tp.sampleRateHz, buffers.command, buffers.scratch);
      const header = {
        type: FRAME_TYPE.testpulse,
        channel: c.index,
        mode,
        unit: unitOf(mode),
        flags: (settling ? FLAG.settling : 0) | (c.dropped > 0 ? FLAG.overrun : 0),
        seq,
        sampleRateHz: tp.sampleRateHz,
        dropped: c.dropped,
        holding,
        stepAmplitude: step,
        stepOnset: plan.onset,
        stepLength: plan.stepLength,
        t0Us: deviceUs(t0),
      };
      const frames = maybeCorrupt('testpulse', encodeSweepFrames(header, response, maxFrameSamples));
      if (transmit(frames, true)) c.dropped = 0;
      else {
        c.dropped++;
        droppedSweeps[c.index]++;
      }
      // A stimulus that was waiting for this sweep takes over the channel now.
      if (c.activity === 'running' || c.activity === 'busy' || !c.testPulse.enabled) return;
      beginSweep(c, t0 + 1000 / tp.rateHz);
    }, Math.max(0, c.tpSweepEnd - clock.now()));
  };

  /** (Re)start the test pulse now: a sweep always reflects one set of settings. */
  const restartTp = (c: Channel): void => {
    cancelTp(c);
    if (!io || !c.testPulse.enabled || c.activity === 'running' || c.activity === 'busy') return;
    beginSweep(c, clock.now());
  };

  const sendEvent = (c: Channel): void => {
    const header: FrameHeader = {
      type: FRAME_TYPE.event,
      channel: c.index,
      mode: c.mode,
      unit: unitOf(c.mode),
      flags: FLAG.settled,
      seq: 0,
      sampleRateHz: 0,
      total: 0,
      offset: 0,
      dropped: 0,
      holding: levelOf(c, c.mode).holding,
      stepAmplitude: 0,
      stepOnset: 0,
      stepLength: 0,
      t0Us: deviceUs(clock.now()),
    };
    transmit([encodeFrame(header, new Float32Array(0))], false);
  };

  // ------------------------------------------------------------ status

  const statusOf = (c: Channel): StatusRecord => ({
    mode: c.mode,
    holdingVC_mV: c.holding.VC * 1e3,
    holdingIC_pA: c.holding.IC * 1e12,
    tpOn: c.testPulse.enabled,
    tpVC_mV: c.testPulse.amplitude.VC * 1e3,
    tpIC_pA: c.testPulse.amplitude.IC * 1e12,
    tpWidthMs: c.testPulse.widthMs,
    tpRateHz: c.testPulse.rateHz,
    tpSampleRateHz: c.testPulse.sampleRateHz,
    offset_mV: c.offsetV * 1e3,
    fast_pF: c.fastF * 1e12,
    slow_pF: c.slowF * 1e12,
    state: c.activity,
  });
  const statusReply = (c: Channel): Reply => ok(...formatStatus(statusOf(c)));

  const envelope = (mode: 'VC' | 'IC'): number => (mode === 'VC' ? limits.maxVoltageV : limits.maxCurrentA);
  const withinEnvelope = (mode: 'VC' | 'IC', ...values: number[]): boolean => values.every((v) => Math.abs(v) <= envelope(mode) * (1 + 1e-9));

  // ---------------------------------------------------------- commands

  type Handler = (c: Channel, args: string[]) => Reply | null;

  const setMode: Handler = (c, [, m]) => {
    const mode = parseMode(m);
    if (!mode) return fail(ERR.argument, `unknown mode "${m}" (VC, IC or I0)`);
    if (c.activity === 'running' || c.activity === 'busy') return fail(ERR.busy, `channel is ${c.activity}`);
    const from = effMode(c);
    // Asking again for the mode already set (or being settled into) changes nothing.
    if (mode === from) return statusReply(c);
    clock.clearTimeout(c.activityTimer);
    if (needsSettle(from, mode)) {
      c.mode = 'I0';
      c.target = mode;
      c.activity = 'settling';
      const gen = generation;
      c.activityTimer = clock.setTimeout(() => {
        if (gen !== generation) return;
        c.mode = mode;
        c.target = null;
        c.activity = 'idle';
        restartTp(c);
        sendEvent(c);
      }, settleMs);
    } else {
      c.mode = mode;
      c.target = null;
      c.activity = 'idle';
    }
    restartTp(c);
    return statusReply(c);
  };

  const explicitMode = (s: string | undefined, c: Channel): ClampMode | undefined | null => {
    if (s === undefined) return effMode(c);
    const m = parseMode(s);
    return m === 'I0' || m === undefined ? null : m;
  };

  const setHolding: Handler = (c, [, v, m]) => {
    const value = parseNumber(v);
    const mode = explicitMode(m, c);
    if (value === undefined) return fail(ERR.argument, `holding "${v}" is not a number`);
    if (mode === null || mode === undefined) return fail(ERR.argument, `holding mode "${m}" must be VC or IC`);
    if (mode === 'I0') return statusReply(c); // nothing is held in I=0
    const si = mode === 'VC' ? value / 1e3 : value / 1e12;
    if (!withinEnvelope(mode, si, si + c.testPulse.amplitude[mode])) return fail(ERR.range, `holding ${v} outside the ${mode} range`);
    c.holding[mode] = si;
    restartTp(c);
    return statusReply(c);
  };

  const setTestPulse: Handler = (c, [, on, amp, w, r, sr, m]) => {
    const nums = [amp, w, r, sr].map(parseNumber);
    const mode = explicitMode(m, c);
    if (on !== '0' && on !== '1') return fail(ERR.argument, `on must be 0 or 1 (got "${on}")`);
    if (nums.some((x) => x === undefined)) return fail(ERR.argument, 'tp arguments must be numbers');
    if (mode === null || mode === undefined) return fail(ERR.argument, `tp mode "${m}" must be VC or IC`);
    const [a, widthMs, rateHz, fs] = nums as number[];
    if (widthMs <= 0 || rateHz <= 0) return fail(ERR.range, 'width and rate must be positive');
    if (!Number.isInteger(fs) || fs < 1 || fs > maxSampleRateHz) return fail(ERR.range, `sample rate must be an integer 1…${maxSampleRateHz} Hz`);
    const plan = planTestPulse(widthMs, fs, baselineFraction);
    if (plan.durationMs >= 1000 / rateHz) return fail(ERR.range, `a ${plan.durationMs} ms sweep does not fit a ${rateHz} Hz period`);
    if (mode !== 'I0') {
      const si = mode === 'VC' ? a / 1e3 : a / 1e12;
      if (!withinEnvelope(mode, si, c.holding[mode] + si)) return fail(ERR.range, `amplitude ${a} outside the ${mode} range`);
      c.testPulse.amplitude[mode] = si;
    }
    c.testPulse = { ...c.testPulse, enabled: on === '1', widthMs, rateHz, sampleRateHz: fs };
    restartTp(c);
    return statusReply(c);
  };

  /** Make the channel busy for `ms`, then run `done` and resume the test pulse and the command stream. */
  const busyFor = (c: Channel, ms: number, done: () => Reply): null => {
    c.activity = 'busy';
    cancelTp(c);
    blocked = true;
    const gen = generation;
    c.activityTimer = clock.setTimeout(() => {
      if (gen !== generation) return;
      c.activity = 'idle';
      transmit([line(done())], false);
      restartTp(c);
      blocked = false;
      drain();
    }, ms);
    return null;
  };

  const zap: Handler = (c, [, ms, mv]) => {
    const durationMs = parseNumber(ms);
    const mV = parseNumber(mv);
    if (durationMs === undefined || mV === undefined) return fail(ERR.argument, 'zap(ch,ms,mV) needs two numbers');
    if (durationMs <= 0 || durationMs > limits.maxZapMs) return fail(ERR.range, `zap duration must be in (0, ${limits.maxZapMs}] ms`);
    if (Math.abs(mV) > limits.maxZapV * 1e3) return fail(ERR.range, `zap amplitude beyond ±${limits.maxZapV * 1e3} mV`);
    if (c.activity !== 'idle') return fail(ERR.busy, `channel is ${c.activity}`);
    c.physics.zap(clock.now(), durationMs, mV / 1e3);
    return busyFor(c, durationMs, () => ok());
  };

  const offset: Handler = (c, [, mv]) => {
    if (mv !== undefined) {
      const v = parseNumber(mv);
      if (v === undefined) return fail(ERR.argument, `offset "${mv}" is not a number`);
      if (Math.abs(v) > limits.maxPipetteOffsetV * 1e3) return fail(ERR.range, `offset beyond ±${limits.maxPipetteOffsetV * 1e3} mV`);
      c.offsetV = v / 1e3;
      restartTp(c);
      return statusReply(c);
    }
    if (c.activity !== 'idle') return fail(ERR.busy, `channel is ${c.activity}`);
    const mode = c.mode === 'VC' ? 'VC' : 'IC';
    const fs = c.testPulse.sampleRateHz;
    const samples = Math.max(1, Math.round((measureMs * fs) / 1000));
    const found = measureZeroCurrentPotential(c.physics, mode, clock.now(), fs, samples);
    const ms = (mode === 'VC' ? 2 : 1) * ((samples * 1000) / fs);
    return busyFor(c, ms, () => {
      if (typeof found === 'string') return fail(ERR.range, `auto offset failed: ${found}`);
      if (Math.abs(found) > limits.maxPipetteOffsetV) return fail(ERR.range, `offset ${(found * 1e3).toFixed(2)} mV beyond ±${limits.maxPipetteOffsetV * 1e3} mV`);
      c.offsetV = found;
      return statusReply(c);
    });
  };

  const comp: Handler = (c, [, f, s]) => {
    const fast = parseNumber(f);
    const slow = parseNumber(s);
    if (fast === undefined || slow === undefined) return fail(ERR.argument, 'comp(ch,fast_pF,slow_pF) needs two numbers');
    if (fast < 0 || fast > limits.maxFastF * 1e12 || slow < 0 || slow > limits.maxSlowF * 1e12) return fail(ERR.range, 'compensation outside its range');
    c.fastF = fast / 1e12;
    c.slowF = slow / 1e12;
    restartTp(c);
    return statusReply(c);
  };

  const stim: Handler = (c, [, i, n, sr, m]) => {
    const id = parseNumber(i);
    const count = parseNumber(n);
    const fs = parseNumber(sr);
    const mode = parseMode(m);
    if (id === undefined || !Number.isInteger(id) || id < 0 || id > 0xffffffff) return fail(ERR.argument, `stimulus id "${i}" must be a uint32`);
    if (count === undefined || !Number.isInteger(count) || count < 1 || count > maxStimulusSamples) return fail(ERR.range, `stimulus length must be 1…${maxStimulusSamples} samples`);
    if (fs === undefined || !Number.isInteger(fs) || fs < 1 || fs > maxSampleRateHz) return fail(ERR.range, `sample rate must be an integer 1…${maxSampleRateHz} Hz`);
    if (!mode) return fail(ERR.argument, `unknown mode "${m}"`);
    c.uploads.delete(id);
    while (c.uploads.size >= maxStored) c.uploads.delete(c.uploads.keys().next().value as number);
    c.uploads.set(id, { id, mode, sampleRateHz: fs, samples: new Float32Array(count), received: 0 });
    return ok(String(id), String(maxFrameSamples));
  };

  const chunk = (f: Frame): Reply => {
    const c = channels[f.channel];
    const u = c.uploads.get(f.seq);
    if (!u) return fail(ERR.noStimulus, `no upload ${f.seq} on channel ${f.channel}`);
    const unit = u.mode === 'VC' ? 'V' : 'A';
    if (f.mode !== u.mode || f.unit !== unit || f.sampleRateHz !== u.sampleRateHz || f.total !== u.samples.length) {
      return fail(ERR.argument, 'chunk header does not match its upload');
    }
    if (f.offset !== u.received) return fail(ERR.argument, `chunk at sample ${f.offset}, expected ${u.received}`);
    u.samples.set(f.samples, f.offset);
    u.received += f.samples.length;
    return ok(String(u.id), String(u.received));
  };

  const responseFrames = (c: Channel, flags: number): Buffer[] =>
    c.last ? encodeSweepFrames({ ...c.last.header, flags: c.last.header.flags | flags }, c.last.samples, maxFrameSamples) : [];

  const run: Handler = (c, [, i]) => {
    const id = parseNumber(i);
    const u = id === undefined ? undefined : c.uploads.get(id);
    if (!u) return fail(ERR.noStimulus, `no stimulus "${i}" on channel ${c.index}`);
    if (u.received !== u.samples.length) return fail(ERR.noStimulus, `stimulus ${u.id} has ${u.received} of ${u.samples.length} samples`);
    if (c.activity !== 'idle') return fail(ERR.busy, `channel is ${c.activity}`);
    if (u.mode !== c.mode) return fail(ERR.wrongMode, `stimulus is ${u.mode}, channel is in ${c.mode}`);
    const seq = c.nextSeq++;
    const now = clock.now();
    const start = tpInProgress(c) ? c.tpSweepEnd : now;
    if (!tpInProgress(c)) cancelTp(c);
    c.activity = 'running';
    const durationMs = (u.samples.length * 1000) / u.sampleRateHz;
    const mode = c.mode;
    const { holding } = levelOf(c, mode);
    const gen = generation;
    const command = new Float32Array(u.samples.length);
    for (let k = 0; k < command.length; k++) command[k] = holding + u.samples[k];
    c.playing = { start, mode, sampleRateHz: u.sampleRateHz, command };
    c.activityTimer = clock.setTimeout(() => {
      if (gen !== generation) return;
      c.playing = undefined;
      const response = acquire(c, mode, start, u.sampleRateHz, command);
      c.last = {
        header: {
          type: FRAME_TYPE.stimulus,
          channel: c.index,
          mode,
          unit: unitOf(mode),
          flags: 0,
          seq,
          sampleRateHz: u.sampleRateHz,
          dropped: 0,
          holding,
          stepAmplitude: 0,
          stepOnset: 0,
          stepLength: 0,
          t0Us: deviceUs(start),
        },
        samples: response,
      };
      c.activity = 'idle';
      transmitBulk(maybeCorrupt('stimulus', responseFrames(c, 0)));
      restartTp(c);
    }, start + durationMs - now);
    return ok(String(seq), String(u.samples.length));
  };

  /**
   * Stop the stimulus being played now: the cell has had the part played so
   * far, the response is discarded (no frames), the test pulse resumes.
   * Nothing running: nothing changes (a host may send it whenever it gives up on a run).
   */
  const abort: Handler = (c) => {
    const p = c.playing;
    if (c.activity === 'running' && p) {
      clock.clearTimeout(c.activityTimer);
      c.playing = undefined;
      const played = Math.max(0, Math.min(p.command.length, Math.floor(((clock.now() - p.start) * p.sampleRateHz) / 1000)));
      if (played > 0) acquire(c, p.mode, p.start, p.sampleRateHz, p.command.subarray(0, played));
      c.activity = 'idle';
      restartTp(c);
    }
    return statusReply(c);
  };

  const resend: Handler = (c, [, s]) => {
    const seq = parseNumber(s);
    if (!c.last || seq !== c.last.header.seq) return fail(ERR.noStimulus, `response ${s} is no longer held on channel ${c.index}`);
    const frames = responseFrames(c, FLAG.resent);
    reply(ok(String(seq), String(c.last.samples.length)), () => transmitBulk(frames));
    return null;
  };

  const channelCommands: Record<string, { args: [number, number]; run: Handler }> = {
    mode: { args: [2, 2], run: setMode },
    holding: { args: [2, 3], run: setHolding },
    tp: { args: [6, 7], run: setTestPulse },
    zap: { args: [3, 3], run: zap },
    offset: { args: [1, 2], run: offset },
    comp: { args: [3, 3], run: comp },
    status: { args: [1, 1], run: (c) => statusReply(c) },
    stim: { args: [5, 5], run: stim },
    run: { args: [2, 2], run },
    abort: { args: [1, 1], run: abort },
    resend: { args: [2, 2], run: resend },
  };

  const hello = (): Reply => {
    for (const c of channels) {
      c.nextSeq = 0;
      c.last = undefined;
    }
    return ok(
      ...formatHello({
        protocol: PROTOCOL_ID,
        model,
        firmware,
        channels: channels.length,
        maxSampleRateHz,
        baselineFraction,
        maxFrameSamples,
        maxStimulusSamples,
        modeSettleMs: settleMs,
      }),
    );
  };

  const execute = (text: string): void => {
    const parsed = parseCommandLine(text);
    const t = clock.now();
    if (!parsed.ok) {
      commands.push({ t, channel: null, name: '?', args: [text] });
      reply(parsed);
      return;
    }
    const { name, args } = parsed;
    const chArg = parseNumber(args[0]);
    const spec = channelCommands[name];
    commands.push({ t, channel: spec && chArg !== undefined ? chArg : null, name, args });
    if (name === 'hello' || name === 'time') {
      if (args.length !== 0) return reply(fail(ERR.argument, `${name}() takes no arguments`));
      if (name === 'hello') return reply(hello());
      // Receive and transmit times (NTP-style), so the host can remove the processing time.
      const gen = generation;
      const rxUs = deviceUs(t);
      clock.setTimeout(() => {
        if (gen === generation) transmit([line(ok(String(rxUs), String(deviceUs(clock.now()))))], false);
      }, processingMs);
      return;
    }
    if (!spec) return reply(fail(ERR.unknownCommand, `unknown command "${name}"`));
    if (args.length < spec.args[0] || args.length > spec.args[1]) {
      return reply(fail(ERR.argument, `${name} takes ${spec.args[0]}${spec.args[1] > spec.args[0] ? `…${spec.args[1]}` : ''} arguments, got ${args.length}`));
    }
    if (chArg === undefined || !Number.isInteger(chArg) || chArg < 0 || chArg >= channels.length) {
      return reply(fail(ERR.channel, `no channel "${args[0]}" (0…${channels.length - 1})`));
    }
    const r = spec.run(channels[chArg], args);
    if (r) reply(r);
  };

  const drain = (): void => {
    while (!blocked && io) {
      const item = splitter.next();
      if (!item) return;
      if (item.kind === 'line') execute(item.text);
      else if (item.kind === 'chunk') {
        commands.push({ t: clock.now(), channel: item.frame.channel, name: 'chunk', args: [String(item.frame.seq), String(item.frame.offset), String(item.frame.samples.length)] });
        if (corrupt.chunk > 0) {
          corrupt.chunk--;
          reply(fail(ERR.crc, 'chunk CRC-32 mismatch'));
        } else reply(chunk(item.frame));
      } else {
        commands.push({ t: clock.now(), channel: item.channel, name: '?', args: [item.text] });
        reply(fail(item.code, item.text));
      }
    }
  };

  const hostGone = (): void => {
    generation++;
    io = undefined;
    blocked = false;
    bulk = [];
    clock.clearTimeout(bulkTimer);
    bulkTimer = undefined;
    splitter.clear();
    for (const c of channels) {
      cancelTp(c);
      clock.clearTimeout(c.activityTimer);
      c.uploads.clear();
      c.last = undefined;
      c.playing = undefined;
      c.dropped = 0;
      if (powerCycle) Object.assign(c, powerUp(), { nextSeq: 0 });
      else {
        // A switch in progress completes on its own; streaming stops until a host asks again.
        if (c.target) c.mode = c.target;
        c.target = null;
        c.activity = 'idle';
        c.testPulse = { ...c.testPulse, enabled: false };
      }
    }
  };

  return {
    model,
    channelCount: channels.length,
    commands,
    droppedSweeps,
    channelState(i) {
      const c = channels[i];
      return {
        mode: c.mode,
        target: c.target,
        activity: c.activity,
        holding: { ...c.holding },
        testPulse: { ...c.testPulse, amplitude: { ...c.testPulse.amplitude } },
        offsetV: c.offsetV,
        fastF: c.fastF,
        slowF: c.slowF,
        nextSeq: c.nextSeq,
      };
    },
    corruptNext(kind, count = 1, part = 0) {
      corrupt[kind] += count;
      if (kind !== 'chunk') corruptPart[kind] = part;
    },
    connect(next) {
      io = next;
      generation++;
      lineFreeAt = clock.now();
      bulk = [];
      clock.clearTimeout(bulkTimer);
      bulkTimer = undefined;
      splitter.clear();
    },
    disconnect() {
      hostGone();
    },
    receive(bytes) {
      splitter.push(bytes);
      drain();
    },
  };
}
