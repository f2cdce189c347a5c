/**
 * Device side of the line: splits host bytes into command lines and stimulus
 * chunk frames. A frame is recognised by its sync byte (never in text) and
 * read by the length in its header; a line ends at LF.
 */
import { checkHeader, crcMatches, readFrame, type Frame, type FrameRules } from './frame.ts';
import { CR, ERR, FRAME_TYPE, LF, MAX_LINE, SYNC0 } from './protocol.ts';

export type DeviceInput =
  | { kind: 'line'; text: string }
  | { kind: 'chunk'; frame: Frame }
  /** something to answer with an error reply (exactly one per bad unit) */
  | { kind: 'bad'; code: number; text: string; channel: number | null };

export interface InputSplitter {
  push(bytes: Buffer): void;
  /** next complete unit, or null until more bytes arrive */
  next(): DeviceInput | null;
  clear(): void;
}

export function createInputSplitter(rules: () => FrameRules): InputSplitter {
  let buf: Buffer = Buffer.alloc(0);
  // After an over-long line, everything up to the next LF belongs to it.
  let discarding = false;

  const next = (): DeviceInput | null => {
    for (;;) {
      if (buf.length === 0) return null;
      if (discarding) {
        const lf = buf.indexOf(LF);
        if (lf < 0) {
          buf = Buffer.alloc(0);
          return null;
        }
        buf = buf.subarray(lf + 1);
        discarding = false;
        continue;
      }
      const b0 = buf[0];
      if (b0 === LF || b0 === CR) {
        buf = buf.subarray(1);
        continue;
      }
      if (b0 === SYNC0) {
        const head = checkHeader(buf, { ...rules(), types: [FRAME_TYPE.chunk] });
        if (head.status === 'more') return null;
        if (head.status === 'bad') {
          // Nothing in this frame can be trusted, its length included: drop to the end of the line.
          discarding = true;
          buf = buf.subarray(1);
          return { kind: 'bad', code: ERR.syntax, text: `bad frame header: ${head.detail}`, channel: null };
        }
        if (buf.length < head.length) return null;
        const frameBuf = buf.subarray(0, head.length);
        buf = buf.subarray(head.length);
        const crc = crcMatches(frameBuf, head.length);
        if (!crc.ok) return { kind: 'bad', code: ERR.crc, text: 'chunk CRC-32 mismatch', channel: frameBuf[4] };
        return { kind: 'chunk', frame: readFrame(frameBuf) };
      }
      const lf = buf.indexOf(LF);
      if (lf < 0) {
        if (buf.length > MAX_LINE) {
          discarding = true;
          buf = Buffer.alloc(0);
          return { kind: 'bad', code: ERR.lineTooLong, text: `line longer than ${MAX_LINE} bytes`, channel: null };
        }
        return null;
      }
      const line = buf.subarray(0, lf);
      buf = buf.subarray(lf + 1);
      if (line.length > MAX_LINE) return { kind: 'bad', code: ERR.lineTooLong, text: `line longer than ${MAX_LINE} bytes`, channel: null };
      const text = line.toString('latin1');
      return { kind: 'line', text: text.endsWith('\r') ? text.slice(0, -1) : text };
    }
  };

  return {
    push(bytes) {
      buf = buf.length === 0 ? Buffer.from(bytes) : Buffer.concat([buf, bytes]);
    },
    next,
    clear() {
      buf = Buffer.alloc(0);
      discarding = false;
    },
  };
}
