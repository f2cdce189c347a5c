/**
 * Sutter MPC-200 / MPC-325 wire protocol (USB virtual COM, 128000 8N1, binary,
 * little-endian). Shared constants only: the driver and the emulator each
 * implement the framing on their own, so a misunderstanding shows in tests.
 *
 * One controller hosts up to 4 drives (manipulators); commands act on the
 * selected drive. Coordinates are int32 µsteps, 16 per µm, travel 0–400 000
 * (0–25 mm) per axis.
 *
 *   'C'                       → drive x y z CR      (14 bytes: u8 drive 1–4, 3 × int32, CR)
 *   'M' x y z                 → CR when the move has finished
 *                               fast move: every axis at the fast speed
 *   'S' v  (pause ≥ 30 ms)  x y z
 *                             → CR when the move has finished
 *                               straight-line move at SPEED_TABLE_UM_S[v], v = 0–15
 *   'I' d                     → CR            select drive d (binary 1–4)
 *   'U'                       → drive mask speed flags CR   (5 bytes, see STATUS_*)
 *   'K'                       → major minor CR               (3 bytes, major < 0x45)
 *   0x03                      → CR            interrupt: ends a move (one CR in all)
 *
 * Quirks:
 *  - During a move the controller reads only 0x03; any other byte is discarded.
 *  - A move whose target differs from the current position by less than
 *    MINIMUM_MOVE_USTEPS on every axis is ignored: no motion, and no CR ever.
 *  - After the speed byte of 'S' the controller is busy for 30 ms
 *    (SPEED_SETTLE_MS). Bytes arriving in that window are lost; if any were, the
 *    controller abandons the 'S' when the window closes, answers E 'T' CR and
 *    reads what follows as new commands (so the rest of an early coordinate
 *    block is taken as commands: this is why the pause matters).
 *  - CR and LF at a command boundary are ignored.
 *
 * Errors (autopatch's definition; the first byte never collides with a drive
 * number, a CR, or a version major): 'E' code CR, codes in ERROR_CODES.
 *
 * SPEED_TABLE_UM_S is autopatch's speed-byte mapping, chosen so common
 * approach speeds are exact; calibrate it against the controller in use.
 */
export const BAUD = 128_000;
export const CR = 0x0d;
export const LF = 0x0a;
export const ETX = 0x03;
export const ERR = 0x45; // 'E'

export const CMD = {
  position: 0x43, // 'C'
  fastMove: 0x4d, // 'M'
  straightMove: 0x53, // 'S'
  select: 0x49, // 'I'
  status: 0x55, // 'U'
  version: 0x4b, // 'K'
} as const;

export const USTEPS_PER_UM = 16;
export const TRAVEL_USTEPS = 400_000;
export const MINIMUM_MOVE_USTEPS = 16;
export const MAX_DRIVES = 4;

/** The controller needs this long after the 'S' speed byte before the coordinates, ms. */
export const SPEED_SETTLE_MS = 30;

/** µm/s for speed byte 0–15 of 'S' (monotonic). */
// Down to 1 µm/s: continuous hunting in vitro runs at 2 µm/s.
export const SPEED_TABLE_UM_S: readonly number[] = [1, 2, 5, 10, 20, 50, 100, 150, 200, 300, 400, 500, 700, 1000, 1150, 1300];

export const POSITION_REPLY_LENGTH = 14;
export const STATUS_REPLY_LENGTH = 5;
export const VERSION_REPLY_LENGTH = 3;
export const ERROR_REPLY_LENGTH = 3;

/** 'U' reply: [selected drive, connected-drive mask (bit d-1), last speed byte, flags, CR] */
export const STATUS_FLAG_INTERRUPTED = 0x01; // the last move was ended by 0x03
export const STATUS_FLAG_IGNORED = 0x02; // the last move was below the minimum and ignored

export const ERROR_CODES: Record<string, string> = {
  U: 'unknown command',
  D: 'no such drive',
  T: "coordinates arrived less than 30 ms after the 'S' speed byte",
  R: 'target outside the travel range',
  V: 'speed byte outside 0–15',
};

