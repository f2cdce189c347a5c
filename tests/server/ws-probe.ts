/**
 * Connects to /ws through fastify.injectWS (no port) and collects what the
 * server sends, so a test can wait for a given message. Listeners are
 * attached in onInit: the snapshot arrives before injectWS resolves.
 */
import type { FastifyInstance } from 'fastify';
import type { WebSocket } from 'ws';

export type Received = { kind: 'text'; value: { type: string; [k: string]: unknown } } | { kind: 'binary'; value: Buffer };

export interface WsProbe {
  ws: WebSocket;
  received: Received[];
  texts(type?: string): Array<{ type: string; [k: string]: unknown }>;
  binaries(): Buffer[];
  /** resolves with the first message (already received or future) that matches */
  waitFor(match: (m: Received) => boolean, what?: string, timeoutMs?: number): Promise<Received>;
  waitForText(type: string, match?: (v: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
  send(value: unknown): void;
  close(): void;
}

export async function openProbe(
  app: FastifyInstance,
  opts: { path?: string; remoteAddress?: string; headers?: Record<string, string> } = {},
): Promise<WsProbe> {
  const received: Received[] = [];
  const waiters: Array<{ match: (m: Received) => boolean; resolve: (m: Received) => void }> = [];
  const onMessage = (data: Buffer, isBinary: boolean): void => {
    const m: Received = isBinary
      ? { kind: 'binary', value: Buffer.from(data) }
      : { kind: 'text', value: JSON.parse(data.toString()) as { type: string } };
    received.push(m);
    for (let i = waiters.length - 1; i >= 0; i--) {
      if (waiters[i].match(m)) {
        waiters[i].resolve(m);
        waiters.splice(i, 1);
      }
    }
  };
  const ws = await app.injectWS(
    opts.path ?? '/ws',
    { socket: { remoteAddress: opts.remoteAddress ?? '127.0.0.1' }, headers: opts.headers ?? {} } as never,
    { onInit: (client) => client.on('message', onMessage) },
  );
  const probe: WsProbe = {
    ws,
    received,
    texts: (type) =>
      received
        .filter((m): m is Extract<Received, { kind: 'text' }> => m.kind === 'text')
        .map((m) => m.value)
        .filter((v) => type === undefined || v.type === type),
    binaries: () => received.filter((m) => m.kind === 'binary').map((m) => m.value as Buffer),
    waitFor(match, what = 'message', timeoutMs = 5000) {
      const found = received.find(match);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), timeoutMs);
        waiters.push({
          match,
          resolve: (m) => {
            clearTimeout(timer);
            resolve(m);
          },
        });
      });
    },
    async waitForText(type, match = () => true) {
      const m = await probe.waitFor(
        (r) => r.kind === 'text' && r.value.type === type && match(r.value),
        `a '${type}' message`,
      );
      return m.value as Record<string, unknown>;
    },
    send: (value) => ws.send(typeof value === 'string' ? value : JSON.stringify(value)),
    close: () => ws.terminate(),
  };
  return probe;
}

/** Lets the server's deferred flush (setImmediate) and socket writes run. */
export function settle(turns = 5): Promise<void> {
  return new Promise((resolve) => {
    let n = 0;
    const step = (): void => {
      if (++n >= turns) resolve();
      else setImmediate(step);
    };
    setImmediate(step);
  });
}
