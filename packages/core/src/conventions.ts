import { SpecError } from './errors.js';
import type { RunningAverage } from './spec.js';

/**
 * Frameworks disagree on what "momentum" weighs. Two conventions exist:
 *
 * - **batch-weight** (PyTorch, MLX): `new = (1 - momentum) * old + momentum * batch`; default 0.1.
 *   PyTorch also accepts `null` for a cumulative average.
 * - **decay** (Flax linen/NNX/flax.nn, Keras, TF.js, ONNX): `new = momentum * old +
 *   (1 - momentum) * batch`; default 0.99 (ONNX 0.9).
 *
 * These helpers are the only place a momentum is converted; adapters call them by name.
 */

function checkUnitInterval(value: number, field: string): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > 1) {
    throw new SpecError(field, value, 'momentum must be a finite number in [0, 1]');
  }
}

/** PyTorch/MLX momentum (weight of the batch) → canonical running average. `null` → cumulative. */
export function fromBatchWeightMomentum(momentum: number | null, field = 'momentum'): RunningAverage {
  if (momentum === null) return { kind: 'cumulative' };
  checkUnitInterval(momentum, field);
  return { kind: 'exponential', oldValueWeight: 1 - momentum };
}

/** Flax/Keras/TF.js/ONNX momentum (weight of the old value, a decay) → canonical running average. */
export function fromDecayMomentum(momentum: number, field = 'momentum'): RunningAverage {
  checkUnitInterval(momentum, field);
  return { kind: 'exponential', oldValueWeight: momentum };
}

/** Canonical → PyTorch/MLX momentum (`null` for a cumulative average, as PyTorch spells it). */
export function toBatchWeightMomentum(average: RunningAverage): number | null {
  if (average.kind === 'cumulative') return null;
  if (average.kind === 'none') throw new SpecError('runningAverage', average, 'no momentum: running statistics are off');
  return 1 - average.oldValueWeight;
}

/** Canonical → Flax/Keras/TF.js/ONNX momentum. A cumulative average has no decay form. */
export function toDecayMomentum(average: RunningAverage): number {
  if (average.kind !== 'exponential') {
    throw new SpecError('runningAverage', average, 'only an exponential average has a decay momentum');
  }
  return average.oldValueWeight;
}

/**
 * Converts between the two conventions. `batchWeightToDecay(0.1) === 0.9` up to float64
 * rounding of `1 - m`, which is exactly what the frameworks' own exporters do.
 */
export function batchWeightToDecay(momentum: number): number {
  return toDecayMomentum(fromBatchWeightMomentum(momentum));
}
export function decayToBatchWeight(momentum: number): number {
  return toBatchWeightMomentum(fromDecayMomentum(momentum)) as number;
}

/** The two weights of one running-statistic update: `new = oldWeight·old + batchWeight·batch`. */
export interface RunningAverageWeights {
  readonly oldWeight: number;
  readonly batchWeight: number;
}

/**
 * The weights of the update after which the step counter reads `tracked`. A cumulative average
 * weighs the batch exactly `1/tracked` (PyTorch's `momentum=None`), an exponential one
 * `1 - oldValueWeight`; `none` keeps the old value (engines do not update then). Every engine
 * and the reference take their weights from here.
 */
export function runningAverageWeights(average: RunningAverage, tracked: number): RunningAverageWeights {
  if (average.kind === 'cumulative') {
    const batchWeight = 1 / tracked;
    return { oldWeight: 1 - batchWeight, batchWeight };
  }
  const oldWeight = average.kind === 'exponential' ? average.oldValueWeight : 1;
  return { oldWeight, batchWeight: 1 - oldWeight };
}
