/**
 * Limits checked on the decoded commands of one pipette: what the rig's
 * configuration and the preset allow, against what actually crossed the wire.
 *
 * - manipulator: every target inside the soft limits (to one wire unit),
 *   every speed set on the wire and ≤ the limit, and any move whose path goes
 *   below the tissue surface (world z > 0, through the pipette's mount) no
 *   faster than the preset's fastest in-tissue speed;
 * - pressure: every setpoint and pulse inside the box's limits, pulses of a
 *   length the box accepts;
 * - amplifier: holding, holding + test-pulse step and holding + stimulus inside
 *   the envelope, zap, pipette offset and compensation inside their ranges
 *   (drivers/amplifiers/amp-bridge/limits.ts).
 */
import { DEFAULT_AMP_LIMITS, type AmpBridgeLimits } from '../../../drivers/amplifiers/amp-bridge/limits.ts';
import { PULSE_MAX_MS, PULSE_MIN_MS } from '../../../drivers/pressure/autopatch-pbox/protocol.ts';
import type { PressureLimits } from '../../../drivers/types.ts';
import type { AutopatchPreset } from '../../../src/protocol/types.ts';
import type { PipetteSpec } from '../../../src/rig/config.ts';
import type { AmpCommand, ManipulatorCommand, PressureCommand } from './commands.ts';
import { AMP_POWER_UP, nextAmpState, type AmpState } from './timeline.ts';

export interface Violation {
  rule: string;
  pipetteId: string | null;
  t: number;
  detail: string;
}

/**
 * Relative slack on speeds: an SM-10 straight line is √Σvᵢ² of float32 axis
 * velocities, each rounded by up to 2⁻²⁴ (~6e-8); nothing meaningful is hidden below 1e-6.
 */
const SPEED_TOLERANCE = 1e-6;

/** The fastest a preset ever moves a pipette below the surface, µm/s. */
export function inTissueSpeed(preset: AutopatchPreset): number {
  return Math.max(preset.descent.speed_tissue_um_per_s, preset.retract.speed_tissue_um_per_s, preset.hunt.speed_um_per_s);
}

/** `preset` null: no in-tissue speed rule (limits of the rig only). */
export function manipulatorViolations(spec: PipetteSpec, commands: readonly ManipulatorCommand[], preset: AutopatchPreset | null): { violations: Violation[]; moves: number; inTissue: number } {
  const violations: Violation[] = [];
  const v = (rule: string, t: number, detail: string) => violations.push({ rule, pipetteId: spec.id, t, detail });
  const { min, max, maxSpeed } = spec.limits;
  const tissueSpeed = preset === null ? Infinity : inTissueSpeed(preset);
  const worldZ = (manipZ: number) => spec.mount.origin[2] + spec.mount.axisSign[2] * manipZ;
  // Where each axis can be: exact after a position reply, anywhere along the path after a move.
  const lo = [NaN, NaN, NaN];
  const hi = [NaN, NaN, NaN];
  let moves = 0;
  let inTissue = 0;
  for (const c of commands) {
    if (c.kind === 'position') {
      c.position.forEach((p, k) => {
        if (p !== null) lo[k] = hi[k] = p;
      });
      continue;
    }
    if (c.kind === 'origin') {
      v('origin-changed', c.t, `${c.wire}: the device's coordinates were redefined, so its soft limits no longer mean anything`);
      lo.fill(NaN);
      hi.fill(NaN);
      continue;
    }
    if (c.kind !== 'move') continue;
    moves++;
    const target = c.target.map((d, k) => {
      if (d === null || !c.relative) return d;
      // A relative move lands where it lands only if the start is known exactly.
      return lo[k] === hi[k] ? lo[k] + d : NaN;
    });
    target.forEach((x, k) => {
      if (x === null) return;
      if (Number.isNaN(x)) v('relative-from-unknown', c.t, `${c.wire}: axis ${k} relative to a position the wire never established`);
      else if (x < min[k] - c.resolution || x > max[k] + c.resolution) v('soft-limit', c.t, `${c.wire}: axis ${k} target ${x.toFixed(3)} µm outside [${min[k]}, ${max[k]}]`);
    });
    if (c.speed === null) v('speed-unset', c.t, `${c.wire}: ${c.speedNote ?? 'speed not on the wire'}`);
    else if (c.speed > maxSpeed * (1 + SPEED_TOLERANCE)) v('max-speed', c.t, `${c.wire}: ${c.speed} µm/s > ${maxSpeed} µm/s`);
    // Below the surface anywhere on the path: the path is straight, so at either end.
    const zTarget = target[2];
    const zs = [lo[2], hi[2], ...(zTarget === null ? [] : [zTarget])];
    const deepest = zs.some((z) => Number.isNaN(z)) ? Infinity : Math.max(...zs.map(worldZ));
    if (deepest > c.resolution) {
      inTissue++;
      if (c.speed === null || c.speed > tissueSpeed * (1 + SPEED_TOLERANCE)) {
        const where = deepest === Infinity ? 'from an unknown depth' : `reaching ${deepest.toFixed(2)} µm below the surface`;
        v('fast-in-tissue', c.t, `${c.wire}: ${c.speed ?? 'unset'} µm/s ${where} (in-tissue speed ≤ ${tissueSpeed} µm/s)`);
      }
    }
    target.forEach((x, k) => {
      if (x === null) return;
      lo[k] = Number.isNaN(x) ? NaN : Math.min(lo[k], x);
      hi[k] = Number.isNaN(x) ? NaN : Math.max(hi[k], x);
    });
  }
  return { violations, moves, inTissue };
}

export function pressureViolations(pipetteId: string, limits: PressureLimits, commands: readonly PressureCommand[]): { violations: Violation[]; setpoints: number } {
  const violations: Violation[] = [];
  let setpoints = 0;
  for (const c of commands) {
    if (c.kind !== 'set' && c.kind !== 'pulse') continue;
    setpoints++;
    if (c.mbar < limits.min || c.mbar > limits.max) violations.push({ rule: 'pressure-limit', pipetteId, t: c.t, detail: `${c.wire}: ${c.mbar} mbar outside [${limits.min}, ${limits.max}]` });
    if (c.kind === 'pulse' && (c.ms < PULSE_MIN_MS || c.ms > PULSE_MAX_MS)) violations.push({ rule: 'pulse-length', pipetteId, t: c.t, detail: `${c.wire}: ${c.ms} ms outside ${PULSE_MIN_MS}…${PULSE_MAX_MS}` });
  }
  return { violations, setpoints };
}

export function amplifierViolations(pipetteId: string, commands: readonly AmpCommand[], limits: AmpBridgeLimits = DEFAULT_AMP_LIMITS): { violations: Violation[]; checked: number } {
  const violations: Violation[] = [];
  const v = (c: AmpCommand, detail: string) => violations.push({ rule: 'amplifier-limit', pipetteId, t: c.t, detail: `${c.wire}: ${detail}` });
  const maxMv = limits.maxVoltageV * 1e3;
  const maxPa = limits.maxCurrentA * 1e12;
  const within = (c: AmpCommand, mode: 'VC' | 'IC', what: string, level: number) => {
    const max = mode === 'VC' ? maxMv : maxPa;
    if (!(Math.abs(level) <= max)) v(c, `${what} ${level} ${mode === 'VC' ? 'mV' : 'pA'} beyond ±${max}`);
  };
  let s: AmpState = AMP_POWER_UP;
  /** extremes of each uploaded stimulus, SI, and its mode */
  const stimuli = new Map<number, { mode: string; lo: number; hi: number }>();
  let checked = 0;
  for (const c of commands) {
    switch (c.kind) {
      case 'holding': {
        const mode = c.mode ?? s.mode;
        if (mode === 'I0') break;
        checked++;
        within(c, mode, 'holding', c.value);
        within(c, mode, 'holding + test-pulse step', c.value + (mode === 'VC' ? s.tpVC : s.tpIC));
        break;
      }
      case 'tp': {
        const mode = c.mode ?? s.mode;
        if (mode === 'I0') break;
        checked++;
        within(c, mode, 'holding + test-pulse step', (mode === 'VC' ? s.holdVC : s.holdIC) + c.amplitude);
        break;
      }
      case 'zap':
        checked++;
        if (!(c.ms > 0 && c.ms <= limits.maxZapMs)) v(c, `zap of ${c.ms} ms (0 < ms ≤ ${limits.maxZapMs})`);
        if (!(Math.abs(c.mV) <= limits.maxZapV * 1e3)) v(c, `zap of ${c.mV} mV beyond ±${limits.maxZapV * 1e3}`);
        break;
      case 'offset':
        if (c.mV === null) break;
        checked++;
        if (!(Math.abs(c.mV) <= limits.maxPipetteOffsetV * 1e3)) v(c, `pipette offset ${c.mV} mV beyond ±${limits.maxPipetteOffsetV * 1e3}`);
        break;
      case 'comp':
        checked++;
        if (!(c.fastPF >= 0 && c.fastPF <= limits.maxFastF * 1e12)) v(c, `fast compensation ${c.fastPF} pF outside 0…${limits.maxFastF * 1e12}`);
        if (!(c.slowPF >= 0 && c.slowPF <= limits.maxSlowF * 1e12)) v(c, `slow compensation ${c.slowPF} pF outside 0…${limits.maxSlowF * 1e12}`);
        break;
      case 'stim':
        stimuli.set(c.id, { mode: c.mode, lo: Infinity, hi: -Infinity });
        break;
      case 'chunk': {
        const st = stimuli.get(c.id);
        if (!st) break;
        for (const x of c.samples) {
          if (x < st.lo) st.lo = x;
          if (x > st.hi) st.hi = x;
        }
        break;
      }
      case 'run': {
        // What the channel plays is holding + every sample: check the extremes against the holding in force now.
        const st = stimuli.get(c.id);
        if (!st || st.lo > st.hi || (st.mode !== 'VC' && st.mode !== 'IC')) break;
        checked++;
        const [scale, hold] = st.mode === 'VC' ? [1e3, s.holdVC] : [1e12, s.holdIC];
        within(c, st.mode, 'holding + stimulus', hold + st.lo * scale);
        within(c, st.mode, 'holding + stimulus', hold + st.hi * scale);
        break;
      }
      default:
        break;
    }
    s = nextAmpState(s, c) ?? s;
  }
  return { violations, checked };
}
