import * as tf from '@tensorflow/tfjs-core';

/** `x @ kernel (+ bias)` contracting the last axis of `x` (any rank): every Dense/Linear's forward. */
export function denseForward(x: tf.Tensor, kernel: tf.Tensor, bias: tf.Tensor | undefined): tf.Tensor {
  return tf.tidy(() => {
    const lead = x.shape.slice(0, -1);
    const flat = tf.reshape(x, [-1, x.shape[x.rank - 1]!]) as tf.Tensor2D;
    let y: tf.Tensor = tf.matMul(flat, kernel as tf.Tensor2D);
    if (bias) y = tf.add(y, bias);
    return tf.reshape(y, [...lead, kernel.shape[1]!]);
  });
}

/** `flax.linen.relu` / `nnx.relu` / `flax.nn.relu`. */
export function relu<T extends tf.Tensor>(x: T): T {
  return tf.relu(x);
}
