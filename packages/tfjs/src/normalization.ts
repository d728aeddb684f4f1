import type * as tf from '@tensorflow/tfjs-core';
import type { Plan } from './plan.js';

// The types shared by normalize, its gradient and the fused kernels (kept apart so that the
// kernels need not import the modules that call them).

/**
 * The statistics one call normalises with, in the shape of its view: `[channels]` (memory
 * order) for the rows view, the plan's `statShape` for the broadcast view.
 */
export interface Normalization {
  readonly plan: Plan;
  readonly epsilon: number;
  /**
   * Rows view: the input is seen as `[rows, channels·inner]` (see `Plan.block`; inner is 1
   * when features are trailing) and the fused kernel does the work.
   */
  readonly rows: boolean;
  readonly mean: tf.Tensor;
  readonly variance: tf.Tensor;
  /**
   * Set when these are the batch's own statistics, so that the gradient flows through them:
   * each element's weight in its channel's statistics (see BatchStatistics.weight).
   */
  readonly batchWeight: number | tf.Tensor | undefined;
}

/** Gradients in the spec's shapes: dx like x, dScale and dBias like the features. */
export interface ParamGradients {
  readonly dx: tf.Tensor;
  readonly dScale: tf.Tensor;
  readonly dBias: tf.Tensor;
}
