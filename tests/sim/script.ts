/**
 * A plain scripted autopatch attempt (published defaults, no cleverness),
 * driving the physics model directly. Used by the tests to check that the
 * model yields realistic funnel rates and that every failure mode occurs.
 * Decisions use only what a controller could measure (test-pulse R), except
 * where noted.
 */
import type { Vec3 } from '../../src/geometry.ts';
import type { SimWorld } from '../../src/sim/index.ts';
import { behind, mean, scripted, type ScriptedPipette } from './helpers.ts';

export type Outcome =
  | 'whole-cell'
  | 'bad-pipette'
  | 'clogged'
  | 'broken'
  | 'no-cell'
  | 'false-hits'
  | 'seal-failed'
  | 'seal-lost'
  | 'break-in-failed';

export interface AttemptOptions {
  axis: Vec3;
  /** where the tip starts (in the bath) */
  start: Vec3;
  /** depth below the surface where the hunt starts, µm (blind) */
  regionDepthUm: number;
  maxTravelUm: number;
  huntPressure: number;
  descentPressure: number;
  sealSuction: number;
  /** keep suction after the gigaseal (the known controller bug) */
  suctionAfterSeal?: boolean;
  /** one more break-in pulse after whole cell is reached (the "extra pulse" bug) */
  extraPulse?: boolean;
  breakInPulseMbar: number;
  /** how long to hold the cell-attached state before break-in, ms (default 5 s) */
  cellAttachedMs?: number;
}

export interface AttemptResult {
  outcome: Outcome;
  r0: number;
  sealPeak: number;
  timeMs: number;
  falseHits: number;
}

const MOhm = 1e6;

/** Median of the last n readings. */
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

export function attempt(world: SimWorld, id: string, o: AttemptOptions, t0 = 0): AttemptResult & { pipette: ScriptedPipette } {
  const p = scripted(world, id, o.start, t0);
  const res = (outcome: Outcome, extra: Partial<AttemptResult> = {}): AttemptResult & { pipette: ScriptedPipette } => ({
    outcome,
    r0: extra.r0 ?? NaN,
    sealPeak: extra.sealPeak ?? 0,
    timeMs: p.t - t0,
    falseHits: extra.falseHits ?? 0,
    pipette: p,
  });
  // pipette check in the bath
  p.setPressure(o.descentPressure);
  const readings: number[] = [];
  p.wait(700, 33, (r) => readings.push(r));
  const r0 = median(readings);
  if (r0 < 2 * MOhm || r0 > 12 * MOhm) return res('bad-pipette', { r0 });
  // regional descent along the axis at high pressure
  const depthAlong = (o.regionDepthUm - o.start[2]) / o.axis[2];
  const regionStart: Vec3 = behind(o.start, o.axis, -depthAlong);
  const arrive = p.moveTo(regionStart, 200);
  p.wait(arrive - p.t);
  p.setPressure(o.huntPressure);
  const base: number[] = [];
  p.wait(1000, 33, (r) => base.push(r));
  const baseline = median(base);
  if (baseline < r0 - 1 * MOhm) return res('broken', { r0 });
  if (baseline > r0 + 1 * MOhm) return res('clogged', { r0 });
  // stepwise hunt: 2 µm steps, readings after each
  let travelled = 0;
  let falseHits = 0;
  let here = regionStart;
  let rises = 0;
  while (travelled < o.maxTravelUm) {
    here = behind(here, o.axis, -2);
    p.wait(p.moveTo(here, 20) - p.t);
    travelled += 2;
    const rs: number[] = [];
    p.wait(150, 33, (r) => rs.push(r));
    const r = median(rs);
    if (r < baseline - 1 * MOhm) return res('broken', { r0, falseHits });
    if (r > r0 + 2.5 * MOhm) return res('clogged', { r0, falseHits });
    rises = r > baseline + 0.25 * MOhm ? rises + 1 : 0;
    if (rises < 2 && r < baseline + 0.8 * MOhm) continue;
    // hit: atmosphere, wait, re-check
    p.setPressure(0);
    const chk: number[] = [];
    p.wait(3000, 100, (x) => chk.push(x));
    if (median(chk.slice(-10)) < baseline + 0.25 * MOhm) {
      falseHits++;
      rises = 0;
      p.setPressure(o.huntPressure);
      if (falseHits > 3) return res('false-hits', { r0, falseHits });
      continue;
    }
    return seal(p, o, t0, r0, falseHits, res);
  }
  return res('no-cell', { r0, falseHits });
}

function seal(
  p: ScriptedPipette,
  o: AttemptOptions,
  t0: number,
  r0: number,
  falseHits: number,
  res: (outcome: Outcome, extra?: Partial<AttemptResult>) => AttemptResult & { pipette: ScriptedPipette },
): AttemptResult & { pipette: ScriptedPipette } {
  p.setPressure(o.sealSuction);
  let holding = 0;
  let peak = 0;
  const recent: number[] = [];
  const start = p.t;
  let sealed = false;
  while (p.t - start < 90_000) {
    p.t += 100;
    const r = p.testPulse({ holdingV: holding }).r;
    recent.push(r);
    if (recent.length > 10) recent.shift();
    const m = median(recent);
    peak = Math.max(peak, m);
    if (m > 100 * MOhm) holding = -0.07;
    if (m >= 1000 * MOhm) {
      sealed = true;
      break;
    }
    if (p.t - start > 20_000 && m < 100 * MOhm && peak < 100 * MOhm && p.t - start > 40_000) break;
  }
  if (!sealed) {
    p.setPressure(0);
    return res('seal-failed', { r0, sealPeak: peak, falseHits });
  }
  if (!o.suctionAfterSeal) p.setPressure(0);
  // cell-attached: hold a few seconds
  const ca: number[] = [];
  p.wait(o.cellAttachedMs ?? 5000, 100, (r) => {
    ca.push(p.testPulse({ holdingV: holding }).r);
    void r;
  });
  if (median(ca.slice(-10)) < 500 * MOhm && !looksWholeCell(p, holding)) {
    p.setPressure(0);
    return res('seal-lost', { r0, sealPeak: peak, falseHits });
  }
  // break-in: pulses, 100 Hz test pulses meanwhile; stop at the first sign of whole cell
  for (let k = 0; k < 8; k++) {
    if (looksWholeCell(p, holding)) break;
    p.setPressure(o.breakInPulseMbar);
    let broke = false;
    for (let i = 0; i < 50; i++) {
      p.t += 10;
      if (looksWholeCell(p, holding)) {
        broke = true;
        break;
      }
    }
    if (!broke || !o.extraPulse) p.setPressure(0);
    if (broke && o.extraPulse) {
      p.wait(800);
      p.setPressure(0);
    }
    p.wait(1500);
    if (broke) break;
  }
  if (!looksWholeCell(p, holding)) return res('break-in-failed', { r0, sealPeak: peak, falseHits });
  return res('whole-cell', { r0, sealPeak: peak, falseHits });
}

/** Whole cell: a capacitive transient much larger than the steady step, and R below 650 MΩ. */
export function looksWholeCell(p: ScriptedPipette, holdingV: number): boolean {
  const tp = p.testPulse({ holdingV, sampleRateHz: 50000 });
  const ss = 0.01 / tp.r;
  // charge under the transient ≈ ΔV·Cm; a cell gives tens of pC·1e-3, a patch nothing
  let q = 0;
  const dt = 1 / 50000;
  const n = Math.round(tp.length * 0.8);
  for (let i = tp.onset + 2; i < tp.onset + n; i++) q += (tp.response[i] - tp.base - ss) * dt;
  const cm = q / 0.01;
  return tp.r < 650 * MOhm && cm > 5e-12;
}

export { mean };
