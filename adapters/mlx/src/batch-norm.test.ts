import { SpecError, StateError, createReferenceEngine, hostTensor } from '@normbridge/core';
import { describe, expect, it } from 'vitest';
import { BatchNorm, MlxError, MlxVersion, treeFlatten } from './index.js';
import { asyncReference, expectClose, host, upload, values } from '@normbridge/testing';
import { engineCases } from '@normbridge/testing-engines';
import {
  MLX_2D_RUNNING_MEAN,
  MLX_2D_RUNNING_VAR,
  MLX_2D_X,
  MLX_2D_Y_EVAL,
  MLX_2D_Y_TRAIN,
  MLX_3D_RUNNING_MEAN,
  MLX_3D_RUNNING_VAR,
  MLX_3D_Y_TRAIN,
  ONE_STEP_MLX,
  X_4x3,
} from './test-support/vectors.js';

const cases = await engineCases();
const VERSIONS = ['0.32.0', '0.32.1'] as const;

function expectMlxError(fn: () => unknown, pythonType: string, message: string | RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(MlxError);
  expect((caught as MlxError).pythonType).toBe(pythonType);
  if (typeof message === 'string') expect((caught as MlxError).message).toBe(message);
  else expect((caught as MlxError).message).toMatch(message);
}

describe.each(cases)('MLX BatchNorm on $name', ({ engine, atol }) => {
  describe.each(VERSIONS)('version %s', (version) => {
    it('reproduces the published 2-D vectors (docs/semantics.md#published-vectors): train output, running stats, eval output', () => {
      const bn = new BatchNorm(4, { affine: true, version, engine });
      const x = upload(engine, [5, 4], MLX_2D_X);
      expect(bn.training).toBe(true);
      const y = bn.call(x);
      // The input is reconstructed from the published outputs (accurate to ~1e-5): atol 1e-4.
      expectClose(values(engine, y), MLX_2D_Y_TRAIN, 1e-4);
      const p = bn.parameters();
      expectClose(values(engine, p['running_mean']), MLX_2D_RUNNING_MEAN, 1e-4);
      expectClose(values(engine, p['running_var']), MLX_2D_RUNNING_VAR[version], 1e-4);
      bn.eval();
      expectClose(values(engine, bn.call(x)), MLX_2D_Y_EVAL[version], 1e-4);
    });

    it('affine=False gives the same training output (weight 1, bias 0)', () => {
      const bn = new BatchNorm(4, { affine: false, version, engine });
      expectClose(values(engine, bn.call(upload(engine, [5, 4], MLX_2D_X))), MLX_2D_Y_TRAIN, 1e-4);
      expect(Object.keys(bn.parameters())).toEqual(['running_mean', 'running_var']);
    });

    it('reproduces the published rank-3 running statistics (input rebuilt from the outputs)', () => {
      // x = y * sqrt(var_B + eps) + mu_B, with mu_B and the biased var_B read back from the
      // published v0.32.0 statistics; the other version's statistics are then an independent check.
      const C = 5;
      const x = MLX_3D_Y_TRAIN.map((y, i) => {
        const c = i % C;
        const mu = 10 * MLX_3D_RUNNING_MEAN[c]!;
        const v = 10 * (MLX_3D_RUNNING_VAR['0.32.0'][c]! - 0.9);
        return y * Math.sqrt(v + 1e-5) + mu;
      });
      const bn = new BatchNorm(C, { version, engine });
      const y = bn.call(upload(engine, [2, 4, C], x));
      expectClose(values(engine, y), MLX_3D_Y_TRAIN, 1e-4);
      expectClose(values(engine, bn.parameters()['running_mean']), MLX_3D_RUNNING_MEAN, 1e-5);
      expectClose(values(engine, bn.parameters()['running_var']), MLX_3D_RUNNING_VAR[version], 1e-4);
    });

    it('matches the MLX rows of the one-step table (docs/semantics.md#worked-example)', () => {
      const bn = new BatchNorm(3, { version, engine });
      const x = upload(engine, [4, 3], X_4x3);
      const tol = Math.max(atol, 5e-8);
      expectClose(values(engine, bn.call(x)).slice(0, 3), ONE_STEP_MLX.trainY0, tol, 1e-6);
      const [rm, rv] = [bn.parameters()['running_mean'], bn.parameters()['running_var']];
      expectClose(values(engine, rm), ONE_STEP_MLX.runningMean, tol, 1e-6);
      expectClose(values(engine, rv), ONE_STEP_MLX[version].runningVar, tol, 1e-6);
      bn.eval();
      expectClose(values(engine, bn.call(x)).slice(0, 3), ONE_STEP_MLX[version].evalY0, tol, 1e-6);
    });

    it('without running stats: no running keys, eval normalises with batch statistics and writes nothing', () => {
      const bn = new BatchNorm(4, { trackRunningStats: false, version, engine });
      expect(Object.keys(bn.parameters())).toEqual(['weight', 'bias']);
      const x = upload(engine, [5, 4], MLX_2D_X);
      const yTrain = values(engine, bn.call(x));
      bn.eval();
      expectClose(values(engine, bn.call(x)), yTrain, 1e-6);
      expectClose(yTrain, MLX_2D_Y_TRAIN, 1e-4);
    });

    it('accepts rank 3 and 4 (NLC, NHWC) and normalises over every axis but the last', () => {
      const bn = new BatchNorm(2, { version, engine });
      const data = Array.from({ length: 2 * 3 * 2 * 2 }, (_, i) => Math.sin(i) * 3 + (i % 2));
      const y = values(engine, bn.call(upload(engine, [2, 3, 2, 2], data)));
      const ref = createReferenceEngine();
      const out = ref.train(bn.spec, ref.stateFromHost({ ...freshHostState(2), numBatchesTracked: 0 }), host([2, 3, 2, 2], data));
      expectClose(y, Array.from(out.y.data), 1e-5);
    });
  });

  it('one value per channel: v0.32.1 raises in training (also untracked), not in eval; v0.32.0 gives the bias', () => {
    const msg = 'BatchNorm training requires more than one value per channel.';
    for (const shape of [[1, 3], [1, 1, 3], [1, 1, 1, 3]]) {
      const x = upload(engine, shape, [1, 2, 3]);
      expectMlxError(() => new BatchNorm(3, { engine }).call(x), 'ValueError', msg);
      expectMlxError(() => new BatchNorm(3, { engine, trackRunningStats: false }).call(x), 'ValueError', msg);
      const evalOnly = new BatchNorm(3, { engine }).eval();
      expect(values(engine, evalOnly.call(x))).toHaveLength(3);
    }
    const old = new BatchNorm(3, { engine, version: '0.32.0' });
    const y = old.call(upload(engine, [1, 3], [1, 2, 3]));
    expectClose(values(engine, y), [0, 0, 0], 1e-12);
    // Biased variance 0: running_var = 0.9 * 1 + 0.1 * 0.
    expectClose(values(engine, old.parameters()['running_var']), [0.9, 0.9, 0.9], 1e-6);
  });

  it('raises MLX rank errors before anything else', () => {
    for (const shape of [[4], [1, 1, 1, 1, 4]]) {
      const bn = new BatchNorm(4, { engine });
      expectMlxError(
        () => bn.call(upload(engine, shape, [1, 2, 3, 4])),
        'ValueError',
        `Expected input tensor to have 2, 3 or 4 dimensions, but got ${shape.length}`,
      );
    }
  });

  it('a feature count that does not match num_features is a broadcast ValueError, and state is unchanged', () => {
    const bn = new BatchNorm(4, { engine });
    const before = bn.saveWeights();
    expectMlxError(
      () => bn.call(upload(engine, [5, 3], Array.from({ length: 15 }, (_, i) => i))),
      'ValueError',
      '[broadcast_shapes] Shapes (5,3) and (4) cannot be broadcast.',
    );
    expect(bn.saveWeights()).toEqual(before);
    // Without any arrays MLX never looks at num_features.
    const bare = new BatchNorm(4, { engine, affine: false, trackRunningStats: false });
    expect(values(engine, bare.call(upload(engine, [2, 3], [1, 2, 3, 3, 2, 1])))).toHaveLength(6);
  });
});

describe('MLX BatchNorm construction', () => {
  it('defaults: eps 1e-5, momentum 0.1, affine, tracking, newest version, training mode', () => {
    const bn = new BatchNorm(4);
    expect([bn.eps, bn.momentum, bn.affine, bn.trackRunningStats, bn.version, bn.training]).toEqual([
      1e-5,
      0.1,
      true,
      true,
      '0.32.1',
      true,
    ]);
    expect(bn.version).toBe(MlxVersion.latest);
    expect(bn.spec.runningAverage).toEqual({ kind: 'exponential', oldValueWeight: 0.9 });
    expect(bn.spec.runningVarianceEstimator).toBe('unbiased');
    expect(new BatchNorm(4, { version: MlxVersion.biasedRunningVar }).spec.runningVarianceEstimator).toBe('biased');
    expect(String(bn)).toBe('BatchNorm(4, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)');
  });

  it("v0.32.1 (HEAD behaviour) rejects eps <= 0 with MLX's ValueError; v0.32.0 accepts eps = 0", () => {
    expectMlxError(() => new BatchNorm(4, { eps: 0 }), 'ValueError', "[BatchNorm] 'eps' must be positive but got 0.0.");
    expectMlxError(() => new BatchNorm(4, { eps: -1e-5 }), 'ValueError', "[BatchNorm] 'eps' must be positive but got -1e-05.");
    expect(new BatchNorm(4, { eps: 0, version: '0.32.0' }).spec.epsilon).toBe(0);
    // A negative eps cannot be expressed in the canonical spec.
    expect(() => new BatchNorm(4, { eps: -1, version: '0.32.0' })).toThrow(SpecError);
  });

  it('rejects an unknown version and a momentum outside [0, 1] (canonical spec)', () => {
    expect(() => new BatchNorm(4, { version: '0.31.0' as never })).toThrow(SpecError);
    expect(() => new BatchNorm(4, { momentum: 1.5 })).toThrow(SpecError);
  });

  it('momentum is the weight of the batch (converted by core)', () => {
    const ref = createReferenceEngine();
    const bn = new BatchNorm(3, { momentum: 0.25, version: '0.32.0', engine: ref });
    bn.call(host([4, 3], X_4x3));
    // running_mean = 0.75 * 0 + 0.25 * mu_B, mu_B = [1.75, 2.25, 4.5].
    expectClose(values(ref, bn.parameters()['running_mean']), [0.4375, 0.5625, 1.125], 1e-12);
  });
});

describe('MLX BatchNorm parameters and freezing (docs/semantics.md#mlx)', () => {
  it('parameters() holds all four arrays in insertion order; trainable_parameters() only weight and bias', () => {
    const bn = new BatchNorm(4);
    expect(Object.keys(bn.parameters())).toEqual(['weight', 'bias', 'running_mean', 'running_var']);
    expect(Object.keys(bn.trainableParameters())).toEqual(['weight', 'bias']);
    expect(treeFlatten(bn.parameters()).map(([k]) => k)).toEqual(['weight', 'bias', 'running_mean', 'running_var']);
    // Attribute access as in Python: bn.weight, bn.running_var, …
    const p = bn.parameters();
    expect([bn.weight, bn.bias, bn.running_mean, bn.running_var]).toEqual([p['weight'], p['bias'], p['running_mean'], p['running_var']]);
    const bare = new BatchNorm(4, { affine: false, trackRunningStats: false });
    expect([bare.weight, bare.bias, bare.running_mean, bare.running_var]).toEqual([undefined, undefined, undefined, undefined]);
  });

  it('freeze() freezes everything; unfreeze() on the layer keeps the running stats frozen', () => {
    const bn = new BatchNorm(4);
    bn.freeze();
    expect(Object.keys(bn.trainableParameters())).toEqual([]);
    bn.unfreeze();
    expect(Object.keys(bn.trainableParameters())).toEqual(['weight', 'bias']);
    bn.unfreeze({ keys: ['running_mean', 'running_var'] });
    expect(Object.keys(bn.trainableParameters())).toEqual(['weight', 'bias']);
    bn.freeze({ keys: 'bias' });
    expect(Object.keys(bn.trainableParameters())).toEqual(['weight']);
    bn.unfreeze({ keys: 'bias', recurse: false });
    expect(Object.keys(bn.trainableParameters())).toEqual(['weight', 'bias']);
  });

  it('strict freeze/unfreeze keys raise KeyError for unknown members', () => {
    const bn = new BatchNorm(4);
    expectMlxError(() => bn.freeze({ keys: 'gamma', strict: true }), 'KeyError', "Module doesn't contain member gamma.");
    expectMlxError(() => bn.unfreeze({ keys: ['weight', 'beta'], strict: true }), 'KeyError', "Module doesn't contain member beta.");
    bn.freeze({ keys: 'gamma' }); // not strict: silently recorded, no effect
    expect(Object.keys(bn.trainableParameters())).toEqual(['weight', 'bias']);
  });

  it('train()/eval() toggle the training flag', () => {
    const bn = new BatchNorm(2);
    expect(bn.eval().training).toBe(false);
    expect(bn.train().training).toBe(true);
    expect(bn.train(false).training).toBe(false);
  });

  it('reference engine arrays are float32 at construction', () => {
    const bn = new BatchNorm(3, { engine: createReferenceEngine() });
    const w = bn.parameters()['weight'] as ReturnType<typeof hostTensor>;
    expect(w.dtype).toBe('float32');
    expect(Array.from(w.data)).toEqual([1, 1, 1]);
    expect(Array.from((bn.parameters()['running_var'] as typeof w).data)).toEqual([1, 1, 1]);
  });
});

describe('MLX BatchNorm loadWeights / saveWeights', () => {
  const weights = (): [string, ReturnType<typeof host>][] => [
    ['weight', host([3], [2, 3, 4])],
    ['bias', host([3], [0.5, -0.5, 1])],
    ['running_mean', host([3], [1, 2, 3])],
    ['running_var', host([3], [4, 9, 16])],
  ];

  it('round-trips tree_flatten names; eval uses the loaded statistics', () => {
    const bn = new BatchNorm(3).eval();
    bn.loadWeights(weights());
    const saved = bn.saveWeights();
    expect(saved.map(([k]) => k)).toEqual(['weight', 'bias', 'running_mean', 'running_var']);
    expect(saved.map(([, t]) => Array.from(t.data))).toEqual(weights().map(([, t]) => Array.from(t.data)));
    const y = bn.call(host([1, 3], [1, 2, 3]));
    // x == running_mean: output = bias
    expectClose(Array.from((y as { data: Float64Array }).data), [0.5, -0.5, 1], 1e-12);
    // A record works too.
    bn.loadWeights(Object.fromEntries(weights()));
  });

  it('strict errors are MLX ValueErrors and leave the layer unchanged', () => {
    const bn = new BatchNorm(3);
    const before = bn.saveWeights();
    expectMlxError(
      () => bn.loadWeights([...weights(), ['num_batches_tracked', host([1], [0])], ['bn.weight', host([3], [1, 1, 1])]]),
      'ValueError',
      'Received 2 parameters not in model: \nbn.weight,\nnum_batches_tracked.',
    );
    expectMlxError(
      () => bn.loadWeights(weights().filter(([k]) => !k.startsWith('running'))),
      'ValueError',
      'Missing 2 parameters: \nrunning_mean,\nrunning_var.',
    );
    const badShape = weights();
    badShape[3] = ['running_var', host([4], [1, 1, 1, 1])];
    expectMlxError(() => bn.loadWeights(badShape), 'ValueError', 'Expected shape (3,) but received shape (4,) for parameter running_var');
    const badType = weights() as [string, unknown][];
    badType[0] = ['weight', [1, 2, 3]];
    expectMlxError(
      () => bn.loadWeights(badType as never),
      'ValueError',
      "Expected mx.array but received <class 'list'> for parameter weight",
    );
    // A NaN running variance is refused by the engine (StateError), atomically.
    const nan = weights();
    nan[3] = ['running_var', host([3], [1, Number.NaN, 1])];
    expect(() => bn.loadWeights(nan)).toThrow(StateError);
    expect(bn.saveWeights()).toEqual(before);
  });

  it('non-strict loads only the names the layer has', () => {
    const bn = new BatchNorm(3);
    bn.loadWeights([['running_var', host([3], [4, 9, 16])], ['unknown', host([1], [0])]], false);
    const saved = Object.fromEntries(bn.saveWeights());
    expect(Array.from(saved['running_var']!.data)).toEqual([4, 9, 16]);
    expect(Array.from(saved['weight']!.data)).toEqual([1, 1, 1]);
    // Frozen state survives a load.
    expect(Object.keys(bn.trainableParameters())).toEqual(['weight', 'bias']);
  });

  it('affine=False / track_running_stats=False change the keys', () => {
    expect(new BatchNorm(3, { affine: false }).saveWeights().map(([k]) => k)).toEqual(['running_mean', 'running_var']);
    expect(new BatchNorm(3, { trackRunningStats: false }).saveWeights().map(([k]) => k)).toEqual(['weight', 'bias']);
  });
});

function freshHostState(c: number) {
  return {
    scale: hostTensor([c], new Float32Array(c).fill(1)),
    bias: hostTensor([c], new Float32Array(c)),
    runningMean: hostTensor([c], new Float32Array(c)),
    runningVar: hostTensor([c], new Float32Array(c).fill(1)),
  };
}

describe('MLX BatchNorm on an asynchronous engine', () => {
  it('callAsync / saveWeightsAsync work; the sync methods say to use them', async () => {
    const engine = asyncReference();
    const bn = new BatchNorm(4, { engine });
    const x = host([5, 4], MLX_2D_X);
    expect(() => bn.call(x)).toThrow(/asynchronous/);
    expectClose(Array.from((await bn.callAsync(x)).data), MLX_2D_Y_TRAIN, 1e-4);
    const saved = Object.fromEntries(await bn.saveWeightsAsync());
    expectClose(Array.from(saved['running_var']!.data), MLX_2D_RUNNING_VAR['0.32.1'], 1e-4);
    expect(() => bn.saveWeights()).toThrow(/saveWeightsAsync/);
    await expect(bn.callAsync(host([4], [1, 2, 3, 4]))).rejects.toThrow(MlxError);
  });
});
