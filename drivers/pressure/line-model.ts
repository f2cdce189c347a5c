/**
 * Pressure in one pipette line as a piecewise first-order response: every
 * change of target (new setpoint, valve switch) starts a segment
 *
 *     p(t) = target + (p0 − target) · exp(−(t − t0) / τ)
 *
 * where p0 is the pressure the previous segment had reached at t0. The course
 * is analytic, so the physics model can ask for any time (past or up to the
 * next change) and get the exact value, with no sampling of its own.
 */
export interface LineSegment {
  t0: number;
  p0: number;
  target: number;
  tauMs: number;
}

export interface LineModel {
  /** pressure at clock time t, mbar (before the first segment: its start value) */
  at(t: number): number;
  /** from time t on, approach `target` with time constant `tauMs` (t must not precede the last change) */
  change(t: number, target: number, tauMs: number): void;
  /** the target in force now */
  readonly target: number;
  readonly segments: readonly LineSegment[];
}

function valueOf(s: LineSegment, t: number): number {
  if (t <= s.t0 || s.tauMs <= 0) return t <= s.t0 ? s.p0 : s.target;
  return s.target + (s.p0 - s.target) * Math.exp(-(t - s.t0) / s.tauMs);
}

/** `keep`: segments kept for queries into the past (older ones are dropped; queries before them see the oldest kept start value). */
export function createLineModel(t0: number, initial: number, keep = 10_000): LineModel {
  const segments: LineSegment[] = [{ t0, p0: initial, target: initial, tauMs: 1 }];

  /** last segment starting at or before t */
  const find = (t: number): LineSegment => {
    let lo = 0;
    let hi = segments.length - 1;
    if (t >= segments[hi].t0) return segments[hi];
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (segments[mid].t0 <= t) lo = mid;
      else hi = mid - 1;
    }
    return segments[lo];
  };

  return {
    segments,
    get target() {
      return segments[segments.length - 1].target;
    },
    at: (t) => valueOf(find(t), t),
    change(t, target, tauMs) {
      const last = segments[segments.length - 1];
      const start = Math.max(t, last.t0);
      segments.push({ t0: start, p0: valueOf(last, start), target, tauMs });
      if (segments.length > keep) segments.splice(0, segments.length - keep);
    },
  };
}
