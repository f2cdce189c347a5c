/**
 * Stage mechanics for controllers whose axes move independently (L&N: one
 * command per axis, each with its own velocity). Implements the shared
 * MotionModel contract, so the physics model can observe it like any stage,
 * and adds per-axis moves.
 */
import type { TimerHandle } from '../../../src/clock/clock.ts';
import type { MotionModel, MotionModelOptions, MotionObserver } from '../../core/motion-model.ts';
import type { Vec3 } from '../../types.ts';

export interface AxisMotion extends MotionModel {
  /** move one axis (0–2) at its own speed; returns the planned duration, ms */
  moveAxis(axis: number, target: number, speedUmPerS: number, onArrive?: () => void): number;
  stopAxis(axis: number): boolean;
  axisMoving(axis: number): boolean;
  /** where the axis is heading (where it is, when idle) */
  axisTarget(axis: number): number;
  /** the axis's last move was clamped at the end of travel */
  clampedAtEnd(axis: number): boolean;
}

interface AxisState {
  from: number;
  to: number;
  t0: number;
  t1: number;
  timer?: TimerHandle;
  clamped: boolean;
}

export function createAxisMotion(options: MotionModelOptions): AxisMotion {
  const { clock, travelMin, travelMax } = options;
  const axes: AxisState[] = [0, 1, 2].map((i) => ({ from: options.initial[i], to: options.initial[i], t0: 0, t1: 0, clamped: false }));
  const observers: MotionObserver[] = [];

  const at = (a: AxisState, t: number): number => {
    if (t >= a.t1 || a.t1 === a.t0) return a.to;
    if (t <= a.t0) return a.from;
    return a.from + ((a.to - a.from) * (t - a.t0)) / (a.t1 - a.t0);
  };
  const notify = (): void => {
    const t = clock.now();
    for (const o of observers) o.beforeChange(t);
  };
  const halt = (a: AxisState, now: number): boolean => {
    if (a.timer === undefined) return false;
    const here = at(a, now);
    clock.clearTimeout(a.timer);
    a.timer = undefined;
    a.from = a.to = here;
    a.t0 = a.t1 = now;
    return true;
  };

  const model: AxisMotion = {
    observers,
    positionAt: (t) => [at(axes[0], t), at(axes[1], t), at(axes[2], t)],
    get moving() {
      return axes.some((a) => a.timer !== undefined);
    },
    moveAxis(i, target, speed, onArrive) {
      notify();
      const a = axes[i];
      const now = clock.now();
      const start = at(a, now);
      clock.clearTimeout(a.timer);
      const end = Math.min(travelMax[i], Math.max(travelMin[i], target));
      const duration = speed > 0 ? (Math.abs(end - start) / speed) * 1000 : 0;
      Object.assign(a, { from: start, to: end, t0: now, t1: now + duration, clamped: end !== target });
      a.timer = clock.setTimeout(() => {
        a.timer = undefined;
        notify();
        a.from = a.to;
        a.t0 = a.t1 = clock.now();
        onArrive?.();
      }, duration);
      return duration;
    },
    stopAxis(i) {
      if (axes[i].timer === undefined) return false;
      notify();
      return halt(axes[i], clock.now());
    },
    axisMoving: (i) => axes[i].timer !== undefined,
    axisTarget: (i) => axes[i].to,
    clampedAtEnd: (i) => axes[i].clamped,
    moveTo(target, speed, onArrive) {
      const now = clock.now();
      const start = model.positionAt(now);
      const dist = Math.hypot(target[0] - start[0], target[1] - start[1], target[2] - start[2]);
      let left = 3;
      const arrived = (): void => {
        if (--left === 0) onArrive();
      };
      let longest = 0;
      for (let i = 0; i < 3; i++) {
        const share = dist > 0 ? Math.abs(target[i] - start[i]) / dist : 0;
        longest = Math.max(longest, model.moveAxis(i, target[i], share > 0 ? speed * share : speed, arrived));
      }
      return longest;
    },
    stop() {
      if (!model.moving) return false;
      notify();
      const now = clock.now();
      for (const a of axes) halt(a, now);
      return true;
    },
    setPosition(p: Vec3) {
      notify();
      const now = clock.now();
      axes.forEach((a, i) => {
        clock.clearTimeout(a.timer);
        Object.assign(a, { from: p[i], to: p[i], t0: now, t1: now, timer: undefined, clamped: false });
      });
    },
  };
  return model;
}
