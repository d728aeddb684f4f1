import { StateError, SpecError, createReferenceEngine, transpose, hostTensor, type HostTensor } from '@normbridge/core';
import { beforeEach, describe, expect, it } from 'vitest';
import { BatchNormalization, KerasError, clearSession } from './index.js';
import { asyncReference, expectClose, host, upload, values } from '@normbridge/testing';
import { engineCases } from '@normbridge/testing-engines';
import { ONE_STEP_KERAS, TFJS_10_2, X_4x3 } from './test-support/vectors.js';

const cases = await engineCases();
const PROFILES = ['keras3', 'tfjs-layers'] as const;

function expectKerasError(fn: () => unknown, pythonType: string, message: string | RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(KerasError);
  expect((caught as KerasError).pythonType).toBe(pythonType);
  if (typeof message === 'string') expect((caught as KerasError).message).toBe(message);
  else expect((caught as KerasError).message).toMatch(message);
}

/** Deterministic, unround test data. */
function data(n: number, seed = 1): number[] {
  return Array.from({ length: n }, (_, i) => Math.round((Math.sin(i * 12.9898 + seed * 78.233) * 43758.5453 % 1) * 4000) / 1000);
}

describe.each(cases)('Keras BatchNormalization on $name', ({ engine, atol, backend }) => {
  describe.each(PROFILES)('profile %s', (profile) => {
    it('reproduces the executed TF.js vectors (docs/semantics.md#worked-example)', () => {
      const bn = new BatchNormalization({ profile, engine });
      const x = upload(engine, [4, 3], X_4x3);
      const before = values(engine, bn.apply(x));
      const train = values(engine, bn.apply(x, { training: true }));
      const [gamma, beta, mm, mv] = bn.getWeights().map((w) => Array.from(w.data));
      if (backend === 'cpu' && profile === 'tfjs-layers') {
        // Same backend and the same operations as tfjs-layers: bit for bit.
        expect(before).toEqual(TFJS_10_2.inferenceBefore);
        expect(train).toEqual(TFJS_10_2.trainOutput);
        expect(mm).toEqual(TFJS_10_2.movingMean);
        expect(mv).toEqual(TFJS_10_2.movingVariance);
      } else {
        // float32 values against float64 (reference) or another backend/form: float32 rounding.
        expectClose(before, TFJS_10_2.inferenceBefore, 1e-6, 1e-6);
        expectClose(train, TFJS_10_2.trainOutput, 1e-6, 1e-6);
        expectClose(mm!, TFJS_10_2.movingMean, 1e-8, 1e-6);
        expectClose(mv!, TFJS_10_2.movingVariance, 1e-8, 1e-6);
      }
      expect(gamma).toEqual([1, 1, 1]);
      expect(beta).toEqual([0, 0, 0]);
    });

    it('matches the Keras/TF.js row of the one-step table (docs/semantics.md#worked-example)', () => {
      const bn = new BatchNormalization({ profile, engine });
      const x = upload(engine, [4, 3], X_4x3);
      const tol = Math.max(atol, 5e-8);
      expectClose(values(engine, bn.apply(x, { training: true })).slice(0, 3), ONE_STEP_KERAS.trainY0, tol, 1e-6);
      const [, , mm, mv] = bn.getWeights().map((w) => Array.from(w.data));
      expectClose(mm!, ONE_STEP_KERAS.movingMean, tol, 1e-6);
      expectClose(mv!, ONE_STEP_KERAS.movingVariance, tol, 1e-6);
      expectClose(values(engine, bn.apply(x)).slice(0, 3), ONE_STEP_KERAS.evalY0, tol, 1e-6);
    });

    it('trains with center: false and scale: false (tfjs-layers crashes there, tensorflow/tfjs#2868)', () => {
      const x = upload(engine, [4, 3], X_4x3);
      const full = new BatchNormalization({ profile, engine });
      const expected = values(engine, full.apply(x, { training: true }));
      for (const opts of [{ center: false }, { scale: false }, { center: false, scale: false }]) {
        const bn = new BatchNormalization({ ...opts, profile, engine });
        expectClose(values(engine, bn.apply(x, { training: true })), expected, 1e-6);
        expect(bn.weights.map((w) => w.name)).toEqual(
          ['gamma', 'beta', 'moving_mean', 'moving_variance'].filter(
            (n) => !(n === 'gamma' && opts.scale === false) && !(n === 'beta' && opts.center === false),
          ),
        );
        expectClose(Array.from(bn.getWeights().at(-2)!.data), TFJS_10_2.movingMean, 1e-8, 1e-6);
      }
    });

    it('a non-last axis (NCHW, axis 1) is computed correctly: equal to axis -1 on the NHWC transpose', () => {
      const shape = [2, 3, 2, 2];
      const xs = data(24, 3);
      const nchw = new BatchNormalization({ axis: 1, momentum: 0.9, profile, engine });
      const nhwc = new BatchNormalization({ axis: -1, momentum: 0.9, profile, engine });
      const xT = transpose(host(shape, xs), [0, 2, 3, 1]);
      for (const training of [true, true, false]) {
        const a = engine.toHost(nchw.apply(upload(engine, shape, xs), { training }));
        const b = engine.toHost(nhwc.apply(engine.fromHost(xT), { training }));
        expectClose(Array.from(transpose(a, [0, 2, 3, 1]).data), Array.from(b.data), 1e-6, 1e-6);
      }
      expectClose(
        nchw.getWeights().flatMap((w) => Array.from(w.data)),
        nhwc.getWeights().flatMap((w) => Array.from(w.data)),
        1e-7,
        1e-6,
      );
    });
  });

  it('keras3: trainable = false runs inference even with training: true; tfjs-layers keeps updating', () => {
    const x = upload(engine, [4, 3], X_4x3);
    const frozen = new BatchNormalization({ trainable: false, engine });
    const y = values(engine, frozen.apply(x, { training: true }));
    expectClose(y, TFJS_10_2.inferenceBefore, 1e-6, 1e-6);
    expect(Array.from(frozen.getWeights()[2]!.data)).toEqual([0, 0, 0]);
    const tfjsFrozen = new BatchNormalization({ trainable: false, profile: 'tfjs-layers', engine });
    expectClose(values(engine, tfjsFrozen.apply(x, { training: true })), TFJS_10_2.trainOutput, 1e-6, 1e-6);
    expectClose(Array.from(tfjsFrozen.getWeights()[2]!.data), TFJS_10_2.frozenMovingMean, 1e-8, 1e-6);
  });

  it('keras3: a mask restricts the training statistics to the counted positions', () => {
    // Rows 0 and 1 counted, rows 2 and 3 not: statistics are those of rows 0-1 only.
    const bn = new BatchNormalization({ momentum: 0, engine });
    const x = upload(engine, [4, 3], X_4x3);
    if (!engine.capabilities.masks) return;
    bn.apply(x, { training: true, mask: upload(engine, [4], [1, 1, 0, 0]) });
    const [, , mm, mv] = bn.getWeights().map((w) => Array.from(w.data));
    expectClose(mm!, [2.5, 4, 5.5], 1e-6, 1e-6);
    expectClose(mv!, [2.25, 4, 6.25], 1e-6, 1e-6);
    // The tfjs-layers profile ignores masks, as tfjs-layers does.
    const tfjsProfile = new BatchNormalization({ momentum: 0, profile: 'tfjs-layers', engine });
    tfjsProfile.apply(x, { training: true, mask: upload(engine, [4], [1, 1, 0, 0]) });
    expectClose(Array.from(tfjsProfile.getWeights()[2]!.data), [1.75, 2.25, 4.5], 1e-6, 1e-6);
  });

  it('rank: keras3 accepts rank 5; tfjs-layers raises its NotImplementedError', () => {
    const xs = data(2 * 2 * 2 * 2 * 3);
    const x = upload(engine, [2, 2, 2, 2, 3], xs);
    expect(values(engine, new BatchNormalization({ engine }).apply(x, { training: true }))).toHaveLength(48);
    expectKerasError(
      () => new BatchNormalization({ profile: 'tfjs-layers', engine }).apply(x, { training: true }),
      'NotImplementedError',
      'batchNormalization is not implemented for array of rank 5 yet',
    );
  });
});

describe('Keras BatchNormalization: names and weights', () => {
  beforeEach(() => clearSession());

  it('default names are Keras 3 style, with a per-process counter; weight paths use them', () => {
    const a = new BatchNormalization();
    const b = new BatchNormalization();
    const named = new BatchNormalization({ name: 'bn' });
    const c = new BatchNormalization();
    expect([a.name, b.name, named.name, c.name]).toEqual([
      'batch_normalization',
      'batch_normalization_1',
      'bn',
      'batch_normalization_2',
    ]);
    b.build([null, 3]);
    expect(b.weights.map((w) => w.path)).toEqual([
      'batch_normalization_1/gamma',
      'batch_normalization_1/beta',
      'batch_normalization_1/moving_mean',
      'batch_normalization_1/moving_variance',
    ]);
    clearSession();
    expect(new BatchNormalization().name).toBe('batch_normalization');
  });

  it('builds lazily on the first call, or eagerly; weights are [] before', () => {
    const bn = new BatchNormalization();
    expect(bn.built).toBe(false);
    expect(bn.weights).toEqual([]);
    expect(bn.getWeights()).toEqual([]);
    bn.apply(host([2, 5], data(10)));
    expect(bn.built).toBe(true);
    expect(bn.weights.map((w) => w.shape)).toEqual([[5], [5], [5], [5]]);
    expect([bn.gamma?.name, bn.beta?.name, bn.moving_mean?.name, bn.moving_variance?.name]).toEqual([
      'gamma',
      'beta',
      'moving_mean',
      'moving_variance',
    ]);
    expect(new BatchNormalization({ center: false }).beta).toBeUndefined();
    const eager = new BatchNormalization({ axis: 1 });
    eager.build([null, 4, 7]);
    expect(eager.weights.map((w) => w.shape)).toEqual([[4], [4], [4], [4]]);
  });

  it('initializers: zeros, ones or a constant', () => {
    const bn = new BatchNormalization({
      gammaInitializer: 2,
      betaInitializer: 'ones',
      movingMeanInitializer: -0.5,
      movingVarianceInitializer: 4,
    });
    bn.build([null, 2]);
    expect(bn.getWeights().map((w) => Array.from(w.data))).toEqual([[2, 2], [1, 1], [-0.5, -0.5], [4, 4]]);
    expect(() => new BatchNormalization({ gammaInitializer: 'glorot_uniform' as never })).toThrow(KerasError);
  });

  it('trainable weights follow `trainable`; the order never changes', () => {
    const bn = new BatchNormalization();
    bn.build([null, 3]);
    expect(bn.trainableWeights.map((w) => w.name)).toEqual(['gamma', 'beta']);
    expect(bn.nonTrainableWeights.map((w) => w.name)).toEqual(['moving_mean', 'moving_variance']);
    bn.trainable = false;
    expect(bn.trainableWeights).toEqual([]);
    expect(bn.nonTrainableWeights.map((w) => w.name)).toEqual(['gamma', 'beta', 'moving_mean', 'moving_variance']);
    expect(bn.weights.map((w) => w.name)).toEqual(['gamma', 'beta', 'moving_mean', 'moving_variance']);
  });

  it('setWeights by position, absent weights skipped; Keras errors; all-or-nothing', () => {
    const bn = new BatchNormalization({ center: false, name: 'bn' });
    expectKerasError(
      () => bn.setWeights([host([3], [1, 1, 1])]),
      'ValueError',
      "You called `set_weights(weights)` on layer 'bn' with a weight list of length 1, but the layer was expecting 0 weights.",
    );
    bn.build([null, 3]);
    bn.setWeights([host([3], [2, 3, 4]), host([3], [1, 2, 3]), host([3], [4, 9, 16])]);
    expect(bn.getWeights().map((w) => Array.from(w.data))).toEqual([[2, 3, 4], [1, 2, 3], [4, 9, 16]]);
    // Inference with the loaded statistics: (x - mean) / sqrt(var + eps) * gamma.
    const y = Array.from((bn.apply(host([1, 3], [1, 2, 3])) as HostTensor).data);
    expectClose(y, [0, 0, 0], 1e-12);
    expectKerasError(
      () => bn.setWeights([host([3], [1, 1, 1]), host([3], [0, 0, 0])]),
      'ValueError',
      "You called `set_weights(weights)` on layer 'bn' with a weight list of length 2, but the layer was expecting 3 weights.",
    );
    expectKerasError(
      () => bn.setWeights([host([3], [1, 1, 1]), host([4], [0, 0, 0, 0]), host([3], [1, 1, 1])]),
      'ValueError',
      'Layer bn weight shape (3,) is not compatible with provided weight shape (4,).',
    );
    expect(() => bn.setWeights([host([3], [9, 9, 9]), host([3], [0, 0, 0]), host([3], [1, -1, 1])])).toThrow(StateError);
    expect(bn.getWeights().map((w) => Array.from(w.data))).toEqual([[2, 3, 4], [1, 2, 3], [4, 9, 16]]);
  });

  it('momentum is the decay (weight of the old value), converted by core', () => {
    const bn = new BatchNormalization({ momentum: 0.9 });
    bn.apply(host([4, 3], X_4x3), { training: true });
    // 0.9 * 0 + 0.1 * [1.75, 2.25, 4.5]
    expectClose(Array.from(bn.getWeights()[2]!.data), [0.175, 0.225, 0.45], 1e-12);
    expect(bn.spec.runningAverage).toEqual({ kind: 'exponential', oldValueWeight: 0.9 });
    expect(new BatchNormalization().spec.runningUpdateForm).toBe('blend');
    expect(new BatchNormalization({ profile: 'tfjs-layers' }).spec.runningUpdateForm).toBe('decay-toward');
    expect(() => new BatchNormalization({ momentum: 1.01 })).toThrow(SpecError);
  });
});

describe('Keras BatchNormalization: errors (docs/semantics.md#keras-3)', () => {
  it('synchronized=True: Keras says TensorFlow backend only', () => {
    expectKerasError(
      () => new BatchNormalization({ synchronized: true }),
      'ValueError',
      'Argument synchronized=True is only supported with the TensorFlow backend.',
    );
  });

  it('renorm=True is not supported, clearly', () => {
    expectKerasError(() => new BatchNormalization({ renorm: true }), 'NotImplementedError', /renorm=True\) is not supported by normbridge/);
  });

  it('mask rank must be rank(inputs) - 1', () => {
    const bn = new BatchNormalization();
    expectKerasError(
      () => bn.apply(host([4, 3], X_4x3), { training: true, mask: host([4, 3], X_4x3) }),
      'ValueError',
      'The mask provided should be one dimension less than the inputs. Received: mask.shape=(4, 3), inputs.shape=(4, 3)',
    );
  });

  it('an undefined feature dimension cannot be built', () => {
    expectKerasError(
      () => new BatchNormalization().build([null, null]),
      'ValueError',
      'Axis 1 of input tensor should have a defined dimension but the layer received an input with shape (None, None).',
    );
  });

  it('an axis out of range', () => {
    expectKerasError(() => new BatchNormalization({ axis: 2 }).build([null, 3]), 'IndexError', /axis 2 does not exist .* \(None, 3\)/);
    expectKerasError(() => new BatchNormalization({ axis: -3 }).apply(host([4, 3], X_4x3)), 'IndexError', /axis -3/);
    expectKerasError(() => new BatchNormalization({ axis: 1.5 }), 'TypeError', /integer/);
  });

  it('input incompatible with the built layer (InputSpec)', () => {
    const bn = new BatchNormalization({ name: 'bn' });
    bn.apply(host([4, 3], X_4x3));
    expectKerasError(
      () => bn.apply(host([3, 4], X_4x3)),
      'ValueError',
      'Input 0 of layer "bn" is incompatible with the layer: expected axis -1 of input shape to have value 3, but received input with shape (3, 4)',
    );
    expectKerasError(
      () => bn.apply(host([2, 2, 3], X_4x3)),
      'ValueError',
      'Input 0 of layer "bn" is incompatible with the layer: expected ndim=2, found ndim=3. Full shape received: (2, 2, 3)',
    );
  });

  it('works on float64 host tensors too (reference engine)', () => {
    const ref = createReferenceEngine();
    const bn = new BatchNormalization({ engine: ref });
    const y = bn.apply(hostTensor([4, 3], Float64Array.from(X_4x3)), { training: true });
    expectClose(Array.from(y.data).slice(0, 3), ONE_STEP_KERAS.trainY0, 5e-8);
  });
});

describe('Keras BatchNormalization on an asynchronous engine', () => {
  it('applyAsync / getWeightsAsync work (with a mask too); the sync methods say to use them', async () => {
    const engine = asyncReference();
    const bn = new BatchNormalization({ engine, momentum: 0 });
    const x = host([4, 3], X_4x3);
    expect(() => bn.apply(x)).toThrow(/asynchronous/);
    await bn.applyAsync(x, { training: true, mask: host([4], [1, 1, 0, 0]) });
    const w = (await bn.getWeightsAsync()).map((t) => Array.from(t.data));
    expectClose(w[2]!, [2.5, 4, 5.5], 1e-12);
    expect(() => bn.getWeights()).toThrow(/getWeightsAsync/);
    expect(() => bn.apply(x, { training: true, mask: host([4], [1, 1, 1, 1]) })).toThrow(/applyAsync|asynchronous/);
  });
});
