/**
 * Fan-out of the rig's event stream to WebSocket clients.
 *
 * The rig calls `push` (events) and `pushTrace` (live test-pulse traces) from
 * inside its control loop, so they only append to an inbox and arm one
 * deferred flush: no JSON, no decimation, no socket call on that path,
 * whatever the number or speed of clients. The flush runs
 * on a later turn of the event loop (setImmediate by default — a deferral,
 * not a timer, so it is independent of the rig's clock) and encodes each
 * event once for all clients.
 *
 * The inbox is bounded: past `maxInbox` entries, non-critical events are
 * dropped and counted (only reachable if the event loop is starved). Of
 * several traces of one pipette in a flush only the newest is sent: the
 * others would be drawn over before anyone saw them.
 *
 * A client joining takes a snapshot and only receives events pushed after it,
 * so nothing is applied twice. After session start/end and e-stop every
 * client gets a fresh snapshot instead of the rest of that batch: it carries
 * the new pipette list, which also fixes the pipette indices of trace frames.
 *
 * A snapshot message also carries the recent events the event log shows, and
 * is followed by each pipette's last traces: a reloaded page shows what an
 * open one does. The hub keeps those (the last RECENT_LOG logged events, one
 * trace and one stimulus sweep per pipette) even while no client is connected.
 */
import type { LiveTrace, SessionSnapshot } from '../control/api.ts';
import type { RigEvent } from '../control/events.ts';
import { createClientQueue, type ClientLimits, type ClientQueue, type ClientStats, type LiveSocket } from './client-queue.ts';
import {
  clockMessage,
  encodeEvent,
  encodeTrace,
  isLogged,
  isStoredTestPulse,
  priorityOf,
  snapshotMessage,
  sweepFrames,
  triggersSnapshot,
  type EncodeContext,
  type OutMessage,
} from './messages.ts';
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

/** Logged events a snapshot carries (the page's event log keeps as many). */
export const RECENT_LOG = 200;

export interface HubStats {
  clients: number;
  inbox: number;
  inboxDropped: number;
  /** traces not sent because a newer one of the same pipette was in the same flush */
  tracesSuperseded: number;
  flushes: number;
  perClient: Array<ClientStats & { id: number }>;
}

export interface LiveHub {
  /** the rig listener: O(1), touches no socket */
  push(event: RigEvent): void;
  /** the live-trace listener: O(1), touches no socket */
  pushTrace(trace: LiveTrace): void;
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

type Entry = { seq: number; event: RigEvent; trace?: undefined } | { seq: number; trace: LiveTrace; event?: undefined };

type StimulusSweep = Extract<RigEvent, { type: 'sweep' }>;

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
  let tracesSuperseded = 0;
  let flushes = 0;
  // for snapshots: the recent logged events (a ring) and each pipette's last traces
  const recent: RigEvent[] = [];
  let recentHead = 0;
  const lastTrace = new Map<string, LiveTrace>();
  const lastStimulus = new Map<string, StimulusSweep>();

  const remember = (event: RigEvent): void => {
    if (isLogged(event)) {
      if (recent.length < RECENT_LOG) recent.push(event);
      else {
        recent[recentHead] = event;
        recentHead = (recentHead + 1) % RECENT_LOG;
      }
    } else if (event.type === 'sweep' && event.sweep.kind === 'stimulus') {
      lastStimulus.set(event.pipetteId, event);
    }
  };
  const recentInOrder = (): RigEvent[] => (recentHead === 0 ? recent.slice() : [...recent.slice(recentHead), ...recent.slice(0, recentHead)]);

  const schedule = (): void => {
    if (scheduled || closed) return;
    scheduled = true;
    defer(flush);
  };

  /** the snapshot message, then (if any) one binary message with each pipette's last traces */
  const takeSnapshot = (): OutMessage[] => {
    const snap = options.snapshot();
    pipetteIndex.clear();
    snap.pipettes.forEach((p, i) => pipetteIndex.set(p.pipetteId, i));
    const out = [snapshotMessage(snap, recentInOrder())];
    const frames: Buffer[] = [];
    for (const p of snap.pipettes) {
      const tp = lastTrace.get(p.pipetteId);
      if (tp) frames.push(sweepFrames(p.pipetteId, tp.sweep, ctx));
      const st = lastStimulus.get(p.pipetteId);
      if (st) frames.push(sweepFrames(p.pipetteId, st.sweep, ctx));
    }
    // part of the snapshot, so as reliable as it
    if (frames.length > 0) out.push({ priority: 'critical', data: Buffer.concat(frames) });
    return out;
  };

  const ctx: EncodeContext = {
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

    // only the newest trace of each pipette in this batch is worth drawing
    const newestTrace = new Map<string, number>();
    for (const e of batch) if (e.trace) newestTrace.set(e.trace.pipetteId, e.seq);

    let resnapshot = false;
    for (const { seq, event, trace } of batch) {
      if (trace && newestTrace.get(trace.pipetteId) !== seq) {
        tracesSuperseded++;
        continue;
      }
      let message: OutMessage | null = null;
      for (const c of clients) {
        if (seq < c.fromSeq) continue;
        message ??= trace ? encodeTrace(trace, ctx) : encodeEvent(event, ctx);
        c.queue.offer(message);
      }
      if (event && triggersSnapshot(event)) {
        resnapshot = true;
        break; // the snapshot covers everything after it in this batch
      }
    }
    if (resnapshot && clients.size > 0) {
      const snap = takeSnapshot();
      for (const c of clients) {
        c.fromSeq = nextSeq;
        for (const m of snap) c.queue.offer(m);
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
      if (closed) return;
      remember(event);
      if (clients.size === 0) return; // a joining client starts from a snapshot
      if (isStoredTestPulse(event)) return;
      if (inbox.length >= options.maxInbox && priorityOf(event) !== 'critical') {
        inboxDropped++;
        return;
      }
      inbox.push({ seq: nextSeq++, event });
      schedule();
    },
    pushTrace(trace) {
      if (closed) return;
      lastTrace.set(trace.pipetteId, trace);
      if (clients.size === 0) return;
      if (inbox.length >= options.maxInbox) {
        inboxDropped++;
        return;
      }
      inbox.push({ seq: nextSeq++, trace });
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
      for (const m of takeSnapshot()) client.queue.offer(m);
      clients.add(client);
      return client;
    },
    removeClient(client) {
      clients.delete(client as ClientState);
    },
    resync(client) {
      const c = client as ClientState;
      c.fromSeq = nextSeq;
      for (const m of takeSnapshot()) c.queue.offer(m);
    },
    sendTo(client, message) {
      client.queue.offer({ priority: 'critical', data: JSON.stringify(message) });
    },
    flush,
    stats: () => ({
      clients: clients.size,
      inbox: inbox.length,
      inboxDropped,
      tracesSuperseded,
      flushes,
      perClient: [...clients].map((c) => ({ id: c.id, ...c.queue.stats() })),
    }),
    close() {
      closed = true;
      inbox = [];
      clients.clear();
      lastTrace.clear();
      lastStimulus.clear();
    },
  };
}
