/**
 * Puts a device emulator behind a real pseudo-terminal, so any serial tool
 * (screen, minicom, a vendor program under Wine, our own drivers through the
 * OS binding) can talk to it. socat makes a linked PTY pair; the emulator
 * owns one end through serialport's OS binding, the user gets the other.
 *
 * A PTY has no line timing: bytes arrive as fast as the kernel moves them.
 * The emulator's own timing (move durations, processing delays) still holds,
 * on the real clock it is given.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { BindingInterface } from '@serialport/bindings-interface';
import { SerialPortStream } from '@serialport/stream';
import { sleep, type Clock } from '../../src/clock/clock.ts';
import type { EmulatedDevice } from './emulator-binding.ts';
import type { ByteLog } from './byte-log.ts';

export interface PtyExposure {
  /** the path a host opens (the emulator is at the other end) */
  path: string;
  close(): Promise<void>;
}

export interface PtyOptions {
  device: EmulatedDevice;
  clock: Clock;
  /** where the user end appears, e.g. /tmp/autopatch-mp285 */
  link: string;
  baudRate: number;
  /** the OS serial binding (serialport's SerialPort.binding) */
  binding: BindingInterface;
  /** socat executable */
  socat?: string;
  /** how long socat may take to create the PTYs, ms on `clock` */
  startTimeoutMs?: number;
  /** records the bytes the device receives ('in') and sends ('out'), at clock time */
  log?: ByteLog;
}

/** socat is a Debian package (apt-get install socat); say so if it is missing. */
export function socatMissingMessage(): string {
  return 'socat is needed to create a pseudo-terminal pair: apt-get install socat';
}

/** Poll for `path` on the injected clock (like everything else), until socat creates it, exits or takes too long. */
async function waitFor(path: string, child: ChildProcess, clock: Clock, timeoutMs: number): Promise<void> {
  const started = clock.now();
  while (!existsSync(path)) {
    if (child.exitCode !== null) throw new Error(`socat exited with code ${child.exitCode} before creating ${path}`);
    if (clock.now() - started > timeoutMs) throw new Error(`socat did not create ${path} within ${timeoutMs} ms`);
    await sleep(clock, 20);
  }
}

export async function exposeOnPty(options: PtyOptions): Promise<PtyExposure> {
  const deviceEnd = `${options.link}.device`;
  const child = spawn(options.socat ?? 'socat', [`pty,raw,echo=0,link=${options.link}`, `pty,raw,echo=0,link=${deviceEnd}`], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const spawnError = new Promise<never>((_, reject) =>
    child.once('error', (e: NodeJS.ErrnoException) => reject(e.code === 'ENOENT' ? new Error(socatMissingMessage()) : e)),
  );
  const timeoutMs = options.startTimeoutMs ?? 5000;
  try {
    await Promise.race([waitFor(deviceEnd, child, options.clock, timeoutMs), spawnError]);
    await waitFor(options.link, child, options.clock, timeoutMs);
  } catch (e) {
    // do not leave a socat behind that never made its PTYs
    if (child.exitCode === null) child.kill('SIGTERM');
    throw e;
  }

  const port = new SerialPortStream({ binding: options.binding, path: deviceEnd, baudRate: options.baudRate, autoOpen: false });
  await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())));
  port.on('error', () => {});
  const { log, clock } = options;
  port.on('data', (bytes: Buffer) => {
    log?.record(clock.now(), 'in', bytes);
    options.device.receive(bytes);
  });
  options.device.connect({
    clock,
    send: (bytes) => {
      // the device hands the buffer over (DeviceIO.send): the log may keep it as it is
      log?.record(clock.now(), 'out', bytes);
      void port.write(bytes);
    },
  });

  return {
    path: options.link,
    async close() {
      options.device.disconnect();
      if (port.isOpen) await new Promise<void>((r) => port.close(() => r()));
      child.kill('SIGTERM');
      await new Promise<void>((r) => (child.exitCode !== null ? r() : child.once('exit', () => r())));
    },
  };
}
