/**
 * autopatch pressure box emulator: the Arduino as seen from its USB serial
 * port (PROTOCOL.md). Models what a host has to cope with:
 *  - a reset on every connect (DTR auto-reset when the port opens, power-up on
 *    replug): valves to atmosphere, setpoints 0, ~0.6 s of bootloader during
 *    which input is ignored, then a `#` banner line;
 *  - power loss on disconnect (USB-powered; the valves are normally-open to
 *    atmosphere, so every line vents);
 *  - one line processed at a time, `processingMs` each; effects happen when
 *    the reply is sent;
 *  - first-order line pressure (hardware.ts) and a noisy, seeded sensor.
 */
import type { Clock, TimerHandle } from '../../../src/clock/clock.ts';
import type { DeviceIO } from '../../core/emulator-binding.ts';
import type { DecodedPressureCommand, PressureEmulator, PressureObserver } from '../emulator-common.ts';
import { createFirmware } from './firmware.ts';
import { createBoxHardware } from './hardware.ts';
import { gaussian, seededUniform } from './noise.ts';
import { CR, ERR, ERROR_TEXT, INFO_PREFIX, LF, MAX_LINE, MODEL_ID } from './protocol.ts';

export interface PressureBoxEmulatorOptions {
  clock: Clock;
  /** channels on the box (1–8), 4 by default */
  channels?: number;
  /** seed of the sensor noise when no `random` is given (default 1) */
  seed?: number;
  /** seeded uniform [0, 1) source for the sensor noise (e.g. a simulation's sub-stream) */
  random?: () => number;
  /** line time constant towards the regulator setpoint, ms (default 100) */
  tauRegulatorMs?: number;
  /** line time constant when vented to atmosphere, ms (default 15) */
  tauAtmosphereMs?: number;
  /** σ of the sensor noise, mbar (default 0.2) */
  sensorNoiseMbar?: number;
  /** time to process one command line, ms (default 1.5) */
  processingMs?: number;
  /** bootloader time after each reset during which input is ignored, ms (default 600) */
  bootMs?: number;
  /** firmware version reported by `ID?` (default 1.0.0) */
  firmware?: string;
  /** model word reported by `ID?` — set it to make the box claim to be something else */
  model?: string;
  /** line-pressure segments kept per channel for queries into the past (default 10 000) */
  historyKeep?: number;
}

export interface PressureBoxEmulator extends PressureEmulator {
  /** the box is in its bootloader (ignoring input) */
  readonly booting: boolean;
}

export function createPressureBoxEmulator(options: PressureBoxEmulatorOptions): PressureBoxEmulator {
  const { clock } = options;
  const channelCount = options.channels ?? 4;
  if (!Number.isInteger(channelCount) || channelCount < 1 || channelCount > 8) throw new RangeError(`channels must be 1–8 (got ${channelCount})`);
  const processingMs = options.processingMs ?? 1.5;
  const bootMs = options.bootMs ?? 600;
  const firmwareVersion = options.firmware ?? '1.0.0';
  const observers: PressureObserver[] = [];
  const commands: DecodedPressureCommand[] = [];
  const hw = createBoxHardware({
    clock,
    channels: channelCount,
    tauRegulatorMs: options.tauRegulatorMs ?? 100,
    tauAtmosphereMs: options.tauAtmosphereMs ?? 15,
    sensorNoiseMbar: options.sensorNoiseMbar ?? 0.2,
    normal: gaussian(options.random ?? seededUniform(options.seed ?? 1)),
    observers,
    historyKeep: options.historyKeep ?? 10_000,
  });
  const execute = createFirmware(hw, { model: options.model ?? MODEL_ID, firmware: firmwareVersion }, (entry) =>
    commands.push({ t: clock.now(), ...entry }),
  );

  let io: DeviceIO | undefined;
  /** bumped on every connect/disconnect so timers of a previous session do nothing */
  let session = 0;
  let booting = false;
  let resets = 0;
  let line: number[] = [];
  let overflow = false;
  /** complete lines waiting for the processor; null = a line that was too long */
  let pending: Array<string | null> = [];
  let busy: TimerHandle | undefined;
  let bootTimer: TimerHandle | undefined;

  const sendLine = (text: string): void => io?.send(Buffer.from(`${text}\n`, 'latin1'));

  const processNext = (): void => {
    const mine = session;
    busy = clock.setTimeout(() => {
      busy = undefined;
      if (mine !== session) return;
      const item = pending.shift();
      if (item === undefined) return;
      sendLine(item === null ? `ERR ${ERR.LINE_TOO_LONG} ${ERROR_TEXT[ERR.LINE_TOO_LONG]}` : execute(item));
      if (pending.length > 0) processNext();
    }, processingMs);
  };

  const endLine = (): void => {
    const text = overflow ? null : Buffer.from(line).toString('latin1');
    line = [];
    overflow = false;
    if (text !== null && text.trim() === '') return; // blank lines get no reply
    pending.push(text);
    if (!busy) processNext();
  };

  const stopSession = (): void => {
    session++;
    clock.clearTimeout(busy);
    clock.clearTimeout(bootTimer);
    busy = undefined;
    bootTimer = undefined;
    pending = [];
    line = [];
    overflow = false;
  };

  return {
    model: `${options.model ?? MODEL_ID} ${firmwareVersion} (emulated)`,
    channelCount,
    observers,
    commands,
    get resets() {
      return resets;
    },
    get booting() {
      return booting;
    },
    pressureAt: (channel, t) => hw.pressureAt(channel, t),
    state: (channel) => ({ setpoint: hw.setpoint(channel), source: hw.source(channel), pulsing: hw.pulseRemaining(channel) > 0 }),

    connect(next) {
      stopSession();
      io = next;
      resets++;
      hw.reset();
      booting = true;
      const mine = session;
      bootTimer = clock.setTimeout(() => {
        if (mine !== session) return;
        bootTimer = undefined;
        booting = false;
        sendLine(`${INFO_PREFIX} ${options.model ?? MODEL_ID} READY FW=${firmwareVersion}`);
      }, bootMs);
    },

    disconnect() {
      stopSession();
      io = undefined;
      booting = false;
      hw.reset(); // power gone: the valves fall back to atmosphere
    },

    receive(bytes) {
      if (!io || booting) return; // the bootloader swallows whatever arrives
      for (const b of bytes) {
        if (b === LF) endLine();
        else if (b === CR) continue;
        else if (line.length < MAX_LINE) line.push(b);
        else overflow = true;
      }
    },
  };
}
