import * as tf from '@tensorflow/tfjs-core';
import { memoryBlocks, type Layout, type MemoryBlocks } from '@normbridge/core';

/**
 * Everything shape-related a call needs, derived once from core's {@link Layout}: which axes
 * reduce, the broadcast shapes statistics and state take, and whether the input may be seen
 * as `[rows, channels]` (features trailing), the only case where tfjs's fused batchNorm
 * kernel is correct on every backend (the CPU kernel walks its statistics cyclically over
 * the flat input, tensorflow/tfjs#1106).
 */
export interface Plan {
  readonly layout: Layout;
  /** A leading replica axis is present (options.replicas was given). */
  readonly replicated: boolean;
  /** Axes of the full input reduced for one replica's statistics. */
  readonly reduceAxes: readonly number[];
  /** `reduceAxes` plus the replica axis: what dScale and dBias sum over. */
  readonly paramReduceAxes: readonly number[];
  /** Shape of per-replica statistics over the full input (keepDims over `reduceAxes`). */
  readonly statShape: readonly number[];
  /** A sample's rank with the features in place and 1 elsewhere: how state broadcasts. */
  readonly paramShape: readonly number[];
  /** Feature sizes in ascending axis order (the order they have in memory). */
  readonly ascendingFeatureShape: readonly number[];
  /** Permutation from the spec's feature order to ascending order; undefined if they agree. */
  readonly toAscending: readonly number[] | undefined;
  /** Its inverse. */
  readonly fromAscending: readonly number[] | undefined;
  /** The feature axes are a sample's trailing axes, so the input reshapes to [rows, channels] for free. */
  readonly channelsLast: boolean;
  /**
   * Set when the feature axes, in memory order, are consecutive (NCHW's axis 1, or several
   * adjacent axes): the input, replica axis included, is then `[outer, channels, inner]` in
   * memory and reshapes for free to the rows view `[outer, channels·inner]`, against which a
   * per-channel vector, repeated `inner` times, broadcasts along the last axis only. That is
   * the pattern tfjs's cpu binary ops walk cyclically (any other broadcast computes an index
   * per element) and the only one tfjs's fused batchNorm kernel gets right on every backend.
   * `inner` is 1 when `channelsLast` (and when every axis after the features has size 1).
   */
  readonly block: MemoryBlocks | undefined;
}

export function makePlan(layout: Layout, replicated: boolean): Plan {
  const offset = replicated ? 1 : 0;
  const rank = layout.sampleShape.length;
  const features = new Set(layout.featureAxes);
  const reduceAxes = layout.reductionAxes.map((a) => a + offset);
  const paramShape = layout.sampleShape.map((d, i) => (features.has(i) ? d : 1));
  const order = layout.featureAxes.map((_, j) => j).sort((i, j) => layout.featureAxes[i]! - layout.featureAxes[j]!);
  const identity = order.every((v, i) => v === i);
  const ascending = order.map((j) => layout.featureAxes[j]!);
  const inverse = new Array<number>(order.length);
  order.forEach((j, i) => (inverse[j] = i));
  return {
    layout,
    replicated,
    reduceAxes,
    paramReduceAxes: replicated ? [0, ...reduceAxes] : reduceAxes,
    statShape: replicated ? [layout.replicas, ...paramShape] : paramShape,
    paramShape,
    ascendingFeatureShape: ascending.map((a) => layout.sampleShape[a]!),
    toAscending: identity ? undefined : order,
    fromAscending: identity ? undefined : inverse,
    channelsLast: ascending.every((a, i) => a === rank - ascending.length + i),
    block: memoryBlocks(layout),
  };
}

/** A state tensor (spec feature order) in memory order. */
function ascendingParam(plan: Plan, t: tf.Tensor): tf.Tensor {
  return plan.toAscending ? tf.transpose(t, [...plan.toAscending]) : t;
}

/** A state tensor as `[channels]`, matching a `[rows, channels]` view of the input. */
export function flatParam(plan: Plan, t: tf.Tensor): tf.Tensor1D {
  return tf.reshape(ascendingParam(plan, t), [plan.layout.channels]);
}

/** A state tensor shaped to broadcast against the input (or one replica of it). */
export function broadcastParam(plan: Plan, t: tf.Tensor): tf.Tensor {
  return tf.reshape(ascendingParam(plan, t), [...plan.paramShape]);
}

/**
 * Per-channel values in memory order (any shape holding `replicas? × channels` values) back
 * to the spec's feature shape, stacked per replica when `perReplica`.
 */
export function toFeatureShape(plan: Plan, t: tf.Tensor, perReplica: boolean): tf.Tensor {
  const lead = perReplica ? [plan.layout.replicas] : [];
  const shaped = tf.reshape(t, [...lead, ...plan.ascendingFeatureShape]);
  if (!plan.fromAscending) return shaped;
  const shift = lead.length;
  return tf.transpose(shaped, [...lead.map((_, i) => i), ...plan.fromAscending.map((p) => p + shift)]);
}

/**
 * The input viewed as `[rows, channels·inner]` (`[rows, channels]` when features are
 * trailing); valid only when `plan.block` is set. Sizes are explicit rather than -1, which
 * tfjs cannot infer for an empty input.
 */
export function rowsView(plan: Plan, x: tf.Tensor): tf.Tensor2D {
  const { outer, inner } = plan.block!;
  return tf.reshape(x, [outer, plan.layout.channels * inner]);
}

/**
 * A per-channel vector (`[channels]`, memory order) as the rows view's columns: each value
 * repeated `inner` times. Done as the outer product with ones, which leaves every value as
 * it is (v·1 + 0; only −0 becomes +0) and is a tight loop on every backend, where `tile`
 * computes an index per element: 2.5× slower on cpu for [64] → [64·3136], 20× on wasm.
 */
export function rowsParam(plan: Plan, v: tf.Tensor1D): tf.Tensor1D {
  const { inner } = plan.block!;
  if (inner === 1) return v;
  const channels = plan.layout.channels;
  return tf.reshape(tf.matMul(tf.reshape(v, [channels, 1]), tf.ones([1, inner])), [channels * inner]);
}
