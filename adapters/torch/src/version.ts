/**
 * Where the PyTorch version changes behaviour, the check itself (PyTorch's error). Which
 * versions exist and what each changes is the torch profile's (`@normbridge/frameworks`).
 */
import type { TorchVersionTraits } from '@normbridge/frameworks';
import { TorchValueError } from './errors.js';

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
