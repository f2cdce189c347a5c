/**
 * Scientifica PatchStar / LinLab wire protocol (ASCII, 9600 or 38400 8N1).
 * Shared constants only: the driver and the emulator each implement the
 * framing on their own, so a misunderstanding shows in tests.
 *
 * Commands are text lines ending in CR (a stray LF is ignored), case-
 * insensitive, arguments separated by spaces; every reply is one line ending
 * in CR. Positions are signed integers in position units: 0.1 µm on v2
 * firmware, 0.01 µm on v3. Speeds are position units per second, acceleration
 * position units per second² (so both scale with the firmware's unit).
 *
 *   scientifica        → Y519                      (identification)
 *   desc               → e.g. "PatchStar Motorised Manipulator"
 *   type               → e.g. "PATCHSTAR" / "LINLAB"
 *   ver                → "<major>.<minor>", e.g. "2.14" (major ≥ 3: v3 units)
 *   DATE               → firmware build date, e.g. "Jun 12 2019"
 *   POS                → x<TAB>y<TAB>z
 *   P                  → x<TAB>y<TAB>z                (v3 only; v2 answers E,1)
 *   PX / PY / PZ       → one coordinate
 *   ABS x y z          → A at once; the move runs on (poll S)
 *   ABSZ z             → A at once
 *   REL dx dy dz       → A at once
 *   S                  → 0 idle, else bit 0/1/2 = x/y/z moving
 *   STOP               → A (stops at once)
 *   TOP [n]            → n / A   top speed (get / set, n ≥ 1)
 *   FIRST [n]          → n / A   start speed
 *   ACC [n]            → n / A   acceleration
 *   ZERO               → A       current position becomes 0 0 0
 * Errors: E,<code> with ERROR_CODES below.
 *
 * Quirk: the first S after a move starts may answer 0 (idle) during the
 * move's first ~30 ms, so "idle" must be confirmed (position at target, or a
 * second idle reading).
 */
export const BAUD = 9600;
export const FAST_BAUD = 38400;
export const CR = 0x0d;
export const LF = 0x0a;
export const TAB = 0x09;

export const IDENT_COMMAND = 'scientifica';
export const IDENT_REPLY = 'Y519';
export const ACK = 'A';

/** µm per position unit, by firmware major version */
export const UNIT_UM: Record<2 | 3, number> = { 2: 0.1, 3: 0.01 };

/** longest line either side sends */
export const MAX_LINE = 64;

export const STATUS_X = 0x01;
export const STATUS_Y = 0x02;
export const STATUS_Z = 0x04;

export const ERROR_CODES: Record<number, string> = {
  1: 'unknown command',
  2: 'bad argument (count, format or range)',
  3: 'target outside the travel range',
  4: 'not allowed while moving',
};

/** What the device answers during the first part of a move. */
export const EARLY_IDLE_MS = 30;
