/**
 * Fan-out of the rig's event stream to WebSocket clients.
 *
 * The rig calls `push` from inside its control loop, so `push` only appends
 * to an inbox and arms one deferred flush: no JSON, no decimation, no socket
 * call on that path, whatever the number or speed of clients. The flush runs
 * on a later turn of the event loop (setImmediate by default — a deferral,
 * not a timer, so it is independent of the rig's clock) and encodes each
 * event once for all clients.
 *
 * The inbox is bounded: past `maxInbox` entries, non-critical events are
 * dropped and counted (only reachable if the event loop is starved).
 *
 * A client joining takes a snapshot and only receives events pushed after it,
 * so nothing is applied twice. After session start/end and e-stop every
 * client gets a fresh snapshot instead of the rest of that batch: it carries
 * the new pipette list, which also fixes the pipette indices of trace frames.
 */
import type { SessionSnapshot } from '../control/api.ts';
import type { RigEvent } from '../control/events.ts';
import { createClientQueue, type ClientLimits, type ClientQueue, type ClientStats, type LiveSocket } from './client-queue.ts';
import { clockMessage, encodeEvent, priorityOf, snapshotMessage, triggersSnapshot, type OutMessage } from './messages.ts';
import { UNKNOWN_PIPETTE, type TraceEncoding } from './trace-frame.ts';

export interface HubOptions {
  snapshot: () => SessionSnapshot;
  limits: ClientLimits;
  maxInbox: number;
  /** most samples per trace frame */
  maxPoints: number;
  encoding: TraceEncoding;
  /** how the flush is deferred; setImmediate unless a test wants to drive it */
  defer?: (fn: () => void) => void;
}

export interface LiveClient {
  readonly id: number;
  readonly queue: ClientQueue;
}

export interface HubStats {
  clients: number;
  inbox: number;
  inboxDropped: number;
  flushes: number;
  perClient: Array<ClientStats & { id: number }>;
}

export interface LiveHub {
  /** the rig listener: O(1), touches no socket */
  push(event: RigEvent): void;
  pushClock(t: number, epochMs: number): void;
  /** registers a socket and sends it the current snapshot */
  addClient(socket: LiveSocket): LiveClient;
  removeClient(client: LiveClient): void;
  /** send this client a fresh snapshot; it then receives only later events */
  resync(client: LiveClient): void;
  /** a critical message for one client (replies, errors) */
  sendTo(client: LiveClient, message: object): void;
  /** run the pending flush now */
  flush(): void;
  stats(): HubStats;
  close(): void;
}

interface Entry {
  seq: number;
  event: RigEvent;
}

interface ClientState extends LiveClient {
  fromSeq: number;
}

export function createHub(options: HubOptions): LiveHub {
  const defer = options.defer ?? ((fn: () => void) => void setImmediate(fn));
  const clients = new Set<ClientState>();
  const pipetteIndex = new Map<string, number>();
  let inbox: Entry[] = [];
  let pendingClock: OutMessage | null = null;
  let nextSeq = 0;
  let nextClientId = 1;
  let scheduled = false;
  let closed = false;
  let inboxDropped = 0;
  let flushes = 0;

  const schedule = (): void => {
    if (scheduled || closed) return;
    scheduled = true;
    defer(flush);
  };

  const takeSnapshot = (): OutMessage => {
    const snap = options.snapshot();
    pipetteIndex.clear();
    snap.pipettes.forEach((p, i) => pipetteIndex.set(p.pipetteId, i));
    return snapshotMessage(snap);
  };

  const ctx = {
    pipetteIndex: (id: string) => pipetteIndex.get(id) ?? UNKNOWN_PIPETTE,
    maxPoints: options.maxPoints,
    encoding: options.encoding,
  };

  function flush(): void {
    scheduled = false;
    if (closed) return;
    flushes++;
    const batch = inbox;
    inbox = [];
    const clock = pendingClock;
    pendingClock = null;

    let resnapshot = false;
    for (const { seq, event } of batch) {
      let message: OutMessage | null = null;
      for (const c of clients) {
        if (seq < c.fromSeq) continue;
        message ??= encodeEvent(event, ctx);
        c.queue.offer(message);
      }
      if (triggersSnapshot(event)) {
        resnapshot = true;
        break; // the snapshot covers everything after it in this batch
      }
    }
    if (resnapshot && clients.size > 0) {
      const snap = takeSnapshot();
      for (const c of clients) {
        c.fromSeq = nextSeq;
        c.queue.offer(snap);
      }
    }
    if (clock) for (const c of clients) c.queue.offer(clock);
    for (const c of clients) {
      c.queue.drain();
      if (!c.queue.alive) clients.delete(c);
    }
  }

  return {
    push(event) {
      if (clients.size === 0 || closed) return; // a joining client starts from a snapshot
      if (inbox.length >= options.maxInbox && priorityOf(event) !== 'critical') {
        inboxDropped++;
        return;
      }
      inbox.push({ seq: nextSeq++, event });
      schedule();
    },
    pushClock(t, epochMs) {
      if (clients.size === 0 || closed) return;
      pendingClock = clockMessage(t, epochMs);
      schedule();
    },
    addClient(socket) {
      const client: ClientState = {
        id: nextClientId++,
        queue: createClientQueue(socket, options.limits),
        fromSeq: nextSeq,
      };
      client.queue.offer(takeSnapshot());
      clients.add(client);
      return client;
    },
    removeClient(client) {
      clients.delete(client as ClientState);
    },
    resync(client) {
      const c = client as ClientState;
      c.fromSeq = nextSeq;
      c.queue.offer(takeSnapshot());
    },
    sendTo(client, message) {
      client.queue.offer({ priority: 'critical', data: JSON.stringify(message) });
    },
    flush,
    stats: () => ({
      clients: clients.size,
      inbox: inbox.length,
      inboxDropped,
      flushes,
      perClient: [...clients].map((c) => ({ id: c.id, ...c.queue.stats() })),
    }),
    close() {
      closed = true;
      inbox = [];
      clients.clear();
    },
  };
}
