/**
 * Which test-pulse readings and positions to keep in long sessions.
 *
 * Test pulses arrive at 6–100 Hz per pipette for hours; most readings repeat
 * the previous one within noise (a gigaseal's R jitters by tens of percent
 * from one reading to the next). Rule, per pipette (readings):
 *   - keep the first reading after every state change of the pipette (and the
 *     first ever), and a reading whose clamp mode differs from the last kept;
 *   - keep a reading when the *smoothed* R or Ra (exponential average of log R
 *     with time constant `smoothingS`) has moved by more than `relChange`, or
 *     smoothed Ihold by more than `iholdChange`, since the last kept reading:
 *     trends (a seal forming, access degrading) are followed step by step
 *     while reading-to-reading noise is not;
 *   - otherwise keep one reading per `1 / maxHz` seconds;
 *   - and keep the last reading before each state change, before the
 *     session ends and when the writer is flushed (`flush`), so every stage's
 *     final value is stored and a resolved flush leaves nothing held back.
 * Kept rows hold the raw reading. Every reading not kept is counted in the
 * `summarised` column of the next kept row of that pipette, so once flushed,
 * Σ(1 + summarised) = readings received.
 * Positions: keep on state change, on a move of `minMoveUm` from the last
 * kept position, or at `maxHz`.
 */
import type { TestPulseReading } from '../control/events.ts';
import type { Vec3 } from '../../drivers/types.ts';

export interface ReadingDecimation {
  /** most readings kept per second per pipette while nothing trends */
  maxHz: number;
  /** relative change of smoothed R or Ra that is kept at once */
  relChange: number;
  /** change of smoothed Ihold that is kept at once, A */
  iholdChange: number;
  /** time constant of the averages compared, s */
  smoothingS: number;
}

export interface PositionDecimation {
  maxHz: number;
  /** a move this large from the last kept position is always kept, µm */
  minMoveUm: number;
}

export const DEFAULT_READING_DECIMATION: ReadingDecimation = { maxHz: 2, relChange: 0.1, iholdChange: 20e-12, smoothingS: 0.5 };
export const DEFAULT_POSITION_DECIMATION: PositionDecimation = { maxHz: 1, minMoveUm: 5 };

export interface TimedReading {
  t: number;
  epochMs: number;
  attemptId: string | null;
  reading: TestPulseReading;
}

/** A reading to store, with how many readings before it were left out. */
export interface KeptReading extends TimedReading {
  summarised: number;
}

/** Exponential averages (NaN = no value yet). */
interface Smoothed {
  logR: number;
  logRa: number;
  ihold: number;
}

interface ReadingTrack {
  last: TimedReading | null; // last kept
  held: TimedReading | null; // latest not kept
  skipped: number; // not kept since `last`, including `held`
  fresh: boolean; // a state change happened since `last`
  prevT: number; // time of the previous reading offered
  now: Smoothed;
  atKeep: Smoothed; // the averages when `last` was kept
}

const logOf = (x: number | null): number => (x !== null && Number.isFinite(x) && x > 0 ? Math.log(x) : NaN);
const unset = (): Smoothed => ({ logR: NaN, logRa: NaN, ihold: NaN });

/** Move an average towards x by weight a; a missing value leaves it, an unset average takes x. */
function ema(avg: number, x: number, a: number): number {
  if (Number.isNaN(x)) return avg;
  if (Number.isNaN(avg)) return x;
  return avg + a * (x - avg);
}

/** |a − b| > limit, where both are known. */
const moved = (a: number, b: number, limit: number): boolean => !Number.isNaN(a) && !Number.isNaN(b) && Math.abs(a - b) > limit;

export interface ReadingDecimator {
  /** readings to store for this one (0 or 1 row) */
  offer(pipetteId: string, r: TimedReading): KeptReading[];
  /** the pipette changed state: its next reading is kept */
  stateChanged(pipetteId: string): void;
  /** the reading held back for this pipette, if any, to store now (call before a state change) */
  flush(pipetteId: string): KeptReading | null;
  /** flush every pipette (session end) */
  flushAll(): Array<{ pipetteId: string; kept: KeptReading }>;
  /** readings counted but not stored yet (they are added to the next kept row) */
  pendingSummarised(): number;
}

export function createReadingDecimator(options: ReadingDecimation = DEFAULT_READING_DECIMATION): ReadingDecimator {
  const tracks = new Map<string, ReadingTrack>();
  const periodMs = options.maxHz > 0 ? 1000 / options.maxHz : Infinity;
  const logLimit = Math.log1p(options.relChange);
  const tauMs = options.smoothingS * 1000;
  const track = (id: string): ReadingTrack => {
    let tr = tracks.get(id);
    if (!tr) {
      tr = { last: null, held: null, skipped: 0, fresh: true, prevT: NaN, now: unset(), atKeep: unset() };
      tracks.set(id, tr);
    }
    return tr;
  };
  return {
    offer(pipetteId, r) {
      const tr = track(pipetteId);
      const last = tr.last;
      const modeChanged = last !== null && last.reading.mode !== r.reading.mode;
      if (modeChanged) tr.now = unset(); // R means something else in another clamp mode
      // time-based weight, so the filter means the same at 6 Hz and at 100 Hz
      const dt = Number.isNaN(tr.prevT) ? Infinity : Math.max(0, r.t - tr.prevT);
      const a = tauMs > 0 ? 1 - Math.exp(-dt / tauMs) : 1;
      tr.prevT = r.t;
      tr.now = {
        logR: ema(tr.now.logR, logOf(r.reading.r), a),
        logRa: ema(tr.now.logRa, logOf(r.reading.ra), a),
        ihold: ema(tr.now.ihold, Number.isFinite(r.reading.ihold) ? r.reading.ihold : NaN, a),
      };
      const trending =
        moved(tr.now.logR, tr.atKeep.logR, logLimit) ||
        moved(tr.now.logRa, tr.atKeep.logRa, logLimit) ||
        moved(tr.now.ihold, tr.atKeep.ihold, options.iholdChange);
      const keep = tr.fresh || last === null || modeChanged || trending || r.t - last.t >= periodMs;
      if (!keep) {
        tr.held = r;
        tr.skipped++;
        return [];
      }
      const out: KeptReading = { ...r, summarised: tr.skipped };
      tr.last = r;
      tr.atKeep = { ...tr.now };
      tr.held = null;
      tr.skipped = 0;
      tr.fresh = false;
      return [out];
    },
    stateChanged(pipetteId) {
      track(pipetteId).fresh = true;
    },
    flush(pipetteId) {
      const tr = tracks.get(pipetteId);
      if (!tr || tr.held === null) return null;
      const kept: KeptReading = { ...tr.held, summarised: tr.skipped - 1 };
      tr.last = tr.held;
      tr.atKeep = { ...tr.now };
      tr.held = null;
      tr.skipped = 0;
      return kept;
    },
    flushAll() {
      const out: Array<{ pipetteId: string; kept: KeptReading }> = [];
      for (const id of tracks.keys()) {
        const kept = this.flush(id);
        if (kept) out.push({ pipetteId: id, kept });
      }
      return out;
    },
    pendingSummarised() {
      let n = 0;
      for (const tr of tracks.values()) n += tr.skipped;
      return n;
    },
  };
}

export interface TimedPosition {
  t: number;
  epochMs: number;
  world: Vec3;
  manipulator: Vec3;
}

export interface PositionDecimator {
  /** the summarised count when this position is to be stored, else null */
  offer(pipetteId: string, p: TimedPosition): number | null;
  stateChanged(pipetteId: string): void;
}

export function createPositionDecimator(options: PositionDecimation = DEFAULT_POSITION_DECIMATION): PositionDecimator {
  const periodMs = options.maxHz > 0 ? 1000 / options.maxHz : Infinity;
  const tracks = new Map<string, { last: TimedPosition | null; skipped: number; fresh: boolean }>();
  return {
    offer(pipetteId, p) {
      let tr = tracks.get(pipetteId);
      if (!tr) {
        tr = { last: null, skipped: 0, fresh: true };
        tracks.set(pipetteId, tr);
      }
      const last = tr.last;
      const moved = last !== null && Math.hypot(p.world[0] - last.world[0], p.world[1] - last.world[1], p.world[2] - last.world[2]);
      const keep = tr.fresh || last === null || (moved as number) >= options.minMoveUm || p.t - last.t >= periodMs;
      if (!keep) {
        tr.skipped++;
        return null;
      }
      const summarised = tr.skipped;
      tr.last = p;
      tr.skipped = 0;
      tr.fresh = false;
      return summarised;
    },
    stateChanged(pipetteId) {
      const tr = tracks.get(pipetteId);
      if (tr) tr.fresh = true;
    },
  };
}
