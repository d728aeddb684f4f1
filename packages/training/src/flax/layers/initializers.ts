import * as tf from '@tensorflow/tfjs-core';
import type { HostTensor } from '@normbridge/core';
import { random, type initializers } from '@normbridge/flax';

type Initializer = initializers.Initializer;

/**
 * The random `flax.linen.initializers` / `jax.nn.initializers` of the model code around the
 * BatchNorm, sampled with TF.js. Their values differ from JAX's (its threefry stream is not
 * reproduced); shapes, scales and distributions match. The constant ones (`zeros`, `ones`,
 * `constant`) that BatchNorm itself uses stay in `@normbridge/flax`.
 */

/** A host or tf initializer output as a float32 tf tensor. */
export function asTf(v: HostTensor | tf.Tensor): tf.Tensor {
  return v instanceof tf.Tensor ? v : tf.tensor(Float32Array.from(v.data), [...v.shape], 'float32');
}

/** `initializers.normal(stddev)`. @param stddev @default 1e-2 */
export function normal(stddev = 1e-2): Initializer {
  return (key, shape) => tf.randomNormal([...shape], 0, stddev, 'float32', random.seedOf(key));
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
    return tf.truncatedNormal([...shape], 0, stddev, 'float32', random.seedOf(key));
  };
}
