import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import {
  defineSpec,
  fromBatchWeightMomentum,
  fromDecayMomentum,
  hostTensor,
  initialState,
  type BatchNormSpec,
  type BatchNormSpecInput,
  type HostTensor,
} from '@normbridge/core';
import type { TfjsEngine } from './engine.js';
import { expectClose, mismatch, normals, type Tolerance } from '@normbridge/testing';
import { TEST_BACKENDS, useEngine } from './test-support/engines.js';
/** Bit for bit. */
const EXACT: Tolerance = { atol: 0, rtol: 0 };
/**
 * The engine against tfjs-layers on random data: the fused kernels sum the statistics in
 * float64 without tfjs's per-element division by n (tf.mean on cpu) or float32 running
 * sums (wasm), and normalise in float64 (cpu) or float32 SIMD (wasm), so results differ
 * from tfjs-layers by a float32 ulp or two where its reductions round.
 */
const LAYERS_ULPS: Tolerance = { atol: 1e-6, rtol: 1e-6 };
/**
 * TF.js's vectors come from its CPU backend, whose kernels accumulate and normalise in
 * float64; the wasm kernels work in float32, so they differ by a few float32 ulps of values
 * ≤ 8 (ulp(8) ≈ 1e-6). Against tfjs-layers on the wasm backend itself the engine is exact.
 */
const WASM_VS_TFJS_CPU: Tolerance = { atol: 2e-6, rtol: 2e-6 };
/** MLX's inputs are reconstructed from its published outputs to about 1e-5 (docs/semantics.md#published-vectors). */
const MLX_RECONSTRUCTED: Tolerance = { atol: 1e-4, rtol: 0 };
/** The worked example's table is float64 to 8 digits; float32 holds values ≤ 3 to within 2e-7. */
const TABLE: Tolerance = { atol: 1e-6, rtol: 0 };

const host = (shape: number[], values: readonly number[]): HostTensor => hostTensor(shape, Float32Array.from(values));
const rows = (t: HostTensor, n: number): number[] => Array.from(t.data.slice(0, n));

/** The worked example's input (docs/semantics.md#worked-example). */
const X = host([4, 3], [1, 2, 3, 4, 6, 8, 0, -1, 5, 2, 2, 2]);

/** TF.js `tf.layers.batchNormalization` defaults, built with core's conventions helpers. */
const TFJS: BatchNormSpecInput = {
  featureAxes: [-1],
  epsilon: 1e-3,
  runningAverage: fromDecayMomentum(0.99),
  runningUpdateForm: 'decay-toward',
  runningVarianceEstimator: 'biased',
};

function step(engine: TfjsEngine, spec: BatchNormSpec, x: HostTensor) {
  const state = engine.stateFromHost(initialState(spec, [x.shape.at(-1)!]));
  const tx = engine.fromHost(x);
  const out = engine.train(spec, state, tx);
  const evalY = engine.evaluate(spec, out.state, tx);
  const result = {
    y: engine.toHost(out.y),
    runningMean: engine.toHost(out.state.runningMean!),
    runningVar: engine.toHost(out.state.runningVar!),
    evalY: engine.toHost(evalY),
  };
  tf.dispose([tx, out.y, out.batchMean, out.batchVar, evalY, ...Object.values(state).filter((t) => t instanceof tf.Tensor)]);
  tf.dispose([out.state.runningMean!, out.state.runningVar!]);
  return result;
}

describe.each(TEST_BACKENDS)('published and derived vectors on tfjs-%s', (backend) => {
  const engine = useEngine(backend);
  const tfjsTolerance = backend === 'cpu' ? EXACT : WASM_VS_TFJS_CPU;

  describe('worked example, TF.js 4.22.0 (executed on its CPU backend)', () => {
    const spec = defineSpec(TFJS);

    it(`inference before training ${backend === 'cpu' ? 'is bit-exact' : 'matches'}`, () => {
      const state = engine().stateFromHost(initialState(spec, [3]));
      const y = engine().evaluate(spec, state, engine().fromHost(X));
      const expected = [
        0.9995003938674927, 1.9990007877349854, 2.9985010623931885, 3.9980015754699707, 5.997002124786377,
        7.996003150939941, 0, -0.9995003938674927, 4.997501850128174, 1.9990007877349854, 1.9990007877349854,
        1.9990007877349854,
      ];
      expectClose(engine().toHost(y), host([4, 3], expected), tfjsTolerance, 'y');
    });

    it(`one training step ${backend === 'cpu' ? 'is bit-exact, moving statistics included' : 'matches'}`, () => {
      const out = step(engine(), spec, X);
      const y = [
        -0.5069766640663147, -0.10049565881490707, -0.6545913219451904, 1.5209300518035889, 1.5074349641799927,
        1.5273797512054443, -1.1829456090927124, -1.3064435720443726, 0.21819710731506348, 0.16899222135543823,
        -0.10049565881490707, -1.0909855365753174,
      ];
      expectClose(out.y, host([4, 3], y), tfjsTolerance, 'y');
      expectClose(out.runningMean, host([3], [0.017500000074505806, 0.022499999031424522, 0.044999998062849045]), tfjsTolerance, 'moving_mean');
      expectClose(out.runningVar, host([3], [1.011875033378601, 1.0518749952316284, 1.0425000190734863]), tfjsTolerance, 'moving_variance');
    });
  });

  describe('against tfjs-layers BatchNormalization on the same backend (random NHWC, non-default weights)', () => {
    const shape = [2, 3, 2, 3];
    const x = host(shape, Array.from(normals(36, 7), (v) => 3 * v + 1));
    const weights = [host([3], [1.5, 0.5, -2]), host([3], [0.1, -0.3, 2]), host([3], [0.2, -1, 0.5]), host([3], [0.7, 2.5, 1.1])];
    const spec = defineSpec({ ...TFJS, runningAverage: fromDecayMomentum(0.9) });

    function layer() {
      const bn = tfl.layers.batchNormalization({ momentum: 0.9, epsilon: 1e-3 });
      bn.apply(tf.zeros([1, ...shape.slice(1)]));
      bn.setWeights(weights.map((w) => tf.tensor(w.data, [...w.shape])));
      return bn;
    }
    const state = () =>
      engine().stateFromHost({
        scale: weights[0],
        bias: weights[1],
        runningMean: weights[2],
        runningVar: weights[3],
        numBatchesTracked: 0,
      });

    it('inference matches to a few ulps', () => {
      const s = state(); // activates the engine's backend, where the layer then runs too
      expect(tf.getBackend()).toBe(backend);
      const bn = layer();
      const expected = bn.apply(tf.tensor(x.data, shape), { training: false }) as tf.Tensor;
      const y = engine().evaluate(spec, s, engine().fromHost(x));
      expectClose(engine().toHost(y), engine().toHost(expected), LAYERS_ULPS, 'y');
    });

    it('training matches to a few ulps, updated moving statistics included', () => {
      const s = state();
      expect(tf.getBackend()).toBe(backend);
      const bn = layer();
      const expected = bn.apply(tf.tensor(x.data, shape), { training: true }) as tf.Tensor;
      const [, , movingMean, movingVar] = bn.getWeights();
      const out = engine().train(spec, s, engine().fromHost(x));
      expectClose(engine().toHost(out.y), engine().toHost(expected), LAYERS_ULPS, 'y');
      expectClose(engine().toHost(out.state.runningMean!), engine().toHost(movingMean!), LAYERS_ULPS, 'moving_mean');
      expectClose(engine().toHost(out.state.runningVar!), engine().toHost(movingVar!), LAYERS_ULPS, 'moving_variance');
    });
  });

  describe('MLX published vectors through the reconstructed input', () => {
    const mlx = (estimator: 'biased' | 'unbiased') =>
      defineSpec({
        featureAxes: [-1],
        epsilon: 1e-5,
        runningAverage: fromBatchWeightMomentum(0.1),
        runningVarianceEstimator: estimator,
        singleValuePerChannel: estimator === 'unbiased' ? 'error-in-training' : 'allowed',
      });
    const x = host(
      [5, 4],
      [
        -0.145086, 1.741196, -1.296219, 1.560696, -0.831475, -1.42565, -0.438979, -0.194245, 0.589703, -0.30067,
        -0.582085, 0.163345, 0.251936, 0.297, -0.627885, -0.021988, 0.581371, -0.027876, 2.140568, -0.118908,
      ],
    );
    const yTrain = host(
      [5, 4],
      [
        -0.43952, 1.647328, -0.955515, 1.966031, -1.72669, -1.449826, -0.234026, -0.723364, 0.938414, -0.349603,
        -0.35447, -0.175369, 0.305006, 0.234914, -0.393017, -0.459385, 0.922789, -0.082813, 1.937028, -0.607913,
      ],
    );
    const runningMean = host([4], [0.008929, 0.00568, -0.016092, 0.027778]);

    it('≤ 0.32.0 (biased running variance)', () => {
      const out = step(engine(), mlx('biased'), x);
      expectClose(out.y, yTrain, MLX_RECONSTRUCTED, 'y_train');
      expectClose(out.runningMean, runningMean, MLX_RECONSTRUCTED, 'running_mean');
      expectClose(out.runningVar, host([4], [0.928435, 1.00455, 1.04117, 0.94258]), MLX_RECONSTRUCTED, 'running_var');
      const evalY = [
        -0.15984, 1.73159, -1.25456, 1.57891, -0.872193, -1.4281, -0.414439, -0.228678, 0.602743, -0.30566, -0.554687,
        0.139639, 0.252199, 0.29066, -0.599572, -0.0512532, 0.594096, -0.0334829, 2.11359, -0.151081,
      ];
      expectClose(out.evalY, host([5, 4], evalY), MLX_RECONSTRUCTED, 'eval y');
    });

    it('≥ 0.32.1 (unbiased running variance)', () => {
      const out = step(engine(), mlx('unbiased'), x);
      expectClose(out.y, yTrain, MLX_RECONSTRUCTED, 'y_train');
      expectClose(out.runningMean, runningMean, MLX_RECONSTRUCTED, 'running_mean');
      expectClose(out.runningVar, host([4], [0.935544, 1.030691, 1.076463, 0.953224]), MLX_RECONSTRUCTED, 'running_var');
      const evalY = [
        -0.159232, 1.70949, -1.23382, 1.57007, -0.868873, -1.40987, -0.407588, -0.227397, 0.600449, -0.301759,
        -0.545518, 0.138857, 0.251239, 0.286951, -0.589661, -0.0509662, 0.591834, -0.0330556, 2.07865, -0.150235,
      ];
      expectClose(out.evalY, host([5, 4], evalY), MLX_RECONSTRUCTED, 'eval y');
    });
  });

  describe('worked example: one-step golden values, spec built per framework with the conventions helpers', () => {
    const torchY = [-0.50709139, -0.1005037, -0.65465305];
    const kerasY = [-0.50697669, -0.10049566, -0.65459133];
    const rows: {
      name: string;
      spec: BatchNormSpecInput;
      y: number[];
      mean: number[];
      variance: number[];
      evalY?: number[];
    }[] = [
      {
        name: 'PyTorch (momentum 0.1, eps 1e-5)',
        spec: { featureAxes: [1], runningAverage: fromBatchWeightMomentum(0.1), runningVarianceEstimator: 'unbiased', singleValuePerChannel: 'error' },
        y: torchY,
        mean: [0.175, 0.225, 0.45],
        variance: [1.19166667, 1.725, 1.6],
        evalY: [0.75574404, 1.35145799, 2.01594571],
      },
      {
        name: 'MLX ≥ 0.32.1',
        spec: { featureAxes: [-1], runningAverage: fromBatchWeightMomentum(0.1), runningVarianceEstimator: 'unbiased', singleValuePerChannel: 'error-in-training' },
        y: torchY,
        mean: [0.175, 0.225, 0.45],
        variance: [1.19166667, 1.725, 1.6],
        evalY: [0.75574404, 1.35145799, 2.01594571],
      },
      {
        name: 'MLX ≤ 0.32.0',
        spec: { featureAxes: [-1], runningAverage: fromBatchWeightMomentum(0.1), runningVarianceEstimator: 'biased' },
        y: torchY,
        mean: [0.175, 0.225, 0.45],
        variance: [1.11875, 1.51875, 1.425],
        evalY: [0.77998362, 1.44030272, 2.13614744],
      },
      {
        name: 'ONNX / ORT training_mode (momentum 0.9)',
        spec: { featureAxes: [1], runningAverage: fromDecayMomentum(0.9) },
        y: torchY,
        mean: [0.175, 0.225, 0.45],
        variance: [1.11875, 1.51875, 1.425],
        evalY: [0.77998362, 1.44030272, 2.13614744],
      },
      ...(
        [
          ['flax linen', 'one-pass-clamped'],
          ['flax NNX', 'one-pass-clamped'],
          ['legacy flax.nn', 'one-pass-unclamped'],
        ] as const
      ).map(([name, varianceAlgorithm]) => ({
        name: `${name} (momentum 0.99, ${varianceAlgorithm})`,
        spec: { featureAxes: [-1], runningAverage: fromDecayMomentum(0.99), varianceAlgorithm },
        y: torchY,
        mean: [0.0175, 0.0225, 0.045],
        variance: [1.011875, 1.051875, 1.0425],
        evalY: [0.97671303, 1.92811246, 2.89412557],
      })),
      {
        name: 'Keras 3 / TF.js (momentum 0.99, eps 1e-3)',
        spec: TFJS,
        y: kerasY,
        mean: [0.0175, 0.0225, 0.045],
        variance: [1.011875, 1.051875, 1.0425],
        evalY: [0.97623558, 1.92720576, 2.89275237],
      },
      {
        name: 'PyTorch momentum=None, one step',
        spec: { featureAxes: [1], runningAverage: fromBatchWeightMomentum(null), runningVarianceEstimator: 'unbiased', singleValuePerChannel: 'error' },
        y: torchY,
        mean: [1.75, 2.25, 4.5],
        variance: [2.9166667, 8.25, 7],
      },
    ];

    it.each(rows)('$name', (row) => {
      const out = step(engine(), defineSpec(row.spec), X);
      const problems = [
        mismatch(host([3], rows_(out.y)), host([3], row.y), TABLE, 'train y[0]'),
        mismatch(out.runningMean, host([3], row.mean), TABLE, 'running mean'),
        mismatch(out.runningVar, host([3], row.variance), TABLE, 'running var'),
        row.evalY && mismatch(host([3], rows_(out.evalY)), host([3], row.evalY), TABLE, 'eval y[0]'),
      ].filter(Boolean);
      expect(problems).toEqual([]);
    });

    it('Keras 2.1.4–2.3.1: the almost-unbiased estimator var·n/(n − (1 + eps)) gives the table row', () => {
      const spec = defineSpec({ ...TFJS, runningVarianceEstimator: 'almost-unbiased' });
      const out = step(engine(), spec, X);
      expectClose(out.runningVar, host([3], [1.01917639, 1.07252751, 1.06002334]), TABLE, 'Keras 2 running var');
      expectClose(host([3], rows_(out.y)), host([3], kerasY), TABLE, 'train y[0] as Keras 3');
    });
  });
});

function rows_(t: HostTensor): number[] {
  return rows(t, 3);
}
