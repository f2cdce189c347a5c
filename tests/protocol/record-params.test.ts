/**
 * The preset's `record.sweep_qc` and `record.analysis`: the only source of the
 * QC and e-feature thresholds. Shipped values (IPFX's), their conversion to the
 * SI options the analysis takes, and the rules between them.
 */
import { describe, expect, it } from 'vitest';
import { listPresets, loadPreset, validatePreset } from '../../src/protocol/load.ts';
import { recordAnalysis } from '../../src/protocol/record-params.ts';
import { presetCopy, protocolError, setPath } from './helpers.ts';

const SRC = 'protocols/presets/x.json';

describe('record.sweep_qc and record.analysis', () => {
  it.each(listPresets())('%s holds IPFX\'s QC criteria and detection defaults, and says where they come from', (name) => {
    const p = loadPreset(name);
    expect(p.record.sweep_qc).toEqual({
      fast_noise_window_ms: 1.5,
      max_fast_noise_mV: 0.07,
      slow_noise_window_ms: 500,
      max_slow_noise_mV: 0.5,
      vm_window_ms: 500,
      max_drift_mV: 1,
      max_leak_pA: 100,
    });
    expect(p.record.analysis.spike_detection).toMatchObject({ filter_kHz: 10, dvdt_threshold_mV_per_ms: 20, threshold_fraction: 0.05, max_threshold_to_peak_ms: 5 });
    expect(p.record.analysis).toMatchObject({ subthreshold_above_pA: -100, subthreshold_below_pA: 0, sag_target_mV: -100, hero_above_rheobase_min_pA: 39 });
    expect(p.description).toContain('record.sweep_qc, record.analysis');
    expect(p.description).toContain('Ephys QC Criteria v1.1');
  });

  it('converts preset units to the SI the analysis takes', () => {
    const a = recordAnalysis(loadPreset('culture').record);
    expect(a.qc.maxFastNoiseV).toBeCloseTo(0.07e-3, 12);
    expect(a.qc.fastNoiseWindowS).toBeCloseTo(1.5e-3, 12);
    expect(a.qc.maxLeakA).toBeCloseTo(100e-12, 20);
    expect(a.spikes).toEqual(a.cell.spike);
    expect(a.spikes.filterHz).toBe(10_000);
    expect(a.spikes.dvdtThreshold).toBe(20); // 20 mV/ms = 20 V/s
    expect(a.spikes.minPeakV).toBeCloseTo(-0.03, 12);
    expect(a.cell.subthresholdAboveA).toBeCloseTo(-100e-12, 20);
    expect(a.cell.heroMaxOffsetA).toBeCloseTo(61e-12, 20);
    expect(a.cell.sagTargetV).toBeCloseTo(-0.1, 12);
  });

  it('rejects out-of-range values naming the field, range and unit', () => {
    const p = presetCopy('culture');
    setPath(p, 'record.sweep_qc.max_leak_pA', 5000);
    setPath(p, 'record.analysis.spike_detection.filter_kHz', 0.5);
    const err = protocolError(() => validatePreset(p, SRC));
    expect(err.problems.map((x) => x.path).sort()).toEqual(['record.analysis.spike_detection.filter_kHz', 'record.sweep_qc.max_leak_pA']);
    expect(err.message).toContain(`${SRC}: record.sweep_qc.max_leak_pA = 5000 is out of range: must be > 0 and ≤ 1000 pA`);
    expect(err.message).toContain(`${SRC}: record.analysis.spike_detection.filter_kHz = 0.5 is out of range: must be between 1 and 100 kHz`);
  });

  it('keeps the input-resistance and hero-sweep windows non-empty', () => {
    const p = presetCopy('culture');
    setPath(p, 'record.analysis.subthreshold_above_pA', 0);
    setPath(p, 'record.analysis.hero_above_rheobase_min_pA', 70);
    const err = protocolError(() => validatePreset(p, SRC));
    expect(err.problems.map((x) => x.path)).toEqual(['record.analysis.subthreshold_above_pA', 'record.analysis.hero_above_rheobase_min_pA']);
    expect(err.message).toContain('record.analysis.subthreshold_above_pA = 0 is not allowed: must be < record.analysis.subthreshold_below_pA (0 pA)');
    expect(err.message).toContain('record.analysis.hero_above_rheobase_min_pA = 70 is not allowed: must be < record.analysis.hero_above_rheobase_max_pA (61 pA)');
  });
});
