/**
 * Manipulator position error: where the tip really is, compared with where
 * the stage's own position (its encoder / step count) and the rig's mount
 * calibration put it. Two parts, both seeded:
 *
 *  - calibration error: the fitted pipette's tip sits a few µm from where the
 *    calibration says (each pipette is pulled and seated a little differently;
 *    drawn again when a new pipette is fitted), a constant world offset;
 *  - backlash: per manipulator axis, the carriage lags the lead screw by up to
 *    half the play after a reversal (a play operator), so where a move lands
 *    depends on the direction it came from.
 *
 * The emulators keep reporting their own encoder position and the controller
 * never sees any of this: it is applied only between the stage and the
 * physics' tip (see src/rig/simulated-rig.ts for the wiring).
 */
import type { Vec3 } from '../geometry.ts';
import type { StageErrorParams } from './params.ts';
import type { Rng } from './rng.ts';

export interface StageError {
  /** calibration error of the fitted pipette, world µm: tip = calibrated position + this */
  readonly calibrationUm: Vec3;
  /** play per manipulator axis, µm */
  readonly backlashUm: Vec3;
  /** carriage position for a stage (encoder) position, manipulator axes, µm */
  carriage(stage: Vec3): Vec3;
  /**
   * The stage's motion is about to change with the encoder at `stage`: settle
   * the carriage there. Between changes each axis moves one way, so
   * `carriage()` is exact for any position on the way.
   */
  latch(stage: Vec3): void;
  /** a new pipette was fitted (fitting number, 1 = the first): a new calibration error */
  refit(fitting: number): void;
}

/** Normal with this SD, clipped to ±clip SD (a calibration that far off would be noticed and redone). */
const clippedNormal = (r: Rng, sd: number, clip: number): number => Math.max(-clip * sd, Math.min(clip * sd, r.normal(0, sd)));

export function createStageError(rng: Rng, params: StageErrorParams): StageError {
  const drawCalibration = (fitting: number): Vec3 => {
    const r = rng.fork('calibration').fork(fitting);
    const sd = params.calibrationSdUm;
    return [clippedNormal(r, sd, params.calibrationClipSd), clippedNormal(r, sd, params.calibrationClipSd), clippedNormal(r, sd, params.calibrationClipSd)];
  };
  const br = rng.fork('backlash');
  const backlashUm: Vec3 = [0, 1, 2].map(() => br.uniform(params.backlashUm[0], params.backlashUm[1])) as unknown as Vec3;
  let calibrationUm = drawCalibration(1);
  let held: [number, number, number] | null = null;

  const follow = (c: readonly number[], s: Vec3): [number, number, number] =>
    [0, 1, 2].map((i) => {
      const half = backlashUm[i] / 2;
      return Math.min(s[i] + half, Math.max(s[i] - half, c[i]));
    }) as [number, number, number];

  return {
    get calibrationUm() {
      return calibrationUm;
    },
    backlashUm,
    carriage(stage) {
      return held ? follow(held, stage) : stage;
    },
    latch(stage) {
      held = held ? follow(held, stage) : [stage[0], stage[1], stage[2]];
    },
    refit(fitting) {
      calibrationUm = drawCalibration(fitting);
    },
  };
}
