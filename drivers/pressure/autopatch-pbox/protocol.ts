/**
 * autopatch pressure box wire protocol v1 (see PROTOCOL.md): ASCII lines,
 * LF-terminated, 115200 8N1, one reply line per command.
 * Shared constants only: the driver and the emulator each parse and format
 * lines on their own, so a misunderstanding on one side shows in tests.
 */
export const BAUD = 115_200;
export const LF = 0x0a;
export const CR = 0x0d;
/** longest command line the firmware accepts, characters before the LF */
export const MAX_LINE = 64;
/** model word in the `ID?` reply */
export const MODEL_ID = 'AUTOPATCH-PBOX';
/** hardware range the firmware enforces, mbar */
export const HW_MIN_MBAR = -700;
export const HW_MAX_MBAR = 1000;
/**
 * DAC mapping: raw = round(2.4 · mbar + 1680), i.e. 12 codes per 5 mbar.
 * Kept as a ratio of integers so round values (30 mbar = 72 codes) convert back exactly.
 */
export const DAC_CODES_PER_STEP = 12;
export const DAC_MBAR_PER_STEP = 5;
export const DAC_ZERO = 1680;
export const DAC_MAX = 4095;
/** device-timed pulse length range, ms */
export const PULSE_MIN_MS = 1;
export const PULSE_MAX_MS = 10_000;
/** info lines (boot banner) start with this character and are never replies */
export const INFO_PREFIX = '#';

export const ERR = {
  UNKNOWN_COMMAND: 1,
  BAD_CHANNEL: 2,
  OUT_OF_RANGE: 3,
  BAD_ARGUMENT: 4,
  BUSY: 5,
  LINE_TOO_LONG: 6,
} as const;

export const ERROR_TEXT: Record<number, string> = {
  1: 'UNKNOWN COMMAND',
  2: 'BAD CHANNEL',
  3: 'OUT OF RANGE',
  4: 'BAD ARGUMENT',
  5: 'BUSY',
  6: 'LINE TOO LONG',
};

/** wire name of each valve position */
export const VALVE_WORD = { regulator: 'REG', atmosphere: 'ATM' } as const;
