/**
 * MLX `mlx.nn.BatchNorm`: channels last (ranks 2–4), PyTorch's momentum convention and
 * `blend` update, statistics in the input's dtype; what the running variance is fed and which
 * errors exist depend on the version.
 */
import { defineSpec, SpecError, type BatchNormSpec } from '@normbridge/core';
import { runningAverageFrom } from './momentum.js';
import type { FrameworkProfile } from './profile.js';

/**
 * Which MLX `nn.BatchNorm` to reproduce. The two differ (ml-explore/mlx PR #3817, v0.32.1):
 *
 * - `'0.32.0'` — MLX ≤ 0.32.0: the running variance is fed the **biased** batch variance;
 *   one value per channel in training is accepted (variance 0, output = bias); any `eps` ≥ 0.
 * - `'0.32.1'` — MLX ≥ 0.32.1 (the newest, and the default): the running variance is fed the
 *   **unbiased** variance (n / (n - 1), as PyTorch); training with one value per channel raises
 *   `ValueError("BatchNorm training requires more than one value per channel.")`, even with
 *   `track_running_stats=False`; and `eps <= 0` raises `ValueError("[BatchNorm] 'eps' must be
 *   positive but got …")`. That last check is from MLX HEAD (commit 7f062dd, after the v0.32.1
 *   tag): this profile follows the newest MLX, so an exact v0.32.1 would accept `eps = 0`.
 *
 * Output in training is normalised with the biased variance in both.
 */
export type MlxVersion = '0.32.0' | '0.32.1';

/** Named {@link MlxVersion} values. */
export const MlxVersion = {
  /** MLX ≤ 0.32.0: biased running variance, no one-value error. */
  biasedRunningVar: '0.32.0',
  /** MLX ≥ 0.32.1: unbiased running variance, one-value and eps errors. */
  unbiasedRunningVar: '0.32.1',
  /** The newest behaviour (the default). */
  latest: '0.32.1',
} as const satisfies Record<string, MlxVersion>;

export const MLX_VERSIONS: readonly MlxVersion[] = ['0.32.0', '0.32.1'];

/** What a version changes, resolved once. */
export interface MlxVersionTraits {
  readonly runningVarianceEstimator: 'biased' | 'unbiased';
  readonly singleValuePerChannel: 'allowed' | 'error-in-training';
  readonly positiveEps: boolean;
}

export function versionTraits(version: MlxVersion): MlxVersionTraits {
  switch (version) {
    case '0.32.0':
      return { runningVarianceEstimator: 'biased', singleValuePerChannel: 'allowed', positiveEps: false };
    case '0.32.1':
      return { runningVarianceEstimator: 'unbiased', singleValuePerChannel: 'error-in-training', positiveEps: true };
    default:
      throw new SpecError('version', version, `expected one of ${MLX_VERSIONS.map((v) => `"${v}"`).join(', ')}`);
  }
}

/** `mlx.nn.BatchNorm` constructor arguments, as Python spells them. */
export interface MlxArgs {
  /** @default 1e-5 */
  readonly eps?: number | undefined;
  /** Weight of the batch statistic. @default 0.1 */
  readonly momentum?: number | undefined;
  /** @default true */
  readonly affine?: boolean | undefined;
  /** @default true */
  readonly track_running_stats?: boolean | undefined;
}

export const mlx: FrameworkProfile<MlxArgs, Readonly<Record<string, unknown>>, MlxVersion> = {
  id: 'mlx',
  title: 'MLX',
  versions: MLX_VERSIONS,
  latest: MlxVersion.latest,
  // Every release from 0.32.1 on behaves as 0.32.1; everything before as 0.32.0.
  versionOf: (reported) => (/^\d+(\.\d+)*$/.test(reported) ? (reported.localeCompare('0.32.1', undefined, { numeric: true }) >= 0 ? '0.32.1' : '0.32.0') : undefined),
  momentum: { convention: 'batch-weight', cumulative: false },
  defaults: { epsilon: 1e-5, momentum: 0.1, featureAxis: -1 },
  argumentCase: 'snake_case',
  argumentNames: { epsilon: 'eps', momentum: 'momentum' },
  // `parameters()` order.
  params: [
    { name: 'weight', key: 'scale' },
    { name: 'bias', key: 'bias' },
  ],
  stats: [
    { name: 'running_mean', key: 'runningMean' },
    { name: 'running_var', key: 'runningVar' },
  ],
  affinePaired: true,
  checkpoint: { name: 'mlx', formatTag: 'mlx', separators: ['.'], kernel: 'weight', kernelBias: 'bias', convLayout: 'O*I', linearLayout: 'OI' },
  emptyTrainingBatch: 'nan',
  takesMask: false,
  specFromArgs(args, _call, version = MlxVersion.latest): BatchNormSpec {
    const traits = versionTraits(version);
    const tracked = args.track_running_stats !== false;
    const affine = args.affine !== false;
    return defineSpec({
      featureAxes: [mlx.defaults.featureAxis],
      epsilon: args.eps ?? mlx.defaults.epsilon,
      runningAverage: tracked ? runningAverageFrom(args.momentum ?? mlx.defaults.momentum, 'batch-weight') : { kind: 'none' },
      runningVarianceEstimator: traits.runningVarianceEstimator,
      // mx.var is two-pass since v0.16.2.
      varianceAlgorithm: 'two-pass',
      scale: affine,
      bias: affine,
      evalStatistics: tracked ? 'running' : 'batch',
      singleValuePerChannel: traits.singleValuePerChannel,
      statisticsDtype: 'input',
      runningUpdateForm: 'blend',
    });
  },
};
