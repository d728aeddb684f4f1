import { defineSpec, fromDecayMomentum, type BatchNormSpec } from '@normbridge/core';

/**
 * What linen, NNX and legacy `flax.nn` BatchNorm calls differ in. Everything else is the Flax
 * family's convention, fixed in {@link flaxSpec}.
 */
export interface FlaxCall {
  /** Non-negative feature axes in ascending order. */
  readonly featureAxes: readonly number[];
  /** Weight of the OLD running value. @default 0.99 */
  readonly momentum?: number | undefined;
  /** @default 1e-5 */
  readonly epsilon?: number | undefined;
  /** False while a linen or legacy module initialises: no running-average write. */
  readonly updating: boolean;
  readonly varianceAlgorithm: BatchNormSpec['varianceAlgorithm'];
  readonly scale: boolean;
  readonly bias: boolean;
  readonly masked: boolean;
  readonly statisticsDtype: BatchNormSpec['statisticsDtype'];
}

/**
 * The canonical spec of a Flax BatchNorm call (docs/semantics.md#flax-linen, #flax-nnx, #flax-legacy): decay momentum, the biased
 * batch variance into the running variance, `a·old + (1 − a)·batch`, running statistics in
 * eval, no error on one value per channel, replicas combined by an unweighted `pmean`.
 */
export function flaxSpec(call: FlaxCall): BatchNormSpec {
  return defineSpec({
    featureAxes: [...call.featureAxes],
    epsilon: call.epsilon ?? 1e-5,
    runningAverage: call.updating ? fromDecayMomentum(call.momentum ?? 0.99) : { kind: 'none' },
    runningVarianceEstimator: 'biased',
    varianceAlgorithm: call.varianceAlgorithm,
    scale: call.scale,
    bias: call.bias,
    evalStatistics: 'running',
    singleValuePerChannel: 'allowed',
    masked: call.masked,
    statisticsDtype: call.statisticsDtype,
    runningUpdateForm: 'blend',
    replicaCombination: 'unweighted-mean',
  });
}

/** `use_fast_variance` (linen and NNX) as the spec's variance algorithm. */
export function fastVarianceAlgorithm(useFastVariance: boolean | undefined): BatchNormSpec['varianceAlgorithm'] {
  return (useFastVariance ?? true) ? 'one-pass-clamped' : 'two-pass';
}
