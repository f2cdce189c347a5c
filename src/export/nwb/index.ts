/** NWB 2.x export of intracellular sessions (see write.ts for what is written). */
export { writeNwb, type NwbWriteOptions, type NwbWriteReport } from './write.ts';
export { readNwb, readCachedSpec, type NwbFileView, type NwbSeriesView, type NwbElectrodeView, type NwbTablesView, type ReadOptions } from './read.ts';
export { nwbPathFor, dandiLabel } from './paths.ts';
export { defaultGrouping, stimulusType } from './grouping.ts';
export { NWB_VERSION, HDMF_COMMON_VERSION } from './spec.ts';
export * from './model.ts';
