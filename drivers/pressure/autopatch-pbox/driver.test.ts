/**
 * Driver behaviour beyond the generic conformance kit: identity checks,
 * limit configuration, device error codes, wire format, pulses superseded by
 * newer commands, and what a reconnect sends.
 */
import { describe, expect, it } from 'vitest';
import { createFixture } from '../../conformance/fixture.ts';
import type { PressureLimits } from '../../types.ts';
import { openPressureBox, type PressureBoxOptions } from './driver.ts';
import { createPressureBoxEmulator, type PressureBoxEmulatorOptions } from './emulator.ts';
import { BAUD, ERR } from './protocol.ts';
import { pboxErrorCode } from './wire.ts';

const LIMITS: PressureLimits = { min: -400, max: 800 };

function fixture(emu: Omit<PressureBoxEmulatorOptions, 'clock'> = {}) {
  return createFixture('sim:pbox', (clock) => createPressureBoxEmulator({ clock, seed: 11, ...emu }), BAUD);
}

async function opened(emu: Omit<PressureBoxEmulatorOptions, 'clock'> = {}, opts: Partial<PressureBoxOptions> = {}) {
  const fx = fixture(emu);
  const box = await fx.run(openPressureBox({ path: fx.path, binding: fx.binding, clock: fx.clock, limits: LIMITS, ...opts }));
  return { fx, box };
}

/** host → device lines since byte `from` */
const sentLines = (fx: ReturnType<typeof fixture>, from = 0): string[] =>
  fx.binding.byteLog(fx.path).concat('in').subarray(from).toString('latin1').split('\n').filter(Boolean);

describe('autopatch pbox driver', () => {
  it('waits for the box to boot, then identifies it', async () => {
    const fx = fixture({ bootMs: 800 });
    const box = await fx.run(openPressureBox({ path: fx.path, binding: fx.binding, clock: fx.clock, limits: LIMITS }));
    expect(fx.clock.now()).toBeGreaterThanOrEqual(800);
    expect(box.firmware).toBe('1.0.0');
    expect(box.range).toEqual({ min: -700, max: 1000 });
    expect(box.channels).toHaveLength(4);
    expect(box.model).toContain('AUTOPATCH-PBOX');
    // PINGs sent into the bootloader were lost; the ones after the banner were answered
    const lines = sentLines(fx);
    expect(lines.filter((l) => l === 'PING').length).toBeGreaterThan(1);
    expect(lines.slice(-2)).toEqual(['ID?', 'STAT?']);
    await fx.run(box.ping());
  });

  it('gives up on a box that never boots with a typed timeout', async () => {
    const fx = fixture({ bootMs: 60_000 });
    const e = await fx.expectError(openPressureBox({ path: fx.path, binding: fx.binding, clock: fx.clock, limits: LIMITS, readyTimeoutMs: 2_000 }), ['timeout']);
    expect(e.message).toMatch(/no answer within 2000 ms/);
    expect(fx.clock.now()).toBeLessThan(3_000);
  });

  it('refuses a device that answers ID? as something else, and frees the port', async () => {
    const fx = fixture({ model: 'HOLYPIPETTE-BOX' });
    const e = await fx.expectError(openPressureBox({ path: fx.path, binding: fx.binding, clock: fx.clock, limits: LIMITS }), ['malformed']);
    expect(e.message).toMatch(/not an autopatch pressure box.*HOLYPIPETTE-BOX/);
    // the port was closed: a second open reaches the device again (and is refused again)
    await fx.expectError(openPressureBox({ path: fx.path, binding: fx.binding, clock: fx.clock, limits: LIMITS }), ['malformed']);
  });

  it('refuses a firmware generation it does not speak, and a box with the wrong channel count', async () => {
    const fw = fixture({ firmware: '2.0.0' });
    const e1 = await fw.expectError(openPressureBox({ path: fw.path, binding: fw.binding, clock: fw.clock, limits: LIMITS }), ['malformed']);
    expect(e1.message).toMatch(/unsupported firmware/);
    const ch = fixture({ channels: 2 });
    const e2 = await ch.expectError(
      openPressureBox({ path: ch.path, binding: ch.binding, clock: ch.clock, limits: LIMITS, expectedChannels: 4 }),
      ['malformed'],
    );
    expect(e2.message).toMatch(/2 channels, expected 4/);
  });

  it('refuses soft limits the hardware cannot honour, and nonsensical ones', async () => {
    const fx = fixture();
    const open = (limits: PressureBoxOptions['limits']) => openPressureBox({ path: fx.path, binding: fx.binding, clock: fx.clock, limits });
    expect((await fx.expectError(open({ min: -800, max: 500 }), ['invalid'])).message).toMatch(/exceed the box's range \[-700, 1000\]/);
    await fx.expectError(open({ min: 10, max: -10 }), ['invalid']);
    await fx.expectError(open({ min: Number.NaN, max: 10 }), ['invalid']);
    expect((await fx.expectError(open([LIMITS, LIMITS]), ['invalid'])).message).toMatch(/2 channel limits given for a 4-channel box/);
  });

  it('applies per-channel limits to their own channel', async () => {
    const perChannel: PressureLimits[] = [LIMITS, { min: -600, max: 100 }, LIMITS, LIMITS];
    const { fx, box } = await opened({}, { limits: perChannel });
    expect(box.channels[1].limits).toEqual(perChannel[1]);
    await fx.run(box.channels[1].setPressure(-550));
    await fx.expectError(box.channels[0].setPressure(-550), ['limit']);
    await fx.expectError(box.channels[1].setPressure(200), ['limit']);
    await fx.expectError(box.channels[1].pulse(-650, 100), ['limit']);
    expect(fx.device.state(1).setpoint).toBeCloseTo(-550, 9);
  });

  it('sends fixed-point mbar on 1-based wire channels, and reads back the DAC-quantised setpoint', async () => {
    const { fx, box } = await opened();
    const from = fx.bytesIn();
    await fx.run(box.channels[2].setPressure(-25.5));
    await fx.run(box.channels[0].setSource('regulator'));
    await fx.run(box.channels[3].pulse(-123.456, 12.4));
    expect(sentLines(fx, from).slice(0, 3)).toEqual(['SET 3 -25.50', 'VALVE 1 REG', 'PULSE 4 -123.46 12']);
    expect(await fx.run(box.channels[2].readSetpoint())).toBeCloseTo(-25.42, 9);
    expect(box.channels[2].commanded.setpoint).toBe(-25.5);
    const all = await fx.run(box.status());
    expect(all.map((s) => [s.channel, s.source])).toEqual([
      [0, 'regulator'],
      [1, 'atmosphere'],
      [2, 'atmosphere'],
      [3, 'atmosphere'],
    ]);
  });

  it('refuses a pulse longer than the configured maximum before sending anything', async () => {
    const { fx, box } = await opened({}, { maxPulseMs: 2_000 });
    const from = fx.bytesIn();
    await fx.expectError(box.channels[0].pulse(-200, 2_001), ['limit']);
    await fx.expectError(box.channels[0].pulse(-200, 0.2), ['invalid']);
    expect(fx.bytesIn()).toBe(from);
  });

  it("surfaces the box's ERR replies as kind 'device' with the code", async () => {
    const { fx, box } = await opened();
    fx.binding.setMuted(fx.path, true);
    const set = box.channels[0].setPressure(10);
    set.catch(() => {});
    for (let i = 0; i < 100 && !fx.device.commands.length; i++) await fx.clock.runFor(1);
    fx.binding.injectToHost(fx.path, Buffer.from('ERR 5 BUSY\n'));
    const e = await fx.expectError(set, ['device']);
    expect(pboxErrorCode(e)).toBe(ERR.BUSY);
    expect(e.message).toMatch(/SET 1 10\.00: device: ERR 5 BUSY/);
    // the failed command did not change what the controller believes
    expect(box.channels[0].commanded.setpoint).toBe(0);
    fx.binding.setMuted(fx.path, false);
    await fx.run(box.channels[0].setPressure(12));
    expect(box.channels[0].commanded.setpoint).toBe(12);
  });

  it('rejects a reply for another channel as malformed', async () => {
    const { fx, box } = await opened();
    fx.binding.setMuted(fx.path, true);
    const read = box.channels[1].read();
    read.catch(() => {});
    const before = fx.bytesIn();
    for (let i = 0; i < 100 && fx.bytesIn() === before; i++) await fx.clock.runFor(1);
    fx.binding.injectToHost(fx.path, Buffer.from('OK 1 12.5\n'));
    const e = await fx.expectError(read, ['malformed']);
    expect(e.message).toMatch(/unexpected reply "OK 1 12.5"/);
  });

  it('drops a late PONG that arrives while another command awaits its reply', async () => {
    const { fx, box } = await opened();
    // the answer to an earlier PING reaches the host right after READ went out, ahead of READ's own reply
    const off = fx.binding.onHostWrite((path, bytes) => {
      if (path === fx.path && bytes.toString('latin1').startsWith('READ 1')) fx.binding.injectToHost(fx.path, Buffer.from('OK PONG\r\n'));
    });
    const reading = await fx.run(box.channels[0].read());
    off();
    // READ got its own reply line (a channel-1 reading), not the PONG
    expect(Number.isFinite(reading)).toBe(true);
    expect(fx.binding.byteLog(fx.path).concat('out').toString('latin1')).toMatch(/OK 1 -?\d+\.\d\r?\n$/);
    // a PING still gets its PONG
    await fx.run(box.ping());
  });

  it('a long pulse does not hold the port: a vent on another channel goes out at once, and its pulse polls do not delay it much', async () => {
    const { fx, box } = await opened();
    const [pulsing, other] = box.channels;
    await fx.run(other.setPressure(-30));
    await fx.run(other.setSource('regulator'));
    const written: Array<{ t: number; line: string }> = [];
    fx.binding.onHostWrite((path, bytes) => {
      if (path === fx.path) written.push({ t: fx.clock.now(), line: bytes.toString('latin1').trim() });
    });
    const ventAt = async (): Promise<{ wire: number; applied: number }> => {
      const t0 = fx.clock.now();
      const from = written.length;
      const vent = other.setSource('atmosphere');
      await fx.run(vent);
      const sent = written.slice(from).find((w) => w.line === 'VALVE 2 ATM')!;
      const applied = fx.device.commands.filter((c) => c.channel === 1 && c.kind === 'valve').at(-1)!;
      await fx.run(other.setSource('regulator'));
      return { wire: sent.t - t0, applied: applied.t - t0 };
    };
    const pulse = pulsing.pulse(-300, 1_500);
    pulse.catch(() => {});
    await fx.clock.runFor(400);
    expect(fx.device.state(0).pulsing).toBe(true);
    // mid-pulse, the port idle: the vent is written in the same instant and applied within one line's time
    const mid = await ventAt();
    expect(mid.wire).toBeLessThan(1);
    expect(mid.applied).toBeLessThan(5);
    expect(fx.device.state(0).pulsing).toBe(true);
    // at the pulse's end, while the driver asks the box whether it is over: one command ahead at most
    for (let i = 0; i < 10_000 && !written.some((w) => w.line === 'STAT? 1'); i++) await fx.clock.runFor(0.25);
    expect(written.some((w) => w.line === 'STAT? 1')).toBe(true);
    const atEnd = await ventAt();
    expect(atEnd.wire).toBeLessThan(7);
    expect(atEnd.applied).toBeLessThan(10);
    await fx.run(pulse);
    expect(fx.device.state(1).source).toBe('regulator');
  });

  it('a new command on a pulsing channel aborts the pulse first; the pulse rejects as interrupted', async () => {
    const { fx, box } = await opened();
    const ch = box.channels[0];
    await fx.run(ch.setPressure(20));
    await fx.run(ch.setSource('regulator'));
    const pulse = ch.pulse(-300, 3_000);
    pulse.catch(() => {});
    await fx.clock.runFor(500);
    expect(fx.device.state(0).pulsing).toBe(true);
    await fx.run(ch.setPressure(-25));
    await fx.expectError(pulse, ['interrupted']);
    expect(fx.device.commands.slice(-3).map((c) => [c.kind, c.refused])).toEqual([
      ['pulse', undefined],
      ['abort', undefined],
      ['setpoint', undefined],
    ]);
    // the pulse's planned end does not come back later
    await fx.clock.runFor(4_000);
    expect(fx.device.state(0)).toEqual({ setpoint: -25, source: 'regulator', pulsing: false });
    expect(ch.commanded).toEqual({ setpoint: -25, source: 'regulator' });
  });

  it('abortPulse ends a pulse early and restores the previous state', async () => {
    const { fx, box } = await opened();
    const ch = box.channels[2];
    const t0 = fx.clock.now();
    const pulse = ch.pulse(-200, 5_000);
    pulse.catch(() => {});
    await fx.clock.runFor(1_000);
    await fx.run(ch.abortPulse());
    await fx.expectError(pulse, ['interrupted']);
    expect(fx.device.state(2)).toEqual({ setpoint: 0, source: 'atmosphere', pulsing: false });
    expect(fx.clock.now() - t0).toBeLessThan(1_100);
    await fx.run(ch.abortPulse()); // nothing running: harmless
  });

  it('back-to-back pulses: the second supersedes the first, then runs to its end', async () => {
    const { fx, box } = await opened();
    const ch = box.channels[1];
    const first = ch.pulse(-150, 2_000);
    first.catch(() => {});
    await fx.clock.runFor(100);
    const t0 = fx.clock.now();
    await fx.run(ch.pulse(-250, 300));
    await fx.expectError(first, ['interrupted']);
    expect(fx.clock.now() - t0).toBeGreaterThanOrEqual(300);
    expect(fx.device.state(1)).toEqual({ setpoint: 0, source: 'atmosphere', pulsing: false });
  });

  it('detects a pulse that did not return to the previous state', async () => {
    const { fx, box } = await opened();
    const ch = box.channels[0];
    await fx.run(ch.setPressure(30));
    const pulse = ch.pulse(-100, 1_000);
    pulse.catch(() => {});
    // the box reboots on its own mid-pulse (brown-out) while the port stays open
    await fx.clock.runFor(100);
    fx.device.connect({ clock: fx.clock, send: (b) => fx.binding.injectToHost(fx.path, b) });
    const e = await fx.expectError(pulse, ['device']);
    expect(e.message).toMatch(/after the pulse the channel is at atmosphere 0 mbar, expected atmosphere 30 mbar/);
  });

  it('after a replug it re-sends every setpoint, then every valve', async () => {
    const { fx, box } = await opened();
    const plan: Array<[number, 'regulator' | 'atmosphere']> = [
      [-30, 'regulator'],
      [50, 'atmosphere'],
      [0, 'regulator'],
      [700, 'regulator'],
    ];
    for (const [i, [mbar, source]] of plan.entries()) {
      await fx.run(box.channels[i].setPressure(mbar));
      await fx.run(box.channels[i].setSource(source));
    }
    fx.binding.unplug(fx.path);
    await fx.clock.runFor(50);
    // power loss vents every line
    expect(fx.device.state(0).source).toBe('atmosphere');
    fx.binding.replug(fx.path);
    const from = fx.bytesIn();
    await fx.run(box.connection.reconnect());
    expect(fx.device.resets).toBe(2);
    const sent = sentLines(fx, from).filter((l) => l !== 'PING');
    expect(sent).toEqual(['ID?', 'SET 1 -30.00', 'SET 2 50.00', 'SET 3 0.00', 'SET 4 700.00', 'VALVE 1 REG', 'VALVE 2 ATM', 'VALVE 3 REG', 'VALVE 4 REG']);
    plan.forEach(([mbar, source], i) => {
      expect(fx.device.state(i).source).toBe(source);
      expect(Math.abs(fx.device.state(i).setpoint - mbar)).toBeLessThan(0.25);
    });
  });

  it('refuses a different box plugged in on reconnect', async () => {
    const fx = createFixture('sim:pbox', (clock) => createPressureBoxEmulator({ clock }), BAUD);
    const box = await fx.run(openPressureBox({ path: fx.path, binding: fx.binding, clock: fx.clock, limits: LIMITS }));
    const emu = fx.device as unknown as { connect: typeof fx.device.connect };
    // swap the device behind the port for a 2-channel box
    const other = createPressureBoxEmulator({ clock: fx.clock, channels: 2 });
    fx.binding.unplug(fx.path);
    await fx.clock.runFor(50);
    emu.connect = (io) => other.connect(io);
    (fx.device as { receive: typeof fx.device.receive }).receive = (b) => other.receive(b);
    fx.binding.replug(fx.path);
    const e = await fx.expectError(box.connection.reconnect(), ['malformed']);
    expect(e.message).toMatch(/2 channels instead of 4/);
  });
});
