/**
 * Luigs & Neumann SM-10 / SM-5 wire protocol (binary frames with CRC;
 * SM-10 115200 8N1, SM-5 38400 8N1). Shared constants and the CRC only: the
 * driver and the emulator each build and parse frames on their own.
 *
 * Request:  0x16  id_hi id_lo  len  data[len]  crc_hi crc_lo
 * ACK:      0x06  id_hi id_lo  len  data[len]  crc_hi crc_lo   (id = the request's)
 * NAK:      0x15  id_hi id_lo  0x01 reason     crc_hi crc_lo
 * crc = CRC-16/XMODEM (poly 0x1021, init 0, no reflection) over data only;
 * it is sent for every frame, 0x0000 when len = 0. len ≤ MAX_DATA.
 *
 * Axes are numbered 1–6: 1–3 are x, y, z of manipulator 1, 4–6 of
 * manipulator 2. Floats are IEEE-754 float32 little-endian.
 *
 *   0101 position     [axis]                 → [axis, f32 µm]
 *   0048 absolute fast [axis, f32 µm]        → [axis]   moves at the fast speed
 *   0049 absolute slow [axis, f32 µm]        → [axis]   moves at the axis velocity (0144)
 *   004A relative fast [axis, f32 µm]        → [axis]   |delta| ≤ 255 µm
 *   004B relative slow [axis, f32 µm]        → [axis]   |delta| ≤ 255 µm
 *   0144 velocity     [axis, f32 µm/s]       → [axis]   speed of that axis's slow moves
 *   0120 status       [axis, …] (1–6 axes)   → [axis, flags, …]  flags: STATUS_*
 *   00FF stop         [axis, …] (1–6 axes)   → []       all listed axes stop at once
 *   0400 connect      []                     → [controller type: 5 = SM-5, 10 = SM-10]
 *
 * Moves are acknowledged at once and run on; completion is found by polling
 * 0120. Each axis moves on its own: a straight 3-D line at speed v takes
 * per-axis velocities v·|dᵢ|/|d| and three move commands.
 *
 * Quirks: an SM-5 answers only 0400 until a session is established, and
 * drops the session after SESSION_TIMEOUT_MS without a valid frame (then it
 * NAKs with NAK_NO_SESSION). A frame left incomplete for FRAME_TIMEOUT_MS is
 * discarded; bytes outside a frame are ignored.
 */
export const BAUD_SM10 = 115_200;
export const BAUD_SM5 = 38_400;

export const SYN = 0x16;
export const ACK = 0x06;
export const NAK = 0x15;
export const MAX_DATA = 32;
/** start, id (2), len, crc (2) */
export const FRAME_OVERHEAD = 6;

export const CMD = {
  position: 0x0101,
  absoluteFast: 0x0048,
  absoluteSlow: 0x0049,
  relativeFast: 0x004a,
  relativeSlow: 0x004b,
  velocity: 0x0144,
  status: 0x0120,
  stop: 0x00ff,
  connect: 0x0400,
} as const;

export const AXES_PER_MANIPULATOR = 3;
export const MAX_AXIS = 6;
/** largest relative move one command may carry, µm */
export const MAX_RELATIVE_UM = 255;

export const STATUS_MOVING = 0x01;
/** the axis's last move was ended by 0x00FF */
export const STATUS_STOPPED = 0x02;
/** the axis's last move was cut short at the end of travel */
export const STATUS_AT_END = 0x04;

export const NAK_CRC = 1;
export const NAK_UNKNOWN = 2;
export const NAK_ARGUMENT = 3;
export const NAK_AXIS = 4;
export const NAK_NO_SESSION = 5;
export const NAK_REASONS: Record<number, string> = {
  [NAK_CRC]: 'request CRC error',
  [NAK_UNKNOWN]: 'unknown command',
  [NAK_ARGUMENT]: 'bad length or argument',
  [NAK_AXIS]: 'no such axis',
  [NAK_NO_SESSION]: 'no session (establish connection with 0400 first)',
};

export const CONTROLLER_TYPE = { 'SM-5': 5, 'SM-10': 10 } as const;
export type Sm10Model = keyof typeof CONTROLLER_TYPE;

/** SM-5 drops an idle session after this long, ms */
export const SESSION_TIMEOUT_MS = 3_000;
export const FRAME_TIMEOUT_MS = 50;

/** CRC-16/XMODEM: poly 0x1021, init 0, no reflection, no final xor. */
export function crc16xmodem(data: Uint8Array): number {
  let crc = 0;
  for (const byte of data) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}
