import * as tf from '@tensorflow/tfjs-core';

/** Model code: optax-style losses on tf tensors (per example, not averaged). */

/** `optax.softmax_cross_entropy_with_integer_labels(logits, labels)`: `logsumexp(logits) - logits[label]`. */
export function softmaxCrossEntropyWithIntegerLabels(logits: tf.Tensor, labels: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const k = logits.shape[logits.rank - 1]!;
    // One-hot by comparison (tf.oneHot refuses a depth of 1, which the guide's one-logit head has).
    const hot = tf.cast(tf.equal(tf.range(0, k, 1, 'int32'), tf.expandDims(tf.cast(labels, 'int32'), -1)), logits.dtype);
    const picked = tf.sum(tf.mul(hot, logits), -1);
    return tf.sub(tf.logSumExp(logits, -1), picked);
  });
}

/** `optax.sigmoid_binary_cross_entropy(logits, labels)`: `softplus(x) - x * z`. */
export function sigmoidBinaryCrossEntropy(logits: tf.Tensor, labels: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.sub(tf.softplus(logits), tf.mul(logits, tf.cast(labels, 'float32'))));
}
