/**
 * The wire decoders on byte streams written out by hand from the protocol
 * documents: what each reads, that a command split over writes reads the
 * same, and that bytes they cannot parse are reported with their time and
 * offset (decoding stops there) rather than skipped.
 */
import { describe, expect, it } from 'vitest';
import { decodeAmpBridge, zipCrc32 } from './wire/amp-bridge.ts';
import { decodeMp285 } from './wire/mp285.ts';
import { decodeMpc325 } from './wire/mpc325.ts';
import { decodePbox } from './wire/pbox.ts';
import { decodeScientifica } from './wire/scientifica.ts';
import { decodeSm10, xmodemCrc16 } from './wire/sm10.ts';
import type { WireChunk } from './wire/stream.ts';

const ascii = (t: number, s: string): WireChunk => ({ t, bytes: Buffer.from(s, 'latin1') });
const bin = (t: number, ...parts: Array<number | Buffer>): WireChunk => ({
  t,
  bytes: Buffer.concat(parts.map((p) => (typeof p === 'number' ? Buffer.of(p) : p))),
});
const i32 = (...v: number[]): Buffer => {
  const b = Buffer.alloc(4 * v.length);
  v.forEach((x, k) => b.writeInt32LE(x, 4 * k));
  return b;
};
const f32 = (v: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeFloatLE(v, 0);
  return b;
};
const CR = 0x0d;

describe('check values of the CRCs', () => {
  it('CRC-16/XMODEM and CRC-32 (zip) give the catalogue check values', () => {
    expect(xmodemCrc16(Buffer.from('123456789'))).toBe(0x31c3);
    expect(zipCrc32(Buffer.from('123456789'))).toBe(0xcbf43926);
  });
});

describe('Sutter MP-285', () => {
  const status = (usteps: number): Buffer => {
    const b = Buffer.alloc(33);
    b.writeUInt16LE(usteps, 24);
    b[32] = CR;
    return b;
  };
  const setup = [ascii(10, 's\r'), ascii(30, 'a\r'), bin(40, 0x56, Buffer.from([0xc8, 0x80]), CR)]; // V: fine bit + 200 µm/s
  const replies = [bin(20, status(25)), bin(31, CR), bin(41, CR)];

  it('reads moves in µm from the µsteps the status reply gives, with the speed last set; stops and positions', () => {
    const move = Buffer.concat([Buffer.of(0x6d), i32(2500, 5000, -1250), Buffer.of(CR)]);
    const input = [...setup, bin(50, move.subarray(0, 5)), bin(55, move.subarray(5)), bin(60, 0x03), ascii(70, 'c\r')];
    const output = [...replies, bin(65, 0x38, CR), bin(80, i32(2400, 5000, -1250), CR)];
    const d = decodeMp285('mp285', input, output);
    expect(d.error).toBeNull();
    expect(d.commands).toEqual([
      { kind: 'move', t: 55, unit: 1, target: [100, 200, -50], relative: false, speed: 200, resolution: 0.04, wire: 'm 2500 5000 -1250' },
      { kind: 'stop', t: 60, unit: 1, wire: '^C' },
      { kind: 'position', t: 80, unit: 1, position: [96, 200, -50], wire: 'c → 2400 5000 -1250' },
    ]);
  });

  it('marks a move without any V as running at the device default, and relative after b', () => {
    const d = decodeMp285('mp285', [ascii(10, 's\r'), ascii(30, 'b\r'), bin(50, 0x6d, i32(25, 0, 0), CR)], [bin(20, status(25))]);
    expect(d.error).toBeNull();
    expect(d.commands[0]).toMatchObject({ kind: 'move', relative: true, speed: null, target: [1, 0, 0] });
  });

  it.each([
    ['an unknown command byte', [...setup, ascii(50, 'x\r')], /unknown command byte 0x78/],
    ['a move without its CR', [...setup, bin(50, 0x6d, i32(1, 2, 3), 0x0a)], /not terminated by CR/],
    ['a move cut short', [...setup, bin(50, 0x6d, i32(1, 2))], /needs 14 bytes/],
    ['a move before the units are known', [ascii(30, 'a\r'), bin(50, 0x6d, i32(1, 2, 3), CR)], /µsteps per µm/],
    ['a lone LF', [...setup, bin(50, 0x03, 0x0a)], /LF that does not follow a CR/],
  ])('refuses %s', (_what, input, message) => {
    const d = decodeMp285('mp285', input, replies);
    expect(d.error?.message).toMatch(message);
    expect(d.error?.device).toBe('mp285');
    expect(d.commands.filter((c) => c.kind === 'move')).toEqual([]);
  });
});

describe('Sutter MPC-325', () => {
  it('reads straight-line moves at the speed-table entry, fast moves as device speed, drive selection and positions', () => {
    const input = [
      bin(1, 0x49, 2),
      bin(10, 0x53, 6),
      bin(45, i32(16_000, 32_000, 160)),
      bin(50, 0x4d, i32(0, 0, 1600)),
      bin(60, 0x03),
      bin(70, 0x43),
    ];
    const output = [bin(2, CR), bin(48, CR), bin(61, CR), bin(75, 2, i32(16, 32, 48), CR)];
    const d = decodeMpc325('mpc', input, output);
    expect(d.error).toBeNull();
    expect(d.commands).toMatchObject([
      { kind: 'move', unit: 2, t: 45, target: [1000, 2000, 10], speed: 100, relative: false },
      { kind: 'move', unit: 2, target: [0, 0, 100], speed: null },
      { kind: 'stop', unit: 2 },
      { kind: 'position', unit: 2, t: 75, position: [1, 2, 3] },
    ]);
  });

  it.each([
    ["coordinates sent less than 30 ms after the speed byte", [bin(1, 0x49, 1), bin(10, 0x53, 6), bin(20, i32(1, 2, 3))], /30 ms/],
    ['a speed byte beyond the table', [bin(1, 0x49, 1), bin(10, 0x53, 16), bin(60, i32(1, 2, 3))], /speed byte 16/],
    ['a move before a drive is selected', [bin(10, 0x4d, i32(1, 2, 3))], /before any drive/],
    ['drive 5', [bin(1, 0x49, 5)], /drive 5/],
    ['an unknown byte', [bin(1, 0x49, 1), bin(5, 0x58)], /unknown command byte 0x58/],
  ])('refuses %s', (_what, input, message) => {
    const d = decodeMpc325('mpc', input, []);
    expect(d.error?.message).toMatch(message);
    expect(d.commands).toEqual([]);
  });
});

describe('Scientifica', () => {
  const v3 = [ascii(10, 'P\r'), ascii(30, 'TOP 10000\r')];
  const v3replies = [ascii(20, '100\t200\t300\r'), ascii(31, 'A\r')];

  it('learns v3 units from the answer to P, reads TOP as the speed, ABS/ABSZ/REL targets and STOP', () => {
    const input = [...v3, ascii(40, 'ABS 100000 200000 '), ascii(41, '-5\r'), ascii(50, 'absz 1234\r'), ascii(60, 'REL 0 0 -100\r'), ascii(70, 'STOP\r')];
    const d = decodeScientifica('sci', input, v3replies);
    expect(d.error).toBeNull();
    expect(d.commands).toMatchObject([
      { kind: 'position', position: [1, 2, 3] },
      { kind: 'move', t: 41, target: [1000, 2000, -0.05], speed: 100, relative: false, resolution: 0.01 },
      { kind: 'move', target: [null, null, 12.34], relative: false },
      { kind: 'move', target: [0, 0, -1], relative: true },
      { kind: 'stop', t: 70 },
    ]);
  });

  it('learns v2 units from ver', () => {
    const d = decodeScientifica('sci', [ascii(10, 'ver\r'), ascii(30, 'ABS 10 20 30\r')], [ascii(20, '2.14\r')]);
    expect(d.error).toBeNull();
    expect(d.commands[0]).toMatchObject({ kind: 'move', target: [1, 2, 3], speed: null });
  });

  it.each([
    ['a move before the unit is known', [ascii(30, 'ABS 1 2 3\r')], /position unit is known/],
    ['ABS with two coordinates', [...v3, ascii(40, 'ABS 1 2\r')], /wrong number of arguments/],
    ['a fractional coordinate', [...v3, ascii(40, 'ABS 1.5 2 3\r')], /must be integers/],
    ['an unknown command', [...v3, ascii(40, 'JUMP\r')], /unknown command "JUMP"/],
    ['a line without CR', [...v3, ascii(40, 'ABS 1 2 3')], /not terminated by CR/],
    ['a control byte in a line', [...v3, ascii(40, 'ABS 1\x072 3\r')], /non-printable/],
  ])('refuses %s', (_what, input, message) => {
    const d = decodeScientifica('sci', input, v3replies);
    expect(d.error?.message).toMatch(message);
    expect(d.commands.filter((c) => c.kind === 'move')).toEqual([]);
  });
});

describe('Luigs & Neumann SM-10', () => {
  const frame = (t: number, start: number, id: number, data: Buffer, crc?: number): WireChunk => {
    const c = crc ?? xmodemCrc16(data);
    return bin(t, start, id >> 8, id & 0xff, data.length, data, c >> 8, c & 0xff);
  };
  const axisFloat = (axis: number, v: number) => Buffer.concat([Buffer.of(axis), f32(v)]);

  it('groups the axis moves between two status polls into one straight motion at √Σv², per manipulator', () => {
    const input = [
      frame(1, 0x16, 0x0144, axisFloat(1, 30)),
      frame(2, 0x16, 0x0144, axisFloat(2, 40)),
      frame(3, 0x16, 0x0049, axisFloat(1, 100)),
      frame(4, 0x16, 0x0049, axisFloat(2, 200)),
      frame(5, 0x16, 0x0049, axisFloat(4, 7)),
      frame(6, 0x16, 0x0120, Buffer.of(1, 2, 3)),
      frame(7, 0x16, 0x0048, axisFloat(3, 5)),
      frame(8, 0x16, 0x00ff, Buffer.of(1, 2, 3)),
      frame(9, 0x16, 0x0101, Buffer.of(3)),
    ];
    const output = [frame(10, 0x06, 0x0101, axisFloat(3, 4.5))];
    const d = decodeSm10('sm10', input, output);
    expect(d.error).toBeNull();
    expect(d.commands).toMatchObject([
      { kind: 'move', t: 3, unit: 1, target: [100, 200, null], speed: 50, relative: false },
      { kind: 'move', t: 5, unit: 2, target: [7, null, null], speed: null },
      { kind: 'move', t: 7, unit: 1, target: [null, null, 5], speed: null, speedNote: expect.stringMatching(/fast/) },
      { kind: 'stop', t: 8, unit: 1 },
      { kind: 'position', t: 10, unit: 1, position: [null, null, 4.5] },
    ]);
  });

  it.each([
    ['a bad CRC', [frame(1, 0x16, 0x0049, axisFloat(1, 10), 0x1234)], /CRC 0x1234/],
    ['a byte outside a frame', [bin(1, 0x00)], /outside a frame/],
    ['an unknown command', [frame(1, 0x16, 0x0777, Buffer.of(1))], /0777: unknown command/],
    ['axis 7', [frame(1, 0x16, 0x0049, axisFloat(7, 10))], /axis 1–6/],
    ['a relative move over 255 µm', [frame(1, 0x16, 0x004b, axisFloat(1, 300))], /relative move of 300/],
    ['a frame cut short', [bin(1, 0x16, 0x00, 0x49, 5, 1, 2)], /cut short/],
  ])('refuses %s', (_what, input, message) => {
    const d = decodeSm10('sm10', input, []);
    expect(d.error?.message).toMatch(message);
    expect(d.commands).toEqual([]);
  });
});

describe('pressure box', () => {
  it('reads setpoints, valves, pulses, aborts and queries, case-insensitively, CR ignored, blank lines skipped', () => {
    const d = decodePbox('pbox', [ascii(1, 'SET 1 -30.00\n'), ascii(2, 'valve 1 reg\r\n'), ascii(3, '\n'), ascii(4, 'PULSE 2 -150 '), ascii(5, '500\n'), ascii(6, 'ABORT 2\n'), ascii(7, 'STAT?\n')], 4);
    expect(d.error).toBeNull();
    expect(d.commands).toEqual([
      { kind: 'set', t: 1, channel: 1, mbar: -30, wire: 'SET 1 -30.00' },
      { kind: 'valve', t: 2, channel: 1, source: 'regulator', wire: 'valve 1 reg' },
      { kind: 'pulse', t: 5, channel: 2, mbar: -150, ms: 500, wire: 'PULSE 2 -150 500' },
      { kind: 'abort', t: 6, channel: 2, wire: 'ABORT 2' },
      { kind: 'query', t: 7, channel: null, wire: 'STAT?' },
    ]);
  });

  it.each([
    ['channel 5 of 4', 'SET 5 10\n', /no channel 5/],
    ['a pressure that is not a number', 'SET 1 1e3\n', /not a pressure/],
    ['an unknown command', 'BLOW 1\n', /unknown command/],
    ['an unknown valve position', 'VALVE 1 OPEN\n', /valve position/],
    ['a missing argument', 'PULSE 1 -100\n', /2 arguments/],
    ['a line too long', `READ 1${' '.repeat(70)}\n`, /longest 64/],
    ['garbage bytes', '\xe3\x91SET 1 0\n', /non-printable/],
  ])('refuses %s', (_what, text, message) => {
    const d = decodePbox('pbox', [ascii(1, 'PING\n'), ascii(2, text), ascii(3, 'VALVE 1 ATM\n')], 4);
    expect(d.error?.message).toMatch(message);
    expect(d.commands.map((c) => c.kind)).toEqual(['query']);
  });

  it('refuses a last line without its LF', () => {
    expect(decodePbox('pbox', [ascii(1, 'PING\n'), ascii(2, 'SET 1 10')], 4).error?.message).toMatch(/not terminated by LF/);
  });
});

describe('amp-bridge', () => {
  const chunkFrame = (channel: number, id: number, samples: number[], total = samples.length, damage = false): Buffer => {
    const h = Buffer.alloc(60 + 4 * samples.length + 4);
    h[0] = 0xa5;
    h[1] = 0x5a;
    h[2] = 1; // version
    h[3] = 0x10; // stimulus chunk
    h[4] = channel;
    h[5] = 1; // IC
    h[6] = 0; // A
    h.writeUInt32LE(id, 8);
    h.writeUInt32LE(50_000, 12);
    h.writeUInt32LE(total, 16);
    h.writeUInt32LE(0, 20);
    h.writeUInt16LE(samples.length, 24);
    samples.forEach((x, k) => h.writeFloatLE(x, 60 + 4 * k));
    h.writeUInt32LE((zipCrc32(h.subarray(2, 60 + 4 * samples.length)) ^ (damage ? 1 : 0)) >>> 0, 60 + 4 * samples.length);
    return h;
  };

  it('reads command lines and stimulus chunks (CRC-checked) in one stream', () => {
    const d = decodeAmpBridge('amp', [
      ascii(1, 'hello()\n'),
      ascii(2, 'mode(0,IC)\n'),
      ascii(3, 'holding(1,-70)\r\n'),
      ascii(4, 'holding(0,-50,IC)\n'),
      ascii(5, 'tp(1,1,10,5,30,50000)\n'),
      ascii(6, 'zap(1,0.5,1000)\n'),
      ascii(7, 'stim(0,7,2,50000,IC)\n'),
      bin(8, chunkFrame(0, 7, [1e-10, -2e-10])),
      ascii(9, 'run(0,7)\n'),
      ascii(10, 'offset(1)\n'),
      ascii(11, 'abort(0)\n'),
    ], 2);
    expect(d.error).toBeNull();
    expect(d.commands).toMatchObject([
      { kind: 'query', channel: null },
      { kind: 'mode', channel: 0, mode: 'IC' },
      { kind: 'holding', channel: 1, value: -70, mode: null },
      { kind: 'holding', channel: 0, value: -50, mode: 'IC' },
      { kind: 'tp', channel: 1, on: true, amplitude: 10, widthMs: 5, rateHz: 30, sampleRateHz: 50_000, mode: null },
      { kind: 'zap', channel: 1, ms: 0.5, mV: 1000 },
      { kind: 'stim', channel: 0, id: 7, samples: 2, mode: 'IC' },
      { kind: 'chunk', t: 8, channel: 0, id: 7, mode: 'IC', offset: 0, total: 2 },
      { kind: 'run', channel: 0, id: 7 },
      { kind: 'offset', channel: 1, mV: null },
      { kind: 'abort', t: 11, channel: 0 },
    ]);
    const chunk = d.commands[7] as Extract<(typeof d.commands)[number], { kind: 'chunk' }>;
    expect([...chunk.samples]).toEqual([Math.fround(1e-10), Math.fround(-2e-10)]);
  });

  it.each([
    ['a chunk with a bad CRC', bin(2, chunkFrame(0, 1, [0], 1, true)), /frame CRC/],
    ['a chunk for channel 3', bin(2, chunkFrame(3, 1, [0])), /channel 3/],
    ['a holding that is not a number', ascii(2, 'holding(0,abc)\n'), /expects holding/],
    ['a channel the bridge does not have', ascii(2, 'holding(2,0)\n'), /no channel "2"/],
    ['an unknown command', ascii(2, 'fire(0)\n'), /unknown command fire/],
    ['an abort with a stimulus id', ascii(2, 'abort(0,7)\n'), /expects abort\(ch\)/],
    ['a line that is not name(args)', ascii(2, 'holding 0 -70\n'), /not name/],
  ])('refuses %s', (_what, chunk, message) => {
    const d = decodeAmpBridge('amp', [ascii(1, 'mode(0,VC)\n'), chunk, ascii(3, 'holding(0,0)\n')], 2);
    expect(d.error?.message).toMatch(message);
    expect(d.commands.map((c) => c.kind)).toEqual(['mode']);
  });

  it('refuses a last line without its LF, and a frame cut short', () => {
    expect(decodeAmpBridge('amp', [ascii(1, 'mode(0,VC)\n'), ascii(2, 'holding(0,-70)')], 2).error?.message).toMatch(/not terminated by LF/);
    expect(decodeAmpBridge('amp', [bin(2, chunkFrame(0, 1, [0, 1]).subarray(0, 64))], 2).error?.message).toMatch(/cut short/);
  });
});

describe('a garbled stream is reported, not skipped', () => {
  // What a UART makes of bytes at the wrong rate: every byte scrambled.
  const garble = (c: WireChunk): WireChunk => ({ t: c.t, bytes: Buffer.from(c.bytes.map((b) => ((b * 37 + 0x5b) ^ 0xa6) & 0xff)) });
  it.each([
    ['MP-285', () => decodeMp285('d', [ascii(1, 's\r'), ascii(2, 'a\r')].map(garble), [])],
    ['MPC-325', () => decodeMpc325('d', [bin(1, 0x49, 1), bin(2, 0x43)].map(garble), [])],
    ['Scientifica', () => decodeScientifica('d', [ascii(1, 'P\r'), ascii(2, 'STOP\r')].map(garble), [])],
    ['SM-10', () => decodeSm10('d', [bin(1, 0x16, 0x01, 0x20, 1, 1, 0x10, 0x21)].map(garble), [])],
    ['pressure box', () => decodePbox('d', [ascii(1, 'SET 1 30\n'), ascii(2, 'VALVE 1 REG\n')].map(garble), 4)],
    ['amp-bridge', () => decodeAmpBridge('d', [ascii(1, 'holding(0,-70)\n')].map(garble), 2)],
  ])('%s', (_name, decode) => {
    const d = decode();
    expect(d.error).not.toBeNull();
    expect(d.error!.offset).toBeGreaterThanOrEqual(0);
    expect(d.error!.context).toMatch(/\|/);
  });
});
