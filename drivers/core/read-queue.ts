/**
 * The receive side of a serialport binding port: bytes that have arrived wait
 * here until SerialPortStream's one outstanding read() takes them, copied
 * into the stream's buffer as an OS read would fill it.
 */
export interface ReadQueue {
  /** bytes arrived from the device (kept as they are, not copied) */
  push(bytes: Buffer): void;
  /** the stream's read: resolves at once if bytes are waiting, else when some arrive */
  read(buffer: Buffer, offset: number, length: number): Promise<{ buffer: Buffer; bytesRead: number }>;
  /** the pending read, if any, fails with this error (close, unplug) */
  fail(error: Error): void;
  /** drop every waiting byte */
  clear(): void;
}

export function createReadQueue(alreadyPending: () => Error): ReadQueue {
  let rx: Buffer[] = [];
  let pending: { buffer: Buffer; offset: number; length: number; resolve: (r: { buffer: Buffer; bytesRead: number }) => void; reject: (e: Error) => void } | undefined;

  const service = (): void => {
    const p = pending;
    if (!p || rx.length === 0) return;
    let copied = 0;
    while (copied < p.length && rx.length > 0) {
      const head = rx[0];
      const n = Math.min(head.length, p.length - copied);
      head.copy(p.buffer, p.offset + copied, 0, n);
      copied += n;
      if (n === head.length) rx.shift();
      else rx[0] = head.subarray(n);
    }
    pending = undefined;
    p.resolve({ buffer: p.buffer, bytesRead: copied });
  };

  return {
    push(bytes) {
      rx.push(bytes);
      service();
    },
    read(buffer, offset, length) {
      if (pending) return Promise.reject(alreadyPending());
      return new Promise((resolve, reject) => {
        pending = { buffer, offset, length, resolve, reject };
        service();
      });
    },
    fail(error) {
      const p = pending;
      pending = undefined;
      p?.reject(error);
    },
    clear() {
      rx = [];
    },
  };
}
