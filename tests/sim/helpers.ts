/**
 * Scripted inputs for driving the physics model directly (no emulators):
 * a straight-line stage and a pressure line per pipette, each telling the
 * model to advance before it changes (as the emulators do), plus a plain
 * test-pulse resistance measurement.
 */
import type { Vec3 } from '../../src/geometry.ts';
import type { SimPipette, SimWorld } from '../../src/sim/index.ts';
import { createSimWorld, type CellFate, type CellSpec, type DeepPartial, type PrepParams, type Preparation } from '../../src/sim/index.ts';

export interface ScriptedPipette {
  readonly sim: SimPipette;
  /** clock time of the script, ms */
  t: number;
  /** straight move at speed (µm/s); returns when it would arrive (does not advance time) */
  moveTo(target: Vec3, speedUmPerS: number): number;
  jumpTo(target: Vec3): void;
  setPressure(mbar: number): void;
  /** let time pass to `t + ms`, taking test-pulse readings every `tpEveryMs` if given */
  wait(ms: number, tpEveryMs?: number, onReading?: (r: number, t: number) => void): void;
  /** one test-pulse reading (steady-state R, Ω) at the current time */
  readR(): number;
  /** full test-pulse analysis at the current time */
  testPulse(opts?: Partial<TestPulseOptions>): TestPulseResult;
  position(): Vec3;
}

export interface TestPulseOptions {
  amplitudeV: number;
  widthMs: number;
  sampleRateHz: number;
  holdingV: number;
}

export interface TestPulseResult {
  /** steady-state resistance ΔV/ΔI, Ω */
  r: number;
  /** baseline current, A */
  base: number;
  /** peak current after onset minus baseline, A */
  peak: number;
  response: Float32Array;
  command: Float32Array;
  onset: number;
  length: number;
}

export function testPulseCommand(o: TestPulseOptions): { command: Float32Array; onset: number; length: number } {
  const length = Math.round((o.widthMs / 1000) * o.sampleRateHz);
  const onset = Math.round(length * 0.35);
  const command = new Float32Array(length + 2 * onset).fill(o.holdingV);
  for (let i = onset; i < onset + length; i++) command[i] = o.holdingV + o.amplitudeV;
  return { command, onset, length };
}

export function analyseTestPulse(resp: Float32Array, onset: number, length: number, amplitudeV: number): { r: number; base: number; peak: number } {
  let base = 0;
  for (let i = 0; i < onset; i++) base += resp[i];
  base /= onset;
  const n = Math.max(1, Math.round(length * 0.2));
  let ss = 0;
  for (let i = onset + length - n; i < onset + length; i++) ss += resp[i];
  ss /= n;
  let peak = 0;
  for (let i = onset; i < onset + Math.min(length, 6); i++) peak = Math.max(peak, resp[i] - base);
  return { r: amplitudeV / (ss - base), base, peak };
}

export function scripted(world: SimWorld, id: string, start: Vec3, t0 = 0): ScriptedPipette {
  const sim = world.pipette(id);
  let from: Vec3 = start;
  let to: Vec3 = start;
  let m0 = t0;
  let m1 = t0;
  let pressure = 0;
  const pos = (t: number): Vec3 => {
    if (t >= m1 || m1 === m0) return to;
    if (t <= m0) return from;
    const f = (t - m0) / (m1 - m0);
    return [from[0] + (to[0] - from[0]) * f, from[1] + (to[1] - from[1]) * f, from[2] + (to[2] - from[2]) * f];
  };
  sim.bindPosition(pos);
  sim.bindPressure(() => pressure);
  const tpDefaults: TestPulseOptions = { amplitudeV: 0.01, widthMs: 10, sampleRateHz: 20000, holdingV: 0 };
  const sp: ScriptedPipette = {
    sim,
    t: t0,
    moveTo(target, speed) {
      sim.advanceTo(sp.t);
      const here = pos(sp.t);
      const d = Math.hypot(target[0] - here[0], target[1] - here[1], target[2] - here[2]);
      from = here;
      to = target;
      m0 = sp.t;
      m1 = sp.t + (d / speed) * 1000;
      return m1;
    },
    jumpTo(target) {
      sim.advanceTo(sp.t);
      from = to = target;
      m0 = m1 = sp.t;
    },
    setPressure(mbar) {
      sim.advanceTo(sp.t);
      pressure = mbar;
    },
    wait(ms, tpEveryMs, onReading) {
      const end = sp.t + ms;
      if (tpEveryMs) {
        while (sp.t + tpEveryMs <= end + 1e-9) {
          sp.t += tpEveryMs;
          const r = sp.readR();
          onReading?.(r, sp.t);
        }
      }
      sp.t = end;
      sim.advanceTo(sp.t);
    },
    readR() {
      return sp.testPulse().r;
    },
    testPulse(opts) {
      const o = { ...tpDefaults, ...opts };
      const { command, onset, length } = testPulseCommand(o);
      const response = sim.voltageClamp(sp.t, o.sampleRateHz, command);
      return { ...analyseTestPulse(response, onset, length, o.amplitudeV), response, command, onset, length };
    },
    position: () => pos(sp.t),
  };
  return sp;
}

/** Point along a pipette axis: `distanceUm` back from `tip`. */
export function behind(tip: Vec3, axis: Vec3, distanceUm: number): Vec3 {
  return [tip[0] - axis[0] * distanceUm, tip[1] - axis[1] * distanceUm, tip[2] - axis[2] * distanceUm];
}

/** A pipette axis at `elevationDeg` below horizontal, pointing along +x rotated by `azimuthDeg`. */
export function axisOf(elevationDeg: number, azimuthDeg = 0): Vec3 {
  const el = (elevationDeg * Math.PI) / 180;
  const az = (azimuthDeg * Math.PI) / 180;
  return [Math.cos(el) * Math.cos(az), Math.cos(el) * Math.sin(az), Math.sin(el)];
}

export const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
export const sd = (xs: readonly number[]): number => {
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1));
};

// ---------------------------------------------------------------- one cell, scripted


/** A cell that does what it is asked: seals, breaks in at −150 mbar, never dies or creeps. */
export const COOPERATIVE: Partial<CellFate> = {
  sealKind: 'good',
  sealFinalOhm: 2.5e9,
  cleanTipBoost: 1,
  sealLossRatePerS: 0,
  spontaneousBreakIn: false,
  rupturable: true,
  ruptureMbar: -150,
  raCreep: false,
  dies: false,
  pushDamages: false,
  pushLimitUm: 5,
  suctionToleranceMbarS: 150,
  postSealToleranceMbarS: 900,
};

/** No random tip breaks, debris pick-ups or false hits: for tests of one mechanism at a time. */
export const QUIET: DeepPartial<PrepParams> = {
  pipette: { randomBreakPerUm: 0 },
  clog: { eventsPerUm: 0, driftOhmPerS: 0 },
  population: { debrisDensity: 0 },
};

export interface OneCell {
  world: ReturnType<typeof createSimWorld>;
  p: ScriptedPipette;
  cellPos: Vec3;
  radius: number;
  axis: Vec3;
  /** tip position with the membrane `d` µm ahead (negative: pressing a dimple that deep) */
  at(d: number): Vec3;
}

export function oneCell(o: {
  seed?: number;
  preparation?: Preparation;
  fate?: Partial<CellFate>;
  cell?: Partial<CellSpec>;
  noise?: boolean;
  prep?: DeepPartial<PrepParams>;
  startUm?: number;
}): OneCell {
  const axis = axisOf(30);
  const prep = o.preparation ?? 'in-vivo';
  const cellPos: Vec3 = prep === 'culture' ? [0, 0, 4] : prep === 'slice' ? [0, 0, 60] : [0, 0, 200];
  const radius = o.cell?.radiusUm ?? 7;
  const mergedPrep: DeepPartial<PrepParams> = { ...QUIET, ...o.prep };
  for (const k of Object.keys(QUIET) as (keyof PrepParams)[]) {
    if (o.prep?.[k]) (mergedPrep as Record<string, unknown>)[k] = { ...(QUIET[k] as object), ...(o.prep[k] as object) };
  }
  const world = createSimWorld({
    seed: o.seed ?? 1,
    preparation: prep,
    pipettes: [{ id: 'p1', axis }],
    overrides: {
      cells: [{ position: cellPos, radiusUm: radius, ...o.cell, fate: { ...COOPERATIVE, ...o.fate } }],
      noise: o.noise,
      prep: mergedPrep,
    },
  });
  const at = (d: number): Vec3 => behind(cellPos, axis, radius + d);
  const p = scripted(world, 'p1', at(o.startUm ?? 40));
  return { world, p, cellPos, radius, axis, at };
}

/** Approach with positive pressure to a `dimpleUm` dimple, release to atmosphere. */
export function touch(c: OneCell, dimpleUm = 1, pressure = 20): void {
  c.p.setPressure(pressure);
  c.p.wait(c.p.moveTo(c.at(-dimpleUm), 5) - c.p.t);
  c.p.setPressure(0);
  c.p.wait(500);
}

/** Seal under suction until the truth says gigaseal (or the limit), then atmosphere. */
export function sealCell(c: OneCell, suction = -30, limitMs = 120_000): number {
  const start = c.p.t;
  c.p.setPressure(suction);
  while (c.p.t - start < limitMs && c.p.sim.truth().stage === 'sealing') c.p.wait(100);
  c.p.setPressure(0);
  return c.p.t - start;
}

/** Suction pulses until whole cell (truth) or `max` pulses; returns pulses used. */
export function pulseIn(c: OneCell, mbar = -300, ms = 500, max = 10): number {
  for (let k = 1; k <= max; k++) {
    c.p.setPressure(mbar);
    for (let i = 0; i < ms / 10; i++) {
      c.p.wait(10);
      if (c.p.sim.truth().stage === 'whole-cell') break;
    }
    c.p.setPressure(0);
    c.p.wait(1000);
    if (c.p.sim.truth().stage === 'whole-cell') return k;
  }
  return -1;
}
