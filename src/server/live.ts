/**
 * Live view: `GET /ws` (WebSocket), `GET /api/snapshot`, `GET /api/presets`,
 * `GET /api/live/stats`.
 *
 * /ws sends a snapshot on connect, then the event stream (messages.ts).
 * Clients may also send JSON text messages (schemas.ts, ClientMessage):
 *   {type:'auth', token, id?}                 unlock commands on this socket
 *   {type:'command', request, id?}            same requests as the REST routes
 *   {type:'resync', id?}                      ask for a fresh snapshot
 *   {type:'ping', id?}
 * Commands on the socket need the token (`?token=` at connect, or an auth
 * message); an invalid or unauthorised message gets {type:'error'} and
 * changes nothing. The bundled UI uses REST for commands (plain HTTP status
 * codes, works while the socket reconnects) and the socket for reading.
 */
import type { FastifyInstance } from 'fastify';
import type { WebSocket } from 'ws';
import type { RigControl } from '../control/api.ts';
import { checkToken, operatorOf, requireReadAccess, tokenFrom } from './auth.ts';
import { runControl } from './commands.ts';
import type { LiveHub } from './hub.ts';
import { parseClientMessage } from './schemas.ts';

export interface LivePluginOptions {
  rig: RigControl;
  hub: LiveHub;
  token: string;
}

export async function livePlugin(app: FastifyInstance, opts: LivePluginOptions): Promise<void> {
  const { rig, hub, token } = opts;
  app.addHook('onRequest', requireReadAccess(token));

  app.get('/api/snapshot', async () => rig.snapshot());

  // the presets this rig can run (preparation and limits), for the picker
  app.get('/api/presets', async () => ({ presets: await rig.presets() }));

  app.get('/api/live/stats', async () => hub.stats());

  app.get('/ws', { websocket: true }, (socket: WebSocket, request) => {
    let authorized = checkToken(tokenFrom(request), token) === 'ok';
    const by = operatorOf(request);
    const client = hub.addClient(socket);

    // attached synchronously, before anything async, so no message is missed
    socket.on('message', (data, isBinary) => {
      if (isBinary) {
        hub.sendTo(client, { type: 'error', error: 'binary messages are not accepted' });
        return;
      }
      const parsed = parseClientMessage(data.toString());
      if (!parsed.ok) {
        hub.sendTo(client, { type: 'error', id: parsed.id, error: parsed.error });
        return;
      }
      const msg = parsed.message;
      switch (msg.type) {
        case 'ping':
          hub.sendTo(client, { type: 'pong', id: msg.id });
          return;
        case 'resync':
          hub.resync(client);
          return;
        case 'auth': {
          const check = checkToken(msg.token, token);
          authorized = check === 'ok';
          hub.sendTo(client, authorized ? { type: 'reply', id: msg.id, ok: true } : { type: 'error', id: msg.id, error: 'wrong token' });
          return;
        }
        case 'command':
          if (!authorized) {
            hub.sendTo(client, {
              type: 'error',
              id: msg.id,
              error: 'token required: connect with ?token= or send {type:"auth", token} first',
            });
            return;
          }
          void runControl(rig, msg.request, by).then((outcome) => {
            hub.sendTo(client, { type: 'reply', id: msg.id, ok: outcome.ok, status: outcome.status, error: outcome.error });
          });
          return;
      }
    });
    socket.on('close', () => hub.removeClient(client));
  });
}
