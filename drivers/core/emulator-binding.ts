/**
 * A serialport binding whose ports are device emulators. It sits exactly where
 * the OS would (under @serialport/stream's SerialPortStream), so a driver opened
 * on `sim:…` runs the same code as on `/dev/ttyUSB0`.
 *
 * The line is modelled, not skipped: bytes take their transmission time at the
 * device's baud rate (10 bits per byte) on the injected clock, a host opened
 * at the wrong baud rate sees garbage, and `unplug` fails the pending read the
 * way a vanished USB adapter does (SerialPortStream then closes with a
 * DisconnectedError).
 */
import type { BindingInterface, BindingPortInterface, OpenOptions, PortInfo } from '@serialport/bindings-interface';
import type { Clock } from '../../src/clock/clock.ts';
import { createByteLog, type ByteLog } from './byte-log.ts';
import { portError, QueuedPort } from './queued-port.ts';

/** What the device side of an emulated port can do. */
export interface DeviceIO {
  readonly clock: Clock;
  /**
   * Send bytes to the host; they arrive after their line time. The buffer is
   * handed over (delivered and logged as it is, without a copy): the device
   * must not change it afterwards.
   */
  send(bytes: Buffer): void;
}

/** A device emulator: speaks its protocol on bytes, keeps its own state. */
export interface EmulatedDevice {
  readonly model: string;
  /** the host opened the port (or the cable was plugged back in) */
  connect(io: DeviceIO): void;
  /** the host closed the port or the cable was pulled */
  disconnect(): void;
  /** bytes from the host, delivered after their line time */
  receive(bytes: Buffer): void;
}

export interface EmulatedPortOptions {
  /** the device's line rate; a host opening at another rate gets garbage both ways */
  baudRate: number;
  /** entries kept in the byte log (the digest covers everything regardless) */
  logKeep?: number;
  /** keep the byte log's SHA-256 digest (default true; see ByteLogOptions) */
  digest?: boolean;
}

export interface EmulatorBinding extends BindingInterface {
  attach(path: string, device: EmulatedDevice, options: EmulatedPortOptions): void;
  /** pull the cable: the open port fails, later opens fail until `replug` */
  unplug(path: string): void;
  replug(path: string): void;
  /** bytes as they crossed the line, both directions */
  byteLog(path: string): ByteLog;
  /** test hook: bytes reach the host as if the device had sent them (for garbage, truncation…) */
  injectToHost(path: string, bytes: Buffer): void;
  /** test hook: hold back everything the device sends (a device gone silent) */
  setMuted(path: string, muted: boolean): void;
  paths(): string[];
  device(path: string): EmulatedDevice;
  /**
   * Observe every host write the moment the host hands it to the port (before
   * line time): the instant a command leaves the controller. For benchmarks
   * and tests; returns the unsubscribe function.
   */
  onHostWrite(listener: HostWriteListener): () => void;
  /**
   * Observe device bytes the moment they reach the host (after line time, as
   * an OS read would return them; injected bytes too). For benchmarks and
   * tests; returns the unsubscribe function.
   */
  onDeviceBytes(listener: DeviceBytesListener): () => void;
}

export type HostWriteListener = (path: string, bytes: Buffer) => void;
export type DeviceBytesListener = (path: string, bytes: Buffer) => void;

interface Slot {
  path: string;
  device: EmulatedDevice;
  options: EmulatedPortOptions;
  log: ByteLog;
  plugged: boolean;
  muted: boolean;
  port?: EmulatedPort;
}

/** What a UART does with bytes sent at the wrong rate: a deterministic scramble. */
function garble(bytes: Buffer): Buffer {
  const out = Buffer.alloc(bytes.length);
  for (let i = 0; i < bytes.length; i++) out[i] = ((bytes[i] * 37 + 0x5b) ^ 0xa6) & 0xff;
  return out;
}

class EmulatedPort extends QueuedPort {
  /** when each direction's line is next free, ms */
  private toDeviceFreeAt = 0;
  private toHostFreeAt = 0;
  private readonly msPerByte: number;
  private readonly mismatched: boolean;
  private generation = 0;

  constructor(
    private readonly slot: Slot,
    private readonly clock: Clock,
    options: OpenOptions,
    private readonly writeTaps: ReadonlySet<HostWriteListener>,
    private readonly deviceTaps: ReadonlySet<DeviceBytesListener>,
  ) {
    super(options);
    this.msPerByte = 10_000 / slot.options.baudRate;
    this.mismatched = options.baudRate !== slot.options.baudRate;
  }

  /** device → host */
  fromDevice(bytes: Buffer): void {
    if (!this.isOpen || bytes.length === 0 || this.slot.muted) return;
    const gen = this.generation;
    const now = this.clock.now();
    const arrival = Math.max(now, this.toHostFreeAt) + bytes.length * this.msPerByte;
    this.toHostFreeAt = arrival;
    // The device handed the buffer over (DeviceIO.send): no copy.
    const data = this.mismatched ? garble(bytes) : bytes;
    this.clock.setTimeout(() => {
      if (!this.isOpen || gen !== this.generation) return;
      this.reachHost(data);
    }, arrival - now);
  }

  /** bytes that appear at the host with no line time (test injection) */
  injectNow(bytes: Buffer): void {
    if (!this.isOpen) return;
    this.reachHost(Buffer.from(bytes));
  }

  private reachHost(data: Buffer): void {
    this.slot.log.record(this.clock.now(), 'out', data);
    for (const tap of this.deviceTaps) tap(this.slot.path, data);
    this.rx.push(data);
  }

  write(buffer: Buffer): Promise<void> {
    if (!this.isOpen) return Promise.reject(portError('Port is not open', true));
    if (!this.slot.plugged) return Promise.reject(portError(`EIO: ${this.slot.path} is unplugged`));
    if (buffer.length === 0) return Promise.resolve();
    for (const tap of this.writeTaps) tap(this.slot.path, buffer);
    const gen = this.generation;
    const now = this.clock.now();
    const arrival = Math.max(now, this.toDeviceFreeAt) + buffer.length * this.msPerByte;
    this.toDeviceFreeAt = arrival;
    const data = this.mismatched ? garble(buffer) : Buffer.from(buffer);
    this.clock.setTimeout(() => {
      if (!this.isOpen || gen !== this.generation) return;
      this.slot.log.record(this.clock.now(), 'in', data);
      this.slot.device.receive(data);
    }, arrival - now);
    return Promise.resolve();
  }

  /** the cable was pulled: the pending read fails with a non-cancel error, as the OS reports it */
  pull(): void {
    if (!this.isOpen) return;
    this.generation++;
    this.rx.fail(portError(`EIO: ${this.slot.path} was unplugged`));
  }

  async close(): Promise<void> {
    if (!this.isOpen) return;
    this.isOpen = false;
    this.generation++;
    this.rx.fail(portError('Port is closed', true));
    this.rx.clear();
    if (this.slot.port === this) {
      this.slot.port = undefined;
      this.slot.device.disconnect();
    }
  }
}

export function createEmulatorBinding(clock: Clock): EmulatorBinding {
  const slots = new Map<string, Slot>();
  const writeTaps = new Set<HostWriteListener>();
  const deviceTaps = new Set<DeviceBytesListener>();
  const slotOf = (path: string): Slot => {
    const slot = slots.get(path);
    if (!slot) throw new Error(`no emulated device at ${path}`);
    return slot;
  };

  return {
    attach(path, device, options) {
      if (slots.has(path)) throw new Error(`an emulated device is already attached at ${path}`);
      slots.set(path, { path, device, options, log: createByteLog(options.logKeep, { digest: options.digest, name: path }), plugged: true, muted: false });
    },
    unplug(path) {
      const slot = slotOf(path);
      slot.plugged = false;
      const port = slot.port;
      slot.port = undefined;
      if (port) {
        port.pull();
        slot.device.disconnect();
      }
    },
    replug(path) {
      slotOf(path).plugged = true;
    },
    byteLog: (path) => slotOf(path).log,
    injectToHost(path, bytes) {
      const port = slotOf(path).port;
      if (!port) throw new Error(`${path} is not open`);
      port.injectNow(bytes);
    },
    setMuted(path, muted) {
      slotOf(path).muted = muted;
    },
    paths: () => [...slots.keys()],
    device: (path) => slotOf(path).device,
    onHostWrite(listener) {
      writeTaps.add(listener);
      return () => writeTaps.delete(listener);
    },
    onDeviceBytes(listener) {
      deviceTaps.add(listener);
      return () => deviceTaps.delete(listener);
    },

    async list(): Promise<PortInfo[]> {
      return [...slots.values()]
        .filter((s) => s.plugged)
        .map((s) => ({
          path: s.path,
          manufacturer: 'autopatch emulator',
          serialNumber: undefined,
          pnpId: s.device.model,
          locationId: undefined,
          productId: undefined,
          vendorId: undefined,
        }));
    },

    async open(options: OpenOptions): Promise<BindingPortInterface> {
      const slot = slots.get(options.path);
      if (!slot) throw portError(`Error: No such file or directory, cannot open ${options.path}`);
      if (!slot.plugged) throw portError(`Error: No such file or directory, cannot open ${options.path} (unplugged)`);
      if (slot.port) throw portError(`Error Resource temporarily unavailable Cannot lock port ${options.path}`);
      const port = new EmulatedPort(slot, clock, options, writeTaps, deviceTaps);
      slot.port = port;
      slot.device.connect({ clock, send: (bytes) => port.fromDevice(bytes) });
      return port;
    },
  };
}
