import * as tf from '@tensorflow/tfjs-core';
import { fusedNormalize } from './kernels/fused-ops.js';
import { fusedKernelsActive } from './kernels/register.js';
import type { Normalization } from './normalization.js';
import { broadcastParam, flatParam, rowsParam, rowsView } from './plan.js';

export type { Normalization } from './normalization.js';

/**
 * Backends whose fused batchNorm kernel subtracts the mean before scaling, as the spec does.
 * The webgl and webgpu shaders compute x·inv − mean·inv instead, which on a channel whose mean
 * is large next to its spread rounds the output to multiples of the mean's ulp times inv
 * (1/32 on a mean-1000 channel; the Flax one-pass fixtures caught it on WebGPU).
 */
const FUSED_KERNEL_CENTRES_FIRST: ReadonlySet<string> = new Set(['cpu', 'wasm']);

/** y = (x − mean) · rsqrt(var + eps) · scale + bias. */
export function normalize(n: Normalization, x: tf.Tensor, scale: tf.Tensor | undefined, bias: tf.Tensor | undefined): tf.Tensor {
  const { plan } = n;
  if (n.rows && fusedKernelsActive()) return fusedNormalize(n, x, scale, bias);
  if (n.rows && !FUSED_KERNEL_CENTRES_FIRST.has(tf.getBackend())) {
    // The same rows view, centred first with plain broadcasting ops.
    const columns = (t: tf.Tensor) => rowsParam(plan, t as tf.Tensor1D);
    let k = tf.rsqrt(tf.add(n.variance, n.epsilon));
    if (scale) k = tf.mul(k, flatParam(plan, scale));
    let y = tf.mul(tf.sub(rowsView(plan, x), columns(n.mean)), columns(k));
    if (bias) y = tf.add(y, columns(flatParam(plan, bias)));
    return tf.reshape(y, x.shape);
  }
  if (n.rows) {
    // The fused kernel, as tfjs-layers calls it: one pass, one rounding per element on CPU.
    // Rank-1 statistics broadcast along the last axis, which every backend's kernel handles.
    const columns = (t: tf.Tensor) => rowsParam(plan, t as tf.Tensor1D);
    const y = tf.batchNorm(
      rowsView(plan, x),
      columns(n.mean),
      columns(n.variance),
      bias && columns(flatParam(plan, bias)),
      scale && columns(flatParam(plan, scale)),
      n.epsilon,
    );
    return tf.reshape(y, x.shape);
  }
  let k = tf.rsqrt(tf.add(n.variance, n.epsilon));
  if (scale) k = tf.mul(k, broadcastParam(plan, scale));
  // Centre first: folding the mean into an offset would cancel badly for large means.
  const y = tf.mul(tf.sub(x, n.mean), k);
  return bias ? tf.add(y, broadcastParam(plan, bias)) : y;
}
