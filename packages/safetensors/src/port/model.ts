/**
 * The framework-neutral description a checkpoint is parsed into: layers with a module path
 * (kept as segments, joined with each framework's separator) and tensors in canonical names and
 * layouts: convolution kernels [out, in, ...spatial], dense kernels [out, in].
 */
import type { RunningAverage } from '@normbridge/core';
import type { TensorRef } from './tensor-ref.js';

export type LayerKind = 'batchnorm' | 'conv' | 'linear';

/** Where a BatchNorm layer's eps and momentum came from. */
export type ConfigOrigin = 'metadata' | 'assumed';

export interface BatchNormConfig {
  readonly epsilon: number | undefined;
  /** Canonical form of the momentum (convert with core's convention helpers). */
  readonly runningAverage: RunningAverage | undefined;
  readonly origin: ConfigOrigin;
}

export interface BatchNormLayer {
  readonly kind: 'batchnorm';
  readonly path: readonly string[];
  readonly scale?: TensorRef | undefined;
  readonly bias?: TensorRef | undefined;
  readonly mean?: TensorRef | undefined;
  readonly variance?: TensorRef | undefined;
  /** The source's counter tensor, if it has one. */
  readonly count?: TensorRef | undefined;
  /** Training steps so far (PyTorch `num_batches_tracked`), from the counter or metadata. */
  readonly numBatchesTracked?: bigint | undefined;
  readonly config?: BatchNormConfig | undefined;
}

export interface ConvLayer {
  readonly kind: 'conv';
  readonly path: readonly string[];
  /** [out, in / groups, ...spatial]. */
  readonly kernel: TensorRef;
  readonly bias?: TensorRef | undefined;
}

export interface LinearLayer {
  readonly kind: 'linear';
  readonly path: readonly string[];
  /** [out, in]. */
  readonly kernel: TensorRef;
  readonly bias?: TensorRef | undefined;
}

export type Layer = BatchNormLayer | ConvLayer | LinearLayer;

/** Channels of a BatchNorm layer (length of its per-channel tensors), if any is present. */
export function channelsOf(layer: BatchNormLayer): number | undefined {
  const t = layer.mean ?? layer.variance ?? layer.scale ?? layer.bias;
  return t?.shape.length === 1 ? t.shape[0] : undefined;
}
