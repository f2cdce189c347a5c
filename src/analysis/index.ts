/** Signal analysis: pure functions over sweeps and readings (no clock, no I/O). */
export { analyzeTestPulse, DEFAULT_TESTPULSE_OPTIONS, type TestPulseAnalysis, type TestPulseOptions } from './testpulse.ts';
export {
  createEma,
  createSlope,
  createRiseCounter,
  createRangeTracker,
  type Ema,
  type Slope,
  type RiseCounter,
  type RangeTracker,
} from './filters.ts';
export {
  sweepQc,
  sweepQcFromSweep,
  sweepQcRecord,
  type SweepQcCheck,
  type SweepQcContext,
  type SweepQcInput,
  type SweepQcResult,
  type SweepQcThresholds,
} from './sweep-qc.ts';
export { createExpFit, fitExponential, residualSigma, curvatureSnr, type ExpFit } from './expfit.ts';
export { mean, median, rmsAboutMean, linearFit } from './stats.ts';
export * from './efeatures/index.ts';
