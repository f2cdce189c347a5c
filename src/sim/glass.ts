/**
 * The state of the pipette glass itself: resistance, debris (clog), breakage,
 * membrane contamination from reuse, detergent residue, and the detergent /
 * rinse cleaning that restores it.
 */
import type { PrepParams } from './params.ts';
import type { Rng, Hazard } from './rng.ts';
import { createHazard, hazardFires } from './rng.ts';
import type { PipetteTruth, SimEventKind, TipCondition } from './types.ts';

export type BreakCause = NonNullable<PipetteTruth['brokenCause']>;

export interface Glass {
  /** bath resistance of the fresh tip, Ω */
  readonly R0: number;
  readonly offsetV: number;
  readonly capacitanceF: number;
  /** per-sweep resistance jitter SD, Ω */
  readonly jitterOhm: number;
  readonly tissueOhm: number;
  /** resistance lost by breaking, Ω (0 while intact) */
  brokenDrop: number;
  brokenCause: BreakCause | null;
  debrisStuck: number;
  debrisLoose: number;
  clogFlagged: boolean;
  contamination: number;
  residue: number;
  uses: number;
  cleanings: number;
  /** detergent cycle tracking */
  suctionS: number;
  pressureS: number;
  sucked: boolean;
  cycles: number;
  readonly rng: Rng;
  readonly debrisHazard: Hazard;
  readonly breakHazard: Hazard;
}

export type Emit = (kind: SimEventKind, detail?: string) => void;

export function createGlass(rng: Rng, params: PrepParams): Glass {
  const p = params.pipette;
  const r = rng.fork('glass');
  return {
    R0: r.uniform(p.resistanceOhm[0], p.resistanceOhm[1]),
    offsetV: Math.max(-3 * p.offsetSdV, Math.min(3 * p.offsetSdV, r.normal(0, p.offsetSdV))),
    capacitanceF: r.uniform(p.capacitanceF[0], p.capacitanceF[1]),
    jitterOhm: r.uniform(p.resistanceJitterOhm[0], p.resistanceJitterOhm[1]),
    tissueOhm: r.uniform(p.tissueResistanceOhm[0], p.tissueResistanceOhm[1]),
    brokenDrop: 0,
    brokenCause: null,
    debrisStuck: 0,
    debrisLoose: 0,
    clogFlagged: false,
    contamination: 0,
    residue: 0,
    uses: 0,
    cleanings: 0,
    suctionS: 0,
    pressureS: 0,
    sucked: false,
    cycles: 0,
    rng: r,
    debrisHazard: createHazard(rng.fork('debris-hazard')),
    breakHazard: createHazard(rng.fork('break-hazard')),
  };
}

export const debrisOhm = (g: Glass): number => g.debrisStuck + g.debrisLoose;

/** Pipette resistance now (without per-sweep jitter), Ω. */
export function glassResistance(g: Glass): number {
  return g.R0 - g.brokenDrop + debrisOhm(g);
}

export function breakTip(g: Glass, params: PrepParams, cause: BreakCause, emit: Emit): void {
  if (g.brokenCause) return;
  const [lo, hi] = params.pipette.brokenDropOhm;
  // a broken tip is a wider opening: much lower resistance, debris gone with the broken end
  g.brokenDrop = Math.min(g.rng.uniform(lo, hi), g.R0 - 0.5e6);
  g.brokenCause = cause;
  g.debrisStuck = 0;
  g.debrisLoose = 0;
  emit('tip-broken', cause);
}

export function tipCondition(g: Glass, params: PrepParams): TipCondition {
  if (g.brokenCause) return 'broken';
  if (debrisOhm(g) >= params.clog.cloggedOhm) return 'clogged';
  if (g.contamination >= 0.5 || g.residue >= 0.3) return 'contaminated';
  return 'clean';
}

/** Odds that a seal on a cooperative cell goes as the cell allows (rather than stalling), 0…1. */
export function sealOdds(g: Glass, params: PrepParams): number {
  if (g.brokenCause) return 0;
  const s = params.seal;
  // a little debris hardly matters; a clogged tip rarely seals
  const clog = Math.exp(-((debrisOhm(g) / (2 * params.clog.cloggedOhm)) ** 2));
  return Math.exp(-s.contaminationPenalty * g.contamination) * (1 - s.residuePenalty * Math.min(1, g.residue)) * clog;
}

/** A fresh or freshly cleaned tip gives tighter seals. */
export const tipIsFresh = (g: Glass): boolean => !g.brokenCause && g.uses === 0 && g.contamination < 0.1 && g.residue < 0.1;

export interface GlassStep {
  dtS: number;
  movedUm: number;
  inTissue: boolean;
  /** membrane covers the tip: no drift, no pick-ups */
  attached: boolean;
  pressureMbar: number;
  /** the kind of well the tip is in, if any */
  wellKind: 'detergent' | 'rinse' | null;
}

export function stepGlass(g: Glass, params: PrepParams, s: GlassStep, emit: Emit): void {
  const c = params.clog;
  const P = s.pressureMbar;
  if (!g.brokenCause && s.inTissue && !s.attached) {
    if (s.movedUm > 0) {
      // debris pick-ups per µm of travel; outflow from positive pressure keeps the tip clear
      const rate = c.eventsPerUm * Math.exp(-Math.max(P, 0) / c.pressureScaleMbar);
      if (hazardFires(g.debrisHazard, rate * s.movedUm)) {
        const size = g.rng.exponential(c.eventMeanOhm);
        g.debrisLoose += size * c.looseFraction;
        g.debrisStuck += size * (1 - c.looseFraction);
      }
      if (hazardFires(g.breakHazard, params.pipette.randomBreakPerUm * s.movedUm)) breakTip(g, params, 'random', emit);
    }
    if (P < c.driftBelowMbar) g.debrisStuck += c.driftOhmPerS * s.dtS;
  }
  if (P > c.clearPressureMbar && g.debrisLoose > 0) g.debrisLoose *= Math.exp(-s.dtS / c.clearTauS);
  const clog = debrisOhm(g);
  if (!g.clogFlagged && clog >= c.cloggedOhm) {
    g.clogFlagged = true;
    emit('clogged');
  } else if (g.clogFlagged && clog < c.cloggedOhm / 2) g.clogFlagged = false;

  if (s.wellKind === 'detergent') detergentStep(g, params, P, s.dtS, emit);
  else if (s.wellKind === 'rinse') rinseStep(g, params, P, s.dtS, emit);
}

function detergentStep(g: Glass, params: PrepParams, P: number, dtS: number, emit: Emit): void {
  const k = params.cleaning;
  if (P < k.suctionMbar) {
    // suction draws detergent into the tip
    g.residue = 1;
    g.suctionS += dtS;
    g.pressureS = 0;
    if (g.suctionS >= k.phaseS) g.sucked = true;
  } else if (P > k.pressureMbar) {
    g.suctionS = 0;
    if (g.sucked) {
      g.pressureS += dtS;
      if (g.pressureS >= k.phaseS) {
        g.cycles++;
        g.sucked = false;
        g.pressureS = 0;
        g.contamination *= k.contaminationFactor;
        g.debrisStuck *= k.debrisFactor;
        g.debrisLoose = 0;
        emit('detergent-cycle', String(g.cycles));
      }
    }
  }
}

function rinseStep(g: Glass, params: PrepParams, P: number, dtS: number, emit: Emit): void {
  const k = params.cleaning;
  const flow = Math.abs(P) * dtS;
  g.residue *= Math.exp(-flow / k.rinseMbarS);
  if (g.residue < k.residueDone && g.cycles >= k.minCycles) {
    g.cleanings++;
    g.uses = 0;
    g.cycles = 0;
    emit('cleaned', String(g.cleanings));
  }
}
