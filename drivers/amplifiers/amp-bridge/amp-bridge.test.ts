/**
 * amp-bridge protocol tests: exact bytes on the wire, frame layout, binary
 * payloads holding LF/CR (and false sync bytes), CRC failures, chunked
 * transfers both ways, the mode-switch sequence, garbled input, and the line
 * budget of four streaming channels. The behaviour every amplifier must have
 * is in conformance.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { createVirtualClock } from '../../../src/clock/index.ts';
import { createFixture } from '../../conformance/fixture.ts';
import type { DeviceError } from '../../errors.ts';
import type { StimulusWaveform, Sweep } from '../../types.ts';
import { createGaussian } from '../testing/gaussian.ts';
import { createRcElectrode, type RcElectrode } from '../testing/rc-electrode.ts';
import { crc32, crc32Table } from './crc32.ts';
import { openAmpBridge } from './driver.ts';
import { createAmpBridgeEmulator, type AmpBridgeEmulatorOptions } from './emulator.ts';
import { decodeFrame, encodeFrame, type Frame, type FrameHeader } from './frame.ts';
import {
  AMP_BRIDGE_BAUD,
  FLAG,
  FRAME_TYPE,
  HDR,
  HEADER_BYTES,
  LF,
  SYNC0,
  formatCommand,
  formatStatus,
  parseReplyLine,
  parseStatus,
  type StatusRecord,
} from './protocol.ts';
import { planTestPulse, testPulseLineLoad } from './waveforms.ts';

const R = 10e6;
const resistors = (n: number): RcElectrode[] => Array.from({ length: n }, () => createRcElectrode({ resistance: R }));

async function setup(channels = 2, emu: Partial<AmpBridgeEmulatorOptions> = {}, baudRate = AMP_BRIDGE_BAUD) {
  const els = resistors(channels);
  const fx = createFixture('sim:amp', (clock) => createAmpBridgeEmulator({ clock, channels: els, baudRate, ...emu }), baudRate);
  const amp = await fx.run(openAmpBridge({ path: fx.path, binding: fx.binding, clock: fx.clock, baudRate }));
  const errors: DeviceError[] = [];
  amp.onError((e) => errors.push(e));
  /** the bytes of the host's last write */
  const lastWrite = (): string => {
    const ins = fx.binding.byteLog(fx.path).entries.filter((e) => e.dir === 'in');
    return ins[ins.length - 1].bytes.toString('latin1');
  };
  const lastReply = (): string => {
    const outs = fx.binding.byteLog(fx.path).entries.filter((e) => e.dir === 'out' && e.bytes[0] !== SYNC0);
    return outs[outs.length - 1].bytes.toString('latin1');
  };
  return { fx, amp, els, errors, lastWrite, lastReply };
}

const header = (over: Partial<FrameHeader> = {}): FrameHeader => ({
  type: FRAME_TYPE.testpulse,
  channel: 0,
  mode: 'VC',
  unit: 'A',
  flags: FLAG.last,
  seq: 7,
  sampleRateHz: 20_000,
  total: 8,
  offset: 0,
  dropped: 0,
  holding: -0.07,
  stepAmplitude: 0.01,
  stepOnset: 2,
  stepLength: 4,
  t0Us: 1_234_567.5,
  ...over,
});

/** float32 values whose little-endian bytes are exactly these (LF, CR, and a false sync inside). */
const nasty = (): Float32Array => {
  const patterns = [
    [0x0a, 0x0d, 0x0a, 0x3c],
    [0x0d, 0x0a, 0x5a, 0xbc],
    [0xa5, 0x5a, 0x0d, 0x3c],
    [0x0a, 0x0a, 0x0a, 0x3b],
    [0x0d, 0xa5, 0x5a, 0xbb],
  ];
  return Float32Array.from(patterns.map((p) => Buffer.from(p).readFloatLE(0)));
};

const stimulus = (samples: Float32Array, fs = 20_000): StimulusWaveform => ({ name: 'test', mode: 'VC', sampleRateHz: fs, samples });

/** Split raw device output into reply lines and frames, as a host would. */
function parseOutput(out: Buffer): Array<{ line: string } | { frame: Frame }> {
  const units: Array<{ line: string } | { frame: Frame }> = [];
  let buf = out;
  while (buf.length > 0) {
    if (buf[0] === SYNC0) {
      const r = decodeFrame(buf, { types: [1, 2, 3], channels: 8, maxSamples: 8192 });
      if (r.status !== 'done') throw new Error(`bad frame in device output: ${r.status}`);
      units.push({ frame: r.value });
      buf = buf.subarray(r.consumed);
    } else {
      const lf = buf.indexOf(LF);
      if (lf < 0) throw new Error('unterminated line in device output');
      units.push({ line: buf.subarray(0, lf).toString('latin1') });
      buf = buf.subarray(lf + 1);
    }
  }
  return units;
}

/** An emulator with a bare DeviceIO, for talking raw bytes to it. */
function rawEmulator(options: Partial<AmpBridgeEmulatorOptions> = {}) {
  const clock = createVirtualClock();
  const out: Buffer[] = [];
  const emu = createAmpBridgeEmulator({ clock, channels: resistors(2), ...options });
  emu.connect({ clock, send: (b) => out.push(Buffer.from(b)) });
  let read = 0;
  return {
    clock,
    emu,
    async send(bytes: string | Buffer, ms = 1): Promise<void> {
      emu.receive(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes);
      await clock.runFor(ms);
    },
    /** everything the device sent since the last call */
    take() {
      const all = Buffer.concat(out);
      const fresh = all.subarray(read);
      read = all.length;
      return parseOutput(fresh);
    },
  };
}

const lines = (units: ReturnType<typeof parseOutput>): string[] => units.flatMap((u) => ('line' in u ? [u.line] : []));
const frames = (units: ReturnType<typeof parseOutput>): Frame[] => units.flatMap((u) => ('frame' in u ? [u.frame] : []));

describe('amp-bridge wire format', () => {
  it('uses the standard CRC-32 (check value of "123456789")', () => {
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926);
    expect(crc32(Buffer.alloc(0))).toBe(0);
    // the native and the table-driven versions agree on ranges of arbitrary bytes
    const bytes = Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 131 + 7) & 0xff));
    for (const [a, b] of [[0, 3000], [2, 1801], [17, 18], [5, 5]] as const) expect(crc32(bytes, a, b)).toBe(crc32Table(bytes, a, b));
    expect(crc32Table(Buffer.from('123456789'))).toBe(0xcbf43926);
  });

  it('formats commands as ASCII lines and parses replies and errors', () => {
    expect(formatCommand('holding', [1, -0.07 * 1e3]).toString()).toBe('holding(1,-70)\n');
    expect(formatCommand('tp', [0, 1, 10, 10, 30, 20_000]).toString()).toBe('tp(0,1,10,10,30,20000)\n');
    expect(formatCommand('hello', []).toString()).toBe('hello()\n');
    expect(parseReplyLine('1')).toEqual({ ok: true, fields: [] });
    expect(parseReplyLine('1,VC,-70\r')).toEqual({ ok: true, fields: ['VC', '-70'] });
    expect(parseReplyLine('0,7,chunk CRC-32 mismatch, resend')).toEqual({ ok: false, code: 7, text: 'chunk CRC-32 mismatch, resend' });
    expect(parseReplyLine('2,x')).toBeNull();
    expect(parseReplyLine('0,x,y')).toBeNull();
    const rec: StatusRecord = {
      mode: 'IC', holdingVC_mV: -70, holdingIC_pA: -20.5, tpOn: true, tpVC_mV: 10, tpIC_pA: -50, tpWidthMs: 10, tpRateHz: 30,
      tpSampleRateHz: 20_000, offset_mV: 3.25, fast_pF: 4, slow_pF: 0, state: 'settling',
    };
    expect(formatStatus(rec).join(',')).toBe('IC,-70,-20.5,1,10,-50,10,30,20000,3.25,4,0,settling');
    expect(parseStatus(formatStatus(rec))).toEqual(rec);
    expect(typeof parseStatus(['VC', '1'])).toBe('string');
    expect(typeof parseStatus(formatStatus({ ...rec, mode: 'XX' as 'VC' }))).toBe('string');
  });

  it('lays frames out as documented: sync, 60-byte header, float32 LE samples, CRC-32', () => {
    const samples = Float32Array.from([1, -2, 0.5, 1e-9, -1e-12, 3, 4, 5]);
    const f = encodeFrame(header(), samples);
    expect(f.length).toBe(HEADER_BYTES + 4 * 8 + 4);
    expect([f[0], f[1]]).toEqual([0xa5, 0x5a]);
    expect(f[HDR.version]).toBe(1);
    expect(f[HDR.type]).toBe(1);
    expect(f[HDR.channel]).toBe(0);
    expect(f[HDR.mode]).toBe(0);
    expect(f[HDR.unit]).toBe(0);
    expect(f[HDR.flags]).toBe(FLAG.last);
    expect(f.readUInt32LE(HDR.seq)).toBe(7);
    expect(f.readUInt32LE(HDR.sampleRate)).toBe(20_000);
    expect(f.readUInt32LE(HDR.total)).toBe(8);
    expect(f.readUInt32LE(HDR.offset)).toBe(0);
    expect(f.readUInt16LE(HDR.count)).toBe(8);
    expect(f.readDoubleLE(HDR.holding)).toBe(-0.07);
    expect(f.readDoubleLE(HDR.stepAmplitude)).toBe(0.01);
    expect(f.readUInt32LE(HDR.stepOnset)).toBe(2);
    expect(f.readUInt32LE(HDR.stepLength)).toBe(4);
    expect(f.readDoubleLE(HDR.t0Us)).toBe(1_234_567.5);
    for (let i = 0; i < 8; i++) expect(f.readFloatLE(HEADER_BYTES + 4 * i)).toBe(samples[i]);
    expect(f.readUInt32LE(f.length - 4)).toBe(crc32(f, 2, f.length - 4));
    const back = decodeFrame(f, { types: [1], channels: 1, maxSamples: 16 });
    expect(back.status).toBe('done');
    if (back.status === 'done') {
      expect(back.consumed).toBe(f.length);
      expect(Array.from(back.value.samples)).toEqual(Array.from(samples));
    }
    // The header is validated before its length is trusted.
    expect(decodeFrame(f, { types: [2], channels: 1, maxSamples: 16 }).status).toBe('malformed');
    expect(decodeFrame(f, { types: [1], channels: 1, maxSamples: 4 }).status).toBe('malformed');
    expect(decodeFrame(f.subarray(0, f.length - 1), { types: [1], channels: 1, maxSamples: 16 }).status).toBe('more');
  });
});

describe('amp-bridge driver ↔ emulator bytes', () => {
  it('sends exactly the documented command lines, in wire units', async () => {
    const { fx, amp, lastWrite, lastReply } = await setup(2);
    const opened = fx.binding.byteLog(fx.path).concat('in').toString('latin1');
    expect(opened).toBe('hello()\ntime()\ntime()\ntime()\nstatus(0)\nstatus(1)\n');
    const [a, b] = amp.channels;
    await fx.run(b.setHolding(-0.07));
    expect(lastWrite()).toBe('holding(1,-70)\n');
    expect(lastReply()).toBe('1,VC,-70,0,0,10,-50,10,30,20000,0,0,0,idle\n');
    await fx.run(b.setTestPulse({ enabled: true, amplitude: 0.005, widthMs: 8, rateHz: 50, sampleRateHz: 25_000 }));
    expect(lastWrite()).toBe('tp(1,1,5,8,50,25000)\n');
    await fx.run(b.zap(0.5, 1));
    expect(lastWrite()).toBe('zap(1,0.5,1000)\n');
    expect(lastReply()).toBe('1\n');
    await fx.run(b.setCompensation({ fast: 3.5e-12 }));
    expect(lastWrite()).toBe('comp(1,3.5,0)\n');
    await fx.run(b.autoPipetteOffset());
    expect(lastWrite()).toBe('offset(1)\n');
    await fx.run(a.setMode('IC'));
    expect(lastWrite()).toBe('mode(0,IC)\n');
    await fx.run(a.setHolding(-100e-12));
    expect(lastWrite()).toBe('holding(0,-100)\n');
    expect(fx.device.commands.map((c) => c.name).slice(-7)).toEqual(['holding', 'tp', 'zap', 'comp', 'offset', 'mode', 'holding']);
    expect(fx.device.commands[fx.device.commands.length - 1]).toMatchObject({ channel: 0, name: 'holding', args: ['0', '-100'] });
  });

  it('delivers frames whose payload holds LF, CR and false sync bytes, bit for bit', async () => {
    const { fx, amp, errors } = await setup(1);
    const got: Sweep[] = [];
    amp.channels[0].onSweep((s) => got.push(s));
    const samples = nasty();
    const f = encodeFrame(header({ total: samples.length, seq: 3 }), samples);
    expect(f.includes(0x0a, HEADER_BYTES)).toBe(true);
    expect(f.includes(0x0d, HEADER_BYTES)).toBe(true);
    fx.binding.injectToHost(fx.path, f);
    await fx.clock.runFor(1);
    expect(errors).toHaveLength(0);
    expect(got).toHaveLength(1);
    expect(Buffer.from(got[0].response.buffer).equals(Buffer.from(samples.buffer))).toBe(true);
    expect(got[0].step).toEqual({ amplitude: 0.01, onsetIndex: 2, lengthSamples: 4 });
    expect(got[0].holding).toBe(-0.07);
    expect(got[0].startTime).toBeCloseTo(1_234.5675 + amp.clockOffsetMs, 9);
  });

  it('uploads stimulus chunks holding LF, CR and sync bytes intact', async () => {
    const { fx, amp } = await setup(1);
    const samples = nasty();
    const r = await fx.run(amp.channels[0].runStimulus(stimulus(samples)));
    // 10 MΩ resistor at holding 0: I = V / R, computed by the emulator from what it decoded
    for (let i = 0; i < samples.length; i++) expect(r.response[i]).toBe(Math.fround(samples[i] / R));
    const chunk = fx.binding.byteLog(fx.path).entries.find((e) => e.dir === 'in' && e.bytes[0] === SYNC0)!.bytes;
    expect(chunk[HDR.type]).toBe(FRAME_TYPE.chunk);
    expect(Buffer.from(chunk.subarray(HEADER_BYTES, HEADER_BYTES + 4 * samples.length)).equals(Buffer.from(samples.buffer))).toBe(true);
  });

  it('reports a bad-CRC frame with its bytes, skips it, and delivers the frame after it', async () => {
    const { fx, amp, errors } = await setup(1);
    const got: Sweep[] = [];
    amp.channels[0].onSweep((s) => got.push(s));
    const bad = encodeFrame(header({ seq: 1 }), new Float32Array(8).fill(1));
    bad[HEADER_BYTES + 9] ^= 0x10;
    const good = encodeFrame(header({ seq: 2 }), new Float32Array(8).fill(2));
    fx.binding.injectToHost(fx.path, Buffer.concat([bad, good]));
    await fx.clock.runFor(1);
    expect(errors).toHaveLength(1);
    expect(errors[0].kind).toBe('malformed');
    expect(errors[0].message).toMatch(/CRC-32/);
    expect(errors[0].bytes.length).toBeGreaterThan(0);
    expect(got.map((s) => s.seq)).toEqual([2]);
    expect(got[0].response[0]).toBe(2);
    expect(amp.stats().streamErrors).toBe(1);
  });

  it('finds a frame hidden behind a truncated one', async () => {
    const { fx, amp, errors } = await setup(1);
    const got: Sweep[] = [];
    amp.channels[0].onSweep((s) => got.push(s));
    const cut = encodeFrame(header({ seq: 1 }), new Float32Array(8).fill(1)).subarray(0, 30);
    const good = encodeFrame(header({ seq: 2, total: 300 }), new Float32Array(300).fill(2));
    fx.binding.injectToHost(fx.path, Buffer.concat([cut, good]));
    await fx.clock.runFor(1);
    expect(errors.length).toBeGreaterThanOrEqual(1);
    expect(got.map((s) => s.seq)).toEqual([2]);
    // and a command still gets its reply
    expect((await fx.run(amp.channels[0].status())).mode).toBe('VC');
  });

  it('splits large transfers into frames both ways and reassembles them', async () => {
    const { fx, amp } = await setup(1, { maxFrameSamples: 1000 });
    const n = 4_500;
    const samples = new Float32Array(n);
    for (let i = 0; i < n; i++) samples[i] = 0.001 * Math.sin(i / 50);
    const before = amp.stats().framesReceived;
    const r = await fx.run(amp.channels[0].runStimulus(stimulus(samples)));
    expect(amp.stats().framesReceived - before).toBe(5);
    expect(r.response.length).toBe(n);
    for (let i = 0; i < n; i++) expect(r.response[i]).toBe(Math.fround(samples[i] / R));
    const chunks = fx.device.commands.filter((c) => c.name === 'chunk');
    expect(chunks.map((c) => c.args.slice(1))).toEqual([
      ['0', '1000'],
      ['1000', '1000'],
      ['2000', '1000'],
      ['3000', '1000'],
      ['4000', '500'],
    ]);
    const first = fx.binding.byteLog(fx.path).entries.find((e) => e.dir === 'in' && e.bytes[0] === SYNC0)!.bytes;
    expect(first.readUInt32LE(HDR.total)).toBe(n);
    expect(first.readUInt16LE(HDR.count)).toBe(1000);
    expect(first.readUInt32LE(HDR.seq)).toBe(Number(fx.device.commands.find((c) => c.name === 'stim')!.args[1]));
  });

  it('fetches a response part lost on the line again, and delivers the sweep once', async () => {
    const { fx, amp, errors } = await setup(1, { maxFrameSamples: 1000 });
    const emu = fx.device as ReturnType<typeof createAmpBridgeEmulator>;
    const got: Sweep[] = [];
    amp.channels[0].onSweep((s) => got.push(s));
    const samples = new Float32Array(3_000).fill(0.002);
    emu.corruptNext('stimulus');
    const r = await fx.run(amp.channels[0].runStimulus(stimulus(samples)));
    expect(fx.device.commands.some((c) => c.name === 'resend')).toBe(true);
    expect(errors.some((e) => /CRC-32/.test(e.message))).toBe(true);
    expect(errors.some((e) => /lost/.test(e.message))).toBe(true);
    expect(r.response.every((v) => v === Math.fround(0.002 / R))).toBe(true);
    expect(got).toEqual([r]);

    // A part lost in the middle is noticed when the next part arrives, not at the timeout.
    emu.corruptNext('stimulus', 1, 1);
    const t0 = fx.clock.now();
    const again = await fx.run(amp.channels[0].runStimulus(stimulus(samples)));
    expect(fx.clock.now() - t0).toBeLessThan(3_000 / 20 + 50);
    expect(fx.device.commands.filter((c) => c.name === 'resend')).toHaveLength(2);
    expect(errors.filter((e) => /lost samples 1000/.test(e.message))).toHaveLength(1);
    expect(again.response.every((v) => v === Math.fround(0.002 / R))).toBe(true);
  });

  it('sends a chunk again when the bridge reports it corrupted, and gives up after three tries', async () => {
    const { fx, amp } = await setup(1);
    const emu = fx.device as ReturnType<typeof createAmpBridgeEmulator>;
    const samples = new Float32Array(100).fill(0.003);
    emu.corruptNext('chunk', 2);
    const r = await fx.run(amp.channels[0].runStimulus(stimulus(samples)));
    expect(r.response[50]).toBe(Math.fround(0.003 / R));
    expect(fx.device.commands.filter((c) => c.name === 'chunk')).toHaveLength(3);
    emu.corruptNext('chunk', 3);
    const e = await fx.expectError(amp.channels[0].runStimulus(stimulus(samples)), ['device']);
    expect(e.message).toMatch(/E7: chunk CRC-32 mismatch/);
    expect(fx.device.commands.filter((c) => c.name === 'run')).toHaveLength(1);
  });

  it('drops a reply line nobody waits for without losing the frames behind it', async () => {
    const { fx, amp, errors } = await setup(1);
    const got: Sweep[] = [];
    amp.channels[0].onSweep((s) => got.push(s));
    const good = encodeFrame(header({ seq: 4 }), new Float32Array(8).fill(4));
    fx.binding.injectToHost(fx.path, Buffer.concat([Buffer.from('1,VC,late\n'), good]));
    await fx.clock.runFor(1);
    expect(got.map((s) => s.seq)).toEqual([4]);
    expect(errors.map((e) => e.message).join()).toMatch(/no command waiting/);
  });

  it('opens onto a bridge that is still streaming: the tail of a frame, with a "1" and an LF among its samples, is not the hello reply', async () => {
    // A float32 whose bytes are '1', NUL, LF, '<': a reply-like start and a line end inside a payload.
    const trap = Buffer.from([0x31, 0x00, 0x0a, 0x3c]).readFloatLE(0);
    const frame = encodeFrame(header({ seq: 9 }), new Float32Array(8).fill(trap));
    const tail = frame.subarray(HEADER_BYTES + 1 + 4); // the host starts listening mid-payload
    let injected = false;
    const fx = createFixture(
      'sim:amp',
      (clock) => {
        const emu = createAmpBridgeEmulator({ clock, channels: resistors(2) });
        const receive = emu.receive.bind(emu);
        emu.receive = (bytes) => {
          // the stream's remains reach the host while its first command (hello) is on its way
          if (!injected) {
            injected = true;
            fx.binding.injectToHost(fx.path, Buffer.concat([tail, frame]));
          }
          receive(bytes);
        };
        return emu;
      },
      AMP_BRIDGE_BAUD,
    );
    const amp = await fx.run(openAmpBridge({ path: fx.path, binding: fx.binding, clock: fx.clock }));
    expect(injected).toBe(true);
    expect(amp.channels).toHaveLength(2);
    expect(amp.info.protocol).toBe('ampbridge/1');
    await fx.run(amp.connection.close());
  });

  it('waits for a long stimulus, and times out in proportion to its length when the device falls silent', async () => {
    const { fx, amp } = await setup(1);
    const ch = amp.channels[0];
    const t0 = fx.clock.now();
    const r = await fx.run(ch.runStimulus(stimulus(new Float32Array(100_000).fill(0.001))));
    expect(r.response.length).toBe(100_000);
    expect(fx.clock.now() - t0).toBeGreaterThanOrEqual(5_000);

    const run = ch.runStimulus(stimulus(new Float32Array(100_000).fill(0.001)));
    run.catch(() => {});
    const runs = (): number => fx.device.commands.filter((c) => c.name === 'run').length;
    for (let i = 0; i < 1_000 && runs() < 2; i++) await fx.clock.runFor(1);
    expect(runs()).toBe(2);
    await fx.clock.runFor(1); // the run reply reaches the host; then the bridge goes quiet
    const started = fx.clock.now();
    fx.binding.setMuted(fx.path, true);
    await fx.expectError(run, ['timeout'], 60_000);
    const waited = fx.clock.now() - started;
    expect(waited).toBeGreaterThanOrEqual(5_000);
    expect(waited).toBeLessThan(9_000);
  });

  it('aborts a stimulus being played: the bridge stops at once, sends no response, and the cell had only what was played', async () => {
    const { fx, amp, els, errors, lastWrite } = await setup(1);
    const ch = amp.channels[0];
    await fx.run(ch.setTestPulse({ enabled: true, amplitude: 0.01, widthMs: 5, rateHz: 30, sampleRateHz: 20_000 }));
    const stop = new AbortController();
    // 10 s at 20 kHz
    const run = ch.runStimulus(stimulus(new Float32Array(200_000).fill(0.001)), { signal: stop.signal });
    run.catch(() => {});
    for (let i = 0; i < 1_000 && !fx.device.commands.some((c) => c.name === 'run'); i++) await fx.clock.runFor(1);
    await fx.clock.runFor(2_000);
    expect(fx.device.channelState(0).activity).toBe('running');
    const abortedAt = fx.clock.now();
    stop.abort();
    const err = await fx.expectError(run, ['interrupted'], 1_000);
    expect(err.message).toMatch(/aborted/);
    expect(fx.clock.now() - abortedAt).toBeLessThan(50); // not the 8 s left
    expect(fx.device.commands[fx.device.commands.length - 1]).toMatchObject({ name: 'abort', args: ['0'] });
    expect(lastWrite()).toBe('abort(0)\n');
    expect(fx.device.channelState(0).activity).toBe('idle');
    // the electrode was driven for the ~2 s played, not the whole 10 s
    const played = els[0].calls.filter((c) => c.samples > 10_000);
    expect(played).toHaveLength(1);
    expect(played[0].samples).toBeGreaterThan(2_000 * 20 - 1_000);
    expect(played[0].samples).toBeLessThan(2_100 * 20);
    // no response frame was sent for it
    await fx.clock.runFor(100);
    const out = Buffer.concat(fx.binding.byteLog(fx.path).entries.filter((e) => e.dir === 'out').map((e) => e.bytes));
    expect(frames(parseOutput(out)).filter((f) => f.type === FRAME_TYPE.stimulus)).toEqual([]);
    // the test pulse resumes and the next stimulus plays normally
    const tp: number[] = [];
    const off = ch.onSweep((x) => tp.push(x.seq));
    await fx.clock.runFor(200);
    off();
    expect(tp.length).toBeGreaterThanOrEqual(5);
    const next = await fx.run(ch.runStimulus(stimulus(new Float32Array(2_000).fill(0.001))));
    expect(next.response.length).toBe(2_000);
    // a signal aborted already: nothing is sent at all
    const before = fx.bytesIn();
    await fx.expectError(ch.runStimulus(stimulus(new Float32Array(2_000)), { signal: stop.signal }), ['interrupted']);
    expect(fx.bytesIn()).toBe(before);
    expect(errors).toEqual([]);
  });

  it('answers abort with its status, and changes nothing when no stimulus is playing', async () => {
    const raw = rawEmulator();
    await raw.send('abort(1)\n');
    expect(lines(raw.take())).toEqual(['1,VC,0,0,0,10,-50,10,30,20000,0,0,0,idle']);
    await raw.send('abort()\n');
    expect(lines(raw.take())[0]).toMatch(/^0,4,abort takes 1 arguments, got 0/);
  });

  it("a long stimulus response on one channel does not starve the other channel's replies and test pulses", async () => {
    const { fx, amp, errors } = await setup(2);
    const [a, b] = amp.channels;
    await fx.run(b.setTestPulse({ enabled: true, amplitude: 0.01, widthMs: 5, rateHz: 30, sampleRateHz: 50_000 }));
    const tp: number[] = [];
    b.onSweep((s) => {
      if (s.kind === 'testpulse') tp.push(fx.clock.now());
    });
    // 5 s at 50 kHz: a ~1 MB response, ~0.85 s of line time at the bridge's rate
    const run = a.runStimulus(stimulus(new Float32Array(250_000).fill(0.001), 50_000));
    run.catch(() => {});
    const frames = (): number => fx.binding.byteLog(fx.path).entries.filter((e) => e.dir === 'out' && e.bytes[0] === SYNC0 && e.bytes.length > 10_000).length;
    for (let i = 0; i < 10_000 && frames() < 3; i++) await fx.clock.runFor(1);
    expect(frames()).toBeGreaterThanOrEqual(3); // the response is on the line now
    const asked = fx.clock.now();
    await fx.run(b.setHolding(-0.07));
    expect(fx.clock.now() - asked).toBeLessThan(100); // one bulk frame at most, not the whole response
    const before = tp.length;
    const r = await fx.run(run);
    expect(r.response.length).toBe(250_000);
    expect(tp.length).toBeGreaterThan(before); // channel 2's test pulses kept arriving during the transfer
    expect(errors).toEqual([]);
  });

  it('a sweep time maps the bridge clock onto the host clock', async () => {
    const { fx, amp, els } = await setup(1, { deviceClockOffsetMs: 12_345.678 });
    expect(amp.clockOffsetMs).toBeCloseTo(-12_345.678, 1);
    expect(Math.abs(amp.clockOffsetMs + 12_345.678)).toBeLessThan(0.02);
    const got: Sweep[] = [];
    amp.channels[0].onSweep((s) => got.push(s));
    await fx.run(amp.channels[0].setTestPulse({ enabled: true }));
    await fx.clock.runFor(200);
    expect(got.length).toBeGreaterThan(3);
    for (const s of got) expect(els[0].calls.some((c) => Math.abs(c.t0 - s.startTime) < 0.02)).toBe(true);
  });
});

describe('amp-bridge emulator on raw bytes', () => {
  it('answers a VC→IC switch at once, streams I0 sweeps flagged settling, then an event when settled', async () => {
    const dev = rawEmulator();
    await dev.send('tp(0,1,10,10,30,20000)\n');
    expect(lines(dev.take())).toEqual(['1,VC,0,0,1,10,-50,10,30,20000,0,0,0,idle']);
    await dev.send('mode(0,IC)\n');
    expect(lines(dev.take())).toEqual(['1,I0,0,0,1,10,-50,10,30,20000,0,0,0,settling']);
    const t = dev.clock.now();
    await dev.clock.runFor(700);
    const out = frames(dev.take());
    const event = out.findIndex((f) => f.type === FRAME_TYPE.event);
    expect(event).toBeGreaterThan(5);
    expect(out[event].flags & FLAG.settled).toBeTruthy();
    expect(out[event].mode).toBe('IC');
    expect(out[event].t0Us / 1000 - 3_600_000 - t).toBeGreaterThanOrEqual(499);
    for (const f of out.slice(0, event)) {
      expect(f.mode).toBe('I0');
      expect(f.flags & FLAG.settling).toBeTruthy();
    }
    expect(out.slice(event + 1).length).toBeGreaterThan(3);
    for (const f of out.slice(event + 1)) {
      expect(f.mode).toBe('IC');
      expect(f.unit).toBe('V');
      expect(f.flags & FLAG.settling).toBe(0);
    }
    await dev.send('run(0,1)\n');
    expect(lines(dev.take())[0]).toMatch(/^0,8,/);
  });

  it('answers every bad line with one error reply and never throws', async () => {
    const dev = rawEmulator();
    const cases: Array<[string, number]> = [
      ['bogus(1)\n', 1],
      ['mode(9,VC)\n', 3],
      ['mode(0,XX)\n', 4],
      ['holding 0 1\n', 2],
      ['holding(0)\n', 4],
      ['holding(0,abc)\n', 4],
      ['holding(0,2000)\n', 5],
      ['tp(0,1,10,10,0,20000)\n', 5],
      ['tp(0,1,10,40,30,20000)\n', 5],
      ['tp(0,1,10,10,30,999999)\n', 5],
      ['hello(1)\n', 4],
      ['run(0,5)\n', 8],
      ['zap(0,0,1000)\n', 5],
      ['resend(1,3)\n', 8],
      [`${'x'.repeat(300)}\n`, 9],
      ['mode(0,VC)\x00\n', 2],
    ];
    for (const [line, code] of cases) {
      await dev.send(line);
      const got = lines(dev.take());
      expect(got, JSON.stringify(line)).toHaveLength(1);
      expect(parseReplyLine(got[0]), JSON.stringify(line)).toMatchObject({ ok: false, code });
    }
    // a chunk whose CRC is wrong
    await dev.send('stim(0,5,8,20000,VC)\n');
    expect(lines(dev.take())).toEqual(['1,5,4096']);
    const chunk = encodeFrame(header({ type: FRAME_TYPE.chunk, unit: 'V', seq: 5, total: 8, flags: 0 }), new Float32Array(8).fill(0.01));
    chunk[HEADER_BYTES + 2] ^= 1;
    await dev.send(chunk);
    expect(lines(dev.take())).toEqual(['0,7,chunk CRC-32 mismatch']);
    chunk[HEADER_BYTES + 2] ^= 1;
    await dev.send(chunk);
    expect(lines(dev.take())).toEqual(['1,5,8']);
    expect(dev.emu.commands.filter((c) => c.name === '?').length).toBeGreaterThanOrEqual(3);

    // seeded fuzz: random bytes, many LFs; every reply is a well-formed line
    const g = createGaussian(42);
    const junk = Buffer.alloc(20_000);
    for (let i = 0; i < junk.length; i++) {
      const x = Math.floor(Math.abs(g()) * 1e6) & 0xff;
      junk[i] = x % 7 === 0 ? LF : x;
    }
    for (let i = 0; i < junk.length; i += 500) await dev.send(junk.subarray(i, i + 500), 2);
    await dev.send('\n', 50);
    for (const l of lines(dev.take())) expect(parseReplyLine(l), l).not.toBeNull();
    await dev.send('status(1)\n');
    expect(lines(dev.take())).toEqual(['1,VC,0,0,0,10,-50,10,30,20000,0,0,0,idle']);
  });
});

describe('amp-bridge line budget', () => {
  const tp = { enabled: true, amplitude: 0.01, widthMs: 10, rateHz: 30, sampleRateHz: 50_000 };

  it('four channels of 30 Hz test pulses fit the line with room to spare', async () => {
    const load = testPulseLineLoad({ channels: 4, widthMs: 10, rateHz: 30, sampleRateHz: 50_000, baselineFraction: 0.35, maxFrameSamples: 4096, baudRate: AMP_BRIDGE_BAUD });
    expect(load).toBeLessThan(0.5);
    const { fx, amp } = await setup(4);
    const plan = planTestPulse(10, 50_000, 0.35);
    const perChannel: number[] = [0, 0, 0, 0];
    let worstLatency = 0;
    amp.channels.forEach((c, i) =>
      c.onSweep((s) => {
        perChannel[i]++;
        worstLatency = Math.max(worstLatency, fx.clock.now() - (s.startTime + plan.durationMs));
      }),
    );
    for (const c of amp.channels) await fx.run(c.setTestPulse(tp));
    await fx.clock.runFor(3_000);
    for (const n of perChannel) expect(n).toBeGreaterThanOrEqual(89);
    expect(amp.stats().sweepsDroppedByDevice).toBe(0);
    expect(amp.stats().streamErrors).toBe(0);
    // each sweep arrives within a few frame times of its end: no backlog builds up
    expect(worstLatency).toBeLessThan(15);
  });

  it('an overloaded line drops whole test-pulse sweeps, says so, and stays current', async () => {
    const baud = 3_000_000;
    const fast = { ...tp, sampleRateHz: 100_000 };
    expect(testPulseLineLoad({ channels: 4, widthMs: 10, rateHz: 30, sampleRateHz: 100_000, baselineFraction: 0.35, maxFrameSamples: 4096, baudRate: baud })).toBeGreaterThan(1);
    const { fx, amp } = await setup(4, {}, baud);
    const emu = fx.device as ReturnType<typeof createAmpBridgeEmulator>;
    const plan = planTestPulse(10, 100_000, 0.35);
    const seqs: number[][] = [[], [], [], []];
    let worstLatency = 0;
    amp.channels.forEach((c, i) =>
      c.onSweep((s) => {
        seqs[i].push(s.seq);
        worstLatency = Math.max(worstLatency, fx.clock.now() - (s.startTime + plan.durationMs));
      }),
    );
    for (const c of amp.channels) await fx.run(c.setTestPulse(fast));
    await fx.clock.runFor(2_000);
    const dropped = emu.droppedSweeps.reduce((a, b) => a + b, 0);
    expect(dropped).toBeGreaterThan(0);
    expect(amp.stats().sweepsDroppedByDevice).toBeGreaterThan(0);
    expect(amp.stats().sweepsDroppedByDevice).toBeLessThanOrEqual(dropped);
    // drops show as gaps in the sequence numbers, and what arrives is still recent
    const gaps = seqs.reduce((n, s) => n + s.slice(1).filter((v, k) => v - s[k] > 1).length, 0);
    expect(gaps).toBeGreaterThan(0);
    expect(worstLatency).toBeLessThan(80);
  });
});
