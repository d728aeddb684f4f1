import { SpecError } from '@normbridge/core';

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
