import type { ChannelBlocks } from '../kernel_names.js';

/** Per-channel factors of y = (x − mean)·k + b, in float64: k = scale / √(var + ε), b = bias. */
export interface ChannelAffine {
  readonly mean: Float64Array;
  readonly k: Float64Array;
  readonly b: Float64Array;
}

export function channelAffine(
  mean: Float32Array,
  variance: Float32Array,
  scale: Float32Array | undefined,
  bias: Float32Array | undefined,
  epsilon: number,
): ChannelAffine {
  const channels = mean.length;
  const affine = { mean: new Float64Array(channels), k: new Float64Array(channels), b: new Float64Array(channels) };
  for (let c = 0; c < channels; c++) {
    affine.mean[c] = mean[c]!;
    affine.k[c] = (scale ? scale[c]! : 1) / Math.sqrt(variance[c]! + epsilon);
    affine.b[c] = bias ? bias[c]! : 0;
  }
  return affine;
}

/**
 * y = (x − mean)·k + b per channel, one pass, computed in float64 and rounded once. The
 * input is centred before it is scaled: folding the mean into the offset would cancel
 * badly on large-mean channels.
 */
export function normalizeChannels(x: Float32Array, blocks: ChannelBlocks, affine: ChannelAffine, y: Float32Array): void {
  const { outer, channels, inner } = blocks;
  const { mean, k, b } = affine;
  if (inner === 1) {
    for (let o = 0, p = 0; o < outer; o++) {
      for (let c = 0; c < channels; c++, p++) y[p] = (x[p]! - mean[c]!) * k[c]! + b[c]!;
    }
    return;
  }
  for (let o = 0; o < outer; o++) {
    for (let c = 0; c < channels; c++) {
      const m = mean[c]!;
      const kc = k[c]!;
      const bc = b[c]!;
      const start = (o * channels + c) * inner;
      for (let i = start, end = start + inner; i < end; i++) y[i] = (x[i]! - m) * kc + bc;
    }
  }
}
