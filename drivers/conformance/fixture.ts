/**
 * Shared plumbing for conformance suites: a virtual clock, an emulator
 * binding with the device attached, and helpers that run driver calls in
 * virtual time.
 */
import { createVirtualClock, type VirtualClock } from '../../src/clock/index.ts';
import { createEmulatorBinding, type EmulatedDevice, type EmulatorBinding } from '../core/emulator-binding.ts';
import { DeviceError, type DeviceErrorKind } from '../errors.ts';

export interface EmulatedFixture<D extends EmulatedDevice> {
  clock: VirtualClock;
  binding: EmulatorBinding;
  path: string;
  device: D;
  /** run a driver call to completion in virtual time (fails if it would hang) */
  run<T>(work: Promise<T>, maxMs?: number): Promise<T>;
  /** run a call that must fail with a DeviceError of one of `kinds`; returns the error */
  expectError(work: Promise<unknown>, kinds: DeviceErrorKind[], maxMs?: number): Promise<DeviceError>;
  /** bytes the device has received so far */
  bytesIn(): number;
}

export function createFixture<D extends EmulatedDevice>(
  path: string,
  makeDevice: (clock: VirtualClock) => D,
  baudRate: number,
): EmulatedFixture<D> {
  const clock = createVirtualClock();
  const binding = createEmulatorBinding(clock);
  const device = makeDevice(clock);
  binding.attach(path, device, { baudRate });
  const run = <T>(work: Promise<T>, maxMs = 600_000): Promise<T> => clock.runUntilSettled(work, maxMs);
  return {
    clock,
    binding,
    path,
    device,
    run,
    async expectError(work, kinds, maxMs) {
      let caught: unknown;
      try {
        await run(work, maxMs);
      } catch (e) {
        caught = e;
      }
      if (!(caught instanceof DeviceError)) {
        throw new Error(`expected a DeviceError (${kinds.join('|')}), got ${caught === undefined ? 'success' : String(caught)}`);
      }
      if (!kinds.includes(caught.kind)) throw new Error(`expected DeviceError of kind ${kinds.join('|')}, got ${caught.kind}: ${caught.message}`);
      return caught;
    },
    bytesIn: () => binding.byteLog(path).totalBytes.in,
  };
}
