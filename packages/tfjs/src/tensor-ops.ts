/** The Engine's tensor handling on tf tensors: ownership, reshape and row (no arithmetic). */
import * as tf from '@tensorflow/tfjs-core';
import { checkReshape, checkRow } from '@normbridge/core';

export function isTfTensor(v: unknown): v is tf.Tensor {
  return v instanceof tf.Tensor;
}

/** A new handle on the same (reference-counted) data in another shape: no copy. */
export function reshapeTensor(t: tf.Tensor, shape: readonly number[]): tf.Tensor {
  checkReshape(t.shape, shape);
  return tf.reshape(t, [...shape]);
}

/** Row `index` of a tensor stacked on a leading axis (`t[index]`). */
export function tensorRow(t: tf.Tensor, index: number): tf.Tensor {
  const rest = checkRow(t.shape, index);
  return tf.tidy(() => tf.reshape(tf.slice(t, [index, ...rest.map(() => 0)], [1, ...rest]), rest));
}
