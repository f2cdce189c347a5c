export type { Clock, TimerHandle } from './clock.ts';
export { sleep, every } from './clock.ts';
export { createRealClock } from './real-clock.ts';
export { createVirtualClock } from './virtual-clock.ts';
export type { VirtualClock, VirtualClockOptions } from './virtual-clock.ts';
export { createScaledClock } from './scaled-clock.ts';
