import type { BatchNormSpec } from '@normbridge/core';

/**
 * Fused BatchNorm kernels, registered per backend (see `cpu/` and `wasm/`). Every kernel sees
 * its input in memory order as `[outer, channels, inner]`: NHWC is `inner = 1`, NCHW is
 * `outer = N, inner = H·W`, so neither layout is ever transposed. Per-channel tensors are
 * `[channels]` in memory order.
 */
export const BATCH_NORM_MOMENTS = 'NormbridgeBatchNormMoments';
export const BATCH_NORM_NORMALIZE = 'NormbridgeBatchNormNormalize';
export const BATCH_NORM_GRAD = 'NormbridgeBatchNormGrad';

/** The input seen as `[outer, channels, inner]` in memory order. */
export interface ChannelBlocks {
  readonly outer: number;
  readonly channels: number;
  readonly inner: number;
}

/**
 * The spec's `varianceAlgorithm`: `two-pass` is computed accurately in one pass over the data
 * (float64 sums shifted by each channel's first value, as accurate as two passes); the one-pass
 * forms are E[x²] − E[x]² rounded to float32, because that cancellation is what they mean.
 */
export type MomentsAlgorithm = BatchNormSpec['varianceAlgorithm'];

export interface MomentsAttrs extends ChannelBlocks {
  readonly algorithm: MomentsAlgorithm;
}

export interface NormalizeAttrs extends ChannelBlocks {
  readonly epsilon: number;
}

export interface GradAttrs extends NormalizeAttrs {
  /**
   * The statistics are the batch's own (weight 1/n per element), so the gradient flows
   * through them; false for fixed (running) statistics.
   */
  readonly batchStatistics: boolean;
}

/** Every kernel name, for registries and `tf.getKernel` probes. */
export const FUSED_KERNELS = [BATCH_NORM_MOMENTS, BATCH_NORM_NORMALIZE, BATCH_NORM_GRAD] as const;
