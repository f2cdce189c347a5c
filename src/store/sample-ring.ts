/**
 * A ring of shared memory the writer copies sample arrays into, so handing a
 * sweep to the worker allocates nothing on the caller's thread. (Allocating a
 * copy of every sweep instead makes V8 run full garbage collections for
 * "external memory pressure", which stall the control loop for 5–20 ms.)
 *
 * Regions are handed out in order and released in the same order (the worker
 * commits batches in the order they were posted), so the free space is always
 * one or two contiguous runs. Offsets are 8-byte aligned.
 */
export interface SampleRing {
  readonly buffer: SharedArrayBuffer;
  /** copy `samples` in; the byte offset, or -1 when there is no room right now */
  put(samples: Float32Array): number;
  /** undo the most recent put (used when a sweep's second array does not fit) */
  unput(): void;
  /** the oldest `n` regions are no longer needed */
  release(n: number): void;
  /** regions handed out and not yet released */
  regions(): number;
  usedBytes(): number;
}

export function createSampleRing(bytes: number): SampleRing {
  const size = Math.floor(bytes / 8) * 8;
  const buffer = new SharedArrayBuffer(size);
  const bytesView = new Uint8Array(buffer);
  // FIFO of [start, end) regions, with a moving front index (compacted now and then)
  let starts: number[] = [];
  let ends: number[] = [];
  let front = 0;
  let used = 0;

  const count = (): number => starts.length - front;

  return {
    buffer,
    put(samples) {
      const len = samples.byteLength;
      const need = Math.ceil(len / 8) * 8;
      let at: number;
      if (count() === 0) {
        at = need <= size ? 0 : -1;
      } else {
        const tail = starts[front];
        const head = ends[ends.length - 1];
        if (head > tail) {
          // not wrapped: free space after head, then before tail
          at = head + need <= size ? head : need <= tail ? 0 : -1;
        } else {
          // wrapped (or exactly full when head === tail): free space between head and tail
          at = head + need <= tail ? head : -1;
        }
      }
      if (at < 0) return -1;
      bytesView.set(new Uint8Array(samples.buffer, samples.byteOffset, len), at);
      starts.push(at);
      ends.push(at + need);
      used += need;
      return at;
    },
    unput() {
      if (count() === 0) return;
      used -= (ends.pop() as number) - (starts.pop() as number);
    },
    release(n) {
      for (let i = 0; i < n && count() > 0; i++, front++) used -= ends[front] - starts[front];
      if (front > 1024 && front * 2 > starts.length) {
        starts = starts.slice(front);
        ends = ends.slice(front);
        front = 0;
      }
    },
    regions: count,
    usedBytes: () => used,
  };
}
