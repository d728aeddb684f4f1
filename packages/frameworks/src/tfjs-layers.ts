/**
 * `tf.layers.batchNormalization` of @tensorflow/tfjs-layers 4.x: Keras' arguments in camelCase
 * and Keras' defaults, but the moving statistics are updated as
 * `moving - (moving - batch) * (1 - momentum)` (`decay-toward`, which fixes the last float32
 * bit), `trainable = false` does not stop the updates, and masks are ignored.
 */
import { keras, KERAS_PARAMS, KERAS_STATS, kerasFamilySpec, type KerasFamilyProfile } from './keras.js';

export const tfjsLayers: KerasFamilyProfile<'4'> = {
  id: 'tfjs-layers',
  title: 'TensorFlow.js Layers',
  versions: ['4'],
  latest: '4',
  versionOf: (reported) => (/^4\./.test(reported) ? '4' : undefined),
  momentum: { convention: 'decay', cumulative: false },
  defaults: { epsilon: 1e-3, momentum: 0.99, featureAxis: -1 },
  argumentCase: 'camelCase',
  argumentNames: { epsilon: 'epsilon', momentum: 'momentum' },
  params: KERAS_PARAMS,
  stats: KERAS_STATS,
  affinePaired: false,
  // Weights are named as Keras names them (`<layer>/gamma`): a `keras` checkpoint.
  checkpoint: keras.checkpoint,
  takesMask: false,
  frozenLayerRunsInference: false,
  runningUpdateForm: 'decay-toward',
  specFromArgs: (args, call) => kerasFamilySpec(tfjsLayers, args, { ...call, masked: false }),
};
