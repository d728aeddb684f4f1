/**
 * Frameworks disagree on what "momentum" weighs, and this is the one place a momentum crosses
 * from one convention to another. Two conventions exist:
 *
 * - `batch-weight` (PyTorch, MLX): `new = (1 - momentum) * old + momentum * batch`;
 *   PyTorch also accepts `null` (Python `None`) for a cumulative average.
 * - `decay` (Flax, Keras, TF.js, ONNX): `new = momentum * old + (1 - momentum) * batch`.
 *
 * Both functions go through core's canonical {@link RunningAverage}, so the maths of a
 * conversion (`1 - m`) stays in core's `conventions.ts`.
 */
import {
  fromBatchWeightMomentum,
  fromDecayMomentum,
  SpecError,
  toBatchWeightMomentum,
  toDecayMomentum,
  type RunningAverage,
} from '@normbridge/core';

export type MomentumConvention = 'batch-weight' | 'decay';

/**
 * A framework's momentum → the canonical running average. `null` is PyTorch's cumulative
 * average; in the `decay` convention it has no meaning and raises a `SpecError` naming `field`.
 */
export function runningAverageFrom(momentum: number | null, convention: MomentumConvention, field = 'momentum'): RunningAverage {
  if (convention === 'batch-weight') return fromBatchWeightMomentum(momentum, field);
  if (momentum === null) throw new SpecError(field, momentum, 'a decay momentum cannot be null: only PyTorch has a cumulative average');
  return fromDecayMomentum(momentum, field);
}

/**
 * The canonical running average → a framework's momentum (`null` for a cumulative average in
 * the `batch-weight` convention). Throws `SpecError` when the convention has no such form.
 */
export function momentumIn(average: RunningAverage, convention: MomentumConvention): number | null {
  return convention === 'batch-weight' ? toBatchWeightMomentum(average) : toDecayMomentum(average);
}

/** One momentum from one convention to another (`0.1` batch-weight → `0.9` decay, up to `1 - m` rounding). */
export function convertMomentum(momentum: number | null, from: MomentumConvention, to: MomentumConvention): number | null {
  return momentumIn(runningAverageFrom(momentum, from), to);
}
