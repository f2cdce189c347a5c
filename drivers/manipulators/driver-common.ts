/**
 * Small pieces the manipulator drivers share above the SerialLink.
 *
 * The link serialises single requests; some operations are several requests
 * that must not interleave with another caller's (select a drive, then read
 * it; set a speed, then move). A mutex makes such a sequence atomic.
 */
import type { Vec3 } from '../types.ts';

export interface Mutex {
  /** run `fn` once every earlier holder has finished (whether it succeeded or not) */
  run<T>(fn: () => Promise<T>): Promise<T>;
}

export function createMutex(): Mutex {
  let tail: Promise<void> = Promise.resolve();
  return {
    run<T>(fn: () => Promise<T>): Promise<T> {
      const result = tail.then(fn);
      const release = (): void => {};
      tail = result.then(release, release);
      return result;
    },
  };
}

export const add3 = (a: Vec3, b: Vec3): Vec3 => [a[0] + b[0], a[1] + b[1], a[2] + b[2]];
