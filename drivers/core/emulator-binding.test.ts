/**
 * The emulator binding's taps: host writes (benchmarks time the moment a
 * command leaves the controller, before any line time) and device bytes (the
 * moment a reply reaches the host, after its line time).
 */
import { describe, expect, it } from 'vitest';
import { SerialPortStream } from '@serialport/stream';
import { createVirtualClock } from '../../src/clock/index.ts';
import { createEmulatorBinding, type DeviceIO, type EmulatedDevice } from './emulator-binding.ts';

function echo(): EmulatedDevice & { got: Buffer[] } {
  let io: DeviceIO | null = null;
  const got: Buffer[] = [];
  return {
    model: 'echo',
    got,
    connect(x) {
      io = x;
    },
    disconnect() {
      io = null;
    },
    receive(bytes) {
      got.push(Buffer.from(bytes));
      io?.send(bytes);
    },
  };
}

describe('emulator binding host-write tap', () => {
  it('sees each write at once, with its port, before the device receives it; unsubscribing stops it', async () => {
    const clock = createVirtualClock();
    const binding = createEmulatorBinding(clock);
    const a = echo();
    const b = echo();
    binding.attach('sim:a', a, { baudRate: 9600 });
    binding.attach('sim:b', b, { baudRate: 9600 });
    const seen: Array<[string, string, number]> = [];
    const off = binding.onHostWrite((path, bytes) => seen.push([path, bytes.toString(), a.got.length + b.got.length]));

    const pa = await binding.open({ path: 'sim:a', baudRate: 9600 });
    const pb = await binding.open({ path: 'sim:b', baudRate: 9600 });
    await pa.write(Buffer.from('hello'));
    await pb.write(Buffer.from('x'));
    // tapped synchronously, before any line time passed and before the devices got anything
    expect(seen).toEqual([
      ['sim:a', 'hello', 0],
      ['sim:b', 'x', 0],
    ]);
    await clock.runFor(20);
    expect(Buffer.concat(a.got).toString()).toBe('hello');

    off();
    await pa.write(Buffer.from('more'));
    expect(seen).toHaveLength(2);
    await pa.close();
    await pb.close();
  });

  it('taps writes made through a SerialPortStream too', async () => {
    const clock = createVirtualClock();
    const binding = createEmulatorBinding(clock);
    binding.attach('sim:a', echo(), { baudRate: 115200 });
    const seen: string[] = [];
    binding.onHostWrite((_path, bytes) => seen.push(bytes.toString()));
    const port = new SerialPortStream({ binding, path: 'sim:a', baudRate: 115200, autoOpen: false });
    await new Promise<void>((resolve, reject) => port.open((e) => (e ? reject(e) : resolve())));
    port.write('PING\n');
    await clock.runFor(5);
    expect(seen).toEqual(['PING\n']);
    await new Promise<void>((resolve) => port.close(() => resolve()));
  });
});

describe('emulator binding device-bytes tap', () => {
  it('sees device bytes when they reach the host (after line time), injected bytes at once, until unsubscribed', async () => {
    const clock = createVirtualClock();
    const binding = createEmulatorBinding(clock);
    binding.attach('sim:a', echo(), { baudRate: 9600 });
    const seen: Array<[string, string, number]> = [];
    const off = binding.onDeviceBytes((path, bytes) => seen.push([path, bytes.toString(), clock.now()]));
    const port = await binding.open({ path: 'sim:a', baudRate: 9600 });
    await port.write(Buffer.from('hi'));
    // 2 bytes at 9600 baud: ~2.08 ms to the device, the echo ~2.08 ms back
    await clock.runFor(3);
    expect(seen).toEqual([]);
    await clock.runFor(3);
    expect(seen.map(([p, b]) => [p, b])).toEqual([['sim:a', 'hi']]);
    expect(seen[0][2]).toBeCloseTo((2 * 2 * 10_000) / 9600, 6);
    binding.injectToHost('sim:a', Buffer.from('!'));
    expect(seen.at(-1)?.slice(0, 2)).toEqual(['sim:a', '!']);
    // the bytes the tap saw are the bytes the host reads
    const got = Buffer.alloc(8);
    const { bytesRead } = await port.read(got, 0, 8);
    expect(got.subarray(0, bytesRead).toString()).toBe('hi!');
    off();
    binding.injectToHost('sim:a', Buffer.from('?'));
    expect(seen).toHaveLength(2);
    await port.close();
  });
});
