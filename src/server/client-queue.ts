/**
 * Per-client send policy. ws queues whatever we send in `bufferedAmount`;
 * left alone, a slow browser would make that grow without bound. So:
 *   - droppable frames are not sent while bufferedAmount > highWaterBytes;
 *   - 'latest' frames wait, one per key, and go out once the socket drains;
 *     a snapshot drops those still waiting (it holds newer values: sent after
 *     it, they would set the page back);
 *   - critical frames always go; if even they pile past maxBufferedBytes the
 *     client is hopeless and is closed (1013): on reconnect it gets a full
 *     snapshot, so it loses nothing that matters.
 * Memory per client is thus bounded by maxBufferedBytes plus one frame per key.
 */
import type { OutMessage } from './messages.ts';

/** The part of a ws WebSocket this module uses (a stub in tests). */
export interface LiveSocket {
  readonly readyState: number;
  readonly bufferedAmount: number;
  send(data: string | Buffer): void;
  close(code?: number, reason?: string): void;
}

export interface ClientLimits {
  /** above this many buffered bytes, droppable frames are dropped and 'latest' ones wait */
  highWaterBytes: number;
  /** above this, the client is closed as too slow */
  maxBufferedBytes: number;
}

export interface ClientStats {
  sent: number;
  dropped: number;
  /** 'latest' frames replaced by a newer one before they could be sent */
  coalesced: number;
  closedTooSlow: boolean;
}

export interface ClientQueue {
  offer(message: OutMessage): void;
  /** send the waiting 'latest' frames if the socket has room */
  drain(): void;
  readonly alive: boolean;
  stats(): ClientStats;
}

const OPEN = 1;
const TRY_AGAIN_LATER = 1013;

export function createClientQueue(socket: LiveSocket, limits: ClientLimits): ClientQueue {
  const waiting = new Map<string, string | Buffer>();
  const stats: ClientStats = { sent: 0, dropped: 0, coalesced: 0, closedTooSlow: false };
  let alive = true;

  const isOpen = (): boolean => alive && socket.readyState === OPEN;

  const send = (data: string | Buffer): void => {
    try {
      socket.send(data);
      stats.sent++;
    } catch {
      // a socket that throws on send is gone; the close handler will remove it
      alive = false;
      return;
    }
    if (socket.bufferedAmount > limits.maxBufferedBytes) {
      alive = false;
      stats.closedTooSlow = true;
      waiting.clear();
      try {
        socket.close(TRY_AGAIN_LATER, 'client too slow');
      } catch {
        /* already closing */
      }
    }
  };

  const roomy = (): boolean => socket.bufferedAmount <= limits.highWaterBytes;

  const drain = (): void => {
    if (!isOpen() || waiting.size === 0 || !roomy()) return;
    const pending = [...waiting.values()];
    waiting.clear();
    for (const data of pending) if (isOpen()) send(data);
  };

  return {
    offer(message) {
      if (!isOpen()) return;
      if (message.resets) waiting.clear();
      switch (message.priority) {
        case 'critical':
          send(message.data);
          return;
        case 'droppable':
          if (roomy()) send(message.data);
          else stats.dropped++;
          return;
        case 'latest': {
          const key = message.key ?? '';
          if (roomy() && waiting.size === 0) {
            send(message.data);
            return;
          }
          if (waiting.has(key)) stats.coalesced++;
          waiting.set(key, message.data);
          drain();
        }
      }
    },
    drain,
    get alive() {
      return isOpen();
    },
    stats: () => ({ ...stats }),
  };
}
