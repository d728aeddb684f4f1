import * as tf from '@tensorflow/tfjs-core';
import { runningAverageWeights, type BatchNormSpec } from '@normbridge/core';

/**
 * One running-statistic update in float32, in the algebraic form the spec names, because the
 * form decides the last bit:
 *
 * - `blend`: a·old + (1 − a)·batch, two products and a sum;
 * - `decay-toward`: old − (old − batch)·(1 − a), a sub, a mul and a sub, each rounded to
 *   float32, with (1 − a) computed in float64 and rounded once (what TF.js layers does).
 *
 * `tracked` is the counter after this step: the cumulative average weighs the batch 1/tracked.
 */
export function updateRunning(spec: BatchNormSpec, old: tf.Tensor, batch: tf.Tensor, tracked: number): tf.Tensor {
  const { oldWeight, batchWeight } = runningAverageWeights(spec.runningAverage, tracked);
  if (spec.runningUpdateForm === 'decay-toward') {
    return tf.sub(old, tf.mul(tf.sub(old, batch), batchWeight));
  }
  return tf.add(tf.mul(old, oldWeight), tf.mul(batch, batchWeight));
}
