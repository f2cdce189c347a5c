/**
 * Which events the writer may shed under back-pressure, and how to hand an
 * event to the worker thread cheaply.
 *
 * Critical (never dropped): session, attempt, state, fault, log, estop,
 * pressure and holding events, and stimulus sweeps — the record of what
 * happened. Sheddable: test-pulse sweeps, test-pulse readings and positions —
 * dense streams whose neighbours carry nearly the same information.
 */
import type { RigEvent } from '../control/events.ts';
import type { Sweep } from '../../drivers/types.ts';

export type EventClass = 'critical' | 'sheddable';
export type SheddableKind = 'testpulseSweeps' | 'testpulseReadings' | 'positions';

export function sheddableKind(event: RigEvent): SheddableKind | null {
  switch (event.type) {
    case 'sweep':
      return event.sweep.kind === 'testpulse' ? 'testpulseSweeps' : null;
    case 'pipette.testpulse':
      return 'testpulseReadings';
    case 'pipette.position':
      return 'positions';
    default:
      return null;
  }
}

export function classifyEvent(event: RigEvent): EventClass {
  return sheddableKind(event) === null ? 'critical' : 'sheddable';
}

/** Rough in-memory size, for the queue bound: sample bytes plus a fixed overhead. */
export function eventBytes(event: RigEvent): number {
  if (event.type !== 'sweep') return 256;
  return 512 + event.sweep.response.byteLength + (event.sweep.stimulus?.samples.byteLength ?? 0);
}

/**
 * A copy of the event safe to transfer: sample arrays are copied once into
 * buffers of their own (the caller keeps using its arrays, and a view on a
 * larger ring buffer would otherwise be cloned whole) and those buffers are
 * added to `transfer`, so postMessage moves them without a second copy.
 */
export function detachForTransfer(event: RigEvent, transfer: ArrayBuffer[]): RigEvent {
  if (event.type !== 'sweep') return event;
  const src = event.sweep;
  const response = src.response.slice(); // same-type slice copies bytes, NaN payloads intact
  transfer.push(response.buffer as ArrayBuffer);
  let stimulus = src.stimulus;
  if (stimulus) {
    const samples = stimulus.samples.slice();
    transfer.push(samples.buffer as ArrayBuffer);
    stimulus = { ...stimulus, samples };
  }
  const sweep: Sweep = { ...src, response, stimulus };
  if (!stimulus) delete sweep.stimulus;
  return { ...event, sweep };
}
