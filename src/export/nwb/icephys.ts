/**
 * The tables under /general/intracellular_ephys that tie sweeps together:
 * the deprecated SweepTable (still read by IPFX) and the icephys hierarchy
 * intracellular_recordings → simultaneous_recordings → sequential_recordings
 * → repetitions → experimental_conditions (NWB ≥ 2.4).
 */
import type { File, Group, Reference } from 'h5wasm/node';
import { textArrayAttr, textAttr, typedGroup, type H5Context } from './h5.ts';
import type { NwbGrouping, NwbSweepMeta } from './model.ts';
import { fixedAttributeValue } from './spec.ts';
import { dynamicTable, elementIds, raggedRefColumn, raggedRegionColumn, refColumn, textColumn, timeSeriesRefColumn, uint32Column, type TimeSeriesRef } from './tables.ts';

function refTo(file: File, path: string): Reference {
  const obj = file.get(path) as Group | null;
  if (!obj) throw new Error(`internal: ${path} missing when referencing it`);
  return obj.create_reference();
}

export function writeSweepTable(ctx: H5Context, file: File, icephys: Group, metas: readonly NwbSweepMeta[]): Group {
  const table = dynamicTable(ctx, icephys, 'sweep_table', 'SweepTable', 'core', 'A sweep table groups different PatchClampSeries together.', ['series', 'sweep_number'], metas.length);
  raggedRefColumn(
    ctx,
    table,
    'series',
    metas.map((m) => [m.responsePath, ...(m.stimulusPath ? [m.stimulusPath] : [])].map((p) => refTo(file, p))),
    'PatchClampSeries with the same sweep number',
  );
  uint32Column(ctx, table, 'sweep_number', metas.map((m) => m.sweepNumber), 'Sweep number of the entries in that row');
  return table;
}

/** IntracellularRecordingsTable: one row per sweep (electrode, stimulus, response), in `metas` order. */
function writeRecordings(ctx: H5Context, file: File, icephys: Group, metas: readonly NwbSweepMeta[], electrodePaths: ReadonlyMap<string, string>): Group {
  const type = 'IntracellularRecordingsTable';
  const rows = metas.length;
  const table = typedGroup(ctx, icephys, 'intracellular_recordings', type);
  textArrayAttr(table, 'colnames', []);
  textAttr(table, 'description', fixedAttributeValue(type, 'description'));
  textArrayAttr(table, 'categories', ['electrodes', 'stimuli', 'responses']);
  elementIds(ctx, table, rows);

  const electrodes = dynamicTable(ctx, table, 'electrodes', 'IntracellularElectrodesTable', 'core', fixedAttributeValue('IntracellularElectrodesTable', 'description'), ['electrode'], rows);
  refColumn(ctx, electrodes, 'electrode', metas.map((m) => refTo(file, electrodePaths.get(m.electrode)!)), 'Column for storing the reference to the intracellular electrode.');

  const stimuli = dynamicTable(ctx, table, 'stimuli', 'IntracellularStimuliTable', 'core', fixedAttributeValue('IntracellularStimuliTable', 'description'), ['stimulus'], rows);
  timeSeriesRefColumn(
    ctx,
    stimuli,
    'stimulus',
    metas.map((m): TimeSeriesRef =>
      // no stimulus recorded: point at the response with -1/-1, as the schema prescribes
      m.stimulusPath ? { idxStart: 0, count: m.samples, ref: refTo(file, m.stimulusPath) } : { idxStart: -1, count: -1, ref: refTo(file, m.responsePath) },
    ),
    'Column storing the reference to the recorded stimulus for the recording (rows).',
  );

  const responses = dynamicTable(ctx, table, 'responses', 'IntracellularResponsesTable', 'core', fixedAttributeValue('IntracellularResponsesTable', 'description'), ['response'], rows);
  timeSeriesRefColumn(
    ctx,
    responses,
    'response',
    metas.map((m) => ({ idxStart: 0, count: m.samples, ref: refTo(file, m.responsePath) })),
    'Column storing the reference to the recorded response for the recording (rows)',
  );
  return table;
}

export function writeIcephysTables(
  ctx: H5Context,
  file: File,
  icephys: Group,
  metas: readonly NwbSweepMeta[],
  electrodePaths: ReadonlyMap<string, string>,
  grouping: NwbGrouping,
  simultaneousRows: number[][],
): void {
  const recordings = writeRecordings(ctx, file, icephys, metas, electrodePaths);

  const sim = dynamicTable(ctx, icephys, 'simultaneous_recordings', 'SimultaneousRecordingsTable', 'core', 'Intracellular recordings made at the same time on different electrodes.', ['recordings'], simultaneousRows.length);
  raggedRegionColumn(ctx, sim, 'recordings', simultaneousRows, recordings, 'A reference to one or more rows in the IntracellularRecordingsTable table.');

  const seq = dynamicTable(ctx, icephys, 'sequential_recordings', 'SequentialRecordingsTable', 'core', 'Simultaneous recordings run in sequence with one stimulus type.', ['simultaneous_recordings', 'stimulus_type'], grouping.sequential.length);
  raggedRegionColumn(ctx, seq, 'simultaneous_recordings', grouping.sequential.map((s) => s.simultaneous), sim, 'A reference to one or more rows in the SimultaneousRecordingsTable table.');
  textColumn(ctx, seq, 'stimulus_type', grouping.sequential.map((s) => s.stimulusType), 'The type of stimulus used for the sequential recording.');

  const rep = dynamicTable(ctx, icephys, 'repetitions', 'RepetitionsTable', 'core', 'Sequential recordings applied in sequence as one run of the protocol.', ['sequential_recordings'], grouping.repetitions.length);
  raggedRegionColumn(ctx, rep, 'sequential_recordings', grouping.repetitions.map((r) => r.sequential), seq, 'A reference to one or more rows in the SequentialRecordingsTable table.');

  const cond = dynamicTable(ctx, icephys, 'experimental_conditions', 'ExperimentalConditionsTable', 'core', 'Repetitions recorded under the same experimental condition.', ['repetitions', 'label'], grouping.experimentalConditions.length);
  raggedRegionColumn(ctx, cond, 'repetitions', grouping.experimentalConditions.map((c) => c.repetitions), rep, 'A reference to one or more rows in the RepetitionsTable table.');
  textColumn(ctx, cond, 'label', grouping.experimentalConditions.map((c) => c.label), 'Name of the experimental condition.');
}
