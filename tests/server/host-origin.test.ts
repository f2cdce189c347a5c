/**
 * Host and Origin checks on a listening server, over real HTTP and WebSocket
 * connections: a page on another site — by DNS rebinding (its own name in
 * Host) or cross-site (its origin in Origin) — reads and commands nothing.
 */
import { request } from 'node:http';
import { hostname } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { FastifyInstance } from 'fastify';
import { createServer } from '../../src/server/server.ts';
import { hostNames } from '../../src/server/host-guard.ts';
import { createFakeArchive } from './fake-archive.ts';
import { createFakeRig, type FakeRig } from './fake-rig.ts';

const TOKEN = 'host-origin-token-42';
let app: FastifyInstance | null = null;
let rig: FakeRig;
let port = 0;

async function listen(host = '127.0.0.1'): Promise<void> {
  rig = createFakeRig();
  app = createServer({ rig, archive: createFakeArchive(), token: TOKEN, host, port: 0 });
  const base = await app.autopatch.listen();
  port = Number(new URL(base).port);
}

afterEach(async () => {
  await app?.close();
  app = null;
});

function http(method: string, path: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Opens /ws with the given headers: 'open' with the first message, or the HTTP status it was refused with. */
function connect(headers: Record<string, string>): Promise<{ opened: true; first: { type: string } } | { opened: false; status: number }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, { headers });
    ws.once('message', (data) => {
      resolve({ opened: true, first: JSON.parse(data.toString()) as { type: string } });
      ws.terminate();
    });
    ws.once('unexpected-response', (_req, res) => {
      resolve({ opened: false, status: res.statusCode ?? 0 });
      ws.terminate();
    });
    ws.once('error', (e) => reject(e));
  });
}

describe('Host check (DNS rebinding)', () => {
  it('answers reads only to the names it listens on', async () => {
    await listen();
    expect((await http('GET', '/api/snapshot', { host: `127.0.0.1:${port}` })).status).toBe(200);
    expect((await http('GET', '/api/snapshot', { host: `localhost:${port}` })).status).toBe(200);
    const rebound = await http('GET', '/api/snapshot', { host: `evil.example:${port}` });
    expect(rebound.status).toBe(403);
    expect(JSON.parse(rebound.body).error).toMatch(/Host "evil\.example:\d+" is not this server/);
    expect(rebound.body).not.toContain('pipettes');
    expect((await http('GET', '/api/snapshot', { host: `127.0.0.1:${port + 1}` })).status).toBe(403);
    // the pages too: a rebound page never gets our UI to run under its name
    expect((await http('GET', '/', { host: `evil.example:${port}` })).status).toBe(403);
  });

  it('refuses a WebSocket upgrade and commands under a foreign Host', async () => {
    await listen();
    expect(await connect({ host: `evil.example:${port}` })).toEqual({ opened: false, status: 403 });
    const cmd = await http('POST', '/api/estop', { host: `evil.example:${port}`, authorization: `Bearer ${TOKEN}` });
    expect(cmd.status).toBe(403);
    expect(rig.calls).toEqual([]);
  });

  it('a wildcard bind answers to this machine’s names and addresses', () => {
    const names = hostNames('0.0.0.0', 8780);
    expect(names.has('127.0.0.1:8780')).toBe(true);
    expect(names.has('localhost:8780')).toBe(true);
    expect(names.has(`${hostname().toLowerCase()}:8780`)).toBe(true);
    expect(names.has('evil.example:8780')).toBe(false);
    expect(hostNames('127.0.0.1', 80).has('localhost')).toBe(true); // the default port may be left out
  });
});

describe('Origin check (cross-site pages)', () => {
  it('a page from another site cannot open the live stream; our own page and non-browser clients can', async () => {
    await listen();
    const host = `127.0.0.1:${port}`;
    expect(await connect({ origin: 'http://evil.example' })).toEqual({ opened: false, status: 403 });
    expect(await connect({ origin: `http://localhost:${port + 1}` })).toEqual({ opened: false, status: 403 });
    expect(await connect({ origin: 'null' })).toEqual({ opened: false, status: 403 });
    expect(await connect({ origin: `http://${host}` })).toMatchObject({ opened: true, first: { type: 'snapshot' } });
    expect(await connect({ origin: `http://localhost:${port}` })).toMatchObject({ opened: true, first: { type: 'snapshot' } });
    expect(await connect({})).toMatchObject({ opened: true, first: { type: 'snapshot' } });
  });

  it('commands from another site are refused even with the token; from our page they run', async () => {
    await listen();
    const auth = { authorization: `Bearer ${TOKEN}` };
    const cross = await http('POST', '/api/estop', { ...auth, origin: 'http://evil.example' });
    expect(cross.status).toBe(403);
    expect(JSON.parse(cross.body).error).toMatch(/page from http:\/\/evil\.example/);
    expect(rig.calls).toEqual([]);
    expect((await http('POST', '/api/estop', { ...auth, origin: `http://127.0.0.1:${port}` })).status).toBe(200);
    expect(rig.calls.map((c) => c.method)).toEqual(['emergencyStop']);
  });

  it('in-process (injected) requests: an Origin must match their own Host', async () => {
    rig = createFakeRig();
    app = createServer({ rig, archive: createFakeArchive(), token: TOKEN });
    await app.ready();
    const auth = { authorization: `Bearer ${TOKEN}` };
    const cross = await app.inject({ method: 'POST', url: '/api/estop', headers: { ...auth, host: 'localhost:80', origin: 'http://evil.example' } });
    expect(cross.statusCode).toBe(403);
    const same = await app.inject({ method: 'POST', url: '/api/estop', headers: { ...auth, host: 'localhost:80', origin: 'http://localhost' } });
    expect(same.statusCode).toBe(200);
  });
});
