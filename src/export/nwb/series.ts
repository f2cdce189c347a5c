/**
 * One sweep → a PatchClampSeries response under /acquisition and its stimulus
 * under /stimulus/presentation (NWB core nwb.icephys / nwb.base TimeSeries).
 */
import type { Group } from 'h5wasm/node';
import { float32Attr, float32Scalar, float64Scalar, textAttr, typedGroup, uint32Attr, writeSamples, type H5Context, type SampleWriteOptions } from './h5.ts';
import type { NwbSweep, NwbSweepMeta } from './model.ts';

export const RESPONSE_TYPE = { VC: 'VoltageClampSeries', IC: 'CurrentClampSeries', I0: 'IZeroClampSeries' } as const;
export const STIMULUS_TYPE = { VC: 'VoltageClampStimulusSeries', IC: 'CurrentClampStimulusSeries' } as const;

/** NWB fixes an IZeroClampSeries' stimulus_description (it has no stimulus). */
export const IZERO_STIMULUS_DESCRIPTION = 'N/A';

/**
 * Gain written when the input has none. The schema makes gain optional but
 * pynwb (and so IPFX) refuses to read a PatchClampSeries without one; samples
 * are stored in SI here, so 1 is the honest "no scaling" value.
 */
export const UNKNOWN_GAIN = 1;

export function seriesName(sweepNumber: number): string {
  return `sweep_${String(sweepNumber).padStart(6, '0')}`;
}

function optionalFloat(g: Group, name: string, value: number | null | undefined, unit?: string): void {
  if (value === null || value === undefined || !Number.isFinite(value)) return;
  const ds = float32Scalar(g, name, value);
  if (unit) textAttr(ds, 'unit', unit);
}

function writeSeries(
  ctx: H5Context,
  parent: Group,
  type: string,
  s: NwbSweep,
  samples: Float32Array,
  unit: string,
  description: string,
  electrodePath: string,
  opt: SampleWriteOptions,
): Group {
  const g = typedGroup(ctx, parent, seriesName(s.sweepNumber), type);
  textAttr(g, 'description', description);
  textAttr(g, 'stimulus_description', s.mode === 'I0' ? IZERO_STIMULUS_DESCRIPTION : s.stimulusDescription);
  uint32Attr(g, 'sweep_number', s.sweepNumber);

  const data = writeSamples(g, 'data', samples, opt);
  textAttr(data, 'unit', unit);
  // samples are stored in SI already: no scaling, resolution unknown
  float32Attr(data, 'conversion', 1);
  float32Attr(data, 'offset', 0);
  float32Attr(data, 'resolution', -1);
  textAttr(data, 'continuity', 'continuous');

  const t0 = float64Scalar(g, 'starting_time', s.startingTime);
  float32Attr(t0, 'rate', s.sampleRateHz);
  textAttr(t0, 'unit', 'seconds');

  g.create_soft_link(electrodePath, 'electrode');
  return g;
}

/** Writes both series of a sweep and returns what the tables need later. */
export function writeSweep(
  ctx: H5Context,
  acquisition: Group,
  presentation: Group,
  s: NwbSweep,
  electrodePath: string,
  opt: SampleWriteOptions,
): NwbSweepMeta {
  const mode = s.mode === 'VC' ? 'voltage clamp' : s.mode === 'IC' ? 'current clamp' : 'I=0 (no current injected)';
  const resp = writeSeries(ctx, acquisition, RESPONSE_TYPE[s.mode], s, s.response, s.responseUnit, `${mode} response, electrode ${s.electrode}`, electrodePath, opt);
  float32Scalar(resp, 'gain', s.gain ?? UNKNOWN_GAIN);
  if (s.mode === 'I0') {
    // the schema fixes all three to 0.0 and requires them
    float32Scalar(resp, 'bias_current', 0);
    float32Scalar(resp, 'bridge_balance', 0);
    float32Scalar(resp, 'capacitance_compensation', 0);
  } else if (s.mode === 'IC') {
    optionalFloat(resp, 'bias_current', s.biasCurrent);
    optionalFloat(resp, 'bridge_balance', s.bridgeBalance);
    optionalFloat(resp, 'capacitance_compensation', s.capacitanceCompensation);
  } else {
    optionalFloat(resp, 'capacitance_fast', s.capacitanceFast, 'farads');
    optionalFloat(resp, 'capacitance_slow', s.capacitanceSlow, 'farads');
    optionalFloat(resp, 'whole_cell_capacitance_comp', s.wholeCellCapacitanceComp, 'farads');
    optionalFloat(resp, 'whole_cell_series_resistance_comp', s.wholeCellSeriesResistanceComp, 'ohms');
  }
  let stimulusPath: string | null = null;
  if (s.stimulus && s.mode !== 'I0') {
    const stim = writeSeries(ctx, presentation, STIMULUS_TYPE[s.mode], s, s.stimulus, s.stimulusUnit, `${mode} command, electrode ${s.electrode}`, electrodePath, opt);
    float32Scalar(stim, 'gain', s.stimulusGain ?? UNKNOWN_GAIN);
    stimulusPath = stim.path;
  }
  return {
    sweepNumber: s.sweepNumber,
    electrode: s.electrode,
    mode: s.mode,
    startingTime: s.startingTime,
    sampleRateHz: s.sampleRateHz,
    samples: s.response.length,
    hasStimulus: stimulusPath !== null,
    stimulusDescription: s.mode === 'I0' ? IZERO_STIMULUS_DESCRIPTION : s.stimulusDescription,
    responsePath: resp.path,
    stimulusPath,
  };
}
