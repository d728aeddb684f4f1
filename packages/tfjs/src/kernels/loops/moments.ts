import type { ChannelBlocks, MomentsAlgorithm } from '../kernel_names.js';

/**
 * Per-channel mean and biased variance of `x` (`[outer, channels, inner]`), written into
 * `mean` and `variance` (`[channels]`), reading `x` once.
 *
 * `two-pass`: float64 sums of d = x − s and d², shifted by s = the channel's first value, so
 * a large common offset cancels exactly before anything is squared (a constant channel at
 * 1e8 has variance exactly 0, where a float32 running sum gives 20736). Every float32 value
 * and every difference of two is exact in float64, so the only rounding is the sums' own
 * (relative 2⁻⁵³ per term): as accurate as two passes over the data.
 *
 * One-pass forms: E[x²] − E[x]² with x² rounded to float32 and each mean rounded to float32
 * before the subtraction, the cancellation Flax and legacy flax.nn compute; the sums
 * themselves are float64, so no ordering error is added on top.
 */
export function channelMoments(
  x: Float32Array,
  blocks: ChannelBlocks,
  algorithm: MomentsAlgorithm,
  mean: Float32Array,
  variance: Float32Array,
): void {
  const { outer, channels, inner } = blocks;
  const n = outer * inner;
  const onePass = algorithm !== 'two-pass';
  const shift = new Float64Array(channels);
  const sum = new Float64Array(channels);
  const sumSquares = new Float64Array(channels);
  if (!onePass && n > 0) for (let c = 0; c < channels; c++) shift[c] = x[c * inner]!;

  if (inner === 1) {
    // Channels last: each row holds one value per channel.
    for (let o = 0, p = 0; o < outer; o++) {
      for (let c = 0; c < channels; c++, p++) {
        const v = x[p]!;
        if (onePass) {
          sum[c]! += v;
          sumSquares[c]! += Math.fround(v * v);
        } else {
          const d = v - shift[c]!;
          sum[c]! += d;
          sumSquares[c]! += d * d;
        }
      }
    }
  } else {
    for (let o = 0; o < outer; o++) {
      for (let c = 0; c < channels; c++) {
        const start = (o * channels + c) * inner;
        const s = shift[c]!;
        let s1 = 0;
        let s2 = 0;
        if (onePass) {
          for (let i = start, end = start + inner; i < end; i++) {
            const v = x[i]!;
            s1 += v;
            s2 += Math.fround(v * v);
          }
        } else {
          for (let i = start, end = start + inner; i < end; i++) {
            const d = x[i]! - s;
            s1 += d;
            s2 += d * d;
          }
        }
        sum[c]! += s1;
        sumSquares[c]! += s2;
      }
    }
  }
  finishMoments(sum, sumSquares, shift, n, algorithm, mean, variance);
}

/** From per-channel float64 sums to float32 statistics, as {@link channelMoments} defines them. */
export function finishMoments(
  sum: ArrayLike<number>,
  sumSquares: ArrayLike<number>,
  shift: ArrayLike<number>,
  n: number,
  algorithm: MomentsAlgorithm,
  mean: Float32Array,
  variance: Float32Array,
): void {
  for (let c = 0; c < mean.length; c++) {
    if (algorithm === 'two-pass') {
      const m = sum[c]! / n;
      mean[c] = shift[c]! + m;
      // Σd²/n − (Σd/n)² is ≥ 0 in exact arithmetic; a rounding below 0 would be a bug's sign.
      variance[c] = Math.max(0, sumSquares[c]! / n - m * m);
    } else {
      const m = Math.fround(sum[c]! / n);
      const v = Math.fround(Math.fround(sumSquares[c]! / n) - Math.fround(m * m));
      mean[c] = m;
      variance[c] = algorithm === 'one-pass-clamped' ? Math.max(0, v) : v;
    }
  }
}
