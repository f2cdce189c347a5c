/**
 * Read-only REST over past sessions (SessionArchive):
 *
 *   GET /api/sessions?limit=N                     newest first
 *   GET /api/sessions/:sessionId/report           SessionReport
 *   GET /api/sessions/:sessionId/attempts         AttemptTimeline[]
 *   GET /api/attempts/:attemptId/sweeps           SweepInfo[]
 *   GET /api/sweeps/:sweepId?format=json|bin&maxPoints=N
 *
 * A sweep as JSON is {info, sampleRateHz, response, stimulus} (numbers; NaN
 * becomes null); as `bin` it is trace frames (trace-frame.ts): the response,
 * then the command waveform when there is one. `maxPoints` decimates both
 * (min/max) for plotting. JSON is capped (default and most 20 000 points, so
 * one answer stays a few hundred kB of text built on this thread); `bin` is
 * exact unless asked. Session lists default to 200 and take at most 1000.
 * Unknown ids answer 404 with a message naming what was not found.
 */
import type { FastifyInstance } from 'fastify';
import type { ClampMode } from '../control/api.ts';
import type { SessionArchive, SweepData } from './archive-types.ts';
import { requireReadAccess } from './auth.ts';
import { decimateMinMax } from './decimate.ts';
import { encodeTraceFrame, UNKNOWN_PIPETTE } from './trace-frame.ts';

export interface ArchivePluginOptions {
  archive: SessionArchive;
  token: string;
}

/** Most sessions one list answers (the sessions page asks for 500). */
const MAX_SESSIONS = 1000;
/** Most samples per trace in a JSON sweep: its text is built on the server's (control loop's) thread. */
const MAX_JSON_POINTS = 20_000;

const idParam = (name: string) =>
  ({
    type: 'object',
    required: [name],
    properties: { [name]: { type: 'string', minLength: 1, maxLength: 128 } },
  }) as const;

export async function archivePlugin(app: FastifyInstance, opts: ArchivePluginOptions): Promise<void> {
  const { archive } = opts;
  app.addHook('onRequest', requireReadAccess(opts.token));

  app.get<{ Querystring: { limit: number } }>(
    '/api/sessions',
    {
      schema: {
        querystring: {
          type: 'object',
          properties: { limit: { type: 'integer', minimum: 1, maximum: MAX_SESSIONS, default: 200 } },
        },
      },
    },
    async (req) => archive.listSessions({ limit: req.query.limit }),
  );

  app.get<{ Params: { sessionId: string } }>(
    '/api/sessions/:sessionId/report',
    { schema: { params: idParam('sessionId') } },
    async (req, reply) => {
      const report = await archive.sessionReport(req.params.sessionId);
      if (!report) return reply.code(404).send({ ok: false, error: `session '${req.params.sessionId}' not found` });
      return report;
    },
  );

  app.get<{ Params: { sessionId: string } }>(
    '/api/sessions/:sessionId/attempts',
    { schema: { params: idParam('sessionId') } },
    async (req, reply) => {
      const attempts = await archive.attempts(req.params.sessionId);
      if (!attempts) return reply.code(404).send({ ok: false, error: `session '${req.params.sessionId}' not found` });
      return attempts;
    },
  );

  app.get<{ Params: { attemptId: string } }>(
    '/api/attempts/:attemptId/sweeps',
    { schema: { params: idParam('attemptId') } },
    async (req, reply) => {
      const sweeps = await archive.sweepsOfAttempt(req.params.attemptId);
      if (!sweeps) return reply.code(404).send({ ok: false, error: `attempt '${req.params.attemptId}' not found` });
      return sweeps;
    },
  );

  app.get<{ Params: { sweepId: number }; Querystring: { format: 'json' | 'bin'; maxPoints?: number } }>(
    '/api/sweeps/:sweepId',
    {
      schema: {
        params: { type: 'object', required: ['sweepId'], properties: { sweepId: { type: 'integer', minimum: 0 } } },
        querystring: {
          type: 'object',
          properties: {
            format: { type: 'string', enum: ['json', 'bin'], default: 'json' },
            maxPoints: { type: 'integer', minimum: 2, maximum: 10_000_000 },
          },
        },
      },
    },
    async (req, reply) => {
      const data = await archive.sweep(req.params.sweepId);
      if (!data) return reply.code(404).send({ ok: false, error: `sweep ${req.params.sweepId} not found` });
      if (req.query.format === 'bin') {
        return reply.type('application/octet-stream').send(sweepFrames(data, req.query.maxPoints ?? Infinity));
      }
      const maxPoints = Math.min(req.query.maxPoints ?? MAX_JSON_POINTS, MAX_JSON_POINTS);
      const response = decimateMinMax(data.response, data.info.sampleRateHz, maxPoints);
      const stimulus = data.stimulus ? decimateMinMax(data.stimulus, data.info.sampleRateHz, maxPoints).samples : null;
      return {
        info: data.info,
        sampleRateHz: response.sampleRateHz,
        response: toJsonNumbers(response.samples),
        stimulus: stimulus ? toJsonNumbers(stimulus) : null,
      };
    },
  );
}

function toJsonNumbers(samples: Float32Array): Array<number | null> {
  return Array.from(samples, (v) => (Number.isFinite(v) ? v : null));
}

/** The command's unit is the clamped quantity: V in VC, A in IC/I0. */
function commandUnit(mode: ClampMode): 'A' | 'V' {
  return mode === 'VC' ? 'V' : 'A';
}

function sweepFrames(data: SweepData, maxPoints: number): Buffer {
  const { info } = data;
  const frames: Buffer[] = [];
  const r = decimateMinMax(data.response, info.sampleRateHz, maxPoints);
  const common = { pipetteIndex: UNKNOWN_PIPETTE, mode: info.mode, seq: info.seq, startTime: info.startTime };
  frames.push(
    encodeTraceFrame({
      ...common,
      kind: info.kind,
      unit: info.responseUnit,
      sampleRateHz: r.sampleRateHz,
      samples: r.samples,
      originalLength: data.response.length,
    }),
  );
  if (data.stimulus) {
    const s = decimateMinMax(data.stimulus, info.sampleRateHz, maxPoints);
    frames.push(
      encodeTraceFrame({
        ...common,
        kind: 'command',
        unit: commandUnit(info.mode),
        sampleRateHz: s.sampleRateHz,
        samples: s.samples,
        originalLength: data.stimulus.length,
      }),
    );
  }
  return Buffer.concat(frames);
}
