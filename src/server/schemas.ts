/**
 * JSON Schemas for everything a client may send: REST bodies/params of the
 * control routes and messages on `/ws`. Commands are validated strictly: no
 * type coercion and no silently removed properties (fastify's defaults do
 * both), because "mbar": "-300" or a misspelt field must be refused, not
 * guessed at. Ranges of pressures and holdings are the rig's business (its
 * limits come from the devices and the preset); here only shapes are checked.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import type { PipetteCommand, StartOptions } from '../control/api.ts';

export const strictAjv = new Ajv({
  allErrors: true,
  coerceTypes: false,
  removeAdditional: false,
  useDefaults: false,
  allowUnionTypes: true,
  // picks the oneOf branch by `action`, so errors name the real problem
  discriminator: true,
  strict: true,
  // discriminated unions declare `action` inside their branches
  strictRequired: false,
});

const id = { type: 'string', minLength: 1, maxLength: 128 } as const;

export const startBodySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['preset', 'operator'],
  properties: {
    preset: { type: 'string', minLength: 1, maxLength: 200 },
    operator: { type: 'string', minLength: 1, maxLength: 100 },
    durationMin: { type: ['number', 'null'], exclusiveMinimum: 0 },
  },
} as const;

/** Commands that take no arguments: no body, or an empty JSON object, as /ws refuses extra fields. */
export const emptyBodySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {},
} as const;

export const PIPETTE_ACTIONS = ['skip', 'retry', 'abort', 'clean', 'replaced'] as const;

export const pipetteParamsSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['pipetteId'],
  properties: { pipetteId: id, action: { type: 'string', enum: PIPETTE_ACTIONS } },
} as const;

export const pressureBodySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['mbar'],
  properties: { mbar: { type: ['number', 'null'] } },
} as const;

export const holdingBodySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['mV'],
  properties: { mV: { type: ['number', 'null'] } },
} as const;

const pipetteCommandSchema = {
  type: 'object',
  discriminator: { propertyName: 'action' },
  required: ['action'],
  oneOf: [
    {
      type: 'object',
      additionalProperties: false,
      required: ['action'],
      properties: { action: { type: 'string', enum: PIPETTE_ACTIONS } },
    },
    {
      type: 'object',
      additionalProperties: false,
      required: ['action', 'mbar'],
      properties: { action: { const: 'pressure' }, mbar: { type: ['number', 'null'] } },
    },
    {
      type: 'object',
      additionalProperties: false,
      required: ['action', 'mV'],
      properties: { action: { const: 'holding' }, mV: { type: ['number', 'null'] } },
    },
  ],
} as const;

/** One request to the rig, as both transports express it. */
export type ControlRequest =
  | ({ action: 'start' } & StartOptions)
  | { action: 'pause' | 'resume' | 'abort' | 'estop' }
  | { action: 'pipette'; pipetteId: string; command: PipetteCommand };

const msgId = { type: ['string', 'integer'] } as const;

/** Client → server messages on /ws, by `type`. */
const clientMessageSchemas = {
  auth: {
    type: 'object',
    additionalProperties: false,
    required: ['type', 'token'],
    properties: { type: { const: 'auth' }, id: msgId, token: { type: 'string', minLength: 1, maxLength: 512 } },
  },
  ping: {
    type: 'object',
    additionalProperties: false,
    required: ['type'],
    properties: { type: { const: 'ping' }, id: msgId },
  },
  resync: {
    type: 'object',
    additionalProperties: false,
    required: ['type'],
    properties: { type: { const: 'resync' }, id: msgId },
  },
  command: {
    type: 'object',
    additionalProperties: false,
    required: ['type', 'request'],
    properties: {
      type: { const: 'command' },
      id: msgId,
      request: {
        type: 'object',
        discriminator: { propertyName: 'action' },
        required: ['action'],
        oneOf: [
          {
            type: 'object',
            additionalProperties: false,
            required: ['action', 'preset', 'operator'],
            properties: { action: { const: 'start' }, ...startBodySchema.properties },
          },
          {
            type: 'object',
            additionalProperties: false,
            required: ['action'],
            properties: { action: { type: 'string', enum: ['pause', 'resume', 'abort', 'estop'] } },
          },
          {
            type: 'object',
            additionalProperties: false,
            required: ['action', 'pipetteId', 'command'],
            properties: { action: { const: 'pipette' }, pipetteId: id, command: pipetteCommandSchema },
          },
        ],
      },
    },
  },
} as const;

export type ClientMessage =
  | { type: 'auth'; id?: string | number; token: string }
  | { type: 'ping'; id?: string | number }
  | { type: 'resync'; id?: string | number }
  | { type: 'command'; id?: string | number; request: ControlRequest };

const validators: Record<string, ValidateFunction> = Object.fromEntries(
  Object.entries(clientMessageSchemas).map(([k, s]) => [k, strictAjv.compile(s)]),
);

function describe(errors: ErrorObject[] | null | undefined): string {
  // oneOf failures list every branch; the first specific error is the useful one
  const useful = (errors ?? []).filter((e) => e.keyword !== 'oneOf');
  return strictAjv.errorsText(useful.length > 0 ? useful.slice(0, 3) : errors, { dataVar: 'message' });
}

export type Parsed = { ok: true; message: ClientMessage } | { ok: false; error: string; id?: string | number };

/** Parse and validate one text frame from a client. */
export function parseClientMessage(text: string): Parsed {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, error: 'message is not valid JSON' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, error: 'message must be a JSON object' };
  }
  const obj = value as Record<string, unknown>;
  const msgIdValue = typeof obj.id === 'string' || Number.isInteger(obj.id) ? (obj.id as string | number) : undefined;
  const type = obj.type;
  if (typeof type !== 'string' || !(type in validators)) {
    return { ok: false, id: msgIdValue, error: `message.type must be one of ${Object.keys(validators).join(', ')}` };
  }
  const validate = validators[type];
  if (!validate(obj)) return { ok: false, id: msgIdValue, error: describe(validate.errors) };
  return { ok: true, message: obj as unknown as ClientMessage };
}
