/**
 * The signal conditioner (signals.ts): what each filter group does, in the
 * preset's time constants, and the resets, holds and windows the machine asks for.
 */
import { describe, expect, it } from 'vitest';
import { createSignalConditioner, testPulseOptions, type ConditionerInput } from '../../src/control/signals.ts';
import { loadPreset } from '../../src/protocol/load.ts';
import type { AutopatchPreset } from '../../src/protocol/types.ts';

const preset = (change?: (p: AutopatchPreset) => void): AutopatchPreset => {
  const p = structuredClone(loadPreset('in-vivo-blind'));
  change?.(p);
  return p;
};
const reading = (mohm: number, extra: Partial<ConditionerInput> = {}): ConditionerInput => ({
  r: mohm * 1e6,
  ra: null,
  cm: null,
  rm: null,
  ihold: -30e-12,
  fitQuality: 0,
  mode: 'VC',
  ...extra,
});

describe('signal conditioner', () => {
  it('reports in preset units: MΩ, pF, pA, and the transient kind with its charge bound', () => {
    const c = createSignalConditioner(preset());
    const s = c.update(reading(200, { ra: 30e6, rm: 170e6, cm: 60e-12, fitQuality: 0.9, cmLowerBound: 40e-12, transient: 'fitted' }), 0);
    expect(s).toMatchObject({ r: 200, ra: 30, rm: 170, cm: 60, ihold: -30, fitQuality: 0.9, cmAtLeast: 40, transient: 'fitted' });
    // a plain reading without the analysis' transient fields
    expect(c.update(reading(5), 10)).toMatchObject({ transient: 'none', cmAtLeast: null });
  });

  it('R0 window: the median and spread of the last N readings, kept only while open', () => {
    const p = preset((x) => (x.pipette_check.readings = 5));
    const c = createSignalConditioner(p);
    const values = [6, 6.2, 5.9, 9, 6.1, 6.0, 6.05];
    let s = c.update(reading(values[0]), 0);
    for (let i = 1; i < values.length; i++) s = c.update(reading(values[i]), i * 33);
    // last five: 5.9, 9, 6.1, 6.0, 6.05 → median 6.05, spread 3.1
    expect(s.windowCount).toBe(5);
    expect(s.windowMedian).toBeCloseTo(6.05, 12);
    expect(s.windowSpread).toBeCloseTo(3.1, 12);
    c.resetWindow();
    expect(c.update(reading(6), 1000).windowCount).toBe(1);
    c.closeWindow();
    expect(c.update(reading(6), 1033).windowCount).toBe(0);
  });

  it('the hunt baseline follows hunt.baseline_tau_s; a hold keeps it, a resume carries on without counting the hold', () => {
    const p = preset();
    const c = createSignalConditioner(p);
    c.update(reading(6), 0);
    const tau = p.hunt.baseline_tau_s * 1000;
    let s = c.update(reading(7), tau);
    expect(s.baseline).toBeCloseTo(6 + (1 - Math.exp(-1)), 9);
    c.freezeBaseline();
    const held = s.baseline;
    for (let t = tau + 100; t < tau + 10_000; t += 100) expect(c.update(reading(7), t).baseline).toBe(held);
    c.resumeBaseline();
    s = c.update(reading(7), tau + 10_000); // 100 ms after the last reading of the hold
    expect(s.baseline).toBeCloseTo(held + (7 - held) * (1 - Math.exp(-100 / tau)), 9);
    c.resetBaseline();
    expect(c.update(reading(3), tau + 10_200).baseline).toBe(3);
  });

  it('the seal slope is taken over seal.slope_window_s and restarts with the seal filters', () => {
    const p = preset((x) => (x.seal.slope_window_s = 1));
    const c = createSignalConditioner(p);
    let s = c.update(reading(100), 0);
    expect(s.slope).toBeNull();
    // 50 MΩ/s for 3 s, then flat (the slope is of the short-filtered R, τ 0.3 s, which follows within ~1 s)
    for (let t = 100; t <= 3000; t += 100) s = c.update(reading(100 + 0.05 * t), t);
    expect(s.slope).toBeCloseTo(50, 1);
    for (let t = 3100; t <= 6000; t += 100) s = c.update(reading(250), t);
    expect(Math.abs(s.slope!)).toBeLessThan(0.05);
    c.resetSeal();
    expect(c.update(reading(250), 6100).slope).toBeNull();
  });

  it('maps the preset test-pulse analysis settings to analysis options', () => {
    expect(testPulseOptions(preset())).toEqual({
      fitStartS: 150e-6,
      steadyFraction: 0.2,
      steadyMaxS: 5e-3,
      peakWindowS: 0.25e-3,
      maxResistance: 10e9,
      minFitQuality: 0.5,
    });
  });
});
