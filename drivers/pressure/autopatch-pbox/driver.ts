/**
 * Driver for the autopatch pressure box (PROTOCOL.md). All channels share one
 * SerialLink, so their commands are serialised on the one port; a pulse holds
 * the port only for its `PULSE` line (the box times it), so the other
 * channels stay usable while it runs.
 *
 * Pulses: the box replies at acceptance; the driver waits the duration, then
 * asks `STAT? <ch>` until the pulse has ended and checks the channel is back
 * to the setpoint and valve it had. A new command on a pulsing channel first
 * sends `ABORT` (the box refuses changes under a pulse) and the pulse rejects
 * with 'interrupted'.
 *
 * Reconnect: the box is USB-powered and an Arduino resets on power-up and on
 * port open, so after a replug it is at atmosphere with setpoints 0 — a seal
 * held at −30 mbar would silently lose its suction. The reconnect hook waits
 * for the box to boot, re-identifies it and re-sends every commanded setpoint,
 * then every valve (setpoint first, so a valve never opens onto a stale
 * regulator).
 */
import type { BindingInterface } from '@serialport/bindings-interface';
import type { Clock } from '../../../src/clock/clock.ts';
import { sleep } from '../../../src/clock/clock.ts';
import { checkPressure } from '../../core/limits.ts';
import { openSerialLink, withReconnectHook, type SerialLink } from '../../core/serial-link.ts';
import { DeviceError, isDeviceError } from '../../errors.ts';
import type { PressureChannel, PressureChannelState, PressureController, PressureLimits, PressureSource } from '../../types.ts';
import { BAUD, MODEL_ID, PULSE_MAX_MS, PULSE_MIN_MS, VALVE_WORD } from './protocol.ts';
import {
  decodeAbort,
  decodeIdentity,
  decodePong,
  decodePulse,
  decodeReading,
  decodeSetpoint,
  decodeStatus,
  decodeValve,
  formatMbar,
  infoLines,
  lineReply,
  stalePong,
  type PboxChannelStatus,
  type PboxIdentityReply,
} from './wire.ts';

export type { PboxChannelStatus } from './wire.ts';

export interface PressureBoxOptions {
  path: string;
  binding: BindingInterface;
  clock: Clock;
  /** soft limits: one pair for every channel, or one per channel */
  limits: PressureLimits | readonly PressureLimits[];
  baudRate?: number;
  /** refuse a box that reports another channel count */
  expectedChannels?: number;
  /** reply deadline for a command, ms (default 250; a line takes ~3 ms at 115200 baud) */
  commandTimeoutMs?: number;
  /** how long to wait for the box to boot after opening or replugging, ms (default 3000) */
  readyTimeoutMs?: number;
  /** longest pulse the driver sends, ms (default and maximum: the firmware's 10 000) */
  maxPulseMs?: number;
  onTraffic?: (dir: 'tx' | 'rx', bytes: Buffer, t: number) => void;
}

export interface PboxChannel extends PressureChannel {
  /** the regulator setpoint the box applied (DAC-quantised, ~0.42 mbar steps), mbar */
  readSetpoint(): Promise<number>;
  /** this channel's status line */
  status(): Promise<PboxChannelStatus>;
  /** end a running pulse now (the pulse rejects with 'interrupted'); harmless when none runs */
  abortPulse(): Promise<void>;
}

export interface PressureBox extends PressureController {
  readonly channels: readonly PboxChannel[];
  readonly firmware: string;
  /** hardware range the firmware enforces, mbar */
  readonly range: PressureLimits;
  /** channel by 0-based index; DeviceError('invalid') for any other value */
  channel(index: number): PboxChannel;
  /** every channel's status */
  status(): Promise<PboxChannelStatus[]>;
  ping(): Promise<void>;
}

/** a setpoint read back differs from the commanded one by at most half a DAC step plus rounding */
const SETPOINT_MATCH_MBAR = 0.25;
/** STAT? polls after a pulse's nominal end before giving up (clock skew between host and box) */
const PULSE_END_POLLS = 5;
const PING_TIMEOUT_MS = 150;

interface ActivePulse {
  controller: AbortController;
  /** why it ended early */
  reason?: 'superseded' | 'disconnected';
}

export async function openPressureBox(options: PressureBoxOptions): Promise<PressureBox> {
  const { clock } = options;
  const label = `autopatch pressure box @ ${options.path}`;
  const commandTimeoutMs = options.commandTimeoutMs ?? 250;
  const readyTimeoutMs = options.readyTimeoutMs ?? 3000;
  const maxPulseMs = Math.min(options.maxPulseMs ?? PULSE_MAX_MS, PULSE_MAX_MS);
  const baudRate = options.baudRate ?? BAUD;
  checkLimitsShape(label, options.limits);

  const link: SerialLink = await openSerialLink({
    label,
    path: options.path,
    baudRate,
    binding: options.binding,
    clock,
    unsolicited: (buf, awaiting) => infoLines(buf) ?? stalePong(buf, awaiting),
    onTraffic: options.onTraffic,
  });

  const command = <T>(line: string, decode: (payload: string) => T | undefined, timeoutMs = commandTimeoutMs): Promise<T> =>
    link.request({ name: line, bytes: Buffer.from(`${line}\n`, 'latin1'), parse: lineReply(decode), timeoutMs });

  /** PING until the box answers: after a reset its bootloader ignores input for a while. */
  const waitReady = async (): Promise<void> => {
    const deadline = clock.now() + readyTimeoutMs;
    for (;;) {
      try {
        await command('PING', decodePong, PING_TIMEOUT_MS);
        return;
      } catch (e) {
        const retry = isDeviceError(e, 'timeout') || isDeviceError(e, 'malformed');
        if (!retry || clock.now() >= deadline) {
          if (!retry) throw e;
          throw new DeviceError(e.kind, label, 'PING', `no answer within ${readyTimeoutMs} ms (is the box powered, at ${baudRate} baud?)`, e.bytes);
        }
      }
    }
  };

  const identify = async (): Promise<Required<PboxIdentityReply>> => {
    const id = await command('ID?', decodeIdentity);
    if (id.model !== MODEL_ID) throw new DeviceError('malformed', label, 'ID?', `not an autopatch pressure box: it answered "${id.reply}"`);
    if (id.firmware === undefined || !/^1\./.test(id.firmware)) {
      throw new DeviceError('malformed', label, 'ID?', `unsupported firmware (this driver speaks protocol v1): "${id.reply}"`);
    }
    if (id.channels === undefined || id.channels < 1 || id.range === undefined) {
      throw new DeviceError('malformed', label, 'ID?', `identity lacks channel count or range: "${id.reply}"`);
    }
    if (options.expectedChannels !== undefined && id.channels !== options.expectedChannels) {
      throw new DeviceError('malformed', label, 'ID?', `box has ${id.channels} channels, expected ${options.expectedChannels}`);
    }
    return id as Required<PboxIdentityReply>;
  };

  let identity: Required<PboxIdentityReply>;
  let limitsFor: PressureLimits[];
  let initial: PboxChannelStatus[];
  try {
    await waitReady();
    identity = await identify();
    limitsFor = channelLimits(label, options.limits, identity.channels, identity.range);
    initial = await command('STAT?', decodeStatus(identity.channels));
  } catch (e) {
    await link.close();
    throw e;
  }
  const channelCount = identity.channels;
  const statusAll = (): Promise<PboxChannelStatus[]> => command('STAT?', decodeStatus(channelCount));

  const makeChannel = (index: number): PboxChannel & { restore(): Promise<void>; lose(): void } => {
    const wire = index + 1;
    const limits = limitsFor[index];
    // What the box reported at open: a box that did not reset keeps its own state.
    let commanded: PressureChannelState = { setpoint: initial[index].setpoint, source: initial[index].source };
    let active: ActivePulse | undefined;

    /** Supersede a running pulse: mark it, and queue ABORT ahead of whatever the caller sends next. */
    const takePulse = (): Promise<unknown> | undefined => {
      const p = active;
      if (!p) return undefined;
      active = undefined;
      p.reason = 'superseded';
      p.controller.abort();
      return command(`ABORT ${wire}`, decodeAbort(wire));
    };

    const statusOne = async (): Promise<PboxChannelStatus> => (await command(`STAT? ${wire}`, decodeStatus(channelCount, wire)))[0];

    const channel = {
      channel: index,
      limits,
      get commanded(): PressureChannelState {
        return { ...commanded };
      },

      async setPressure(mbar: number): Promise<void> {
        checkPressure(label, `SET ${wire}`, mbar, limits);
        // Both lines are queued now, in call order, so per-channel order is the caller's order.
        const abort = takePulse();
        const set = command(`SET ${wire} ${formatMbar(mbar)}`, decodeSetpoint(wire));
        await Promise.all([abort, set]);
        commanded = { ...commanded, setpoint: mbar };
      },

      async setSource(source: PressureSource): Promise<void> {
        if (source !== 'regulator' && source !== 'atmosphere') throw new DeviceError('invalid', label, `VALVE ${wire}`, `unknown source "${String(source)}"`);
        const abort = takePulse();
        const valve = command(`VALVE ${wire} ${VALVE_WORD[source]}`, decodeValve(wire));
        const [, got] = await Promise.all([abort, valve]);
        if (got !== source) throw new DeviceError('malformed', label, `VALVE ${wire}`, `box reports ${got}, asked for ${source}`);
        commanded = { ...commanded, source };
      },

      read: (): Promise<number> => command(`READ ${wire}`, decodeReading(wire)),
      readSetpoint: (): Promise<number> => command(`SET? ${wire}`, decodeSetpoint(wire)),
      status: statusOne,

      async abortPulse(): Promise<void> {
        await (takePulse() ?? command(`ABORT ${wire}`, decodeAbort(wire)));
      },

      async pulse(mbar: number, durationMs: number): Promise<void> {
        const name = `PULSE ${wire}`;
        checkPressure(label, name, mbar, limits);
        if (!Number.isFinite(durationMs) || durationMs <= 0) throw new DeviceError('invalid', label, name, `duration must be a positive number of ms (got ${durationMs})`);
        const ms = Math.round(durationMs);
        if (ms < PULSE_MIN_MS) throw new DeviceError('invalid', label, name, `duration ${durationMs} ms is below the box's ${PULSE_MIN_MS} ms resolution`);
        if (ms > maxPulseMs) throw new DeviceError('limit', label, name, `duration ${ms} ms exceeds the limit of ${maxPulseMs} ms`);
        const before = { ...commanded };
        const abort = takePulse();
        const me: ActivePulse = { controller: new AbortController() };
        active = me;
        const accept = command(`${name} ${formatMbar(mbar)} ${ms}`, decodePulse(wire));
        try {
          await Promise.all([abort, accept]);
          await sleep(clock, ms, me.controller.signal);
          for (let poll = 0; ; poll++) {
            const st = await statusOne();
            if (me.controller.signal.aborted) break;
            if (st.pulseRemainingMs === 0) {
              if (st.source !== before.source || Math.abs(st.setpoint - before.setpoint) > SETPOINT_MATCH_MBAR) {
                throw new DeviceError(
                  'device',
                  label,
                  name,
                  `after the pulse the channel is at ${st.source} ${st.setpoint} mbar, expected ${before.source} ${before.setpoint} mbar`,
                );
              }
              return;
            }
            if (poll >= PULSE_END_POLLS) throw new DeviceError('device', label, name, `pulse still running ${st.pulseRemainingMs} ms after its end`);
            await sleep(clock, st.pulseRemainingMs, me.controller.signal);
          }
        } catch (e) {
          if (!me.reason) throw e;
        } finally {
          if (active === me) active = undefined;
        }
        if (me.reason === 'disconnected') throw new DeviceError('disconnected', label, name, 'the port went away during the pulse');
        throw new DeviceError('interrupted', label, name, 'pulse ended early: another command on this channel superseded it');
      },

      /** after a replug: the box forgot everything (see header) */
      async restore(): Promise<void> {
        await command(`SET ${wire} ${formatMbar(commanded.setpoint)}`, decodeSetpoint(wire));
      },
      lose(): void {
        const p = active;
        if (!p) return;
        active = undefined;
        p.reason = 'disconnected';
        p.controller.abort();
      },
    };
    return channel;
  };

  const channels = Array.from({ length: channelCount }, (_, i) => makeChannel(i));

  // A pulse waiting out its duration does not use the port: wake it when the port goes away.
  link.onStateChange((state) => {
    if (state === 'disconnected' || state === 'closed') for (const c of channels) c.lose();
  });

  const connection = withReconnectHook(link, async () => {
    await waitReady();
    const id = await identify();
    if (id.channels !== channelCount) {
      throw new DeviceError('malformed', label, 'ID?', `a different box came back: ${id.channels} channels instead of ${channelCount}`);
    }
    for (const c of channels) await c.restore();
    for (const c of channels) await command(`VALVE ${c.channel + 1} ${VALVE_WORD[c.commanded.source]}`, decodeValve(c.channel + 1));
  });

  const publicChannels: readonly PboxChannel[] = channels;
  return {
    model: `autopatch pressure box (${MODEL_ID} FW ${identity.firmware})`,
    firmware: identity.firmware,
    range: identity.range,
    connection,
    channels: publicChannels,
    channel(index: number): PboxChannel {
      if (!Number.isInteger(index) || index < 0 || index >= channelCount) {
        throw new DeviceError('invalid', label, 'channel', `no channel ${index} (the box has 0…${channelCount - 1})`);
      }
      return publicChannels[index];
    },
    status: statusAll,
    async ping(): Promise<void> {
      await command('PING', decodePong);
    },
  };
}

function checkLimitsShape(label: string, limits: PressureLimits | readonly PressureLimits[]): void {
  const all: readonly PressureLimits[] = isLimitsList(limits) ? limits : [limits];
  for (const l of all) {
    if (!Number.isFinite(l.min) || !Number.isFinite(l.max) || l.min > l.max) {
      throw new DeviceError('invalid', label, 'open', `pressure limits must be finite with min ≤ max (got [${l.min}, ${l.max}])`);
    }
  }
}

/** Per-channel limits, each inside the hardware range: a soft limit the box cannot honour is a configuration error. */
function channelLimits(label: string, limits: PressureLimits | readonly PressureLimits[], channels: number, range: PressureLimits): PressureLimits[] {
  const list = isLimitsList(limits) ? [...limits] : Array.from({ length: channels }, () => limits);
  if (list.length !== channels) throw new DeviceError('invalid', label, 'open', `${list.length} channel limits given for a ${channels}-channel box`);
  list.forEach((l, i) => {
    if (l.min < range.min || l.max > range.max) {
      throw new DeviceError('invalid', label, 'open', `channel ${i} limits [${l.min}, ${l.max}] mbar exceed the box's range [${range.min}, ${range.max}] mbar`);
    }
  });
  return list;
}

const isLimitsList = (l: PressureLimits | readonly PressureLimits[]): l is readonly PressureLimits[] => Array.isArray(l);
