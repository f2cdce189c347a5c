import { performance } from 'node:perf_hooks';
import type { Clock, TimerHandle } from './clock.ts';

interface ScaledTimer extends TimerHandle {
  timeout: NodeJS.Timeout;
}

/**
 * Real timers running `factor` times faster than the wall (demos and training
 * on the simulated rig: the dashboard shows a 10-minute seal in a minute).
 * Clock time still advances continuously, so everything timed by the clock
 * scales together.
 */
export function createScaledClock(factor: number): Clock {
  if (!(factor > 0) || !Number.isFinite(factor)) throw new RangeError(`clock speed factor must be a positive number (got ${factor})`);
  const origin = performance.now();
  const epochAtOrigin = Date.now();
  let nextId = 1;
  const now = (): number => (performance.now() - origin) * factor;
  return {
    kind: 'real',
    now,
    epochMs: () => epochAtOrigin + now(),
    setTimeout(fn, ms) {
      const timer: ScaledTimer = { timerId: nextId++, timeout: setTimeout(fn, Math.max(0, ms) / factor) };
      return timer;
    },
    clearTimeout(handle) {
      if (handle && 'timeout' in handle) clearTimeout((handle as ScaledTimer).timeout);
    },
  };
}
