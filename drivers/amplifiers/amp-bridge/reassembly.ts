/**
 * Host side: frames → whole sweeps. Parts of one sweep arrive in order on
 * the serial line; a part that does not continue the sweep being assembled
 * (another sequence number, or a gap left by a frame dropped for a bad CRC)
 * means that sweep lost a part. It is reported and abandoned, never
 * delivered with a hole in it. Each channel has one stream per frame type:
 * the bridge interleaves test-pulse frames with the frames of a long
 * stimulus response, so those two must not be mistaken for one another.
 */
import type { ClampMode } from '../../types.ts';
import type { Frame } from './frame.ts';
import type { SampleUnit } from './protocol.ts';

export interface AssembledSweep {
  type: number;
  channel: number;
  /** device sequence number */
  seq: number;
  mode: ClampMode;
  unit: SampleUnit;
  /** flags of all parts, OR-ed */
  flags: number;
  sampleRateHz: number;
  holding: number;
  stepAmplitude: number;
  stepOnset: number;
  stepLength: number;
  t0Us: number;
  /** test-pulse sweeps the device dropped before this one */
  dropped: number;
  samples: Float32Array;
}

export interface AssemblerHandlers {
  complete(sweep: AssembledSweep): void;
  lost(channel: number, seq: number, type: number, detail: string): void;
}

export interface Assembler {
  push(frame: Frame): void;
  /** forget every sweep in progress (the link went away) */
  clear(): void;
}

interface InProgress {
  sweep: AssembledSweep;
  received: number;
}

export function createAssembler(handlers: AssemblerHandlers): Assembler {
  const current = new Map<string, InProgress>();
  const stream = (f: Frame): string => `${f.channel}:${f.type}`;

  return {
    push(f) {
      const key = stream(f);
      let cur = current.get(key);
      if (cur && (cur.sweep.seq !== f.seq || cur.received !== f.offset)) {
        current.delete(key);
        handlers.lost(
          f.channel,
          cur.sweep.seq,
          cur.sweep.type,
          `sweep ${cur.sweep.seq} on channel ${f.channel} lost samples ${cur.received}… (next part was sweep ${f.seq} at sample ${f.offset})`,
        );
        cur = undefined;
      }
      if (!cur) {
        if (f.offset !== 0) {
          handlers.lost(f.channel, f.seq, f.type, `sweep ${f.seq} on channel ${f.channel} lost its first ${f.offset} samples`);
          return;
        }
        cur = {
          received: 0,
          sweep: {
            type: f.type,
            channel: f.channel,
            seq: f.seq,
            mode: f.mode,
            unit: f.unit,
            flags: 0,
            sampleRateHz: f.sampleRateHz,
            holding: f.holding,
            stepAmplitude: f.stepAmplitude,
            stepOnset: f.stepOnset,
            stepLength: f.stepLength,
            t0Us: f.t0Us,
            dropped: f.dropped,
            samples: f.offset === 0 && f.samples.length === f.total ? f.samples : new Float32Array(f.total),
          },
        };
      }
      if (cur.sweep.samples !== f.samples) cur.sweep.samples.set(f.samples, f.offset);
      cur.received += f.samples.length;
      cur.sweep.flags |= f.flags;
      if (cur.received >= cur.sweep.samples.length) {
        current.delete(key);
        handlers.complete(cur.sweep);
      } else current.set(key, cur);
    },
    clear() {
      current.clear();
    },
  };
}
