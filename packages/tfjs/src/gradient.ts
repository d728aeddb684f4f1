import * as tf from '@tensorflow/tfjs-core';
import type { ReplicaGroups } from './groups.js';
import { centred, centredProduct, channelAffine, channelCombine, channelSums } from './channel-ops.js';
import { fusedGradient } from './kernels/fused-ops.js';
import { fusedKernelsActive } from './kernels/register.js';
import type { Normalization, ParamGradients } from './normalization.js';
import { broadcastParam, flatParam, rowsView, toFeatureShape } from './plan.js';

export type { ParamGradients } from './normalization.js';

/**
 * The analytic vector-Jacobian product of `normalize` (the formula of core's
 * `referenceVjp`). With g = dy·scale and x̂ = (x − mean)·inv:
 *
 *     dx = inv · (g − w · (Σ g + x̂ · Σ g·x̂))    batch statistics (sums over the channel's group)
 *     dx = inv · g                              fixed statistics
 *     dScale = Σ dy·x̂,  dBias = Σ dy           (over everything but the features)
 */
export function normalizationGradient(
  n: Normalization,
  groups: ReplicaGroups,
  x: tf.Tensor,
  dy: tf.Tensor,
  scale: tf.Tensor | undefined,
): ParamGradients {
  if (n.rows) return fusedKernelsActive() ? fusedGradient(n, x, dy, scale) : rowsGradient(n, x, dy, scale);
  if (n.batchWeight === undefined || (typeof n.batchWeight === 'number' && !n.plan.replicated)) {
    return uniformGradient(n, x, dy, scale);
  }
  return weightedGradient(n, groups, x, dy, scale, n.batchWeight);
}

/**
 * Uniform weights w = 1/n let Σ g and Σ g·x̂ be written with dBias and dScale, so only two
 * reductions are needed, and dx becomes k·(dy − w·dBias) − c₁·(x − mean) per channel with
 * k = inv·scale and c₁ = k·inv·dScale·w, all computed as `[channels]`. dy is centred before
 * it is scaled: with one value per channel dy − w·dBias is exactly 0, whereas k·dy − k·dBias·w
 * would leave k·dy's rounding behind where the fused kernel computes k·dy in float64.
 */
function rowsGradient(n: Normalization, x: tf.Tensor, dy: tf.Tensor, scale: tf.Tensor | undefined): ParamGradients {
  const { plan } = n;
  const x2 = rowsView(plan, x);
  const dy2 = rowsView(plan, dy);
  const inv = tf.rsqrt(tf.add(n.variance, n.epsilon)) as tf.Tensor1D;
  const xc = centred(plan, x2, n.mean as tf.Tensor1D);
  const dBias = channelSums(plan, dy2);
  const dScale = tf.mul(channelSums(plan, centredProduct(plan, xc, dy2)), inv) as tf.Tensor1D;
  const k = (scale ? tf.mul(inv, flatParam(plan, scale)) : inv) as tf.Tensor1D;
  let dx: tf.Tensor;
  if (n.batchWeight === undefined) {
    dx = channelAffine(plan, dy2, { factor: k });
  } else {
    const w = n.batchWeight as number;
    const c1 = tf.mul(tf.mul(k, inv), tf.mul(dScale, w)) as tf.Tensor1D;
    dx = channelCombine(plan, dy2, tf.mul(dBias, w) as tf.Tensor1D, k, xc, c1);
  }
  return {
    dx: tf.reshape(dx, x.shape),
    dScale: toFeatureShape(plan, dScale, false),
    dBias: toFeatureShape(plan, dBias, false),
  };
}

/** The rows formula with broadcasting ops, for features that are not in the rows view. */
function uniformGradient(n: Normalization, x: tf.Tensor, dy: tf.Tensor, scale: tf.Tensor | undefined): ParamGradients {
  const { plan } = n;
  const axes = [...plan.paramReduceAxes];
  const inv = tf.rsqrt(tf.add(n.variance, n.epsilon));
  const centred = tf.sub(x, n.mean);
  const dBias = tf.sum(dy, axes, true);
  const dScale = tf.mul(tf.sum(tf.mul(dy, centred), axes, true), inv);
  const k = scale ? tf.mul(inv, broadcastParam(plan, scale)) : inv;
  let dx = tf.mul(dy, k);
  if (n.batchWeight !== undefined) {
    const w = n.batchWeight as number;
    const c1 = tf.mul(tf.mul(k, inv), tf.mul(dScale, w));
    const c0 = tf.mul(k, tf.mul(dBias, w));
    dx = tf.sub(dx, tf.add(tf.mul(centred, c1), c0));
  }
  return { dx, dScale: toFeatureShape(plan, dScale, false), dBias: toFeatureShape(plan, dBias, false) };
}

/** Masks and replicas: per-element weights and group sums, term by term as the formula reads. */
function weightedGradient(
  n: Normalization,
  groups: ReplicaGroups,
  x: tf.Tensor,
  dy: tf.Tensor,
  scale: tf.Tensor | undefined,
  weight: number | tf.Tensor,
): ParamGradients {
  const { plan } = n;
  const axes = [...plan.reduceAxes];
  const inv = tf.rsqrt(tf.add(n.variance, n.epsilon));
  const xhat = tf.mul(tf.sub(x, n.mean), inv);
  const g = scale ? tf.mul(dy, broadcastParam(plan, scale)) : dy;
  const sumG = groups.sum(tf.sum(g, axes, true));
  const sumGX = groups.sum(tf.sum(tf.mul(g, xhat), axes, true));
  const dx = tf.mul(inv, tf.sub(g, tf.mul(weight, tf.add(sumG, tf.mul(xhat, sumGX)))));
  const paramAxes = [...plan.paramReduceAxes];
  return {
    dx,
    dScale: toFeatureShape(plan, tf.sum(tf.mul(dy, xhat), paramAxes, true), false),
    dBias: toFeatureShape(plan, tf.sum(dy, paramAxes, true), false),
  };
}
