/**
 * Mechanics shared by manipulator emulators: straight-line moves at a vector
 * speed, position as a function of clock time, travel clamped to the stage's
 * hard range. The emulator owns the protocol; this owns where the stage is.
 *
 * `beforeChange(t)` is called before any change of motion so an observer (the
 * physics model) can integrate up to `t` with the motion that held until then.
 */
import type { Clock, TimerHandle } from '../../src/clock/clock.ts';
import type { Vec3 } from '../types.ts';

export interface MotionObserver {
  beforeChange(t: number): void;
}

export interface MotionModel {
  /** position in µm at clock time t (t ≥ time of the last change) */
  positionAt(t: number): Vec3;
  readonly moving: boolean;
  /** start a straight move; `onArrive` fires when it ends (not when stopped). Returns planned duration, ms. */
  moveTo(target: Vec3, speedUmPerS: number, onArrive: () => void): number;
  /** stop where the stage is now; returns true if it was moving */
  stop(): boolean;
  /** jump without motion (power-up, set origin bookkeeping stays in the emulator) */
  setPosition(p: Vec3): void;
  observers: MotionObserver[];
}

export interface MotionModelOptions {
  clock: Clock;
  initial: Vec3;
  /** hard travel range of the stage, µm */
  travelMin: Vec3;
  travelMax: Vec3;
}

const clampTo = (v: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, v));

export function createMotionModel(options: MotionModelOptions): MotionModel {
  const { clock, travelMin, travelMax } = options;
  let from: Vec3 = options.initial;
  let to: Vec3 = options.initial;
  let t0 = 0;
  let t1 = 0;
  let timer: TimerHandle | undefined;
  const observers: MotionObserver[] = [];

  const positionAt = (t: number): Vec3 => {
    if (t >= t1 || t1 === t0) return to;
    if (t <= t0) return from;
    const f = (t - t0) / (t1 - t0);
    return [from[0] + (to[0] - from[0]) * f, from[1] + (to[1] - from[1]) * f, from[2] + (to[2] - from[2]) * f];
  };
  const notify = (): void => {
    const t = clock.now();
    for (const o of observers) o.beforeChange(t);
  };

  const model: MotionModel = {
    observers,
    positionAt,
    get moving() {
      return timer !== undefined;
    },
    moveTo(target, speed, onArrive) {
      notify();
      const now = clock.now();
      const start = positionAt(now);
      clock.clearTimeout(timer);
      const end: Vec3 = [
        clampTo(target[0], travelMin[0], travelMax[0]),
        clampTo(target[1], travelMin[1], travelMax[1]),
        clampTo(target[2], travelMin[2], travelMax[2]),
      ];
      const dist = Math.hypot(end[0] - start[0], end[1] - start[1], end[2] - start[2]);
      const duration = speed > 0 ? (dist / speed) * 1000 : 0;
      from = start;
      to = end;
      t0 = now;
      t1 = now + duration;
      timer = clock.setTimeout(() => {
        timer = undefined;
        notify();
        from = to;
        t0 = t1 = clock.now();
        onArrive();
      }, duration);
      return duration;
    },
    stop() {
      if (timer === undefined) return false;
      notify();
      const now = clock.now();
      const here = positionAt(now);
      clock.clearTimeout(timer);
      timer = undefined;
      from = to = here;
      t0 = t1 = now;
      return true;
    },
    setPosition(p) {
      notify();
      clock.clearTimeout(timer);
      timer = undefined;
      from = to = p;
      t0 = t1 = clock.now();
    },
  };
  return model;
}
