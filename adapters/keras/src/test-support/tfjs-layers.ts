import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

/**
 * The real `tf.layers.batchNormalization` (tfjs-layers 4.22) as the oracle. It runs on the
 * tfjs backend named in each call; that backend must have been initialised (by
 * `createTfjsEngine` of @normbridge/tfjs), since tfjs-core alone ships none.
 */
export interface OracleStep {
  readonly shape: readonly number[];
  readonly x: readonly number[];
  readonly training: boolean;
}

export interface OracleRun {
  /** Output of every step, float32 as tfjs computed it. */
  readonly outputs: Float32Array[];
  /** `getWeights()` after the last step. */
  readonly weights: Float32Array[];
}

export type OracleLayerArgs = NonNullable<Parameters<typeof tfl.layers.batchNormalization>[0]>;

export function backendReady(backend: 'cpu' | 'wasm'): boolean {
  return tf.findBackend(backend) !== null;
}

/** Builds a fresh layer, optionally sets its weights, runs the steps in order. */
export function runTfjsLayers(
  backend: 'cpu' | 'wasm',
  args: OracleLayerArgs,
  steps: readonly OracleStep[],
  initialWeights?: readonly (readonly number[])[],
): OracleRun {
  const previous = tf.getBackend();
  void tf.setBackend(backend);
  if (tf.getBackend() !== backend) throw new Error(`tfjs backend ${backend} is not initialised`);
  try {
    const layer = tfl.layers.batchNormalization(args);
    layer.build(steps[0]!.shape as number[]);
    if (initialWeights) {
      const ws = initialWeights.map((w) => tf.tensor1d(Float32Array.from(w)));
      layer.setWeights(ws);
      tf.dispose(ws);
    }
    const outputs = steps.map((step) => {
      const x = tf.tensor(Float32Array.from(step.x), step.shape as number[], 'float32');
      const y = layer.apply(x, { training: step.training }) as tf.Tensor;
      const data = y.dataSync() as Float32Array;
      tf.dispose([x, y]);
      return Float32Array.from(data);
    });
    // getWeights() returns the layer's own variables: copy, then free them (a layer never
    // called symbolically cannot be disposed as a whole).
    const weights = layer.getWeights().map((w) => Float32Array.from(w.dataSync() as Float32Array));
    for (const w of layer.weights) w.dispose();
    return { outputs, weights };
  } finally {
    if (previous && previous !== backend) void tf.setBackend(previous);
  }
}
