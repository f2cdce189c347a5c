/**
 * The box's command interpreter: one complete line in, one reply line out
 * (without its LF). Checks run in the documented order (command word,
 * argument count, channel, syntax, range, busy) so every bad line gets one
 * well-defined error code. Never throws on any input.
 */
import type { PressureSource } from '../../types.ts';
import type { DecodedPressureCommand } from '../emulator-common.ts';
import { mbarToRaw, rawToMbar, type BoxHardware } from './hardware.ts';
import { ERR, ERROR_TEXT, HW_MAX_MBAR, HW_MIN_MBAR, PULSE_MAX_MS, PULSE_MIN_MS, VALVE_WORD } from './protocol.ts';

export interface FirmwareIdentity {
  model: string;
  firmware: string;
}

type Logged = Omit<DecodedPressureCommand, 't'>;

/** A refusal: the reply is `ERR <code> <text>`. */
class Refusal {
  constructor(readonly code: number) {}
}

const MBAR_RE = /^[+-]?\d+(\.\d+)?$/;
const INT_RE = /^\d+$/;

/** Fixed decimals without a "-0.00" (the printed value is what the host parses). */
export function fixed(x: number, digits: number): string {
  const s = x.toFixed(digits);
  return /^-0\.?0*$/.test(s) ? s.slice(1) : s;
}

const valveWord = (s: PressureSource): string => VALVE_WORD[s];

export function createFirmware(hw: BoxHardware, id: FirmwareIdentity, log: (entry: Logged) => void): (line: string) => string {
  const n = hw.channelCount;

  const channelArg = (tok: string): number => {
    if (!INT_RE.test(tok)) throw new Refusal(ERR.BAD_CHANNEL);
    const ch = Number(tok);
    if (ch < 1 || ch > n) throw new Refusal(ERR.BAD_CHANNEL);
    return ch - 1;
  };
  const mbarArg = (tok: string): number => {
    if (!MBAR_RE.test(tok)) throw new Refusal(ERR.BAD_ARGUMENT);
    return Number(tok);
  };
  const arity = (args: string[], ...allowed: number[]): void => {
    if (!allowed.includes(args.length)) throw new Refusal(ERR.BAD_ARGUMENT);
  };
  /** log a decoded command, refused or not, then apply it */
  const attempt = (entry: Logged, checks: () => void, apply: () => string): string => {
    try {
      checks();
    } catch (e) {
      if (e instanceof Refusal) log({ ...entry, refused: e.code });
      throw e;
    }
    log(entry);
    return apply();
  };
  const inRange = (mbar: number): void => {
    if (mbar < HW_MIN_MBAR || mbar > HW_MAX_MBAR) throw new Refusal(ERR.OUT_OF_RANGE);
  };
  const notBusy = (ch: number): void => {
    if (hw.pulseRemaining(ch) > 0) throw new Refusal(ERR.BUSY);
  };
  const setpointReply = (ch: number): string => `OK ${ch + 1} ${fixed(hw.setpoint(ch), 2)} ${hw.raw(ch)}`;
  const status = (ch: number): string =>
    [ch + 1, valveWord(hw.source(ch)), fixed(hw.setpoint(ch), 2), fixed(hw.sense(ch), 1), Math.ceil(hw.pulseRemaining(ch))].join(',');

  const commands: Record<string, (args: string[]) => string> = {
    'ID?': (args) => {
      arity(args, 0);
      return `OK ${id.model} FW=${id.firmware} CH=${n} RANGE=${HW_MIN_MBAR},${HW_MAX_MBAR}`;
    },
    PING: (args) => {
      arity(args, 0);
      return 'OK PONG';
    },
    SET: (args) => {
      arity(args, 2);
      const ch = channelArg(args[0]);
      const mbar = mbarArg(args[1]);
      return attempt(
        { channel: ch, kind: 'setpoint', mbar },
        () => {
          inRange(mbar);
          notBusy(ch);
        },
        () => {
          hw.setRaw(ch, mbarToRaw(mbar));
          return setpointReply(ch);
        },
      );
    },
    'SET?': (args) => {
      arity(args, 1);
      return setpointReply(channelArg(args[0]));
    },
    VALVE: (args) => {
      arity(args, 2);
      const ch = channelArg(args[0]);
      const word = args[1].toUpperCase();
      const source: PressureSource | undefined = word === VALVE_WORD.regulator ? 'regulator' : word === VALVE_WORD.atmosphere ? 'atmosphere' : undefined;
      if (!source) throw new Refusal(ERR.BAD_ARGUMENT);
      return attempt(
        { channel: ch, kind: 'valve', source },
        () => notBusy(ch),
        () => {
          hw.setSource(ch, source);
          return `OK ${ch + 1} ${valveWord(source)}`;
        },
      );
    },
    'VALVE?': (args) => {
      arity(args, 1);
      const ch = channelArg(args[0]);
      return `OK ${ch + 1} ${valveWord(hw.source(ch))}`;
    },
    READ: (args) => {
      arity(args, 1);
      const ch = channelArg(args[0]);
      return `OK ${ch + 1} ${fixed(hw.sense(ch), 1)}`;
    },
    PULSE: (args) => {
      arity(args, 3);
      const ch = channelArg(args[0]);
      const mbar = mbarArg(args[1]);
      if (!INT_RE.test(args[2])) throw new Refusal(ERR.BAD_ARGUMENT);
      const ms = Number(args[2]);
      return attempt(
        { channel: ch, kind: 'pulse', mbar, ms },
        () => {
          inRange(mbar);
          if (ms < PULSE_MIN_MS || ms > PULSE_MAX_MS) throw new Refusal(ERR.OUT_OF_RANGE);
          notBusy(ch);
        },
        () => {
          const raw = mbarToRaw(mbar);
          hw.startPulse(ch, raw, ms);
          return `OK ${ch + 1} ${fixed(rawToMbar(raw), 2)} ${ms}`;
        },
      );
    },
    ABORT: (args) => {
      arity(args, 1);
      const ch = channelArg(args[0]);
      log({ channel: ch, kind: 'abort' });
      return `OK ${ch + 1} ${hw.abortPulse(ch) ? 'ABORTED' : 'IDLE'}`;
    },
    'STAT?': (args) => {
      arity(args, 0, 1);
      if (args.length === 1) return `OK ${status(channelArg(args[0]))}`;
      return `OK ${Array.from({ length: n }, (_, ch) => status(ch)).join(' ')}`;
    },
  };

  return (line) => {
    const words = line.trim().split(/ +/);
    const handler = Object.hasOwn(commands, words[0].toUpperCase()) ? commands[words[0].toUpperCase()] : undefined;
    try {
      if (!handler) throw new Refusal(ERR.UNKNOWN_COMMAND);
      return handler(words.slice(1));
    } catch (e) {
      const code = e instanceof Refusal ? e.code : ERR.BAD_ARGUMENT;
      return `ERR ${code} ${ERROR_TEXT[code]}`;
    }
  };
}
