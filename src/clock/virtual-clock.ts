import type { Clock, TimerHandle } from './clock.ts';

interface VirtualTimer extends TimerHandle {
  at: number;
  fn: () => void;
  cancelled: boolean;
}

export interface VirtualClock extends Clock {
  readonly kind: 'virtual';
  /** Run timers in order until virtual time reaches `now() + ms`. */
  runFor(ms: number): Promise<void>;
  /** Run timers in order until virtual time reaches `t` (absolute ms). */
  runUntilTime(t: number): Promise<void>;
  /**
   * Run until `promise` settles, then return its value. Fails if virtual time
   * passes `maxMs` first, or if nothing is scheduled that could settle it.
   */
  runUntilSettled<T>(promise: Promise<T>, maxMs?: number): Promise<T>;
  /** Number of live timers. */
  pendingTimers(): number;
}

export interface VirtualClockOptions {
  /** Wall-clock time that virtual t = 0 corresponds to. */
  startEpochMs?: number;
}

/**
 * A discrete-event clock: time jumps straight to the next timer once the
 * process has nothing else to do. Timers at the same instant fire in the order
 * they were set, so a run is fully determined by its inputs.
 */
export function createVirtualClock(options: VirtualClockOptions = {}): VirtualClock {
  const startEpochMs = options.startEpochMs ?? Date.UTC(2026, 0, 1);
  let now = 0;
  let nextId = 1;
  let live = 0;
  const heap: VirtualTimer[] = [];
  const before = (a: VirtualTimer, b: VirtualTimer): boolean =>
    a.at < b.at || (a.at === b.at && a.timerId < b.timerId);

  const push = (t: VirtualTimer): void => {
    heap.push(t);
    let i = heap.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(heap[i], heap[p])) break;
      [heap[i], heap[p]] = [heap[p], heap[i]];
      i = p;
    }
  };
  const pop = (): VirtualTimer | undefined => {
    const top = heap[0];
    const last = heap.pop();
    if (heap.length > 0 && last) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < heap.length && before(heap[l], heap[m])) m = l;
        if (r < heap.length && before(heap[r], heap[m])) m = r;
        if (m === i) break;
        [heap[i], heap[m]] = [heap[m], heap[i]];
        i = m;
      }
    }
    return top;
  };
  const peekLive = (): VirtualTimer | undefined => {
    while (heap.length > 0 && heap[0].cancelled) pop();
    return heap[0];
  };

  let running = false;
  /**
   * One setImmediate per timer: by the time it runs, every nextTick and promise
   * job the previous timer started has drained. Driven by callbacks rather than
   * an async loop, so a timer costs one event-loop turn and no extra promise.
   */
  function runUntilTime(tEnd: number, stopWhen?: () => boolean): Promise<void> {
    if (running) return Promise.reject(new Error('VirtualClock is already running: only one runner may advance time'));
    running = true;
    return new Promise<void>((resolve, reject) => {
      const finish = (): void => {
        if (tEnd !== Infinity) now = Math.max(now, tEnd);
        // one more turn so work started at the final instant settles before returning
        setImmediate(() => {
          running = false;
          resolve();
        });
      };
      const step = (): void => {
        try {
          if (stopWhen?.()) {
            running = false;
            resolve();
            return;
          }
          const next = peekLive();
          if (!next || next.at > tEnd) {
            finish();
            return;
          }
          pop();
          live--;
          now = Math.max(now, next.at);
          next.cancelled = true;
          next.fn();
        } catch (e) {
          running = false;
          reject(e);
          return;
        }
        setImmediate(step);
      };
      setImmediate(step);
    });
  }

  const clock: VirtualClock = {
    kind: 'virtual',
    now: () => now,
    epochMs: () => startEpochMs + now,
    setTimeout(fn, ms) {
      const delay = Number.isFinite(ms) && ms > 0 ? ms : 0;
      const timer: VirtualTimer = { timerId: nextId++, at: now + delay, fn, cancelled: false };
      push(timer);
      live++;
      return timer;
    },
    clearTimeout(handle) {
      const t = handle as VirtualTimer | undefined | null;
      if (t && 'cancelled' in t && !t.cancelled) {
        t.cancelled = true;
        live--;
      }
    },
    runFor: (ms) => runUntilTime(now + ms),
    runUntilTime: (t) => runUntilTime(t),
    async runUntilSettled<T>(promise: Promise<T>, maxMs = Infinity): Promise<T> {
      let settled = false;
      let value: T | undefined;
      let error: unknown;
      let failed = false;
      promise.then(
        (v) => {
          settled = true;
          value = v;
        },
        (e: unknown) => {
          settled = true;
          failed = true;
          error = e;
        },
      );
      const deadline = now + maxMs;
      await runUntilTime(deadline, () => settled);
      if (!settled) {
        throw new Error(
          peekLive()
            ? `VirtualClock: still pending after ${maxMs} ms of virtual time`
            : `VirtualClock: nothing scheduled can settle the awaited work (t=${now} ms)`,
        );
      }
      if (failed) throw error;
      return value as T;
    },
    pendingTimers: () => live,
  };
  return clock;
}
