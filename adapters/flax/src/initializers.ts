import type * as tf from '@tensorflow/tfjs-core';
import type { Dtype, HostTensor } from '@normbridge/core';
import { hostFull } from './leaf.js';
import type { PRNGKey } from './random.js';

/**
 * `flax.linen.initializers` / `jax.nn.initializers`: `(key, shape, dtype) => array`.
 * The constant initializers BatchNorm uses return host tensors (no engine needed). The random
 * ones (`normal`, `lecunNormal`) are model code around the BatchNorm and live, with Dense, in
 * `@normbridge/training` (sampled with TF.js, hence the `tf.Tensor` an initializer may return).
 */
export type Initializer = (key: PRNGKey, shape: readonly number[], dtype: Dtype) => HostTensor | tf.Tensor;

/** `initializers.zeros`. */
export const zeros: Initializer = (_key, shape, dtype) => hostFull(shape, 0, dtype);
/** `initializers.ones`. */
export const ones: Initializer = (_key, shape, dtype) => hostFull(shape, 1, dtype);
/** `initializers.zeros_init()`. */
export const zerosInit = (): Initializer => zeros;
/** `initializers.ones_init()`. */
export const onesInit = (): Initializer => ones;
/** `initializers.constant(value)`. */
export const constant =
  (value: number): Initializer =>
  (_key, shape, dtype) =>
    hostFull(shape, value, dtype);
