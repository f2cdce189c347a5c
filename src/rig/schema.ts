/**
 * JSON Schema of a rig description file (`"kind": "autopatch-rig"`): the
 * same shape as RigConfig (config.ts), so a real rig and the simulated one are
 * described alike. Ranges are sanity bounds for lab hardware, with units, so
 * that a typo (mm for µm, kPa for mbar) is caught before a port is opened.
 * Relations between fields (references, channels, limits containing the home
 * position) are checked in rig-rules.ts.
 */
import { Ajv, type ValidateFunction } from 'ajv';

type Json = Record<string, unknown>;

const num = (unit: string, min: number, max: number): Json => ({ type: 'number', unit, minimum: min, maximum: max });
const positive = (unit: string, max: number): Json => ({ type: 'number', unit, exclusiveMinimum: 0, maximum: max });
const int = (min: number, max: number, unit = ''): Json => ({ type: 'integer', unit, minimum: min, maximum: max });

/** A point in µm: world or manipulator frame; a metre either way covers any rig. */
const vec3 = (): Json => ({ type: 'array', minItems: 3, maxItems: 3, items: num('µm', -1_000_000, 1_000_000) });
const ID: Json = { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]*$', maxLength: 64 };
const PATH: Json = { type: 'string', minLength: 1, maxLength: 4096 };

/** Every listed field required, nothing else allowed; `optional` fields may be left out. */
function obj(properties: Record<string, Json>, optional: string[] = []): Json {
  return {
    type: 'object',
    additionalProperties: false,
    required: Object.keys(properties).filter((k) => !optional.includes(k)),
    properties,
  };
}

const BAUD = int(300, 4_000_000, 'baud');

const manipulatorSchema: Json = {
  type: 'object',
  required: ['driver'],
  properties: { driver: { type: 'string', enum: ['sutter-mp285', 'sutter-mpc325', 'scientifica', 'luigs-neumann-sm10'] } },
  discriminator: { propertyName: 'driver' },
  oneOf: [
    obj({ driver: { type: 'string', const: 'sutter-mp285' }, path: PATH, baudRate: BAUD }, ['baudRate']),
    obj({ driver: { type: 'string', const: 'sutter-mpc325' }, path: PATH, drive: int(1, 4), baudRate: BAUD }, ['baudRate']),
    obj(
      { driver: { type: 'string', const: 'scientifica' }, path: PATH, baudRate: BAUD, version: { type: 'integer', enum: [2, 3] } },
      ['baudRate', 'version'],
    ),
    obj(
      { driver: { type: 'string', const: 'luigs-neumann-sm10' }, path: PATH, manipulator: { type: 'integer', enum: [1, 2] }, model: { type: 'string', enum: ['SM-10', 'SM-5'] } },
      ['model'],
    ),
  ],
};

export const rigSchema: Json = obj({
  kind: { type: 'string', const: 'autopatch-rig' },
  name: { type: 'string', minLength: 1, maxLength: 200 },
  standoffZ: num('µm', -50_000, 0),
  travelZ: num('µm', -100_000, 0),
  valveSettleMs: num('ms', 0, 5000),
  travelSpeed: positive('µm/s', 10_000),
  pressureBoxes: {
    type: 'array',
    minItems: 1,
    maxItems: 64,
    items: obj({
      id: ID,
      path: PATH,
      channels: int(1, 8, 'channels'),
      // devices.md: typical envelope −600…+1000 mbar
      limits: obj({ min: num('mbar', -1000, 0), max: num('mbar', 0, 2000) }),
    }),
  },
  amplifiers: {
    type: 'array',
    minItems: 1,
    maxItems: 64,
    items: obj({ id: ID, path: PATH, channels: int(1, 8, 'channels') }),
  },
  pipettes: {
    type: 'array',
    minItems: 1,
    maxItems: 64,
    items: obj({
      id: ID,
      manipulator: manipulatorSchema,
      limits: obj({ min: vec3(), max: vec3(), maxSpeed: positive('µm/s', 10_000) }),
      mount: obj({
        origin: vec3(),
        axisSign: { type: 'array', minItems: 3, maxItems: 3, items: { type: 'integer', enum: [-1, 1] } },
        elevationDeg: num('°', 0, 90),
        azimuthDeg: num('°', -360, 360),
      }),
      pressure: obj({ box: ID, channel: int(0, 7, '') }),
      amplifier: obj({ bridge: ID, channel: int(0, 7, '') }),
      region: vec3(),
      home: vec3(),
      shaftLengthUm: positive('µm', 100_000),
      wells: { oneOf: [{ type: 'null' }, obj({ detergent: ID, rinse: ID })] },
    }),
  },
  wells: {
    type: 'array',
    maxItems: 256,
    items: obj({
      name: ID,
      kind: { type: 'string', enum: ['detergent', 'rinse'] },
      center: vec3(),
      radiusUm: positive('µm', 50_000),
      depthUm: positive('µm', 50_000),
    }),
  },
});

const ajv = new Ajv({ allErrors: true, strict: true, verbose: true, discriminator: true });
// annotation only: read back by the error formatter to state ranges with units
ajv.addKeyword({ keyword: 'unit', schemaType: 'string' });
export const validateRigSchema: ValidateFunction = ajv.compile(rigSchema);
