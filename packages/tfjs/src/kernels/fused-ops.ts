import * as tf from '@tensorflow/tfjs-core';
import type { BatchNormSpec } from '@normbridge/core';
import type { Normalization, ParamGradients } from '../normalization.js';
import { flatParam, toFeatureShape, type Plan } from '../plan.js';
import { runningVarianceInput, type BatchStatistics } from '../statistics.js';
import { BATCH_NORM_GRAD, BATCH_NORM_MOMENTS, BATCH_NORM_NORMALIZE, type ChannelBlocks } from './kernel_names.js';

/** The plan's `[outer, channels, inner]` view; only for plans with a `block`. */
function blocksOf(plan: Plan): ChannelBlocks {
  const { outer, inner } = plan.block!;
  return { outer, channels: plan.layout.channels, inner };
}

type Attrs = Record<string, number | string | boolean>;

/** Batch statistics of an unmasked, unreplicated input with consecutive features, as `[channels]`. */
export function fusedStatistics(spec: BatchNormSpec, plan: Plan, x: tf.Tensor): BatchStatistics {
  const n = plan.layout.perChannel;
  const attrs: Attrs = { ...blocksOf(plan), algorithm: spec.varianceAlgorithm };
  const [mean, variance] = tf.engine().runKernel(BATCH_NORM_MOMENTS, { x }, attrs) as tf.Tensor[];
  return { mean: mean!, variance: variance!, runningInput: runningVarianceInput(spec, variance!, n), weight: 1 / n };
}

/** y = (x − mean)·rsqrt(var + eps)·scale + bias in one pass, for the rows view's statistics. */
export function fusedNormalize(n: Normalization, x: tf.Tensor, scale: tf.Tensor | undefined, bias: tf.Tensor | undefined): tf.Tensor {
  const { plan } = n;
  const inputs: Record<string, tf.Tensor> = { x, mean: n.mean, variance: n.variance };
  if (scale) inputs['scale'] = flatParam(plan, scale);
  if (bias) inputs['bias'] = flatParam(plan, bias);
  return tf.engine().runKernel(BATCH_NORM_NORMALIZE, inputs, { ...blocksOf(plan), epsilon: n.epsilon } as Attrs) as tf.Tensor;
}

/** dx, dScale and dBias in two passes over x and dy (uniform weights or fixed statistics). */
export function fusedGradient(n: Normalization, x: tf.Tensor, dy: tf.Tensor, scale: tf.Tensor | undefined): ParamGradients {
  const { plan } = n;
  const inputs: Record<string, tf.Tensor> = { x, dy, mean: n.mean, variance: n.variance };
  if (scale) inputs['scale'] = flatParam(plan, scale);
  const attrs: Attrs = { ...blocksOf(plan), epsilon: n.epsilon, batchStatistics: n.batchWeight !== undefined };
  const [dx, dScale, dBias] = tf.engine().runKernel(BATCH_NORM_GRAD, inputs, attrs) as tf.Tensor[];
  return { dx: dx!, dScale: toFeatureShape(plan, dScale!, false), dBias: toFeatureShape(plan, dBias!, false) };
}
