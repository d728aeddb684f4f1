import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { getDefaultEngine, type HostTensor } from '@normbridge/core';
import { docExamples, expectClose, runExample } from '@normbridge/testing';
import { tfjsEngine } from '@normbridge/testing-engines';
import { TFJS_10_2 } from './test-support/vectors.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const examples = docExamples(`${root}docs/keras.md`);
// The "model" example runs tfjs-layers on tfjs's cpu backend, which the engine registers.
await tfjsEngine('cpu');
const engine = getDefaultEngine();
const arr = (t: unknown) => Array.from((engine.synchronous ? engine.toHost(t) : (t as HostTensor)).data);

/** The docs' Dense -> BN -> ReLU model in the real tfjs-layers (same weights, cpu backend). */
function tfjsLayersModel() {
  void tf.setBackend('cpu');
  const model = tfl.sequential({
    layers: [
      tfl.layers.dense({
        units: 2,
        inputShape: [3],
        weights: [tf.tensor2d([[0.5, -1], [0.25, 0.75], [-0.5, 0.5]]), tf.tensor1d([0.1, -0.2])],
      }),
      tfl.layers.batchNormalization({ momentum: 0.9 }),
      tfl.layers.reLU(),
    ],
  });
  const x = tf.tensor2d([[1, 2, 3], [4, 6, 8], [0, -1, 5], [2, 2, 2]]);
  const yTrain = Array.from((model.apply(x, { training: true }) as tf.Tensor).dataSync());
  const yInfer = Array.from((model.apply(x) as tf.Tensor).dataSync());
  const movingMean = Array.from(model.layers[1]!.getWeights()[2]!.dataSync());
  return { yTrain, yInfer, movingMean };
}

const checks: Record<string, (m: Record<string, unknown>) => void> = {
  basic: (m) => {
    expectClose(arr(m['yInfer']), TFJS_10_2.inferenceBefore, 1e-6, 1e-6);
    expectClose(arr(m['yTrain']), TFJS_10_2.trainOutput, 1e-6, 1e-6);
    const w = (m['weights'] as HostTensor[]).map((t) => Array.from(t.data));
    expectClose(w[2]!, TFJS_10_2.movingMean, 1e-8, 1e-6);
    expectClose(w[3]!, TFJS_10_2.movingVariance, 1e-8, 1e-6);
  },
  model: (m) => {
    const want = tfjsLayersModel();
    const data = (t: unknown) => Array.from((t as tf.Tensor).dataSync());
    expectClose(data(m['yTrain']), want.yTrain, 1e-6, 1e-6);
    expectClose(data(m['yInfer']), want.yInfer, 1e-6, 1e-6);
    expectClose(data(m['movingMean']), want.movingMean, 1e-7, 1e-6);
  },
  frozen: (m) => {
    expect(Array.from((m['keras3Mean'] as HostTensor).data)).toEqual([0, 0, 0]);
    expectClose(Array.from((m['tfjsMean'] as HostTensor).data), TFJS_10_2.frozenMovingMean, 1e-8, 1e-6);
  },
  weights: (m) => {
    expect(m['paths']).toEqual(['bn_nchw/gamma', 'bn_nchw/moving_mean', 'bn_nchw/moving_variance']);
    expect(m['error']).toBe(
      "You called `set_weights(weights)` on layer 'bn_nchw' with a weight list of length 1, but the layer was expecting 3 weights.",
    );
  },
};

describe('docs/keras.md examples', () => {
  it('has every checked example', () => {
    expect(examples.map((e) => e.name).sort()).toEqual(Object.keys(checks).sort());
  });
  it.each(examples)('runs "$name"', async (example) => {
    checks[example.name]!(await runExample(root, '@normbridge/keras', example));
  });
});
