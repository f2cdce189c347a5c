/**
 * The one error type every driver call fails with. `kind` says what went
 * wrong; `device`, `command` and `bytes` say where, so an operator (or a log
 * reader) can tell a loose cable from a bad command from a limit refusal.
 */
export type DeviceErrorKind =
  /** no complete reply within the command's deadline */
  | 'timeout'
  /** bytes that do not parse as a reply: wrong length, bad checksum, unknown reply */
  | 'malformed'
  /** the device answered with its own error code */
  | 'device'
  /** the port went away (unplugged, closed by the OS) */
  | 'disconnected'
  /** refused before any byte was sent: the command would break a configured limit */
  | 'limit'
  /** refused before any byte was sent: an argument that makes no sense (NaN, unknown channel) */
  | 'invalid'
  /** a move ended early because stop was requested */
  | 'interrupted'
  /** the driver was closed */
  | 'closed';

export class DeviceError extends Error {
  readonly kind: DeviceErrorKind;
  readonly device: string;
  readonly command: string;
  /** bytes received for this command before the failure (may be empty) */
  readonly bytes: Buffer;

  constructor(kind: DeviceErrorKind, device: string, command: string, detail: string, bytes: Buffer = Buffer.alloc(0)) {
    const seen = bytes.length > 0 ? ` [bytes seen: ${formatBytes(bytes)}]` : '';
    super(`${device}: ${command}: ${kind}: ${detail}${seen}`);
    this.name = 'DeviceError';
    this.kind = kind;
    this.device = device;
    this.command = command;
    this.bytes = Buffer.from(bytes);
  }

  toJSON(): Record<string, unknown> {
    return { kind: this.kind, device: this.device, command: this.command, message: this.message, bytes: this.bytes.toString('hex') };
  }
}

export function isDeviceError(e: unknown, kind?: DeviceErrorKind): e is DeviceError {
  return e instanceof DeviceError && (kind === undefined || e.kind === kind);
}

/** Hex with printable ASCII alongside, capped so a flood of garbage does not flood the log. */
export function formatBytes(bytes: Buffer, max = 48): string {
  const shown = bytes.subarray(0, max);
  const hex = [...shown].map((b) => b.toString(16).padStart(2, '0')).join(' ');
  const ascii = [...shown].map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
  const more = bytes.length > max ? ` …(+${bytes.length - max})` : '';
  return `${hex} |${ascii}|${more}`;
}
