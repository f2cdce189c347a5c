/**
 * Filters for test-pulse readings (R, Cm, …) arriving at irregular rates.
 *
 * Real rigs deliver test pulses at 6–100 Hz and the rate changes within an
 * attempt (faster during break-in), so anything meant as "smooth over ~1 s"
 * must be defined in time, not in readings (autopatching.md; a 1 s filter
 * written as "N readings" becomes 8 s at 6 Hz and hides a break-in).
 * Times are clock ms (as `Clock.now()`), time constants and windows are s.
 *
 * The two reading-count helpers (rise counter, range tracker) are count-based
 * on purpose: the published criteria they implement are stated in readings
 * ("R rises on 3 consecutive readings", "range < 25 kΩ over 40 readings").
 * R0 at the pipette check is the median of the last N readings, accepted once
 * their spread is small enough (a sliding window, kept by control/signals.ts):
 * "the median of the first readings" would lock in readings taken while the
 * pressure was still settling.
 */

// ------------------------------------------------------------------------ EMA

export interface Ema {
  /** Feed a reading taken at clock time tMs; returns the filtered value. */
  update(value: number, tMs: number): number;
  /** filtered value, null before the first reading */
  readonly value: number | null;
  /** time of the last reading, ms; null before the first */
  readonly lastT: number | null;
  readonly tauS: number;
  /** forget everything (the next reading starts the filter) */
  reset(): void;
  /**
   * Keep the value but let the time up to tMs not count: after the filter was
   * held (not fed) for a while, the next reading weighs only the time since tMs,
   * not the whole hold.
   */
  skipTo(tMs: number): void;
}

/**
 * Exponential moving average with time constant tauS, exact for irregular
 * steps: each reading is taken to have held since the previous one (zero-order
 * hold), so α = 1 − exp(−Δt/τ). A step input then reads 1 − exp(−t/τ) at every
 * reading rate. The first reading initialises the filter. A reading with
 * Δt ≤ 0 (same or earlier timestamp) carries no elapsed time and is ignored.
 */
export function createEma(tauS: number): Ema {
  if (!(tauS >= 0)) throw new RangeError(`EMA time constant must be ≥ 0 s, got ${tauS}`);
  const tauMs = tauS * 1000;
  let value: number | null = null;
  let lastT: number | null = null;
  return {
    update(x: number, tMs: number): number {
      if (value === null || lastT === null) {
        value = x;
        lastT = tMs;
        return value;
      }
      const dt = tMs - lastT;
      if (!(dt > 0)) return value;
      // τ = 0 passes readings straight through
      const alpha = tauMs > 0 ? 1 - Math.exp(-dt / tauMs) : 1;
      value += alpha * (x - value);
      lastT = tMs;
      return value;
    },
    get value() {
      return value;
    },
    get lastT() {
      return lastT;
    },
    tauS,
    reset() {
      value = null;
      lastT = null;
    },
    skipTo(tMs: number) {
      if (lastT !== null && tMs > lastT) lastT = tMs;
    },
  };
}

// ---------------------------------------------------------------------- slope

export interface Slope {
  /** Feed a reading at clock time tMs; returns the slope (value units per s) or null. */
  update(value: number, tMs: number): number | null;
  /** least-squares slope over the readings in the window, per s; null with < minReadings or no time span */
  readonly slope: number | null;
  /** readings currently in the window */
  readonly count: number;
  /** time between the oldest and newest reading in the window, s */
  readonly spanS: number;
  readonly windowS: number;
  reset(): void;
}

/**
 * dValue/dt by least squares over the readings of the last `windowS` seconds
 * (readings with t ≥ t_latest − window). Times are centred before summing, so
 * long sessions (large t) lose no precision. The ring buffer grows if a burst
 * of readings overfills it and never shrinks, so steady use does not allocate.
 */
export function createSlope(windowS: number, options: { minReadings?: number } = {}): Slope {
  if (!(windowS > 0)) throw new RangeError(`slope window must be > 0 s, got ${windowS}`);
  const minReadings = Math.max(2, options.minReadings ?? 2);
  const windowMs = windowS * 1000;
  let ts = new Float64Array(64);
  let vs = new Float64Array(64);
  let head = 0; // index of the oldest reading
  let count = 0;
  let slope: number | null = null;

  const at = (i: number): number => (head + i) % ts.length;

  const grow = (): void => {
    const nt = new Float64Array(ts.length * 2);
    const nv = new Float64Array(vs.length * 2);
    for (let i = 0; i < count; i++) {
      nt[i] = ts[at(i)];
      nv[i] = vs[at(i)];
    }
    ts = nt;
    vs = nv;
    head = 0;
  };

  const compute = (): number | null => {
    if (count < minReadings) return null;
    let mt = 0;
    let mv = 0;
    for (let i = 0; i < count; i++) {
      mt += ts[at(i)];
      mv += vs[at(i)];
    }
    mt /= count;
    mv /= count;
    let stt = 0;
    let stv = 0;
    for (let i = 0; i < count; i++) {
      const dt = ts[at(i)] - mt;
      stt += dt * dt;
      stv += dt * (vs[at(i)] - mv);
    }
    if (!(stt > 0)) return null;
    return (stv / stt) * 1000; // per ms → per s
  };

  return {
    update(x: number, tMs: number): number | null {
      if (count > 0 && tMs < ts[at(count - 1)]) return slope; // out-of-order reading: ignore
      if (count === ts.length) grow();
      ts[at(count)] = tMs;
      vs[at(count)] = x;
      count++;
      while (count > 0 && ts[head] < tMs - windowMs) {
        head = (head + 1) % ts.length;
        count--;
      }
      slope = compute();
      return slope;
    },
    get slope() {
      return slope;
    },
    get count() {
      return count;
    },
    get spanS() {
      return count < 2 ? 0 : (ts[at(count - 1)] - ts[head]) / 1000;
    },
    windowS,
    reset() {
      head = 0;
      count = 0;
      slope = null;
    },
  };
}

// ---------------------------------------------------------------- rise counter

export interface RiseCounter {
  /** Feed a reading; returns how many consecutive readings (ending with this one) each rose over the one before. */
  update(value: number): number;
  readonly count: number;
  reset(): void;
}

/**
 * Counts consecutive rising readings, for the hunt's "R rises on N consecutive
 * readings" hit criterion. A reading counts as rising when it exceeds the
 * previous reading by more than `minStep` (value units; 0 = any increase), so
 * noise-sized wiggles can be told not to count. Anything else resets to 0.
 * Feed it filtered readings if the rate is high enough for noise alone to
 * produce runs (three rises in a row happen by chance once in 24 readings).
 */
export function createRiseCounter(options: { minStep?: number } = {}): RiseCounter {
  const minStep = options.minStep ?? 0;
  let prev: number | null = null;
  let count = 0;
  return {
    update(x: number): number {
      count = prev !== null && x - prev > minStep ? count + 1 : 0;
      prev = x;
      return count;
    },
    get count() {
      return count;
    },
    reset() {
      prev = null;
      count = 0;
    },
  };
}

// --------------------------------------------------------------- range tracker

export interface RangeTracker {
  /** Feed a reading; returns max − min over the last n readings, or null until n have arrived. */
  update(value: number): number | null;
  readonly range: number | null;
  readonly min: number | null;
  readonly max: number | null;
  /** readings held (≤ n) */
  readonly count: number;
  readonly full: boolean;
  reset(): void;
}

/** Range of the last `n` readings (dead-electrode check: range < 25 kΩ over 40 readings). */
export function createRangeTracker(n: number): RangeTracker {
  if (!(Number.isInteger(n) && n >= 1)) throw new RangeError(`range tracker needs n ≥ 1 readings, got ${n}`);
  const buf = new Float64Array(n);
  let next = 0;
  let count = 0;
  let min = Infinity;
  let max = -Infinity;
  const rescan = (): void => {
    // n is tens of readings: a rescan is cheaper than keeping monotone deques
    min = Infinity;
    max = -Infinity;
    for (let i = 0; i < count; i++) {
      if (buf[i] < min) min = buf[i];
      if (buf[i] > max) max = buf[i];
    }
  };
  return {
    update(x: number): number | null {
      buf[next] = x;
      next = (next + 1) % n;
      if (count < n) count++;
      rescan();
      return count === n ? max - min : null;
    },
    get range() {
      return count === n ? max - min : null;
    },
    get min() {
      return count > 0 ? min : null;
    },
    get max() {
      return count > 0 ? max : null;
    },
    get count() {
      return count;
    },
    get full() {
      return count === n;
    },
    reset() {
      next = 0;
      count = 0;
      min = Infinity;
      max = -Infinity;
    },
  };
}
