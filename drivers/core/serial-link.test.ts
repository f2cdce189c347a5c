/**
 * SerialLink after a timeout: a reply that arrives late belongs to the
 * command that timed out, and must never be taken as the answer to the next
 * one, including from a device that said nothing at all before the deadline.
 */
import { describe, expect, it } from 'vitest';
import { createVirtualClock } from '../../src/clock/index.ts';
import { isDeviceError } from '../errors.ts';
import { createEmulatorBinding, type DeviceIO, type EmulatedDevice } from './emulator-binding.ts';
import { openSerialLink, terminated } from './serial-link.ts';

const BAUD = 115_200;

/** Answers `Q<n>\n` with `R<n>\n` after `delayMs(n)`. */
function slowDevice(delayMs: (n: number) => number): EmulatedDevice {
  let io: DeviceIO | null = null;
  let buf = '';
  return {
    model: 'slow',
    connect: (x) => void (io = x),
    disconnect: () => void (io = null),
    receive(bytes) {
      buf += bytes.toString('latin1');
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        const n = Number(buf.slice(1, i));
        buf = buf.slice(i + 1);
        const out = io;
        out?.clock.setTimeout(() => out.send(Buffer.from(`R${n}\n`)), delayMs(n));
      }
    },
  };
}

/** any `R<n>` line: the parser cannot tell one reply from another, only the link's timing can */
const anyReply = terminated(0x0a, 64, (body, consumed) => ({ status: 'done' as const, value: body.toString('latin1'), consumed }));

async function setup(delayMs: (n: number) => number) {
  const clock = createVirtualClock();
  const binding = createEmulatorBinding(clock);
  binding.attach('sim:slow', slowDevice(delayMs), { baudRate: BAUD });
  const link = await clock.runUntilSettled(openSerialLink({ label: 'slow device', path: 'sim:slow', baudRate: BAUD, binding, clock, resyncQuietMs: 30 }), 1000);
  const ask = (n: number) => link.request({ name: `Q${n}`, bytes: Buffer.from(`Q${n}\n`), parse: anyReply, timeoutMs: 100 });
  return { clock, link, ask };
}

describe('serial link resync after a timeout', () => {
  it('a reply arriving just after the deadline of a silent device is dropped, not given to the next command', async () => {
    // Q1 is answered 20 ms after its 100 ms deadline (nothing at all arrived before it); Q2 takes 30 ms.
    const { clock, link, ask } = await setup((n) => (n === 1 ? 120 : 30));
    const first = ask(1);
    const second = ask(2);
    const caught = await clock.runUntilSettled(first, 5000).catch((e: unknown) => e);
    expect(isDeviceError(caught, 'timeout')).toBe(true);
    expect(await clock.runUntilSettled(second, 5000)).toBe('R2');
    expect(link.strayBytes).toBe('R1\n'.length);
    await link.close();
  });

  it('waits out a device still talking after the deadline, then carries on', async () => {
    // Q1's reply comes 25 ms late; the quiet time restarts from it before Q2 goes out.
    const { clock, link, ask } = await setup((n) => (n === 1 ? 125 : 30));
    const first = ask(1);
    first.catch(() => {});
    const second = ask(2);
    const third = ask(3);
    await clock.runUntilSettled(first.catch(() => null), 5000);
    expect(await clock.runUntilSettled(second, 5000)).toBe('R2');
    expect(await clock.runUntilSettled(third, 5000)).toBe('R3');
    await link.close();
  });
});
