/**
 * A serialport binding whose ports lead to device-thread.ts: the controller's
 * thread runs only the drivers, the control loop and what hangs off them,
 * while the emulators and the physics run on another event loop, as a rig's
 * devices do. Taps see bytes the moment they reach this thread (as an OS read
 * returns them) and the moment the host writes.
 */
import { Worker } from 'node:worker_threads';
import type { BindingInterface, BindingPortInterface, OpenOptions, PortInfo } from '@serialport/bindings-interface';
import type { RigConfig } from '../../src/rig/config.ts';
import { portError, QueuedPort } from '../../drivers/core/queued-port.ts';
import type { DeviceBytesListener, HostWriteListener } from '../../drivers/core/emulator-binding.ts';

export interface ThreadBinding extends BindingInterface {
  config: RigConfig;
  onDeviceBytes(listener: DeviceBytesListener): () => void;
  onHostWrite(listener: HostWriteListener): () => void;
  stop(): Promise<void>;
}

type FromDevice = { op: 'ready'; config: RigConfig } | { op: 'opened' | 'closed'; path: string } | { op: 'failed'; path: string; message: string } | { op: 'data'; path: string; bytes: Uint8Array };

class ThreadPort extends QueuedPort {
  constructor(
    options: OpenOptions,
    private readonly send: (m: object) => void,
    private readonly writeTaps: ReadonlySet<HostWriteListener>,
    private readonly onClose: () => void,
  ) {
    super(options);
  }
  deliver(bytes: Buffer): void {
    this.rx.push(bytes);
  }
  async write(buffer: Buffer): Promise<void> {
    if (!this.isOpen) throw portError('Port is not open', true);
    for (const tap of this.writeTaps) tap(this.openOptions.path, buffer);
    this.send({ op: 'write', path: this.openOptions.path, bytes: Uint8Array.prototype.slice.call(buffer) });
  }
  async close(): Promise<void> {
    if (!this.isOpen) return;
    this.isOpen = false;
    this.rx.fail(portError('Port is closed', true));
    this.send({ op: 'close', path: this.openOptions.path });
    this.onClose();
  }
}

/** Starts the device thread (the simulated rig `preset` runs on) and resolves once its rig description is known. */
export async function startDeviceThread(options: { seed: number; pipettes: number; speed: number; preset: string }): Promise<ThreadBinding> {
  const worker = new Worker(new URL('../../src/store/worker-boot.mjs', import.meta.url), {
    // the store's boot file registers tsx in the thread; its entry is relative to src/store
    workerData: { entry: '../../bench/support/device-thread.ts', ...options },
  });
  const ports = new Map<string, ThreadPort>();
  const opening = new Map<string, { resolve: () => void; reject: (e: Error) => void }>();
  const deviceTaps = new Set<DeviceBytesListener>();
  const writeTaps = new Set<HostWriteListener>();
  const send = (m: object): void => worker.postMessage(m);
  const config = await new Promise<RigConfig>((resolve, reject) => {
    worker.once('error', reject);
    worker.on('message', (m: FromDevice) => {
      if (m.op === 'ready') resolve(m.config);
      else if (m.op === 'opened') opening.get(m.path)?.resolve();
      else if (m.op === 'failed') opening.get(m.path)?.reject(new Error(m.message));
      else if (m.op === 'data') {
        const bytes = Buffer.from(m.bytes.buffer, m.bytes.byteOffset, m.bytes.byteLength);
        for (const tap of deviceTaps) tap(m.path, bytes);
        ports.get(m.path)?.deliver(bytes);
      }
    });
  });
  return {
    config,
    async list(): Promise<PortInfo[]> {
      return [];
    },
    async open(o: OpenOptions): Promise<BindingPortInterface> {
      if (ports.has(o.path)) throw new Error(`Cannot lock port ${o.path}`);
      await new Promise<void>((resolve, reject) => {
        opening.set(o.path, { resolve, reject });
        send({ op: 'open', path: o.path, baudRate: o.baudRate });
      }).finally(() => opening.delete(o.path));
      const p = new ThreadPort(o, send, writeTaps, () => ports.delete(o.path));
      ports.set(o.path, p);
      return p;
    },
    onDeviceBytes(listener) {
      deviceTaps.add(listener);
      return () => deviceTaps.delete(listener);
    },
    onHostWrite(listener) {
      writeTaps.add(listener);
      return () => writeTaps.delete(listener);
    },
    async stop() {
      await worker.terminate();
    },
  };
}
