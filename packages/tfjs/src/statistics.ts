import * as tf from '@tensorflow/tfjs-core';
import { runningVarianceCorrection, type BatchNormSpec } from '@normbridge/core';
import { channelSums } from './channel-ops.js';
import type { ReplicaGroups } from './groups.js';
import { rowsParam, type Plan } from './plan.js';

/** Batch statistics in the shape of the view they were computed in. */
export interface BatchStatistics {
  readonly mean: tf.Tensor;
  /** Biased: what the output is normalised with. */
  readonly variance: tf.Tensor;
  /** What feeds the running variance: biased or unbiased, per the spec. */
  readonly runningInput: tf.Tensor;
  /**
   * Weight of each element in its channel's statistics (they sum to 1 per group): a number
   * when uniform (1/n), else a tensor broadcastable to the input (0 where masked out).
   */
  readonly weight: number | tf.Tensor;
}

/**
 * Unmasked, unreplicated statistics over `axes`. Two-pass goes through `tf.moments`, the very
 * ops tfjs-layers uses, which is what makes the CPU backend bit-exact with TF.js.
 */
export function plainStatistics(spec: BatchNormSpec, x: tf.Tensor, axes: readonly number[], keepDims: boolean, n: number): BatchStatistics {
  const { mean, variance } =
    spec.varianceAlgorithm === 'two-pass' ? tf.moments(x, [...axes], keepDims) : onePassMoments(spec, x, axes, keepDims);
  return { mean, variance, runningInput: runningVarianceInput(spec, variance, n), weight: 1 / n };
}

/**
 * Unmasked, unreplicated statistics of the rows view `[outer, channels·inner]` for features
 * that are consecutive but not trailing, as `[channels]`: per-channel sums with
 * {@link channelSums}, and the two-pass deviations against the mean repeated to the view's
 * columns, so that nothing broadcasts over a non-trailing axis or transposes the input.
 */
export function rowsBlockStatistics(spec: BatchNormSpec, plan: Plan, x2: tf.Tensor2D, n: number): BatchStatistics {
  const mean = tf.div(channelSums(plan, x2), n);
  let variance: tf.Tensor;
  if (spec.varianceAlgorithm === 'two-pass') {
    variance = tf.div(channelSums(plan, tf.squaredDifference(x2, rowsParam(plan, mean as tf.Tensor1D))), n);
  } else {
    const meanOfSquares = tf.div(channelSums(plan, tf.square(x2)), n);
    variance = clampIfAsked(spec, tf.sub(meanOfSquares, tf.square(mean)));
  }
  return { mean, variance, runningInput: runningVarianceInput(spec, variance, n), weight: 1 / n };
}

export function runningVarianceInput(spec: BatchNormSpec, variance: tf.Tensor, n: number): tf.Tensor {
  const offset = runningVarianceCorrection(spec);
  return offset === 0 ? variance : tf.mul(variance, n / (n - offset));
}

/** E[x²] − E[x]² in float32, the formula (and the cancellation) of Flax and legacy flax.nn. */
function onePassMoments(spec: BatchNormSpec, x: tf.Tensor, axes: readonly number[], keepDims: boolean) {
  const mean = tf.mean(x, [...axes], keepDims);
  const meanOfSquares = tf.mean(tf.square(x), [...axes], keepDims);
  const variance = clampIfAsked(spec, tf.sub(meanOfSquares, tf.square(mean)));
  return { mean, variance };
}

function clampIfAsked(spec: BatchNormSpec, variance: tf.Tensor): tf.Tensor {
  return spec.varianceAlgorithm === 'one-pass-clamped' ? tf.maximum(variance, 0) : variance;
}

/**
 * Statistics with a mask and/or replicas: per-replica sums over the positions that count,
 * combined over each replica's group (count-weighted or as an unweighted mean of replica
 * moments), as the reference defines them.
 */
export function weightedStatistics(
  spec: BatchNormSpec,
  plan: Plan,
  x: tf.Tensor,
  mask: tf.Tensor | undefined,
  groups: ReplicaGroups,
): BatchStatistics {
  const axes = [...plan.reduceAxes];
  const m = mask === undefined ? undefined : maskAsFloat(mask, x.rank);
  const count: tf.Tensor | number = m === undefined ? plan.layout.perChannel : maskCounts(plan, x.shape, m);
  const xm = m === undefined ? x : tf.mul(x, m);
  const sums = tf.sum(xm, axes, true);
  const total = groupTotal(groups, count);

  let mean: tf.Tensor;
  let replicaWeight: tf.Tensor | number;
  if (spec.replicaCombination === 'unweighted-mean') {
    const replicaMean = tf.div(sums, count);
    const sizes = groups.sizes();
    mean = groups.trivial ? replicaMean : tf.div(groups.sum(replicaMean), sizes);
    replicaWeight = tf.div(1, tf.mul(sizes, count));
  } else {
    mean = tf.div(groups.sum(sums), total);
    replicaWeight = tf.div(1, total);
  }

  const second =
    spec.varianceAlgorithm === 'two-pass'
      ? tf.sum(weighted(tf.square(tf.sub(x, mean)), m), axes, true)
      : tf.sum(tf.mul(xm, x), axes, true);
  let variance = groups.sum(tf.mul(second, replicaWeight));
  if (spec.varianceAlgorithm !== 'two-pass') variance = clampIfAsked(spec, tf.sub(variance, tf.square(mean)));

  const offset = runningVarianceCorrection(spec);
  const runningInput = offset === 0 ? variance : tf.mul(variance, tf.div(total, tf.sub(total, offset)));
  const weight = m === undefined ? replicaWeight : tf.mul(m, replicaWeight);
  return { mean, variance, runningInput, weight };
}

function weighted(t: tf.Tensor, m: tf.Tensor | undefined): tf.Tensor {
  return m === undefined ? t : tf.mul(t, m);
}

/** The mask as 0/1 floats (non-zero counts, as in the reference), rank-aligned with the input. */
function maskAsFloat(mask: tf.Tensor, rank: number): tf.Tensor {
  const flag = mask.dtype === 'bool' ? mask : tf.notEqual(mask, tf.scalar(0, mask.dtype));
  const aligned = tf.reshape(flag, [...new Array<number>(rank - mask.rank).fill(1), ...mask.shape]);
  return tf.cast(aligned, 'float32');
}

/**
 * Unmasked positions per replica and channel. Axes where the mask is broadcast contribute a
 * factor instead of a reduction, so the count never touches an input-sized tensor.
 */
function maskCounts(plan: Plan, xShape: readonly number[], m: tf.Tensor): tf.Tensor {
  let factor = 1;
  const axes: number[] = [];
  for (const a of plan.reduceAxes) {
    if (m.shape[a] === 1) factor *= xShape[a]!;
    else axes.push(a);
  }
  const count = axes.length > 0 ? tf.sum(m, axes, true) : m;
  return factor === 1 ? count : tf.mul(count, factor);
}

/** Elements per channel over each replica's whole group. */
function groupTotal(groups: ReplicaGroups, count: tf.Tensor | number): tf.Tensor | number {
  if (groups.trivial) return count;
  if (typeof count === 'number') return tf.mul(groups.sizes(), count);
  return groups.sum(count);
}
