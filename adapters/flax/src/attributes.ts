/**
 * The attributes `flax.linen.BatchNorm` and `flax.nnx.BatchNorm` share (same names, same
 * defaults, same meaning), written once: the options both accept, the values both hold, and
 * their translation to the profile's Python-spelled arguments. Legacy `flax.nn.BatchNorm`
 * takes the ones it shares with them from here too.
 */
import type { Dtype } from '@normbridge/core';
import type { ModernFlaxArgs, ProfileDefaults } from '@normbridge/frameworks';
import type { Axes } from './axes.js';
import type { FlaxDtype } from './dtypes.js';
import { ones, zeros, type Initializer } from './initializers.js';

/** The options linen and NNX BatchNorm both take, camelCased, with Flax's defaults. */
export interface BatchNormAttributes {
  /**
   * Feature axis or axes; statistics are reduced over every other axis. Several axes give
   * multi-dimensional `scale`/`bias`/`mean`/`var` of shape `[x.shape[a] for a in axes]`, axes
   * ordered as Flax's `_canonicalize_axes` orders them (Python set order, see `axes.ts`).
   * @default -1
   */
  readonly axis?: Axes | undefined;
  /**
   * Decay of the running averages, the weight of the OLD value:
   * `ra = momentum * ra + (1 - momentum) * batch` (converted by the profile, `@normbridge/frameworks`).
   * @default 0.99
   */
  readonly momentum?: number | undefined;
  /** Added to the variance: `rsqrt(var + epsilon)`. @default 1e-5 */
  readonly epsilon?: number | undefined;
  /**
   * Output dtype; `null` infers it. Validated as Flax does (an integer dtype raises
   * `ValueError('Dtype must be inexact: …')`); the values are those of the engine, which
   * computes in its own precision (see README "Deviations").
   * @default null
   */
  readonly dtype?: FlaxDtype | null | undefined;
  /** Dtype handed to `scaleInit`/`biasInit`. @default 'float32' */
  readonly paramDtype?: Dtype | undefined;
  /** Add the learned `bias` (beta). @default true */
  readonly useBias?: boolean | undefined;
  /** Multiply by the learned `scale` (gamma). @default true */
  readonly useScale?: boolean | undefined;
  /** Initializer of `bias`. @default initializers.zeros */
  readonly biasInit?: Initializer | undefined;
  /** Initializer of `scale`. @default initializers.ones */
  readonly scaleInit?: Initializer | undefined;
  /**
   * Named replica axis whose statistics are averaged (`lax.pmean`, an UNWEIGHTED mean of
   * per-replica moments). Must be bound by an enclosing `pmap` (replicas stacked on axis 0).
   * linen and legacy skip it while initialising, as Flax does; NNX has no init pass, so every
   * NNX training call inside pmap combines replicas.
   * @default null
   */
  readonly axisName?: string | null | undefined;
  /** Groups of replica indices averaged separately (`axis_index_groups`). @default null (one group) */
  readonly axisIndexGroups?: readonly (readonly number[])[] | null | undefined;
  /**
   * One-pass variance `max(0, E[x²] - E[x]²)` (spec `varianceAlgorithm: 'one-pass-clamped'`);
   * `false` for two-pass `E[(x - mean)²]`. Equal in exact arithmetic, not in float32.
   * @default true
   */
  readonly useFastVariance?: boolean | undefined;
}

/** {@link BatchNormAttributes} with their defaults filled in, as a module holds them. */
export interface BatchNormAttributeValues {
  axis: Axes;
  momentum: number;
  epsilon: number;
  dtype: FlaxDtype | null;
  paramDtype: Dtype;
  useBias: boolean;
  useScale: boolean;
  biasInit: Initializer;
  scaleInit: Initializer;
  axisName: string | null;
  axisIndexGroups: readonly (readonly number[])[] | null;
  useFastVariance: boolean;
}

/** The attributes given, defaults filled in from the variant's profile and Flax's signature. */
export function resolveAttributes(given: BatchNormAttributes, defaults: ProfileDefaults): BatchNormAttributeValues {
  return {
    axis: given.axis ?? defaults.featureAxis,
    momentum: given.momentum ?? defaults.momentum,
    epsilon: given.epsilon ?? defaults.epsilon,
    dtype: given.dtype ?? null,
    paramDtype: given.paramDtype ?? 'float32',
    useBias: given.useBias ?? true,
    useScale: given.useScale ?? true,
    biasInit: given.biasInit ?? zeros,
    scaleInit: given.scaleInit ?? ones,
    axisName: given.axisName ?? null,
    axisIndexGroups: given.axisIndexGroups ?? null,
    useFastVariance: given.useFastVariance ?? true,
  };
}

/** The attributes as the profile's `specFromArgs` spells them (Python's argument names). */
export function modernArgs(
  a: Pick<BatchNormAttributes, 'momentum' | 'epsilon' | 'useBias' | 'useScale' | 'useFastVariance'>,
): ModernFlaxArgs {
  return { momentum: a.momentum, epsilon: a.epsilon, use_fast_variance: a.useFastVariance, use_scale: a.useScale, use_bias: a.useBias };
}
