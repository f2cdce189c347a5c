/**
 * The analysis options of a shipped preset, in SI: what the recorder passes to
 * QC and e-features. Tests use these rather than numbers of their own, so they
 * exercise the thresholds a session really runs with.
 */
import { loadPreset } from '../../src/protocol/load.ts';
import { recordAnalysis } from '../../src/protocol/record-params.ts';

const shipped = recordAnalysis(loadPreset('culture').record);
export const QC = shipped.qc;
export const SPIKES = shipped.spikes;
export const CELL = shipped.cell;
