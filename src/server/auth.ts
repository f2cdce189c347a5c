/**
 * Access rules: controlling the rig needs the session token; reading (live
 * view, archive) is open to the same machine only while the server listens
 * on a loopback address; otherwise (`--host` another address) everyone needs
 * the token to read too. Which Host and Origin may talk at all: host-guard.ts. The token comes as `Authorization: Bearer <token>`,
 * `x-autopatch-token`, or `?token=` (browsers cannot set headers on a
 * WebSocket).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';

export type TokenCheck = 'ok' | 'missing' | 'wrong';

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

export function tokenFrom(request: FastifyRequest): string | null {
  const auth = request.headers.authorization;
  if (typeof auth === 'string') {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    if (m) return m[1];
  }
  const header = request.headers['x-autopatch-token'];
  if (typeof header === 'string' && header.length > 0) return header;
  const query = request.query as Record<string, unknown> | undefined;
  if (query && typeof query.token === 'string' && query.token.length > 0) return query.token;
  return null;
}

/** Compares digests so the time taken says nothing about the token. */
export function checkToken(presented: string | null, expected: string): TokenCheck {
  if (presented === null) return 'missing';
  return timingSafeEqual(digest(presented), digest(expected)) ? 'ok' : 'wrong';
}

export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.');
}

function remoteAddress(request: FastifyRequest): string | undefined {
  // request.ip throws-free but the raw socket can be absent for injected upgrades
  return (request.raw.socket as { remoteAddress?: string } | undefined)?.remoteAddress;
}

export async function refuse(reply: FastifyReply, check: TokenCheck): Promise<void> {
  if (check === 'missing') {
    await reply
      .code(401)
      .header('www-authenticate', 'Bearer realm="autopatch"')
      .send({ ok: false, error: 'token required: send Authorization: Bearer <token> or x-autopatch-token' });
  } else {
    await reply.code(403).send({ ok: false, error: 'wrong token' });
  }
}

/** onRequest hook for routes that change the rig. */
export function requireToken(token: string) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const check = checkToken(tokenFrom(request), token);
    if (check !== 'ok') await refuse(reply, check);
  };
}

/**
 * onRequest hook for read routes: open from this machine while the server
 * says reads are open locally (it listens on loopback), token otherwise.
 */
export function requireReadAccess(token: string) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (request.server.autopatch?.readsOpenLocally === true && isLoopback(remoteAddress(request))) return;
    const check = checkToken(tokenFrom(request), token);
    if (check !== 'ok') await refuse(reply, check);
  };
}

const OPERATOR = /^[\w .@-]{1,64}$/;

/**
 * Who issued a command, for the rig's records: `dashboard:<x-autopatch-operator>`
 * when that header is sane, else `dashboard:<fallback>` (the operator named
 * in a start request), else 'dashboard'.
 */
export function operatorOf(request: FastifyRequest, fallback?: string): string {
  const h = request.headers['x-autopatch-operator'];
  if (typeof h === 'string' && OPERATOR.test(h)) return `dashboard:${h}`;
  if (fallback && OPERATOR.test(fallback)) return `dashboard:${fallback}`;
  return 'dashboard';
}
