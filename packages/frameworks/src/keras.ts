/**
 * Keras 3 `keras.layers.BatchNormalization`: one feature axis (default last), decay momentum
 * 0.99, epsilon 1e-3 (not the 1e-5 of PyTorch/Flax/MLX), the biased variance into the moving
 * variance, `moving * momentum + batch * (1 - momentum)` (`blend`, Keras 3's
 * `batch_normalization.py`; tf.keras 2 and TF.js use `decay-toward`), masks over the reduction,
 * and `trainable = False` running the layer in inference even when called with `training=True`.
 */
import { defineSpec, type BatchNormSpec } from '@normbridge/core';
import { runningAverageFrom } from './momentum.js';
import type { FrameworkProfile, StateVariable } from './profile.js';

/** Keras and TF.js constructor arguments (single words, spelled alike in both). */
export interface KerasArgs {
  /** @default -1 */
  readonly axis?: number | undefined;
  /** Weight of the old moving value. @default 0.99 */
  readonly momentum?: number | undefined;
  /** @default 1e-3 */
  readonly epsilon?: number | undefined;
  /** Learned `beta`. @default true */
  readonly center?: boolean | undefined;
  /** Learned `gamma`. @default true */
  readonly scale?: boolean | undefined;
}

/** What a call adds: whether a mask restricts the statistics. */
export interface KerasCall {
  /** @default false */
  readonly masked?: boolean | undefined;
}

/** Keras and TF.js share everything but the update form and what `trainable = false` does. */
export interface KerasFamilyProfile<Version extends string> extends FrameworkProfile<KerasArgs, KerasCall, Version> {
  /** Keras 3: a frozen layer (`trainable = False`) runs in inference mode; TF.js keeps training it. */
  readonly frozenLayerRunsInference: boolean;
  readonly runningUpdateForm: BatchNormSpec['runningUpdateForm'];
}

/** `layer.weights` order: gamma, beta, moving_mean, moving_variance. */
export const KERAS_PARAMS: readonly StateVariable[] = [
  { name: 'gamma', key: 'scale' },
  { name: 'beta', key: 'bias' },
];
export const KERAS_STATS: readonly StateVariable[] = [
  { name: 'moving_mean', key: 'runningMean' },
  { name: 'moving_variance', key: 'runningVar' },
];

/** The spec of a Keras-family layer; `profile` supplies the defaults and the update form. */
export function kerasFamilySpec(profile: KerasFamilyProfile<string>, args: KerasArgs, call: KerasCall): BatchNormSpec {
  return defineSpec({
    featureAxes: [args.axis ?? profile.defaults.featureAxis],
    epsilon: args.epsilon ?? profile.defaults.epsilon,
    runningAverage: runningAverageFrom(args.momentum ?? profile.defaults.momentum, 'decay'),
    runningVarianceEstimator: 'biased',
    // The JAX and TensorFlow backends and tfjs compute two-pass moments.
    varianceAlgorithm: 'two-pass',
    scale: args.scale !== false,
    bias: args.center !== false,
    evalStatistics: 'running',
    singleValuePerChannel: 'allowed',
    masked: call.masked === true,
    statisticsDtype: 'float32',
    runningUpdateForm: profile.runningUpdateForm,
  });
}

export const keras: KerasFamilyProfile<'3'> = {
  id: 'keras',
  title: 'Keras 3',
  versions: ['3'],
  latest: '3',
  versionOf: (reported) => (/^3\./.test(reported) ? '3' : undefined),
  momentum: { convention: 'decay', cumulative: false },
  defaults: { epsilon: 1e-3, momentum: 0.99, featureAxis: -1 },
  argumentCase: 'snake_case',
  argumentNames: { epsilon: 'epsilon', momentum: 'momentum' },
  params: KERAS_PARAMS,
  stats: KERAS_STATS,
  affinePaired: false,
  // Keras 3 `variable.path` and legacy h5 `weight_names`; conv kernels HWIO, dense [in, out].
  checkpoint: { name: 'keras', formatTag: 'tf', separators: ['/'], kernel: 'kernel', kernelBias: 'bias', convLayout: '*IO', linearLayout: 'IO' },
  emptyTrainingBatch: 'nan',
  takesMask: true,
  frozenLayerRunsInference: true,
  runningUpdateForm: 'blend',
  specFromArgs: (args, call) => kerasFamilySpec(keras, args, call),
};
