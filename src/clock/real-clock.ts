import { performance } from 'node:perf_hooks';
import type { Clock, TimerHandle } from './clock.ts';

interface RealTimer extends TimerHandle {
  timeout: NodeJS.Timeout;
}

/** Wall time for rigs. `now()` comes from the monotonic performance clock. */
export function createRealClock(): Clock {
  const origin = performance.now();
  const epochAtOrigin = Date.now();
  let nextId = 1;
  return {
    kind: 'real',
    now: () => performance.now() - origin,
    epochMs: () => epochAtOrigin + (performance.now() - origin),
    setTimeout(fn, ms) {
      const timer: RealTimer = { timerId: nextId++, timeout: setTimeout(fn, Math.max(0, ms)) };
      return timer;
    },
    clearTimeout(handle) {
      if (handle && 'timeout' in handle) clearTimeout((handle as RealTimer).timeout);
    },
  };
}
