/**
 * Where a target framework cannot express a source's configuration or input, the nearest one
 * it can, so that the port is still replayed and the difference measured (which field, by how
 * much after N steps) instead of only being called inexpressible.
 */
import { isInt64Tensor, runningAverageWeights } from '@normbridge/core';
import { PROFILES } from '@normbridge/frameworks';
import type { PortTarget } from '@normbridge/port';
import type { LoadedFixture } from '../fixture-load.js';
import { layerConfig } from './fixture-checkpoint.js';

/**
 * The smallest positive normal float32, for a target that refuses eps 0: it changes no variance
 * above 1e-38, so the port differs from eps 0 only where a channel's variance is (nearly) 0.
 */
export const SMALLEST_POSITIVE_EPSILON = 2 ** -126;

/** A configuration or input change that makes the source expressible in the target. */
export interface Substitution {
  /** eps/momentum written into the translated checkpoint instead of the source's, in the source's convention. */
  readonly config: { readonly epsilon?: number; readonly momentum?: number; readonly completeAffine?: boolean };
  /** Merge the first two spatial axes of 5-D inputs into one (a 4-D call with the same statistics). */
  readonly mergeSpatial: boolean;
  /** What was substituted and why, one phrase each. */
  readonly descriptions: readonly string[];
}

export const NO_SUBSTITUTION: Substitution = { config: {}, mergeSpatial: false, descriptions: [] };

/** Why the target could not take the source as it is. */
export type Refusal =
  | { readonly kind: 'momentum' }
  | { readonly kind: 'construct'; readonly message: string }
  | { readonly kind: 'step'; readonly message: string; readonly rank: number };

/** The counter a cumulative average starts from: the fixture's initial counter (its framework's, e.g. `num_batches_tracked`), else 0. */
export function initialCount(fixture: LoadedFixture): number {
  const counter = PROFILES[fixture.manifest.framework.name].counter;
  const name = counter === undefined ? undefined : fixture.manifest.initialState[counter];
  const t = name === undefined ? undefined : fixture.tensors.get(name);
  return t !== undefined && isInt64Tensor(t) ? Number(t.data[0]) : 0;
}

/**
 * The next substitution after `soFar` for this refusal, or undefined when there is none (the
 * target then cannot express the source at all, and the cell says why). `halfAffine`: the layer
 * has a scale without a bias or the reverse.
 */
export function nearestExpressible(fixture: LoadedFixture, target: PortTarget, refusal: Refusal, soFar: Substitution, halfAffine: boolean): Substitution | undefined {
  const config = layerConfig(fixture);
  if (refusal.kind === 'momentum' && config.momentum === null && soFar.config.momentum === undefined) {
    // A cumulative average weighs batch k after the counter c by 1/(c + k) (core's
    // runningAverageWeights): an exponential average with the first batch's weight follows it
    // exactly for one step.
    const count = initialCount(fixture);
    const momentum = runningAverageWeights({ kind: 'cumulative' }, count + 1).batchWeight;
    return {
      ...soFar,
      config: { ...soFar.config, momentum },
      descriptions: [...soFar.descriptions, `momentum ${+momentum.toPrecision(6)} for the cumulative average (its weight for the next batch at num_batches_tracked ${count}; later batches get 1/(${count} + k))`],
    };
  }
  if (refusal.kind !== 'momentum' && config.epsilon === 0 && soFar.config.epsilon === undefined) {
    return {
      ...soFar,
      config: { ...soFar.config, epsilon: SMALLEST_POSITIVE_EPSILON },
      descriptions: [...soFar.descriptions, `eps 2^-126 (smallest positive float32) for eps 0, which ${target} refuses`],
    };
  }
  if (refusal.kind === 'construct' && halfAffine && soFar.config.completeAffine === undefined) {
    return {
      ...soFar,
      config: { ...soFar.config, completeAffine: true },
      descriptions: [...soFar.descriptions, `a scale of ones / bias of zeros for the one the layer lacks, as ${target} has scale and bias together or neither`],
    };
  }
  if (refusal.kind === 'step' && refusal.rank === 5 && !soFar.mergeSpatial) {
    return { ...soFar, mergeSpatial: true, descriptions: [...soFar.descriptions, `5-D inputs as 4-D (D and H merged: the same per-channel statistics), as ${target} refuses 5-D`] };
  }
  return undefined;
}
