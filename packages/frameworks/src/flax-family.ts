/**
 * What linen, NNX and legacy `flax.nn` BatchNorm share: decay momentum 0.99, epsilon 1e-5, the
 * biased batch variance into the running variance, `a·old + (1 − a)·batch`, running statistics
 * in eval, no error on one value per channel, replicas combined by an unweighted `pmean`.
 */
import { defineSpec, type BatchNormSpec } from '@normbridge/core';
import { runningAverageFrom } from './momentum.js';
import type { FrameworkProfile, ProfileDefaults, StateVariable } from './profile.js';

export const FLAX_DEFAULTS: ProfileDefaults = { epsilon: 1e-5, momentum: 0.99, featureAxis: -1 };

/** `scale`, `bias` (Param), then `mean`, `var` (BatchStat). */
export const FLAX_PARAMS: readonly StateVariable[] = [
  { name: 'scale', key: 'scale' },
  { name: 'bias', key: 'bias' },
];
export const FLAX_STATS: readonly StateVariable[] = [
  { name: 'mean', key: 'runningMean' },
  { name: 'var', key: 'runningVar' },
];

/** What one Flax BatchNorm call resolves to; the variants differ only in these. */
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

/** The canonical spec of a Flax BatchNorm call. */
export function flaxSpec(call: FlaxCall): BatchNormSpec {
  return defineSpec({
    featureAxes: [...call.featureAxes],
    epsilon: call.epsilon ?? FLAX_DEFAULTS.epsilon,
    runningAverage: call.updating ? runningAverageFrom(call.momentum ?? FLAX_DEFAULTS.momentum, 'decay') : { kind: 'none' },
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

/** `use_fast_variance` (linen and NNX; default true) as the spec's variance algorithm. */
export function fastVarianceAlgorithm(useFastVariance: boolean | undefined): BatchNormSpec['varianceAlgorithm'] {
  return (useFastVariance ?? true) ? 'one-pass-clamped' : 'two-pass';
}

/** Flax feature axes (`axis`: one or several, negatives from the end) resolved against a rank, ascending. */
export function resolveFeatureAxes(axis: number | readonly number[] | undefined, call: FlaxCallArgs): number[] {
  if (call.featureAxes !== undefined) return [...call.featureAxes];
  const rank = call.rank;
  const axes = axis === undefined ? [FLAX_DEFAULTS.featureAxis] : typeof axis === 'number' ? [axis] : [...axis];
  if (rank === undefined) return axes;
  return axes.map((a) => (a < 0 ? a + rank : a)).sort((a, b) => a - b);
}

/** linen and NNX constructor arguments, as Python spells them. */
export interface ModernFlaxArgs {
  /** @default -1 */
  readonly axis?: number | readonly number[] | undefined;
  /** @default 0.99 */
  readonly momentum?: number | undefined;
  /** @default 1e-5 */
  readonly epsilon?: number | undefined;
  /** @default true */
  readonly use_bias?: boolean | undefined;
  /** @default true */
  readonly use_scale?: boolean | undefined;
  /** @default true */
  readonly use_fast_variance?: boolean | undefined;
  /** linen only. @default true */
  readonly force_float32_reductions?: boolean | undefined;
}

/** What a Flax call adds: the input's rank (to resolve negative axes), a mask, initialisation. */
export interface FlaxCallArgs {
  /** The input's rank; without it negative axes stay negative (the spec resolves them). */
  readonly rank?: number | undefined;
  /** Feature axes already resolved (non-negative, ascending), as an adapter checks them; overrides `axis`. */
  readonly featureAxes?: readonly number[] | undefined;
  /** @default false */
  readonly masked?: boolean | undefined;
  /** linen `init` / legacy initialisation: statistics computed, not written. @default true */
  readonly updating?: boolean | undefined;
}

export const FLAX_VERSIONS = ['0.12'] as const;
export type FlaxVersion = (typeof FLAX_VERSIONS)[number];

/** linen and NNX ship in one `flax` package: one list of versions, one reading of a reported one. */
export const MODERN_FLAX_VERSIONS = {
  versions: FLAX_VERSIONS,
  latest: '0.12',
  versionOf: (reported: string): FlaxVersion | undefined => FLAX_VERSIONS.find((v) => reported.startsWith(`${v}.`)),
} as const satisfies Partial<FrameworkProfile<never, never, FlaxVersion>>;

/** What every Flax variant's profile says alike. */
export const FLAX_COMMON = {
  momentum: { convention: 'decay', cumulative: false },
  defaults: FLAX_DEFAULTS,
  argumentCase: 'snake_case',
  argumentNames: { epsilon: 'epsilon', momentum: 'momentum' },
  params: FLAX_PARAMS,
  stats: FLAX_STATS,
  affinePaired: false,
} as const satisfies Partial<FrameworkProfile<never, never>>;

/** linen and NNX: the same arguments; they differ in initialisation and float32 reductions. */
export function modernFlaxSpec(args: ModernFlaxArgs, call: FlaxCallArgs, statisticsDtype: BatchNormSpec['statisticsDtype']): BatchNormSpec {
  return flaxSpec({
    featureAxes: resolveFeatureAxes(args.axis, call),
    momentum: args.momentum,
    epsilon: args.epsilon,
    updating: call.updating ?? true,
    varianceAlgorithm: fastVarianceAlgorithm(args.use_fast_variance),
    scale: args.use_scale !== false,
    bias: args.use_bias !== false,
    masked: call.masked === true,
    statisticsDtype,
  });
}
