/**
 * REST control routes. Every route needs the token (checked in onRequest,
 * before the body is even parsed, so a refused request reaches nothing).
 *
 *   POST /api/session/start               {preset, operator, durationMin?}
 *   POST /api/session/pause | resume | abort            no body, or {}
 *   POST /api/estop                                    no body, or {}
 *   POST /api/pipettes/:id/skip | retry | abort | clean | replaced   no body, or {}
 *   POST /api/pipettes/:id/pressure       {mbar: number | null}   null releases the override
 *   POST /api/pipettes/:id/holding        {mV: number | null}
 *   GET  /api/auth                        {ok: true} if the token is right (the page shows whether
 *                                         its e-stop and buttons are armed)
 *
 * Answers {ok: true} or {ok: false, error} with 400 (invalid request),
 * 401/403 (token), 404 (unknown pipette), 409 (the rig refused), 500.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { RigControl } from '../control/api.ts';
import { operatorOf, requireToken } from './auth.ts';
import { runControl } from './commands.ts';
import {
  emptyBodySchema,
  holdingBodySchema,
  pipetteParamsSchema,
  PIPETTE_ACTIONS,
  pressureBodySchema,
  startBodySchema,
  strictAjv,
  type ControlRequest,
} from './schemas.ts';

export interface ControlPluginOptions {
  rig: RigControl;
  token: string;
}

const BODY_LIMIT = 16 * 1024;

/** Commands without arguments: no body at all is the usual way to send none, the same as {}. */
const noArguments = {
  schema: { body: emptyBodySchema },
  bodyLimit: BODY_LIMIT,
  preValidation: async (request: FastifyRequest) => {
    if (request.body === undefined) request.body = {};
  },
};

export async function controlPlugin(app: FastifyInstance, opts: ControlPluginOptions): Promise<void> {
  const { rig } = opts;
  app.setValidatorCompiler(({ schema }) => strictAjv.compile(schema));
  app.addHook('onRequest', requireToken(opts.token));

  const answer = async (reply: FastifyReply, request: ControlRequest, by: string): Promise<void> => {
    const outcome = await runControl(rig, request, by);
    if (outcome.status >= 500) reply.log.error({ action: request.action, error: outcome.error }, 'control request failed');
    await reply.code(outcome.status).send(outcome.ok ? { ok: true } : { ok: false, error: outcome.error });
  };

  // reached only with the right token (the onRequest hook): says the page's token works
  app.get('/api/auth', async () => ({ ok: true }));

  app.post<{ Body: { preset: string; operator: string; durationMin?: number | null } }>(
    '/api/session/start',
    { schema: { body: startBodySchema }, bodyLimit: BODY_LIMIT },
    async (req, reply) => answer(reply, { action: 'start', ...req.body }, operatorOf(req, req.body.operator)),
  );

  for (const action of ['pause', 'resume', 'abort'] as const) {
    app.post(`/api/session/${action}`, noArguments, async (req, reply) =>
      answer(reply, { action }, operatorOf(req)),
    );
  }

  app.post('/api/estop', noArguments, async (req, reply) => answer(reply, { action: 'estop' }, operatorOf(req)));

  app.post<{ Params: { pipetteId: string; action: (typeof PIPETTE_ACTIONS)[number] } }>(
    '/api/pipettes/:pipetteId/:action',
    { ...noArguments, schema: { params: pipetteParamsSchema, body: emptyBodySchema } },
    async (req, reply) =>
      answer(reply, { action: 'pipette', pipetteId: req.params.pipetteId, command: { action: req.params.action } }, operatorOf(req)),
  );

  const idOnly = { ...pipetteParamsSchema, properties: { pipetteId: pipetteParamsSchema.properties.pipetteId } };

  app.post<{ Params: { pipetteId: string }; Body: { mbar: number | null } }>(
    '/api/pipettes/:pipetteId/pressure',
    { schema: { params: idOnly, body: pressureBodySchema }, bodyLimit: BODY_LIMIT },
    async (req, reply) =>
      answer(
        reply,
        { action: 'pipette', pipetteId: req.params.pipetteId, command: { action: 'pressure', mbar: req.body.mbar } },
        operatorOf(req),
      ),
  );

  app.post<{ Params: { pipetteId: string }; Body: { mV: number | null } }>(
    '/api/pipettes/:pipetteId/holding',
    { schema: { params: idOnly, body: holdingBodySchema }, bodyLimit: BODY_LIMIT },
    async (req, reply) =>
      answer(
        reply,
        { action: 'pipette', pipetteId: req.params.pipetteId, command: { action: 'holding', mV: req.body.mV } },
        operatorOf(req),
      ),
  );
}
