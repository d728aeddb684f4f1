import * as tf from '@tensorflow/tfjs-core';
import type { Dtype, HostTensor } from '@normbridge/core';
import { hostFull } from './leaf.js';
import { seedOf, type PRNGKey } from './random.js';

/**
 * `flax.linen.initializers` / `jax.nn.initializers`: `(key, shape, dtype) => array`.
 * Constant initializers return host tensors (no TF.js backend needed); random ones are model
 * code around the BatchNorm and sample with TF.js (their values differ from JAX's, whose
 * threefry stream is not reproduced; shapes, scales and distributions match).
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

/** `initializers.normal(stddev)`. @param stddev @default 1e-2 */
export function normal(stddev = 1e-2): Initializer {
  return (key, shape) => tf.randomNormal([...shape], 0, stddev, 'float32', seedOf(key));
}

/**
 * `initializers.lecun_normal()`: variance scaling 1.0 over fan-in with a truncated normal
 * (stddev `sqrt(1 / fan_in) / .87962566103423978`, truncated at two standard deviations).
 * For a Dense kernel of shape `(in, out)` fan-in is `in`.
 */
export function lecunNormal(): Initializer {
  return (key, shape) => {
    const receptive = shape.slice(0, -2).reduce((a, b) => a * b, 1);
    const fanIn = shape.length < 2 ? shape[0] ?? 1 : shape[shape.length - 2]! * receptive;
    const stddev = Math.sqrt(1 / fanIn) / 0.87962566103423978;
    return tf.truncatedNormal([...shape], 0, stddev, 'float32', seedOf(key));
  };
}
