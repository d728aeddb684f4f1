import { SpecError } from '@normbridge/core';
import { TorchValueError } from './errors.js';

/**
 * Which PyTorch `BatchNorm` to reproduce. The committed fixtures come from both and differ in
 * one place (everything else agrees to float32 rounding):
 *
 * - `'1.13'` — torch 1.13: `F.batch_norm` accepts `eps = 0` in training (the variance of a
 *   non-constant batch keeps it finite).
 * - `'2.13'` — torch 2.13 (the newest, and the default): `F.batch_norm` raises
 *   `ValueError("batch_norm eps must be positive during training, but got 0.0")` whenever it
 *   computes batch statistics (training, or eval without running buffers), after the
 *   one-value-per-channel check and after the module has counted the call.
 */
export type TorchVersion = '1.13' | '2.13';

/** Named {@link TorchVersion} values. */
export const TorchVersion = {
  /** torch 1.13: eps = 0 allowed in training. */
  zeroEpsAllowed: '1.13',
  /** torch 2.13: eps must be positive whenever batch statistics are computed. */
  positiveEpsInTraining: '2.13',
  /** The newest behaviour (the default). */
  latest: '2.13',
} as const satisfies Record<string, TorchVersion>;

export const TORCH_VERSIONS: readonly TorchVersion[] = ['1.13', '2.13'];

/** What a version changes, resolved once. */
export interface TorchVersionTraits {
  /** `F.batch_norm` refuses `eps <= 0` when it computes batch statistics. */
  readonly positiveEpsInTraining: boolean;
}

export function torchVersionTraits(version: TorchVersion): TorchVersionTraits {
  switch (version) {
    case '1.13':
      return { positiveEpsInTraining: false };
    case '2.13':
      return { positiveEpsInTraining: true };
    default:
      throw new SpecError('version', version, `expected one of ${TORCH_VERSIONS.map((v) => `"${v}"`).join(', ')}`);
  }
}

/** Python's `str()` of a float as it appears in that message: `0.0`, `-0.0`, `-0.5`. */
function pyFloat(v: number): string {
  if (Object.is(v, -0)) return '-0.0';
  return Number.isInteger(v) ? v.toFixed(1) : String(v);
}

/**
 * `F.batch_norm`'s eps check (torch 2.x), run where it runs: when batch statistics are
 * computed (`training` is F.batch_norm's argument, PyTorch's `bn_training`).
 */
export function checkTrainingEps(traits: TorchVersionTraits, eps: number, training: boolean): void {
  if (traits.positiveEpsInTraining && training && eps <= 0) {
    throw new TorchValueError(`batch_norm eps must be positive during training, but got ${pyFloat(eps)}`);
  }
}
