/**
 * Who may talk to the server at all, whatever the token:
 *
 *   - Host: every request must name this server as it listens (the bound
 *     address, and for loopback also `localhost`/`127.0.0.1`/`[::1]`, with
 *     the port). A page on another site whose name was re-pointed at
 *     127.0.0.1 (DNS rebinding) sends its own name, and is refused.
 *   - Origin: the WebSocket upgrade and every command must come from one of
 *     those names or from no page at all (no Origin header: curl, scripts).
 *     Browsers do not apply the same-origin policy to WebSockets, so without
 *     this any open page could read the live stream.
 *
 * Requests injected in-process (tests; the server not listening) have no
 * network address to compare with: the Host check is skipped for them and an
 * Origin must match their own Host.
 */
import { hostname, networkInterfaces } from 'node:os';
import type { FastifyReply, FastifyRequest } from 'fastify';

const LOOPBACK_NAMES = ['127.0.0.1', 'localhost', '[::1]'];

export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

const bracket = (h: string): string => (h.includes(':') && !h.startsWith('[') ? `[${h}]` : h);

/** Host-header values (lower case, with port) that name a server bound to `host` on `port`. */
export function hostNames(host: string, port: number): Set<string> {
  const bases = new Set<string>([bracket(host.toLowerCase())]);
  if (isLoopbackHost(host)) for (const n of LOOPBACK_NAMES) bases.add(n);
  if (host === '0.0.0.0' || host === '::') {
    bases.delete(bracket(host));
    for (const n of LOOPBACK_NAMES) bases.add(n);
    bases.add(hostname().toLowerCase());
    for (const list of Object.values(networkInterfaces())) {
      for (const a of list ?? []) bases.add(bracket(a.address.toLowerCase().replace(/%.*$/, '')));
    }
  }
  const names = new Set<string>();
  for (const b of bases) {
    names.add(`${b}:${port}`);
    if (port === 80) names.add(b); // browsers leave the default port out
  }
  return names;
}

/** `http://host:port` → `host:port`, the port written out; null if it is not an http(s) origin. */
function originHost(origin: string): string | null {
  try {
    const u = new URL(origin);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return null;
    return `${u.hostname.toLowerCase()}:${u.port || (u.protocol === 'https:' ? '443' : '80')}`;
  } catch {
    return null;
  }
}

/** a Host header with its port written out (80 when left out) */
const withPort = (host: string): string => (/:\d+$/.test(host) ? host : `${host}:80`);

export interface HostGuardOptions {
  /** the names while listening; null while not (requests are injected) */
  names(): Set<string> | null;
}

const isUpgrade = (request: FastifyRequest): boolean => (request.headers.upgrade ?? '').toLowerCase() === 'websocket';

/** onRequest hook for the whole server. */
export function hostGuard(options: HostGuardOptions) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const names = options.names();
    const host = (request.headers.host ?? '').toLowerCase();
    if (names && !names.has(host)) {
      await reply.code(403).send({ ok: false, error: `refused: Host "${host}" is not this server (use ${[...names][0]})` });
      return;
    }
    const guarded = isUpgrade(request) || (request.method !== 'GET' && request.method !== 'HEAD');
    const origin = request.headers.origin;
    if (!guarded || origin === undefined) return;
    const from = originHost(origin);
    const ok = from !== null && (names ? names.has(from) : from === withPort(host));
    if (!ok) await reply.code(403).send({ ok: false, error: `refused: a page from ${origin} may not use this server` });
  };
}
