import * as tf from '@tensorflow/tfjs-core';

/**
 * Per-channel arithmetic on a `[rows, channels]` tensor for the backward pass, where nothing
 * ties us to tfjs-layers' kernels. tfjs's fused batchNorm kernel is a per-channel affine map
 * in one pass: on cpu that single JavaScript loop beats two or three broadcasting passes
 * (measured ~1.5×). On wasm it is a scalar loop while the binary ops are vectorised (~15×
 * faster per pass on [100352, 64]). webgl/webgpu get the plain broadcasting ops too: correct
 * everywhere, and the full-size offset trick below has only been verified on cpu.
 */
function preferFusedKernel(): boolean {
  return tf.getBackend() === 'cpu';
}

/** `offset + (t − centre) · factor` per channel. */
export function channelAffine(
  t: tf.Tensor2D,
  parts: { centre?: tf.Tensor1D | undefined; factor?: tf.Tensor1D | undefined; offset?: tf.Tensor1D | undefined },
): tf.Tensor2D {
  const { centre, factor, offset } = parts;
  if (preferFusedKernel()) {
    const channels = t.shape[1];
    // Unit variance and no epsilon turn the kernel's 1/sqrt(var + eps) into exactly 1.
    return tf.batchNorm(t, centre ?? tf.zeros([channels]), tf.ones([channels]), offset, factor, 0) as tf.Tensor2D;
  }
  let r: tf.Tensor = centre ? tf.sub(t, centre) : t;
  if (factor) r = tf.mul(r, factor);
  if (offset) r = tf.add(r, offset);
  return r as tf.Tensor2D;
}

/** `k · a − (c0 + c1 · b)` per channel, for two `[rows, channels]` tensors a and b. */
export function channelCombine(a: tf.Tensor2D, b: tf.Tensor2D, k: tf.Tensor1D, c1: tf.Tensor1D, c0: tf.Tensor1D): tf.Tensor2D {
  if (!preferFusedKernel()) return tf.sub(tf.mul(a, k), tf.add(tf.mul(b, c1), c0)) as tf.Tensor2D;
  const channels = a.shape[1];
  const negated = channelAffine(b, { factor: tf.neg(c1), offset: tf.neg(c0) });
  // A full-size offset is still a valid fused-kernel input (the statistics must then share
  // its rank), which folds the final subtraction into the second pass.
  const row = (t: tf.Tensor1D) => tf.reshape(t, [1, channels]);
  return tf.batchNorm(a, tf.zeros([1, channels]), tf.ones([1, channels]), negated, row(k), 0) as tf.Tensor2D;
}
