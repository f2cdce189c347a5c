/**
 * The emulator binding's host-write tap: benchmarks use it to time the moment
 * a command leaves the controller, before any line time.
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
