/**
 * Fan-out of live traces (every test-pulse sweep, for display). Kept apart
 * from the event sink so the store never sees them: storage takes its own,
 * thinned `sweep` events. Listeners must only enqueue, and one that throws
 * is counted and skipped, as on the event sink.
 */
import type { LiveTrace } from './api.ts';

export interface TraceTap {
  emit(trace: LiveTrace): void;
  subscribe(listener: (trace: LiveTrace) => void): () => void;
  readonly listenerErrors: number;
}

export function createTraceTap(): TraceTap {
  const listeners = new Set<(trace: LiveTrace) => void>();
  let listenerErrors = 0;
  return {
    get listenerErrors() {
      return listenerErrors;
    },
    emit(trace) {
      for (const l of listeners) {
        try {
          l(trace);
        } catch {
          listenerErrors++;
        }
      }
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
