/** The physics model behind the device emulators: pipettes, tissue, cells. */
export { createSimWorld } from './world.ts';
export type { SimWorldConfig, SimPipetteConfig, SimOverrides } from './world.ts';
export type * from './types.ts';
export { PREPARATIONS, prepParams } from './params.ts';
export type { PrepParams, DeepPartial, Range, StageErrorParams } from './params.ts';
export type { CellSpec, CellFate } from './population.ts';
export { createRng } from './rng.ts';
export type { Rng } from './rng.ts';
export { voltageClampResponse, passiveCurrentClampResponse, steadyCurrent } from './circuit.ts';
export type { CircuitSnapshot } from './circuit.ts';
export { OPEN_OHM } from './pipette.ts';
export type { StageError } from './stage-error.ts';
