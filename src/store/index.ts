/** SQLite storage: schema and migrations, the non-blocking writer, reports, sweeps, export. */
export { StoreError, type StoreProblem } from './errors.ts';
export { SCHEMA_VERSION, APPLICATION_ID, MIGRATIONS, type Migration } from './schema.ts';
export { openDatabase, integrityProblems, recoverInterruptedSessions, type OpenOptions } from './migrations.ts';
export { defaultDbPath, defaultExportDir } from './paths.ts';
export {
  createStoreWriter,
  openStoreWriter,
  type StoreWriter,
  type StoreWriterOptions,
  type StoreWriterStats,
  type BackpressureEvent,
  type DropCounts,
} from './writer.ts';
export { classifyEvent, sheddableKind, type EventClass, type SheddableKind } from './classify.ts';
export {
  DEFAULT_READING_DECIMATION,
  DEFAULT_POSITION_DECIMATION,
  type ReadingDecimation,
  type PositionDecimation,
} from './decimation.ts';
export { createIngestor, type Ingestor, type IngestOptions } from './ingest.ts';
export { readSweep, listSweeps, type SweepMeta, type StoredSweep, type SweepFilter } from './sweeps.ts';
export {
  listSessions,
  getSession,
  lastSessionId,
  listAttempts,
  listTransitions,
  sessionStats,
  type StoredSession,
  type StoredAttempt,
  type StoredTransition,
  type SessionStatus,
} from './queries.ts';
export {
  buildReport,
  compareSessions,
  attemptTimelines,
  type StoreReport,
  type SessionSummary,
  type KeyedFunnel,
  type AttemptTimeline,
  type TimelineSegment,
} from './reports.ts';
export { roundDefinition, roundModeOf, type RoundMode, type Episode, type BreakInShare, type FunnelFigures, type StateTime, type FailureReason, type Distribution, type QualityFigures, type SimultaneousFigures, type Trial } from './report-figures.ts';
export { formatReport, type ReportFormat } from './report-format.ts';
export { registerExportFormat, getExportFormat, exportFormatNames, type ExportFormat, type ExportContext } from './export-formats.ts';
export { createSqliteArchive, createArchiveReader, type ArchiveReader } from './archive.ts';
export { openArchiveWorker, type ArchiveWorker } from './archive-thread.ts';
