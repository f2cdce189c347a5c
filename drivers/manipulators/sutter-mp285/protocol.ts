/**
 * Sutter MP-285 wire protocol (RS-232, 9600 8N1, binary, little-endian).
 * Shared constants only: the driver and the emulator each implement the
 * framing on their own, so a misunderstanding on one side shows in tests.
 *
 *   'c' CR               → x y z (int32 µsteps) CR            (13 bytes)
 *   'm' x y z CR         → CR only when the move has finished
 *   'V' u16 CR           → CR   bits 0–14 speed µm/s, bit 15 = fine resolution
 *   's' CR               → 32 status bytes CR                 (33 bytes)
 *                          bytes 24–25 (u16): µsteps per µm
 *   'a' / 'b' CR         → CR   absolute / relative coordinates for 'm'
 *   'o' CR               → CR   set origin here
 *   'n' CR               → CR   refresh display
 *   'r' CR               → (no reply) reset
 *   0x03                 interrupt a move
 * Errors: one ASCII byte 0x30–0x3F + CR. The low four bits are OR'd flags:
 * 1 frame error, 2 buffer overrun, 4 bad command, 8 move interrupted; '0'
 * (no flag) is a serial overrun. E.g. '<' (0x3C) = bad command + interrupted.
 * Some units and USB adapters send CR LF: a stray LF after a CR is ignored.
 */
export const CR = 0x0d;
export const LF = 0x0a;
export const ETX = 0x03;
export const BAUD = 9600;
export const POSITION_REPLY_LENGTH = 13;
export const STATUS_REPLY_LENGTH = 33;
export const STATUS_USTEPS_OFFSET = 24;
export const FINE_BIT = 0x8000;
/** largest speed the V word carries, µm/s (bits 0–14) */
export const SPEED_MAX_WORD = 0x7fff;
/** error reply bytes: '0' … '?' */
export const ERROR_MIN = 0x30;
export const ERROR_MAX = 0x3f;
export const ERROR_FRAME = 1;
export const ERROR_BUFFER_OVERRUN = 2;
export const ERROR_BAD_COMMAND = 4;
export const ERROR_INTERRUPTED = 8;
export const ERROR_BITS: ReadonlyArray<{ bit: number; text: string }> = [
  { bit: ERROR_FRAME, text: 'frame error' },
  { bit: ERROR_BUFFER_OVERRUN, text: 'buffer overrun' },
  { bit: ERROR_BAD_COMMAND, text: 'bad command' },
  { bit: ERROR_INTERRUPTED, text: 'move interrupted' },
];
