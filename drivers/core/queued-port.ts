/**
 * What every in-process binding port has in common, whatever is behind it
 * (an emulator on this thread, a device thread): the open options with the
 * defaults an OS binding fills in, received bytes waiting in a read queue for
 * the stream's one read, and the line-status calls, which have nothing to do
 * on a line that is not a UART. A port says how it writes and what closing
 * means.
 */
import type { BindingPortInterface, OpenOptions, PortStatus, SetOptions, UpdateOptions } from '@serialport/bindings-interface';
import { createReadQueue } from './read-queue.ts';

/** An error as a binding reports it; `canceled` ones (closing) SerialPortStream does not treat as a disconnect. */
export function portError(message: string, canceled = false): Error & { canceled?: boolean } {
  const e = new Error(message) as Error & { canceled?: boolean };
  if (canceled) e.canceled = true;
  return e;
}

export abstract class QueuedPort implements BindingPortInterface {
  readonly openOptions: Required<OpenOptions>;
  isOpen = true;
  protected readonly rx = createReadQueue(() => portError('a read is already pending'));

  constructor(options: OpenOptions) {
    this.openOptions = {
      dataBits: 8,
      lock: true,
      stopBits: 1,
      parity: 'none',
      rtscts: false,
      xon: false,
      xoff: false,
      xany: false,
      hupcl: true,
      ...options,
    } as Required<OpenOptions>;
  }

  abstract write(buffer: Buffer): Promise<void>;
  abstract close(): Promise<void>;

  read(buffer: Buffer, offset: number, length: number): Promise<{ buffer: Buffer; bytesRead: number }> {
    if (!this.isOpen) return Promise.reject(portError('Port is not open', true));
    return this.rx.read(buffer, offset, length);
  }

  async update(options: UpdateOptions): Promise<void> {
    (this.openOptions as { baudRate: number }).baudRate = options.baudRate;
  }
  async set(_options: SetOptions): Promise<void> {}
  async get(): Promise<PortStatus> {
    return { cts: true, dsr: true, dcd: true };
  }
  async getBaudRate(): Promise<{ baudRate: number }> {
    return { baudRate: this.openOptions.baudRate };
  }
  async flush(): Promise<void> {
    this.rx.clear();
  }
  async drain(): Promise<void> {}
}
