/**
 * Protocol-level tests of the emulated box: raw bytes in, exact reply lines
 * out (PROTOCOL.md), plus the analog model (line dynamics, sensor noise,
 * observers, resets). No driver and no serial port: the emulator is driven
 * through its EmulatedDevice interface directly.
 */
import { describe, expect, it } from 'vitest';
import { createVirtualClock, type VirtualClock } from '../../../src/clock/index.ts';
import { createPressureBoxEmulator, type PressureBoxEmulatorOptions } from './emulator.ts';
import { mbarToRaw, rawToMbar } from './hardware.ts';
import { seededUniform } from './noise.ts';
import { DAC_MAX, ERROR_TEXT, HW_MAX_MBAR, HW_MIN_MBAR, MAX_LINE } from './protocol.ts';

interface Line {
  t: number;
  text: string;
}

async function boxOn(options: Omit<PressureBoxEmulatorOptions, 'clock'> = {}, clock: VirtualClock = createVirtualClock()) {
  const emu = createPressureBoxEmulator({ clock, sensorNoiseMbar: 0, ...options });
  const out: Line[] = [];
  let partial = '';
  const plugIn = (): void =>
    emu.connect({
      clock,
      send(bytes) {
        partial += bytes.toString('latin1');
        for (let i = partial.indexOf('\n'); i >= 0; i = partial.indexOf('\n')) {
          out.push({ t: clock.now(), text: partial.slice(0, i) });
          partial = partial.slice(i + 1);
        }
      },
    });
  plugIn();
  await clock.runFor(options.bootMs ?? 600);
  /** send raw bytes, let the box work, return the lines it sent meanwhile */
  const raw = async (bytes: Buffer | string, waitMs = 20): Promise<string[]> => {
    const n = out.length;
    emu.receive(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes);
    await clock.runFor(waitMs);
    return out.slice(n).map((l) => l.text);
  };
  /** one command line → its single reply */
  const ask = async (line: string): Promise<string> => {
    const replies = await raw(`${line}\n`);
    expect(replies, `exactly one reply to "${line}"`).toHaveLength(1);
    return replies[0];
  };
  return { clock, emu, out, raw, ask, plugIn };
}

const err = (code: number): string => `ERR ${code} ${ERROR_TEXT[code]}`;

describe('autopatch pbox protocol: exact replies', () => {
  it('boots for bootMs ignoring input, then announces itself with a # line', async () => {
    const clock = createVirtualClock();
    const emu = createPressureBoxEmulator({ clock, bootMs: 600 });
    const lines: Line[] = [];
    emu.connect({ clock, send: (b) => lines.push({ t: clock.now(), text: b.toString('latin1') }) });
    await clock.runFor(100);
    expect(emu.booting).toBe(true);
    emu.receive(Buffer.from('PING\n'));
    await clock.runFor(400);
    expect(lines).toEqual([]);
    await clock.runFor(200);
    expect(lines).toEqual([{ t: 600, text: '# AUTOPATCH-PBOX READY FW=1.0.0\n' }]);
    expect(emu.booting).toBe(false);
    expect(emu.resets).toBe(1);
  });

  it('answers every documented command with its documented line', async () => {
    const box = await boxOn();
    const table: Array<[string, string]> = [
      ['ID?', 'OK AUTOPATCH-PBOX FW=1.0.0 CH=4 RANGE=-700,1000'],
      ['PING', 'OK PONG'],
      ['SET? 1', 'OK 1 0.00 1680'],
      ['VALVE? 1', 'OK 1 ATM'],
      ['SET 1 -25', 'OK 1 -25.00 1620'],
      ['SET 1 -25.5', 'OK 1 -25.42 1619'],
      ['SET 1 +35', 'OK 1 35.00 1764'],
      ['SET 2 1000', 'OK 2 1000.00 4080'],
      ['SET 3 -700', 'OK 3 -700.00 0'],
      ['SET 4 0.1', 'OK 4 0.00 1680'],
      ['SET? 2', 'OK 2 1000.00 4080'],
      ['VALVE 4 REG', 'OK 4 REG'],
      ['VALVE? 4', 'OK 4 REG'],
      ['STAT? 4', 'OK 4,REG,0.00,0.0,0'],
      ['VALVE 4 ATM', 'OK 4 ATM'],
      ['READ 1', 'OK 1 0.0'],
      ['ABORT 3', 'OK 3 IDLE'],
      ['STAT? 3', 'OK 3,ATM,-700.00,0.0,0'],
      ['STAT?', 'OK 1,ATM,35.00,0.0,0 2,ATM,1000.00,0.0,0 3,ATM,-700.00,0.0,0 4,ATM,0.00,0.0,0'],
    ];
    for (const [line, reply] of table) expect(await box.ask(line), line).toBe(reply);
  });

  it('answers bad lines with the documented error codes, checked in the documented order', async () => {
    const box = await boxOn();
    const table: Array<[string, number]> = [
      ['FOO', 1],
      ['SETX 1 5', 1],
      ['ID', 1],
      ['SET 0 5', 2],
      ['SET 5 5', 2],
      ['SET x 5', 2],
      ['SET -1 5', 2],
      ['SET 9 abc', 2],
      ['READ 12', 2],
      ['STAT? 0', 2],
      ['SET 1', 4],
      ['SET 1 2 3', 4],
      ['SET', 4],
      ['SET 1 abc', 4],
      ['SET 1 NaN', 4],
      ['SET 1 1e3', 4],
      ['SET 1 .5', 4],
      ['SET 1 5.', 4],
      ['ID? 1', 4],
      ['PING now', 4],
      ['VALVE 1 OPEN', 4],
      ['VALVE 1', 4],
      ['PULSE 1 -200', 4],
      ['PULSE 1 -200 1.5', 4],
      ['PULSE 1 -200 -5', 4],
      ['SET 1 1000.01', 3],
      ['SET 1 -700.5', 3],
      ['SET 1 5000', 3],
      ['PULSE 1 -800 100', 3],
      ['PULSE 1 -200 0', 3],
      ['PULSE 1 -200 10001', 3],
    ];
    for (const [line, code] of table) expect(await box.ask(line), line).toBe(err(code));
    // nothing refused changed anything
    expect(await box.ask('STAT? 1')).toBe('OK 1,ATM,0.00,0.0,0');
  });

  it('is case-insensitive, tolerates CR and extra spaces, and ignores blank lines', async () => {
    const box = await boxOn();
    expect(await box.ask('set 1 5')).toBe('OK 1 5.00 1692');
    expect(await box.ask('Valve 1 reg')).toBe('OK 1 REG');
    expect(await box.raw('PING\r\n')).toEqual(['OK PONG']);
    expect(await box.raw('  SET?   1  \n')).toEqual(['OK 1 5.00 1692']);
    expect(await box.raw('\n\r\n   \n')).toEqual([]);
  });

  it('gives exactly one reply per line, in order, however the bytes are split', async () => {
    const box = await boxOn();
    const script = 'PING\nSET 1 10\nFOO\n\nSET? 1\nVALVE 9 REG\n';
    expect(await box.raw(script)).toEqual(['OK PONG', 'OK 1 10.00 1704', err(1), 'OK 1 10.00 1704', err(2)]);
    const bytes = Buffer.from(script.replace('10', '20').replace('10', '20'));
    const n = box.out.length;
    for (const b of bytes) box.emu.receive(Buffer.of(b));
    await box.clock.runFor(50);
    expect(box.out.slice(n).map((l) => l.text)).toEqual(['OK PONG', 'OK 1 20.00 1728', err(1), 'OK 1 20.00 1728', err(2)]);
  });

  it('processes one line at a time, processingMs each, and applies a command when it replies', async () => {
    const box = await boxOn({ processingMs: 1.5 });
    const t0 = box.clock.now();
    const n = box.out.length;
    box.emu.receive(Buffer.from('SET 1 50\nVALVE 1 REG\nPING\n'));
    await box.clock.runFor(1);
    expect(box.emu.state(0).setpoint).toBe(0);
    await box.clock.runFor(10);
    expect(box.out.slice(n).map((l) => l.t - t0)).toEqual([1.5, 3, 4.5]);
    expect(box.emu.commands.map((c) => c.t - t0)).toEqual([1.5, 3]);
  });

  it('refuses a line longer than 64 characters whole, and the next line works', async () => {
    const box = await boxOn();
    expect(await box.raw(`SET 1 ${'1'.repeat(MAX_LINE)}\n`)).toEqual([err(6)]);
    expect(await box.raw(`${'x'.repeat(500)}\nPING\n`)).toEqual([err(6), 'OK PONG']);
    // exactly 64 characters is still a line (and a number with many digits is still a number)
    const line64 = `SET 1 1.${'0'.repeat(MAX_LINE - 8)}`;
    expect(line64).toHaveLength(MAX_LINE);
    expect(await box.ask(line64)).toBe('OK 1 0.83 1682');
    expect(box.emu.state(0).setpoint).toBe(rawToMbar(1682));
  });

  it('times a pulse itself, refuses changes under it, and restores the previous state', async () => {
    const box = await boxOn();
    await box.ask('SET 2 30');
    await box.ask('VALVE 2 REG');
    const t0 = box.clock.now();
    expect(await box.ask('PULSE 2 -200 500')).toBe('OK 2 -200.00 500');
    const accepted = box.emu.commands.at(-1)!;
    expect(accepted).toMatchObject({ channel: 1, kind: 'pulse', mbar: -200, ms: 500 });
    expect(await box.ask('SET 2 10')).toBe(err(5));
    expect(await box.ask('VALVE 2 ATM')).toBe(err(5));
    expect(await box.ask('PULSE 2 -100 100')).toBe(err(5));
    expect(await box.ask('SET 2 2000')).toBe(err(3)); // range is checked before busy
    expect(await box.ask('SET 3 10')).toBe('OK 3 10.00 1704'); // other channels are free
    expect(await box.ask('SET? 2')).toBe('OK 2 -200.00 1200');
    const during = await box.ask('STAT? 2');
    const remaining = Number(during.split(',')[4]);
    expect(during).toMatch(/^OK 2,REG,-200\.00,-?\d+\.\d,\d+$/);
    expect(remaining).toBe(Math.ceil(accepted.t + 500 - box.out.at(-1)!.t));
    expect(remaining).toBeGreaterThan(300);
    await box.clock.runUntilTime(accepted.t + 500);
    expect(box.emu.state(1)).toEqual({ setpoint: 30, source: 'regulator', pulsing: false });
    expect(await box.ask('STAT? 2')).toMatch(/^OK 2,REG,30\.00,-?\d+\.\d,0$/);
    expect(box.clock.now() - t0).toBeGreaterThan(500);
    const refused = box.emu.commands.filter((c) => c.refused !== undefined).map((c) => [c.kind, c.refused]);
    expect(refused).toEqual([
      ['setpoint', 5],
      ['valve', 5],
      ['pulse', 5],
      ['setpoint', 3],
    ]);
  });

  it('ABORT ends a pulse at once and restores what was in force', async () => {
    const box = await boxOn();
    await box.ask('VALVE 1 ATM');
    await box.ask('PULSE 1 -300 5000');
    await box.clock.runFor(1000);
    expect(await box.ask('ABORT 1')).toBe('OK 1 ABORTED');
    expect(box.emu.state(0)).toEqual({ setpoint: 0, source: 'atmosphere', pulsing: false });
    expect(await box.ask('ABORT 1')).toBe('OK 1 IDLE');
    // the cancelled end must not fire later and undo a newer command
    await box.ask('SET 1 40');
    await box.ask('VALVE 1 REG');
    await box.clock.runFor(5000);
    expect(box.emu.state(0)).toEqual({ setpoint: 40, source: 'regulator', pulsing: false });
  });

  it('reports its own channel count and refuses channels beyond it', async () => {
    const box = await boxOn({ channels: 2 });
    expect(await box.ask('ID?')).toBe('OK AUTOPATCH-PBOX FW=1.0.0 CH=2 RANGE=-700,1000');
    expect(await box.ask('SET 2 5')).toBe('OK 2 5.00 1692');
    expect(await box.ask('SET 3 5')).toBe(err(2));
    expect((await box.ask('STAT?')).split(' ')).toHaveLength(3);
  });

  it('never throws on random input and answers each non-blank line with OK or a documented ERR', async () => {
    const box = await boxOn();
    const random = seededUniform(42);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)];
    const words = ['ID?', 'PING', 'SET', 'set', 'SET?', 'VALVE', 'VALVE?', 'READ', 'PULSE', 'ABORT', 'STAT?', 'FOO', '', '?'];
    const args = ['1', '2', '4', '0', '5', '-1', 'x', '35', '-250.5', '1000', '1000.01', '-701', '1e3', 'REG', 'atm', '300', '0', '10001', '.5', ''];
    // lines built from the command grammar, with random bytes and stray CR/LF spliced in
    let stream = '';
    for (let i = 0; i < 600; i++) {
      let line = [pick(words), ...Array.from({ length: Math.floor(random() * 5) }, () => pick(args))].join(' ');
      if (random() < 0.15) {
        const at = Math.floor(random() * (line.length + 1));
        line = line.slice(0, at) + String.fromCharCode(Math.floor(random() * 256)) + line.slice(at);
      }
      if (random() < 0.03) line += 'Z'.repeat(80);
      stream += `${line}${random() < 0.2 ? '\r\n' : '\n'}`;
    }
    let expectedReplies = 0;
    let current = '';
    let tooLong = false;
    for (const ch of stream) {
      if (ch === '\n') {
        if (tooLong || current.trim() !== '') expectedReplies++;
        current = '';
        tooLong = false;
      } else if (ch !== '\r') {
        if (current.length >= MAX_LINE) tooLong = true;
        else current += ch;
      }
    }
    const bytes = Buffer.from(stream, 'latin1');
    const replies: string[] = [];
    for (let i = 0; i < bytes.length; ) {
      const n = 1 + Math.floor(random() * 40);
      replies.push(...(await box.raw(bytes.subarray(i, i + n), random() * 3)));
      i += n;
    }
    replies.push(...(await box.raw('', 20_000)));
    expect(replies).toHaveLength(expectedReplies);
    const errorLines = new Set(Object.keys(ERROR_TEXT).map((c) => err(Number(c))));
    for (const r of replies) expect(r.startsWith('OK') || errorLines.has(r), r).toBe(true);
    // the run exercised both paths and every argument check
    const kinds = new Set(replies.map((r) => r.slice(0, 5)));
    for (const k of ['OK ', 'ERR 1', 'ERR 2', 'ERR 3', 'ERR 4', 'ERR 6']) expect([...kinds].some((x) => x.startsWith(k)), k).toBe(true);
    // whatever it applied stayed inside the hardware range
    for (const c of box.emu.commands) {
      if (c.mbar !== undefined && c.refused === undefined) {
        expect(c.mbar).toBeGreaterThanOrEqual(HW_MIN_MBAR);
        expect(c.mbar).toBeLessThanOrEqual(HW_MAX_MBAR);
      }
    }
    expect(await box.ask('PING')).toBe('OK PONG');
  });
});

describe('autopatch pbox model: DAC, line dynamics, sensor, power', () => {
  it('maps mbar to DAC codes as documented, with 1/2.4 mbar steps', () => {
    expect(mbarToRaw(HW_MIN_MBAR)).toBe(0);
    expect(mbarToRaw(0)).toBe(1680);
    expect(mbarToRaw(HW_MAX_MBAR)).toBe(4080);
    expect(mbarToRaw(5000)).toBe(DAC_MAX);
    for (let mbar = -700; mbar <= 1000; mbar += 7.3) {
      expect(Math.abs(rawToMbar(mbarToRaw(mbar)) - mbar)).toBeLessThanOrEqual(0.5 / 2.4 + 1e-9);
    }
  });

  it('approaches a setpoint with τ_regulator and vents with τ_atmosphere', async () => {
    const box = await boxOn({ tauRegulatorMs: 100, tauAtmosphereMs: 15 });
    await box.ask('SET 1 100');
    await box.ask('VALVE 1 REG');
    const open = box.emu.commands.at(-1)!.t;
    const p = (dt: number): number => box.emu.pressureAt(0, open + dt);
    expect(p(0)).toBe(0);
    expect(p(100)).toBeCloseTo(100 * (1 - Math.exp(-1)), 9);
    expect(p(300)).toBeCloseTo(100 * (1 - Math.exp(-3)), 9);
    await box.clock.runFor(1000);
    await box.ask('VALVE 1 ATM');
    const vent = box.emu.commands.at(-1)!.t;
    const before = box.emu.pressureAt(0, vent);
    expect(box.emu.pressureAt(0, vent + 15)).toBeCloseTo(before * Math.exp(-1), 9);
    // history stays queryable: the course during the first approach is unchanged
    expect(p(100)).toBeCloseTo(100 * (1 - Math.exp(-1)), 9);
    // a setpoint change behind a closed valve does not reach the line
    await box.clock.runFor(500);
    await box.ask('SET 1 -300');
    await box.clock.runFor(500);
    expect(Math.abs(box.emu.pressureAt(0, box.clock.now()))).toBeLessThan(1e-9);
  });

  it('tells observers before each change, while the old course is still in force', async () => {
    const box = await boxOn();
    const seen: Array<{ t: number; p: number; setpoint: number; source: string }> = [];
    box.emu.observers.push({
      beforeChange: (t) => seen.push({ t, p: box.emu.pressureAt(0, t), ...box.emu.state(0) }),
    });
    await box.ask('SET 1 50');
    await box.ask('VALVE 1 REG');
    await box.clock.runFor(200);
    await box.ask('PULSE 1 -100 300');
    await box.clock.runFor(400);
    expect(seen.map((s) => [s.setpoint, s.source])).toEqual([
      [0, 'atmosphere'], // before SET
      [50, 'atmosphere'], // before VALVE
      [50, 'regulator'], // before the pulse starts
      [-100, 'regulator'], // before the pulse ends
    ]);
    expect(seen.map((s) => s.t)).toEqual(box.emu.commands.map((c) => c.t).concat(box.emu.commands.at(-1)!.t + 300));
    // the pressure seen at the pulse end is the value of the pulse's own course
    const start = box.emu.commands.at(-1)!.t;
    expect(seen[3].p).toBeCloseTo(-100 + (box.emu.pressureAt(0, start) + 100) * Math.exp(-300 / 100), 9);
  });

  it('reads the line through a seeded noisy sensor', async () => {
    const reads = async (seed: number): Promise<number[]> => {
      const box = await boxOn({ seed, sensorNoiseMbar: 0.2 });
      await box.ask('SET 1 40');
      await box.ask('VALVE 1 REG');
      await box.clock.runFor(2000);
      const out: number[] = [];
      for (let i = 0; i < 400; i++) out.push(Number((await box.ask('READ 1')).split(' ')[2]));
      return out;
    };
    const a = await reads(3);
    expect(await reads(3)).toEqual(a);
    expect(await reads(4)).not.toEqual(a);
    const mean = a.reduce((s, x) => s + x, 0) / a.length;
    const sd = Math.sqrt(a.reduce((s, x) => s + (x - mean) ** 2, 0) / (a.length - 1));
    expect(Math.abs(mean - 40)).toBeLessThan(0.05);
    expect(sd).toBeGreaterThan(0.15);
    expect(sd).toBeLessThan(0.25);
  });

  it('vents every line when power is lost, and resets on every connect', async () => {
    const box = await boxOn();
    await box.ask('SET 1 -40');
    await box.ask('VALVE 1 REG');
    await box.ask('PULSE 2 -300 3000');
    await box.clock.runFor(1000);
    // a command in flight when the cable goes must not be answered into the next session
    box.emu.receive(Buffer.from('SET 3 77\n'));
    box.emu.disconnect();
    await box.clock.runFor(500);
    expect(box.emu.state(0)).toEqual({ setpoint: 0, source: 'atmosphere', pulsing: false });
    expect(box.emu.state(1)).toEqual({ setpoint: 0, source: 'atmosphere', pulsing: false });
    expect(Math.abs(box.emu.pressureAt(0, box.clock.now()))).toBeLessThan(0.01);
    expect(box.emu.commands.some((c) => c.mbar === 77)).toBe(false);
    // unplugged: bytes go nowhere
    box.emu.receive(Buffer.from('SET 1 10\n'));
    await box.clock.runFor(100);
    const n = box.out.length;
    box.plugIn();
    expect(box.emu.resets).toBe(2);
    await box.clock.runFor(3000);
    expect(box.out.slice(n).map((l) => l.text)).toEqual(['# AUTOPATCH-PBOX READY FW=1.0.0']);
    expect(await box.ask('STAT?')).toBe('OK 1,ATM,0.00,0.0,0 2,ATM,0.00,0.0,0 3,ATM,0.00,0.0,0 4,ATM,0.00,0.0,0');
  });
});
