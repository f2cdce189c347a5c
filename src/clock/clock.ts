/**
 * The one clock. Control, drivers, emulators and physics take time only from an
 * injected Clock, so the same code runs in real time on a rig and in virtual
 * time (as fast as the work allows, deterministic) in tests and simulations.
 *
 * Times are milliseconds. `now()` is monotonic since the clock started;
 * `epochMs()` maps it to wall-clock time for records.
 *
 * The shape of setTimeout/clearTimeout matches xstate's `Clock`, so a Clock can
 * be passed straight to `createActor(logic, { clock })`.
 */
export interface TimerHandle {
  readonly timerId: number;
}

export interface Clock {
  readonly kind: 'real' | 'virtual';
  now(): number;
  epochMs(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle | undefined | null): void;
}

/** Resolves after `ms` on the given clock; rejects with the signal's reason if aborted. */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason ?? new Error('aborted'));
      return;
    }
    const onAbort = (): void => {
      clock.clearTimeout(handle);
      reject(signal?.reason ?? new Error('aborted'));
    };
    const handle = clock.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Repeats `fn` every `periodMs` on the clock until the returned cancel function is called. */
export function every(clock: Clock, periodMs: number, fn: () => void): () => void {
  let handle: TimerHandle | undefined;
  let cancelled = false;
  const tick = (): void => {
    if (cancelled) return;
    handle = clock.setTimeout(tick, periodMs);
    fn();
  };
  handle = clock.setTimeout(tick, periodMs);
  return () => {
    cancelled = true;
    clock.clearTimeout(handle);
  };
}
