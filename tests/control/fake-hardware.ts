/**
 * Hardware stand-ins for unit tests of the control layer (above the drivers):
 * a manipulator whose moves take distance/speed on the injected clock and stop
 * on request, a pressure channel and an amplifier channel that answer after a
 * short device delay and log every command with its time. Rig-level tests use
 * the real drivers and emulators instead.
 */
import type { Clock } from '../../src/clock/clock.ts';
import { DeviceError } from '../../drivers/errors.ts';
import type {
  AmplifierChannel,
  ClampMode,
  DeviceConnection,
  Manipulator,
  PipetteHardware,
  PressureChannel,
  PressureSource,
  Sweep,
  Vec3,
} from '../../drivers/types.ts';

export interface Logged {
  t: number;
  what: string;
  value?: unknown;
}

/** device reply time, ms */
const REPLY_MS = 5;

const connection = (label: string): DeviceConnection => ({
  label,
  state: 'open',
  onStateChange: () => () => {},
  reconnect: async () => {},
  close: async () => {},
});

export interface FakeManipulator extends Manipulator {
  /** position at clock time t (moves are straight lines at their speed) */
  positionAt(t: number): Vec3;
  readonly log: Logged[];
  /** make the next call of `method` reject with a device error */
  failNext(method: 'moveTo' | 'stop' | 'position'): void;
}

export function fakeManipulator(
  clock: Clock,
  start: Vec3 = [0, 0, 0],
  limits = { min: [-1e6, -1e6, -1e6] as Vec3, max: [1e6, 1e6, 1e6] as Vec3, maxSpeed: 5000 },
  /** the stage moves at this fraction of the commanded speed (a slow one, for timing tests) */
  speedFactor = 1,
): FakeManipulator {
  let from: Vec3 = start;
  let to: Vec3 = start;
  let t0 = 0;
  let t1 = 0;
  let pending: { reject: (e: Error) => void; timer: ReturnType<Clock['setTimeout']> } | null = null;
  const failing = new Set<string>();
  const log: Logged[] = [];
  const positionAt = (t: number): Vec3 => {
    if (t >= t1 || t1 === t0) return to;
    if (t <= t0) return from;
    const f = (t - t0) / (t1 - t0);
    return [from[0] + (to[0] - from[0]) * f, from[1] + (to[1] - from[1]) * f, from[2] + (to[2] - from[2]) * f];
  };
  const failIf = (method: string): void => {
    if (failing.delete(method)) throw new DeviceError('timeout', 'fake manipulator', method, 'no reply (test)');
  };
  const m: FakeManipulator = {
    model: 'fake manipulator',
    connection: connection('fake manipulator'),
    limits,
    resolution: 0.01,
    log,
    positionAt,
    failNext: (method) => void failing.add(method),
    get busy() {
      return pending !== null;
    },
    async position() {
      failIf('position');
      return positionAt(clock.now());
    },
    moveTo(target, { speed }) {
      return new Promise<Vec3>((resolve, reject) => {
        try {
          failIf('moveTo');
        } catch (e) {
          return reject(e);
        }
        const here = positionAt(clock.now());
        log.push({ t: clock.now(), what: 'moveTo', value: target });
        const d = Math.hypot(target[0] - here[0], target[1] - here[1], target[2] - here[2]);
        from = here;
        to = target;
        t0 = clock.now();
        t1 = t0 + (d / (speed * speedFactor)) * 1000;
        const timer = clock.setTimeout(() => {
          pending = null;
          resolve(target);
        }, t1 - t0);
        pending = { reject, timer };
      });
    },
    async moveBy(delta, options) {
      const here = positionAt(clock.now());
      return m.moveTo([here[0] + delta[0], here[1] + delta[1], here[2] + delta[2]], options);
    },
    async stop() {
      log.push({ t: clock.now(), what: 'stop' });
      failIf('stop');
      const here = positionAt(clock.now());
      from = to = here;
      t0 = t1 = clock.now();
      if (pending) {
        clock.clearTimeout(pending.timer);
        const p = pending;
        pending = null;
        p.reject(new DeviceError('interrupted', 'fake manipulator', 'move', 'stopped'));
      }
    },
  };
  return m;
}

export interface FakePressure extends PressureChannel {
  readonly log: Logged[];
  /** source of the line at clock time t, from the commands the device applied */
  sourceAt(t: number): PressureSource;
}

export function fakePressure(clock: Clock, limits = { min: -600, max: 1000 }): FakePressure {
  const commanded = { setpoint: 0, source: 'atmosphere' as PressureSource };
  const log: Logged[] = [];
  // the device applies each command when it answers (REPLY_MS later)
  const applied: Array<{ t: number; source: PressureSource }> = [{ t: -Infinity, source: 'atmosphere' }];
  const reply = (what: string, value: unknown, apply?: () => void): Promise<void> =>
    new Promise((resolve) => {
      clock.setTimeout(() => {
        log.push({ t: clock.now(), what, value });
        apply?.();
        resolve();
      }, REPLY_MS);
    });
  return {
    channel: 0,
    limits,
    log,
    commanded,
    sourceAt: (t) => [...applied].reverse().find((a) => a.t <= t)!.source,
    async setPressure(mbar) {
      if (mbar < limits.min || mbar > limits.max) throw new DeviceError('limit', 'fake pressure', 'set pressure', `${mbar} mbar`);
      commanded.setpoint = mbar;
      await reply('setPressure', mbar);
    },
    async setSource(source) {
      commanded.source = source;
      await reply('setSource', source, () => applied.push({ t: clock.now(), source }));
    },
    async read() {
      return commanded.source === 'atmosphere' ? 0 : commanded.setpoint;
    },
    async pulse(mbar, ms) {
      await reply('pulse', mbar);
      await new Promise<void>((r) => clock.setTimeout(r, ms));
    },
  };
}

export interface FakeAmplifier extends AmplifierChannel {
  readonly log: Logged[];
  /** deliver a sweep to the listeners, as the driver does when one arrives */
  deliver(sweep: Sweep): void;
  mode: ClampMode;
  holdingValue: number;
}

export function fakeAmplifier(clock: Clock): FakeAmplifier {
  const log: Logged[] = [];
  const listeners = new Set<(s: Sweep) => void>();
  const done = (what: string, value?: unknown): Promise<void> =>
    new Promise((resolve) => clock.setTimeout(() => (log.push({ t: clock.now(), what, value }), resolve()), REPLY_MS));
  const amp: FakeAmplifier = {
    channel: 0,
    log,
    mode: 'VC',
    holdingValue: 0,
    deliver: (s) => {
      for (const l of listeners) l(s);
    },
    async setMode(mode) {
      amp.mode = mode;
      await done('setMode', mode);
    },
    async setHolding(v) {
      amp.holdingValue = v;
      await done('setHolding', v);
    },
    setTestPulse: (s) => done('setTestPulse', s),
    onSweep(l) {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    zap: (ms, a) => done('zap', [ms, a]),
    autoPipetteOffset: async () => (await done('autoPipetteOffset'), 0),
    setCompensation: (c) => done('setCompensation', c),
    runStimulus: async (stimulus) => {
      await done('runStimulus', stimulus.name);
      return {
        channel: 0,
        seq: 0,
        kind: 'stimulus',
        mode: stimulus.mode,
        startTime: clock.now(),
        sampleRateHz: stimulus.sampleRateHz,
        response: new Float32Array(stimulus.samples.length).fill(-0.065),
        responseUnit: 'V',
        holding: 0,
        stimulus,
      };
    },
    status: async () => ({
      mode: amp.mode,
      holding: amp.holdingValue,
      testPulse: { enabled: true, amplitude: 0.01, widthMs: 10, rateHz: 30, sampleRateHz: 50_000 },
      pipetteOffset: 0,
      compensation: { fast: 0, slow: 0 },
    }),
  };
  return amp;
}

export interface FakeHardware extends PipetteHardware {
  readonly manipulator: FakeManipulator;
  readonly pressure: FakePressure;
  readonly amplifier: FakeAmplifier;
}

export function fakeHardware(clock: Clock, pipetteId = 'p1', start: Vec3 = [0, 0, 0], speedFactor = 1): FakeHardware {
  return { pipetteId, manipulator: fakeManipulator(clock, start, undefined, speedFactor), pressure: fakePressure(clock), amplifier: fakeAmplifier(clock) };
}
