import * as tf from '@tensorflow/tfjs-core';
import { rowsParam, type Plan } from './plan.js';

/**
 * Per-channel arithmetic on the rows view `[rows, channels·inner]` (see `Plan.block`) where
 * nothing ties us to tfjs-layers' kernels: the backward pass, and the statistics of
 * non-trailing features. Per-channel vectors are passed as `[channels]` (memory order) and
 * repeated to the view's columns here, after any arithmetic on them.
 *
 * tfjs's fused batchNorm kernel is a per-channel affine map in one pass: on cpu that single
 * JavaScript loop beats two or three broadcasting passes (measured ~1.5×), and even a single
 * same-shape multiply (~2× on [32, 200704]). On wasm it is a scalar loop while the binary ops
 * are vectorised (~15× faster per pass on [100352, 64]). webgl/webgpu get the plain
 * broadcasting ops too: correct everywhere, and the full-size offset and scale tricks below
 * have only been verified on cpu.
 */
function preferFusedKernel(): boolean {
  return tf.getBackend() === 'cpu';
}

/**
 * Whether features that are consecutive but not trailing (NCHW) take the rows view rather
 * than broadcasting against `[1, C, 1, 1]`-shaped statistics. On cpu a binary op that
 * broadcasts over a non-trailing axis computes an index per element (~10× slower than the
 * rows view's cyclic walk) and reductions over non-innermost axes transpose the whole input
 * first: NCHW [32, 64, 56, 56] ran ~15× faster through the rows view. wasm (XNNPACK)
 * broadcasts and transposes natively; there the rows view's gradient was ~20% faster but
 * its forward (the fused kernel is a scalar loop on wasm) 3× slower, no gain overall.
 * webgl and webgpu shaders broadcast natively too, so they keep the broadcasting ops.
 */
export function preferRowsView(): boolean {
  return tf.getBackend() === 'cpu';
}

type Vector = tf.Tensor1D;

/**
 * `t − centre` per channel, where it has to exist: the fused kernel folds the centring into
 * whatever consumes it, so on cpu it is kept as the pair and never materialised.
 */
export interface Centred {
  readonly t: tf.Tensor2D;
  readonly centre: Vector | undefined;
}

export function centred(plan: Plan, t: tf.Tensor2D, centre: Vector): Centred {
  return preferFusedKernel() ? { t, centre } : { t: tf.sub(t, rowsParam(plan, centre)) as tf.Tensor2D, centre: undefined };
}

/** `offset + (t − centre) · factor` per channel. */
export function channelAffine(
  plan: Plan,
  t: tf.Tensor2D,
  parts: { centre?: Vector | undefined; factor?: Vector | undefined; offset?: Vector | undefined },
): tf.Tensor2D {
  const columns = (v: Vector | undefined) => v && rowsParam(plan, v);
  const [centre, factor, offset] = [columns(parts.centre), columns(parts.factor), columns(parts.offset)];
  if (preferFusedKernel()) {
    // Unit variance and no epsilon turn the kernel's 1/sqrt(var + eps) into exactly 1; a
    // length-1 vector broadcasts like any other.
    return tf.batchNorm(t, centre ?? tf.zeros([1]), tf.ones([1]), offset, factor, 0) as tf.Tensor2D;
  }
  let r: tf.Tensor = centre ? tf.sub(t, centre) : t;
  if (factor) r = tf.mul(r, factor);
  if (offset) r = tf.add(r, offset);
  return r as tf.Tensor2D;
}

/** `(c.t − c.centre) · u` elementwise: on cpu one fused pass, computed in float64 and rounded once. */
export function centredProduct(plan: Plan, c: Centred, u: tf.Tensor2D): tf.Tensor2D {
  if (c.centre === undefined) return tf.mul(c.t, u);
  // A full-size scale is a valid fused-kernel input when the statistics share its rank.
  const row = tf.reshape(rowsParam(plan, c.centre), [1, u.shape[1]]);
  return tf.batchNorm(c.t, row, tf.ones([1, 1]), undefined, u, 0) as tf.Tensor2D;
}

/**
 * `k · (a − aCentre) − c1 · b` per channel, for `[rows, channels·inner]` tensors a and b (b
 * centred). `a` is centred before it is scaled, as in `normalize`: where a channel's values
 * all equal its centre (one value per channel) the result is exactly 0, as it must be.
 */
export function channelCombine(plan: Plan, a: tf.Tensor2D, aCentre: Vector, k: Vector, b: Centred, c1: Vector): tf.Tensor2D {
  const columns = (v: Vector) => rowsParam(plan, v);
  if (b.centre === undefined) {
    return tf.sub(tf.mul(tf.sub(a, columns(aCentre)), columns(k)), tf.mul(b.t, columns(c1))) as tf.Tensor2D;
  }
  const negated = channelAffine(plan, b.t, { centre: b.centre, factor: tf.neg(c1) });
  // A full-size offset is still a valid fused-kernel input (the statistics must then share
  // its rank), which folds the final subtraction into the second pass.
  const row = (v: Vector) => tf.reshape(columns(v), [1, a.shape[1]]);
  return tf.batchNorm(a, row(aCentre), tf.ones([1, 1]), negated, row(k), 0) as tf.Tensor2D;
}

/**
 * Per-channel sums of the rows view `[rows, channels·inner]`, as `[channels]`. The `inner`
 * lanes are summed first, an innermost-axis reduction that no backend transposes for, then
 * the rows with a matMul against ones (one pass, no transpose).
 */
export function channelSums(plan: Plan, t: tf.Tensor2D): Vector {
  const { outer, inner } = plan.block!;
  const channels = plan.layout.channels;
  const perRow = inner === 1 ? t : tf.reshape(tf.sum(tf.reshape(t, [outer * channels, inner]), 1), [outer, channels]);
  return tf.reshape(tf.matMul(tf.ones([1, outer]), perRow), [channels]);
}
