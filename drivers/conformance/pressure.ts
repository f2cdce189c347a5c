/**
 * Pressure-controller conformance kit. A driver passes when, against its
 * emulator and through the real SerialPortStream:
 *   setpoints are reached and read back, the valve vents to atmosphere,
 *   device-timed pulses last what was asked and restore the previous state,
 *   limits and nonsense are refused before any byte is sent, channels are
 *   independent and share the port safely, silence and garbage give typed
 *   errors (and the driver recovers), an unplug is reported and a reconnect
 *   restores what the controller had commanded, and the traffic is
 *   deterministic.
 *
 * Use from a `*.test.ts` next to the driver:
 *   pressureConformance({ name: 'autopatch pbox', baudRate: 115200, channels: 4, makeEmulator, open, ... });
 */
import { describe, expect, it } from 'vitest';
import type { VirtualClock } from '../../src/clock/index.ts';
import type { EmulatorBinding } from '../core/emulator-binding.ts';
import type { DeviceError } from '../errors.ts';
import type { PressureEmulator } from '../pressure/emulator-common.ts';
import type { PressureChannel, PressureController, PressureLimits } from '../types.ts';
import { createFixture, type EmulatedFixture } from './fixture.ts';

export interface PressureHarness {
  name: string;
  /** the device's line rate (the driver must open at it) */
  baudRate: number;
  /** channels the emulated device has */
  channels: number;
  makeEmulator(clock: VirtualClock): PressureEmulator;
  open(args: { path: string; binding: EmulatorBinding; clock: VirtualClock; limits: PressureLimits }): Promise<PressureController>;
  /** look a channel up by index; must fail with DeviceError('invalid') for a channel the device does not have */
  select(controller: PressureController, index: number): PressureChannel;
  /** time after which the line has settled on a new setpoint, ms */
  settleMs: number;
  /** agreement expected between commanded, read and line pressure once settled, mbar */
  toleranceMbar: number;
}

/** Inside every plausible device range, but narrower, so the driver (not the firmware) must refuse. */
const LIMITS: PressureLimits = { min: -500, max: 900 };

async function setup(h: PressureHarness) {
  const fx: EmulatedFixture<PressureEmulator> = createFixture('sim:pressure-conformance', (clock) => h.makeEmulator(clock), h.baudRate);
  const c = await fx.run(h.open({ path: fx.path, binding: fx.binding, clock: fx.clock, limits: LIMITS }));
  return { fx, c };
}

/** Advance virtual time until the device has received a new command (the link may first resync). */
async function untilWritten(fx: EmulatedFixture<PressureEmulator>): Promise<void> {
  const before = fx.bytesIn();
  for (let i = 0; i < 1_000 && fx.bytesIn() === before; i++) await fx.clock.runFor(1);
  if (fx.bytesIn() === before) throw new Error('the driver never sent the command');
}

/** Run `work` in 1 ms steps, sampling the line pressure of `channel` at each step, and for `tailMs` after it ends. */
async function sampled<T>(fx: EmulatedFixture<PressureEmulator>, channel: number, work: Promise<T>, tailMs: number, maxMs = 60_000) {
  const samples: Array<{ t: number; p: number }> = [];
  let done = false;
  let value: T | undefined;
  let error: unknown;
  work.then(
    (v) => {
      done = true;
      value = v;
    },
    (e: unknown) => {
      done = true;
      error = e;
    },
  );
  const end = fx.clock.now() + maxMs;
  while (!done && fx.clock.now() < end) {
    samples.push({ t: fx.clock.now(), p: fx.device.pressureAt(channel, fx.clock.now()) });
    await fx.clock.runFor(1);
  }
  if (!done) throw new Error(`work did not finish within ${maxMs} ms`);
  if (error !== undefined) throw error;
  const endedAt = fx.clock.now();
  for (let t = 0; t <= tailMs; t++) {
    samples.push({ t: fx.clock.now(), p: fx.device.pressureAt(channel, fx.clock.now()) });
    await fx.clock.runFor(1);
  }
  return { value: value as T, samples, endedAt };
}

/** Times at which the sampled course crosses `level` (linear interpolation between samples). */
function crossings(samples: Array<{ t: number; p: number }>, level: number): number[] {
  const out: number[] = [];
  for (let i = 1; i < samples.length; i++) {
    const a = samples[i - 1];
    const b = samples[i];
    if ((a.p - level) * (b.p - level) < 0 || (b.p === level && a.p !== level)) {
      out.push(a.t + ((level - a.p) / (b.p - a.p)) * (b.t - a.t));
    }
  }
  return out;
}

/** A failed reading names the device (its connection label) and the read command. */
function expectNamedRead(err: DeviceError, c: PressureController): void {
  expect(err.device).toBe(c.connection.label);
  expect(err.command).toMatch(/read/i);
}

export function pressureConformance(h: PressureHarness): void {
  const tol = h.toleranceMbar;
  const settle = (fx: EmulatedFixture<PressureEmulator>) => fx.clock.runFor(h.settleMs);

  describe(`${h.name}: pressure-controller conformance`, () => {
    it('exposes its channels in order, each with the configured limits', async () => {
      const { c } = await setup(h);
      expect(c.channels.length).toBe(h.channels);
      c.channels.forEach((ch, i) => {
        expect(ch.channel).toBe(i);
        expect(ch.limits).toEqual(LIMITS);
        expect(h.select(c, i)).toBe(ch);
      });
    });

    it('reaches a setpoint and reads it back within tolerance once settled', async () => {
      const { fx, c } = await setup(h);
      const ch = c.channels[0];
      for (const target of [35, -30, 800]) {
        await fx.run(ch.setPressure(target));
        await fx.run(ch.setSource('regulator'));
        await settle(fx);
        expect(Math.abs(fx.device.pressureAt(0, fx.clock.now()) - target)).toBeLessThanOrEqual(tol);
        expect(Math.abs((await fx.run(ch.read())) - target)).toBeLessThanOrEqual(tol);
        expect(Math.abs(fx.device.state(0).setpoint - target)).toBeLessThanOrEqual(tol);
        expect(ch.commanded).toEqual({ setpoint: target, source: 'regulator' });
      }
      const last = fx.device.commands.filter((x) => x.kind === 'setpoint').at(-1);
      expect(last?.mbar).toBeCloseTo(800, 6);
      expect(last?.refused).toBeUndefined();
    });

    it('venting to atmosphere brings the line to ~0 mbar, and back to the regulator restores it', async () => {
      const { fx, c } = await setup(h);
      const ch = c.channels[1];
      await fx.run(ch.setPressure(200));
      await fx.run(ch.setSource('regulator'));
      await settle(fx);
      await fx.run(ch.setSource('atmosphere'));
      await settle(fx);
      expect(Math.abs(fx.device.pressureAt(1, fx.clock.now()))).toBeLessThanOrEqual(tol);
      expect(Math.abs(await fx.run(ch.read()))).toBeLessThanOrEqual(tol);
      expect(fx.device.state(1).source).toBe('atmosphere');
      // the regulator kept its setpoint behind the closed valve
      expect(ch.commanded).toEqual({ setpoint: 200, source: 'atmosphere' });
      await fx.run(ch.setSource('regulator'));
      await settle(fx);
      expect(Math.abs((await fx.run(ch.read())) - 200)).toBeLessThanOrEqual(tol);
    });

    it('a pulse lasts the commanded time on the line and returns to the previous setpoint', async () => {
      const { fx, c } = await setup(h);
      const ch = c.channels[2];
      await fx.run(ch.setPressure(20));
      await fx.run(ch.setSource('regulator'));
      await settle(fx);
      const durationMs = 600;
      const t0 = fx.clock.now();
      const { samples, endedAt } = await sampled(fx, 2, ch.pulse(-200, durationMs), h.settleMs);
      // resolves once the pulse has ended, not at acceptance, and not long after
      expect(endedAt - t0).toBeGreaterThanOrEqual(durationMs);
      expect(endedAt - t0).toBeLessThan(durationMs + 100);
      // duration measured on the line at half amplitude (both edges have the same dynamics)
      const half = (20 + -200) / 2;
      const edges = crossings(samples, half);
      expect(edges.length).toBe(2);
      expect(Math.abs(edges[1] - edges[0] - durationMs)).toBeLessThanOrEqual(5 + 0.02 * durationMs);
      expect(Math.min(...samples.map((s) => s.p))).toBeLessThan(-200 * 0.9);
      const pulses = fx.device.commands.filter((x) => x.kind === 'pulse');
      expect(pulses).toHaveLength(1);
      expect(pulses[0]).toMatchObject({ channel: 2, mbar: -200, ms: durationMs });
      await settle(fx);
      expect(Math.abs(fx.device.pressureAt(2, fx.clock.now()) - 20)).toBeLessThanOrEqual(tol);
      expect(fx.device.state(2)).toMatchObject({ source: 'regulator', pulsing: false });
      expect(Math.abs(fx.device.state(2).setpoint - 20)).toBeLessThanOrEqual(tol);
      expect(ch.commanded).toEqual({ setpoint: 20, source: 'regulator' });
    });

    it('a pulse from atmosphere returns to atmosphere', async () => {
      const { fx, c } = await setup(h);
      const ch = c.channels[3];
      await fx.run(ch.setSource('atmosphere'));
      const { samples } = await sampled(fx, 3, ch.pulse(-150, 300), 0);
      expect(Math.min(...samples.map((s) => s.p))).toBeLessThan(-100);
      await settle(fx);
      expect(Math.abs(fx.device.pressureAt(3, fx.clock.now()))).toBeLessThanOrEqual(tol);
      expect(fx.device.state(3)).toMatchObject({ source: 'atmosphere', pulsing: false });
      expect(Math.abs(await fx.run(ch.read()))).toBeLessThanOrEqual(tol);
    });

    it('refuses out-of-limit setpoints and pulses with "limit" before sending a byte', async () => {
      const { fx, c } = await setup(h);
      const ch = c.channels[0];
      const bytes = fx.bytesIn();
      const decoded = fx.device.commands.length;
      await fx.expectError(ch.setPressure(LIMITS.max + 1), ['limit']);
      await fx.expectError(ch.setPressure(LIMITS.min - 0.5), ['limit']);
      await fx.expectError(ch.pulse(LIMITS.min - 50, 200), ['limit']);
      await fx.expectError(ch.pulse(LIMITS.max + 0.01, 200), ['limit']);
      expect(fx.bytesIn()).toBe(bytes);
      expect(fx.device.commands.length).toBe(decoded);
      expect(ch.commanded).toEqual({ setpoint: 0, source: 'atmosphere' });
    });

    it('refuses NaN, infinite and nonsensical arguments, and unknown channels, with "invalid"', async () => {
      const { fx, c } = await setup(h);
      const ch = c.channels[1];
      const bytes = fx.bytesIn();
      await fx.expectError(ch.setPressure(Number.NaN), ['invalid']);
      await fx.expectError(ch.setPressure(Number.POSITIVE_INFINITY), ['invalid']);
      await fx.expectError(ch.pulse(Number.NaN, 100), ['invalid']);
      await fx.expectError(ch.pulse(-100, Number.NaN), ['invalid']);
      await fx.expectError(ch.pulse(-100, 0), ['invalid']);
      await fx.expectError(ch.pulse(-100, -5), ['invalid']);
      await fx.expectError(ch.setSource('vacuum' as never), ['invalid']);
      for (const bad of [-1, h.channels, 1.5, Number.NaN]) {
        let caught: unknown;
        try {
          h.select(c, bad);
        } catch (e) {
          caught = e;
        }
        expect((caught as { kind?: string } | undefined)?.kind).toBe('invalid');
      }
      expect(fx.bytesIn()).toBe(bytes);
    });

    it('keeps channels independent', async () => {
      const { fx, c } = await setup(h);
      const plan = [
        { set: 50, source: 'regulator', line: 50 },
        { set: -30, source: 'regulator', line: -30 },
        { set: 300, source: 'atmosphere', line: 0 },
        { set: 10, source: 'regulator', line: 10 },
      ].slice(0, h.channels) as Array<{ set: number; source: 'regulator' | 'atmosphere'; line: number }>;
      for (let i = 0; i < plan.length; i++) {
        await fx.run(c.channels[i].setPressure(plan[i].set));
        await fx.run(c.channels[i].setSource(plan[i].source));
      }
      await settle(fx);
      for (let i = 0; i < plan.length; i++) {
        expect(Math.abs((await fx.run(c.channels[i].read())) - plan[i].line)).toBeLessThanOrEqual(tol);
      }
      // change one channel; the others' lines do not move
      const changed = plan.length > 1 ? 1 : 0;
      const before = plan.map((_, i) => fx.device.pressureAt(i, fx.clock.now()));
      await fx.run(c.channels[changed].setPressure(-250));
      await settle(fx);
      for (let i = 0; i < plan.length; i++) {
        if (i === changed) expect(Math.abs(fx.device.pressureAt(i, fx.clock.now()) + 250)).toBeLessThanOrEqual(tol);
        else expect(Math.abs(fx.device.pressureAt(i, fx.clock.now()) - before[i])).toBeLessThanOrEqual(tol / 2);
      }
      expect(fx.device.commands.filter((x) => x.kind === 'setpoint' && x.mbar === -250).map((x) => x.channel)).toEqual([changed]);
    });

    it('serialises concurrent commands on all channels over the one port', async () => {
      const { fx, c } = await setup(h);
      const n = h.channels;
      const sets = c.channels.map((ch, i) => ch.setPressure(10 * (i + 1)));
      const valves = c.channels.map((ch) => ch.setSource('regulator'));
      await fx.run(Promise.all([...sets, ...valves]));
      const decoded = fx.device.commands.slice(-2 * n);
      expect(decoded.map((x) => `${x.kind}:${x.channel}`)).toEqual([
        ...c.channels.map((_, i) => `setpoint:${i}`),
        ...c.channels.map((_, i) => `valve:${i}`),
      ]);
      decoded.slice(0, n).forEach((x, i) => expect(x.mbar).toBeCloseTo(10 * (i + 1), 6));
      await settle(fx);
      const reads = await fx.run(Promise.all(c.channels.map((ch) => ch.read())));
      reads.forEach((r, i) => expect(Math.abs(r - 10 * (i + 1))).toBeLessThanOrEqual(tol));
    });

    if (h.channels >= 2) it('a pulse on one channel does not hold up the others', async () => {
      const { fx, c } = await setup(h);
      const t0 = fx.clock.now();
      const pulse = c.channels[0].pulse(-300, 2_000);
      pulse.catch(() => {});
      await fx.run(c.channels[1].setPressure(40));
      await fx.run(c.channels[1].setSource('regulator'));
      expect(fx.clock.now() - t0).toBeLessThan(500);
      expect(fx.device.state(0).pulsing).toBe(true);
      await fx.run(pulse);
      expect(fx.clock.now() - t0).toBeGreaterThanOrEqual(2_000);
      expect(fx.device.state(1)).toMatchObject({ source: 'regulator' });
    });

    it('a silent device gives a timeout, not a hang, and the driver recovers', async () => {
      const { fx, c } = await setup(h);
      fx.binding.setMuted(fx.path, true);
      const err = await fx.expectError(c.channels[0].read(), ['timeout'], 60_000);
      expect(err.message).toMatch(/no reply|incomplete/);
      expectNamedRead(err, c);
      expect(err.bytes.length).toBe(0);
      fx.binding.setMuted(fx.path, false);
      await fx.run(c.channels[0].setPressure(25));
      expect(Math.abs(fx.device.state(0).setpoint - 25)).toBeLessThanOrEqual(tol);
      expect(Math.abs(await fx.run(c.channels[0].read()))).toBeLessThanOrEqual(tol);
    });

    it('garbage and truncated replies give typed errors and the next command works', async () => {
      const { fx, c } = await setup(h);
      fx.binding.setMuted(fx.path, true);
      const garbage = c.channels[0].read();
      garbage.catch(() => {});
      await untilWritten(fx);
      const junk = Buffer.from([0xff, 0x00, 0x13, 0x37, 0x0a]);
      fx.binding.injectToHost(fx.path, junk);
      const e1 = await fx.expectError(garbage, ['malformed', 'timeout'], 60_000);
      expectNamedRead(e1, c);
      expect(e1.bytes.length).toBeGreaterThan(0);
      expect(junk.includes(e1.bytes)).toBe(true);

      const flood = c.channels[0].read();
      flood.catch(() => {});
      await untilWritten(fx);
      fx.binding.injectToHost(fx.path, Buffer.alloc(2_000, 0x41));
      const e2 = await fx.expectError(flood, ['malformed', 'timeout'], 60_000);
      expectNamedRead(e2, c);
      expect(e2.bytes.length).toBeGreaterThan(0);
      expect(e2.bytes.every((b) => b === 0x41)).toBe(true);

      const truncated = c.channels[0].read();
      truncated.catch(() => {});
      await untilWritten(fx);
      const partial = Buffer.from('OK 1 1');
      fx.binding.injectToHost(fx.path, partial);
      const e3 = await fx.expectError(truncated, ['malformed', 'timeout'], 60_000);
      expectNamedRead(e3, c);
      expect(e3.bytes.length).toBeGreaterThan(0);
      expect(partial.includes(e3.bytes)).toBe(true);

      fx.binding.setMuted(fx.path, false);
      await fx.run(c.channels[0].setPressure(-20));
      await fx.run(c.channels[0].setSource('regulator'));
      await settle(fx);
      expect(Math.abs((await fx.run(c.channels[0].read())) + 20)).toBeLessThanOrEqual(tol);
    });

    it('reports an unplug, refuses commands meanwhile, and a reconnect restores the commanded state', async () => {
      const { fx, c } = await setup(h);
      const states: string[] = [];
      c.connection.onStateChange((s) => states.push(s));
      const plan = [-30, 45, 120, -10].slice(0, h.channels);
      const sources = ['regulator', 'atmosphere', 'regulator', 'regulator'] as const;
      for (let i = 0; i < plan.length; i++) {
        await fx.run(c.channels[i].setPressure(plan[i]));
        await fx.run(c.channels[i].setSource(sources[i]));
      }
      await settle(fx);
      const pulse = c.channels[0].pulse(-250, 1_000);
      pulse.catch(() => {});
      await fx.clock.runFor(200);
      fx.binding.unplug(fx.path);
      const unpluggedAt = fx.clock.now();
      await fx.expectError(pulse, ['disconnected']);
      // at once, not when the pulse would have ended (800 ms on): a later reconnect must not make it look done
      expect(fx.clock.now() - unpluggedAt).toBeLessThan(400);
      expect(c.connection.state).toBe('disconnected');
      await fx.expectError(c.channels[1].read(), ['disconnected']);
      await fx.expectError(c.channels[2].setPressure(10), ['disconnected']);
      await fx.expectError(c.connection.reconnect(), ['disconnected']);
      fx.binding.replug(fx.path);
      await fx.run(c.connection.reconnect());
      expect(c.connection.state).toBe('open');
      // what the controller believes is what the device now does (the pulse is not replayed)
      for (let i = 0; i < plan.length; i++) {
        expect(c.channels[i].commanded).toEqual({ setpoint: plan[i], source: sources[i] });
        const st = fx.device.state(i);
        expect(st.source).toBe(sources[i]);
        expect(st.pulsing).toBe(false);
        expect(Math.abs(st.setpoint - plan[i])).toBeLessThanOrEqual(tol);
      }
      await settle(fx);
      for (let i = 0; i < plan.length; i++) {
        const want = sources[i] === 'atmosphere' ? 0 : plan[i];
        expect(Math.abs((await fx.run(c.channels[i].read())) - want)).toBeLessThanOrEqual(tol);
      }
      expect(states).toContain('disconnected');
      expect(states[states.length - 1]).toBe('open');
    });

    it('a host at the wrong baud rate gets a typed error, not a hang', async () => {
      const fx = createFixture('sim:pressure-conformance', (clock) => h.makeEmulator(clock), h.baudRate === 9600 ? 19200 : 9600);
      let caught: unknown;
      try {
        const c = await fx.run(h.open({ path: fx.path, binding: fx.binding, clock: fx.clock, limits: LIMITS }), 60_000);
        await fx.run(c.channels[0].read(), 60_000);
      } catch (e) {
        caught = e;
      }
      expect(caught).toBeInstanceOf(Error);
      expect((caught as { kind?: string }).kind).toMatch(/^(timeout|malformed|device)$/);
    });

    it('same commands give byte-identical traffic (deterministic in virtual time)', async () => {
      const digests: string[] = [];
      const readings: number[][] = [];
      for (let i = 0; i < 2; i++) {
        const { fx, c } = await setup(h);
        const ch = c.channels[0];
        await fx.run(ch.setPressure(33.3));
        await fx.run(ch.setSource('regulator'));
        await fx.clock.runFor(50);
        const r: number[] = [];
        r.push(await fx.run(ch.read()));
        await fx.run(ch.pulse(-120, 250));
        r.push(await fx.run(ch.read()));
        await fx.run(Promise.all(c.channels.map((x) => x.read())));
        digests.push(fx.binding.byteLog(fx.path).digest());
        readings.push(r);
      }
      expect(digests[0]).toBe(digests[1]);
      expect(readings[0]).toEqual(readings[1]);
    });
  });
}
