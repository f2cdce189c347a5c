/**
 * Decimation for display: a plot 300–600 px wide cannot show more than a
 * couple of points per pixel, so a 20 kHz sweep is cut down before it is
 * sent. Min/max per bucket (rather than every k-th sample) keeps the
 * capacitive transients and spikes a technician looks for.
 */

export interface Decimated {
  samples: Float32Array;
  /** rate that spreads the output over the same duration as the input, Hz */
  sampleRateHz: number;
}

/**
 * At most `maxPoints` samples: the input itself when it already fits,
 * otherwise the min and the max of each bucket, in the order they occurred.
 */
export function decimateMinMax(input: Float32Array, sampleRateHz: number, maxPoints: number): Decimated {
  const n = input.length;
  const limit = Math.max(2, Math.floor(maxPoints));
  if (n <= limit) return { samples: input, sampleRateHz };
  const buckets = Math.floor(limit / 2);
  const size = Math.ceil(n / buckets);
  const out = new Float32Array(Math.ceil(n / size) * 2);
  let o = 0;
  for (let start = 0; start < n; start += size) {
    const end = Math.min(n, start + size);
    let iMin = start;
    let iMax = start;
    for (let i = start + 1; i < end; i++) {
      const v = input[i];
      // NaN never wins a comparison, so a gap shows only if the whole bucket is NaN
      if (v < input[iMin] || Number.isNaN(input[iMin])) iMin = i;
      if (v > input[iMax] || Number.isNaN(input[iMax])) iMax = i;
    }
    if (iMin <= iMax) {
      out[o++] = input[iMin];
      out[o++] = input[iMax];
    } else {
      out[o++] = input[iMax];
      out[o++] = input[iMin];
    }
  }
  return { samples: out.subarray(0, o), sampleRateHz: (sampleRateHz * o) / n };
}
