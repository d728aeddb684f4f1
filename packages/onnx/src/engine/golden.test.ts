/**
 * docs/semantics.md#worked-example: one training step from a fresh default layer on the 4x3 input,
 * then inference on the same input, for each framework's defaults. Values are the document's
 * (8 significant digits), so the comparison is at 1e-7.
 */
import {
  defineSpec,
  fromBatchWeightMomentum,
  fromDecayMomentum,
  hostTensor,
  initialState,
  type BatchNormSpecInput,
} from '@normbridge/core';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { exportOnnxModel } from '../model/export.js';
import { createOrtEngine } from './engine.js';

const X = [1, 2, 3, 4, 6, 8, 0, -1, 5, 2, 2, 2];
const TORCH_Y0 = [-0.50709139, -0.1005037, -0.65465305];

interface Row {
  readonly name: string;
  readonly spec: BatchNormSpecInput;
  readonly trainY0: readonly number[];
  readonly runningMean: readonly number[];
  readonly runningVar: readonly number[];
  readonly evalY0?: readonly number[];
}

const ROWS: readonly Row[] = [
  {
    name: 'PyTorch (momentum 0.1, eps 1e-5)',
    spec: { runningAverage: fromBatchWeightMomentum(0.1), runningVarianceEstimator: 'unbiased', singleValuePerChannel: 'error' },
    trainY0: TORCH_Y0,
    runningMean: [0.175, 0.225, 0.45],
    runningVar: [1.19166667, 1.725, 1.6],
    evalY0: [0.75574404, 1.35145799, 2.01594571],
  },
  {
    name: 'ONNX/ORT training_mode (momentum 0.9, eps 1e-5)',
    spec: { runningAverage: fromDecayMomentum(0.9) },
    trainY0: TORCH_Y0,
    runningMean: [0.175, 0.225, 0.45],
    runningVar: [1.11875, 1.51875, 1.425],
    evalY0: [0.77998362, 1.44030272, 2.13614744],
  },
  {
    name: 'flax linen / NNX (momentum 0.99, eps 1e-5)',
    spec: { runningAverage: fromDecayMomentum(0.99), varianceAlgorithm: 'one-pass-clamped' },
    trainY0: TORCH_Y0,
    runningMean: [0.0175, 0.0225, 0.045],
    runningVar: [1.011875, 1.051875, 1.0425],
    evalY0: [0.97671303, 1.92811246, 2.89412557],
  },
  {
    name: 'Keras 3 / TF.js (momentum 0.99, eps 1e-3)',
    spec: { runningAverage: fromDecayMomentum(0.99), epsilon: 1e-3, runningUpdateForm: 'decay-toward' },
    trainY0: [-0.50697669, -0.10049566, -0.65459133],
    runningMean: [0.0175, 0.0225, 0.045],
    runningVar: [1.011875, 1.051875, 1.0425],
    evalY0: [0.97623558, 1.92720576, 2.89275237],
  },
  {
    name: 'PyTorch momentum=None (cumulative), 1 step',
    spec: { runningAverage: fromBatchWeightMomentum(null), runningVarianceEstimator: 'unbiased' },
    trainY0: TORCH_Y0,
    runningMean: [1.75, 2.25, 4.5],
    runningVar: [2.9166667, 8.25, 7],
  },
];

const close = (actual: ArrayLike<number>, expected: readonly number[], what: string) => {
  expected.forEach((e, i) => expect(actual[i]!, `${what}[${i}]`).toBeCloseTo(e, 6));
};

for (const backend of ['node', 'web-wasm'] as const) {
  for (const dtype of ['float64', 'float32'] as const) {
    describe(`docs/semantics.md#worked-example on ort-${backend}, ${dtype}`, () => {
      const engine = createOrtEngine({ backend });
      for (const row of ROWS) {
        it(row.name, async () => {
          const e = await engine;
          const spec = defineSpec({ featureAxes: [-1], ...row.spec });
          const state = e.stateFromHost(initialState(spec, [3], dtype));
          const x = e.fromHost(hostTensor([4, 3], X, dtype));
          const out = await e.train(spec, state, x);
          close((await e.toHost(out.y)).data, row.trainY0, 'train y[0]');
          close((await e.toHost(out.state.runningMean!)).data, row.runningMean, 'running mean');
          close((await e.toHost(out.state.runningVar!)).data, row.runningVar, 'running var');
          if (row.evalY0) close((await e.toHost(await e.evaluate(spec, out.state, x))).data, row.evalY0, 'eval y[0]');
        });
      }
    });
  }
}

describe('docs/semantics.md#worked-example, ONNX row, on the real training-mode node', () => {
  it('an exported BatchNormalization(training_mode=1) run by onnxruntime-node', async () => {
    const spec = defineSpec({ featureAxes: [1], runningAverage: fromDecayMomentum(0.9) });
    const model = exportOnnxModel(spec, initialState(spec, [3]), { mode: 'training', inputShape: [4, 3] });
    const session = await ort.InferenceSession.create(model);
    const out = await session.run({ X: new ort.Tensor('float32', Float32Array.from(X), [4, 3]) });
    close(out.Y!.data as Float32Array, TORCH_Y0, 'train y[0]');
    close(out.running_mean!.data as Float32Array, [0.175, 0.225, 0.45], 'running mean');
    close(out.running_var!.data as Float32Array, [1.11875, 1.51875, 1.425], 'running var (biased)');
  });
});
