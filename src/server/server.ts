/**
 * The dashboard server: fastify with encapsulated plugins for the live view
 * (live.ts), control (control.ts), the archive (archive.ts) and the UI
 * (static.ts). It is handed a RigControl and a SessionArchive; the control
 * core never imports this module.
 */
import fastifyWebsocket from '@fastify/websocket';
import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify';
import type { RigControl } from '../control/api.ts';
import { every, type Clock } from '../clock/clock.ts';
import type { SessionArchive } from './archive-types.ts';
import { archivePlugin } from './archive.ts';
import { controlPlugin } from './control.ts';
import { hostGuard, hostNames, isLoopbackHost } from './host-guard.ts';
import { createHub, type LiveHub } from './hub.ts';
import { livePlugin } from './live.ts';
import { staticPlugin } from './static.ts';
import type { TraceEncoding } from './trace-frame.ts';

export interface LiveOptions {
  /** above this many bytes queued on a socket, traces are dropped and latest-values wait */
  highWaterBytes: number;
  /** a client with more than this queued is closed as too slow (it reconnects to a snapshot) */
  maxBufferedBytes: number;
  /** bound of the events waiting for the next flush */
  maxInbox: number;
  /** most samples per trace frame: a plot 300–600 px wide needs no more than ~2 per pixel */
  maxPoints: number;
  encoding: TraceEncoding;
}

export const DEFAULT_LIVE: LiveOptions = {
  highWaterBytes: 256 * 1024,
  maxBufferedBytes: 8 * 1024 * 1024,
  maxInbox: 20_000,
  maxPoints: 1200,
  encoding: 'int16',
};

export interface ServerOptions {
  rig: RigControl;
  archive: SessionArchive;
  /** required for every command; also for reading, unless `host` is a loopback address and the reader on this machine */
  token: string;
  /** address to listen on (default 127.0.0.1) */
  host?: string;
  port?: number;
  /** a pino logger, or true for fastify's own; default silent */
  logger?: FastifyBaseLogger | boolean;
  /** the rig's clock: enables a heartbeat so the UI's time-in-state runs at rig time (virtual or real) */
  clock?: Clock;
  /** heartbeat period, rig-clock ms */
  heartbeatMs?: number;
  live?: Partial<LiveOptions>;
  uiDir?: string;
}

export interface AutopatchServerInfo {
  hub: LiveHub;
  /** reading without the token from this machine: only while listening on loopback */
  readsOpenLocally: boolean;
  /** listen on the configured host/port; resolves with the base URL */
  listen(): Promise<string>;
}

declare module 'fastify' {
  interface FastifyInstance {
    autopatch: AutopatchServerInfo;
  }
}

const WS_MAX_PAYLOAD = 64 * 1024;

export function createServer(options: ServerOptions): FastifyInstance {
  if (typeof options.token !== 'string' || options.token.length < 8) {
    throw new Error('createServer: token must be a string of at least 8 characters');
  }
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? 0;
  const live: LiveOptions = { ...DEFAULT_LIVE, ...options.live };

  const app: FastifyInstance =
    typeof options.logger === 'object'
      ? Fastify({ loggerInstance: options.logger })
      : Fastify({ logger: options.logger ?? false });

  const hub = createHub({
    snapshot: () => options.rig.snapshot(),
    limits: { highWaterBytes: live.highWaterBytes, maxBufferedBytes: live.maxBufferedBytes },
    maxInbox: live.maxInbox,
    maxPoints: live.maxPoints,
    encoding: live.encoding,
  });
  const unsubscribe = options.rig.onEvent((event) => {
    try {
      hub.push(event);
    } catch (err) {
      // the rig's loop must never be disturbed by the dashboard
      app.log.error({ err }, 'live hub push failed');
    }
  });
  const unsubscribeTraces = options.rig.onTrace((trace) => {
    try {
      hub.pushTrace(trace);
    } catch (err) {
      app.log.error({ err }, 'live hub trace push failed');
    }
  });
  const { clock } = options;
  const stopHeartbeat = clock
    ? every(clock, options.heartbeatMs ?? 1000, () => hub.pushClock(clock.now(), clock.epochMs()))
    : () => {};

  let names: { port: number; set: Set<string> } | null = null;
  /** the names this server answers to, from the port it really listens on (null: not listening) */
  const listeningNames = (): Set<string> | null => {
    const addr = app.server.listening ? app.server.address() : null;
    if (!addr || typeof addr !== 'object') return null;
    if (names?.port !== addr.port) names = { port: addr.port, set: hostNames(host, addr.port) };
    return names.set;
  };
  app.decorate('autopatch', {
    hub,
    readsOpenLocally: isLoopbackHost(host),
    async listen() {
      await app.listen({ host, port });
      const addr = app.server.address();
      const actualPort = typeof addr === 'object' && addr ? addr.port : port;
      // a wildcard bind is reached here through loopback (other machines use this machine's address)
      const shownHost = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '[::1]' : host.includes(':') ? `[${host}]` : host;
      return `http://${shownHost}:${actualPort}/`;
    },
  });

  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error.validation) {
      return reply.code(400).send({ ok: false, error: error.message });
    }
    const status = error.statusCode && error.statusCode >= 400 ? error.statusCode : 500;
    if (status >= 500) {
      request.log.error({ err: error }, 'request failed');
      return reply.code(status).send({ ok: false, error: `internal error: ${error.message}` });
    }
    return reply.code(status).send({ ok: false, error: error.message });
  });

  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({ ok: false, error: `not found: ${request.method} ${request.url.split('?')[0]}` }),
  );

  // first of all hooks: a foreign Host or Origin reaches nothing
  app.addHook('onRequest', hostGuard({ names: listeningNames }));
  // A WebSocket upgrade answered with plain HTTP (refused: token, Host, Origin) leaves a raw
  // socket that no one else closes (the HTTP server keeps it half-open): close it once answered.
  // Upgrades that succeed are hijacked by the websocket plugin and never get here.
  app.addHook('onResponse', async (request) => {
    if ((request.headers.upgrade ?? '').toLowerCase() === 'websocket') request.raw.socket?.end();
  });

  app.register(fastifyWebsocket, {
    options: { maxPayload: WS_MAX_PAYLOAD },
    errorHandler(error, socket, request) {
      // an unclean disconnect is routine for a dashboard; log, drop the socket
      request.log.warn({ err: error }, 'websocket error');
      socket.terminate();
    },
  });
  app.register(livePlugin, { rig: options.rig, hub, token: options.token });
  app.register(controlPlugin, { rig: options.rig, token: options.token });
  app.register(archivePlugin, { archive: options.archive, token: options.token });
  app.register(staticPlugin, { uiDir: options.uiDir });

  app.addHook('onClose', async () => {
    stopHeartbeat();
    unsubscribe();
    unsubscribeTraces();
    hub.close();
  });
  return app;
}

/** The link `npm start` prints: the dashboard with the token, ready to click. */
export function dashboardUrl(baseUrl: string, token: string): string {
  const url = new URL(baseUrl);
  url.searchParams.set('token', token);
  return url.toString();
}
