/**
 * Stamping and fan-out of rig events. Producers hand over events without
 * times; the sink stamps clock time and wall time, then calls listeners
 * synchronously. Listeners must only enqueue (store writer, WebSocket
 * broadcaster): the control loop never waits for a consumer.
 */
import type { Clock } from '../clock/clock.ts';
import type { RigEvent } from './events.ts';

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
export type RigEventInput = DistributiveOmit<RigEvent, 't' | 'epochMs'>;

export interface EventSink {
  emit(event: RigEventInput): RigEvent;
  subscribe(listener: (event: RigEvent) => void): () => void;
  /** listener errors caught so far (a failing consumer never breaks control) */
  readonly listenerErrors: number;
}

export function createEventSink(clock: Clock, onListenerError?: (error: unknown) => void): EventSink {
  const listeners = new Set<(event: RigEvent) => void>();
  let listenerErrors = 0;
  return {
    get listenerErrors() {
      return listenerErrors;
    },
    emit(input) {
      const event = { ...input, t: clock.now(), epochMs: clock.epochMs() } as RigEvent;
      for (const l of listeners) {
        try {
          l(event);
        } catch (e) {
          listenerErrors++;
          onListenerError?.(e);
        }
      }
      return event;
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
