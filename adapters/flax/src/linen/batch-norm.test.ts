import { describe, expect, it } from 'vitest';
import { defineSpec, hostTensor, referenceEval, UnsupportedError } from '@normbridge/core';
import {
  IncompatibleShapesError,
  ModifyScopeVariableError,
  ScopeCollectionNotFound,
  ScopeParamShapeError,
  ValueError,
  initializers,
  linen,
  random,
  shapeOf,
  treeMapShapes,
} from '../index.js';
import { engineCases, expectClose, upload, values, X43 } from '../test-support/engines.js';

const cases = await engineCases();
const KEY = random.key(0);

/** docs/semantics.md#worked-example, flax linen / NNX / flax.nn row (momentum 0.99, eps 1e-5). */
const ROW = {
  trainY0: [-0.50709139, -0.1005037, -0.65465305],
  mean: [0.0175, 0.0225, 0.045],
  var: [1.011875, 1.051875, 1.0425],
  evalY0: [0.97671303, 1.92811246, 2.89412557],
};

describe.each(cases)('linen.BatchNorm on $name', ({ name, engine, atol }) => {
  const tol = Math.max(atol, 1e-8);
  const x43 = () => upload(engine, [4, 3], X43);

  it('docs/semantics.md#worked-example: one training step, then eval with the running averages', () => {
    const bn = new linen.BatchNorm();
    const x = x43();
    const vars = bn.init(KEY, x, { useRunningAverage: false, engine });
    const [y, updates] = bn.apply(vars, x, { useRunningAverage: false, mutable: ['batch_stats'], engine });
    expectClose(values(y).slice(0, 3), ROW.trainY0, tol);
    expectClose(values(updates['batch_stats']!['mean']), ROW.mean, tol);
    expectClose(values(updates['batch_stats']!['var']), ROW.var, tol);
    const yEval = bn.apply({ ...vars, ...updates }, x, { useRunningAverage: true, engine });
    expectClose(values(yEval).slice(0, 3), ROW.evalY0, tol);
  });

  it('init: Flax shapes and initial values, batch-normalised output, no statistics update', () => {
    const bn = new linen.BatchNorm({ useRunningAverage: false });
    const x = x43();
    const [y, vars] = bn.initWithOutput(KEY, x, { engine });
    expect(treeMapShapes(vars)).toEqual({ batch_stats: { mean: [3], var: [3] }, params: { scale: [3], bias: [3] } });
    expect(values(vars['batch_stats']!['mean'])).toEqual([0, 0, 0]);
    expect(values(vars['batch_stats']!['var'])).toEqual([1, 1, 1]);
    expect(values(vars['params']!['scale'])).toEqual([1, 1, 1]);
    expect(values(vars['params']!['bias'])).toEqual([0, 0, 0]);
    expectClose(values(y).slice(0, 3), ROW.trainY0, tol);
  });

  it('init with useRunningAverage normalises with zeros/ones', () => {
    const [y] = new linen.BatchNorm().initWithOutput(KEY, x43(), { useRunningAverage: true, engine });
    expectClose(values(y), X43.map((v) => v / Math.sqrt(1 + 1e-5)), tol, 1e-6);
  });

  it('momentum is the weight of the old value (0.9 → 0.1 · batch mean)', () => {
    const bn = new linen.BatchNorm({ momentum: 0.9, useRunningAverage: false });
    const vars = bn.init(KEY, x43(), { engine });
    const [, updates] = bn.apply(vars, x43(), { mutable: ['batch_stats'], engine });
    expectClose(values(updates['batch_stats']!['mean']), [0.175, 0.225, 0.45], tol);
    expectClose(values(updates['batch_stats']!['var']), [1.11875, 1.51875, 1.425], tol);
  });

  it('useScale/useBias false create no params; initializers and epsilon are honoured', () => {
    const plain = new linen.BatchNorm({ useScale: false, useBias: false, useRunningAverage: true });
    expect(treeMapShapes(plain.init(KEY, x43(), { engine }))).toEqual({ batch_stats: { mean: [3], var: [3] } });
    const bn = new linen.BatchNorm({
      useRunningAverage: true,
      scaleInit: initializers.constant(2),
      biasInit: initializers.constant(0.5),
      epsilon: 3,
    });
    const [y] = bn.initWithOutput(KEY, x43(), { engine });
    expectClose(values(y), X43.map((v) => (v / 2) * 2 + 0.5), tol);
  });

  it('apply returns y alone without mutable, [y, {}] with mutable: []', () => {
    const bn = new linen.BatchNorm({ useRunningAverage: true });
    const vars = bn.init(KEY, x43(), { engine });
    expect(shapeOf(bn.apply(vars, x43(), { engine }))).toEqual([4, 3]);
    const [y, updates] = bn.apply(vars, x43(), { engine, mutable: [] });
    expect(shapeOf(y)).toEqual([4, 3]);
    expect(updates).toEqual({});
  });

  it('mask: statistics over the unmasked rows only (spec.masked)', () => {
    const bn = new linen.BatchNorm({ useRunningAverage: false });
    const vars = bn.init(KEY, x43(), { engine });
    const mask = upload(engine, [4, 1], [1, 1, 0, 1]);
    const [y, upd] = bn.apply(vars, x43(), { mask, mutable: ['batch_stats'], engine });
    const kept = [...X43.slice(0, 6), ...X43.slice(9)];
    const [ySub, updSub] = bn.apply(vars, upload(engine, [3, 3], kept), { mutable: ['batch_stats'], engine });
    expectClose(values(upd['batch_stats']!['mean']), values(updSub['batch_stats']!['mean']), tol);
    expectClose(values(upd['batch_stats']!['var']), values(updSub['batch_stats']!['var']), tol);
    const yv = values(y);
    expectClose([...yv.slice(0, 6), ...yv.slice(9)], values(ySub), Math.max(atol, 1e-9) * 10);
  });

  it('several feature axes give multi-dimensional params and stats', () => {
    const data = Array.from({ length: 24 }, (_, i) => ((i * 7) % 11) - 3 + i / 5);
    const bn = new linen.BatchNorm({ axis: [1, 2], useRunningAverage: false });
    const x = upload(engine, [2, 3, 4], data);
    const vars = bn.init(KEY, x, { engine });
    expect(treeMapShapes(vars)).toEqual({ batch_stats: { mean: [3, 4], var: [3, 4] }, params: { scale: [3, 4], bias: [3, 4] } });
    const [y, upd] = bn.apply(vars, x, { mutable: ['batch_stats'], engine });
    // The same maths as one feature axis of 12 channels.
    const flat = new linen.BatchNorm({ useRunningAverage: false });
    const x2 = upload(engine, [2, 12], data);
    const [y2, upd2] = flat.apply(flat.init(KEY, x2, { engine }), x2, { mutable: ['batch_stats'], engine });
    expectClose(values(y), values(y2), tol);
    expectClose(values(upd['batch_stats']!['mean']), values(upd2['batch_stats']!['mean']), tol);
    expectClose(values(upd['batch_stats']!['var']), values(upd2['batch_stats']!['var']), tol);
    expect(shapeOf(upd['batch_stats']!['var'])).toEqual([3, 4]);
  });

  it('useFastVariance: one-pass clamped vs two-pass on a large-mean channel', () => {
    // Channel 0 holds 4096..4103 (mean 4099.5, variance 5.25); channel 1 is small.
    const data = Array.from({ length: 16 }, (_, i) => (i % 2 === 0 ? 4096 + i / 2 : (i % 5) - 2));
    const x = upload(engine, [8, 2], data);
    const runVar = (useFastVariance: boolean) => {
      const bn = new linen.BatchNorm({ useFastVariance, momentum: 0, useRunningAverage: false });
      const [, upd] = bn.apply(bn.init(KEY, x, { engine }), x, { mutable: ['batch_stats'], engine });
      return values(upd['batch_stats']!['var']);
    };
    const fast = runVar(true);
    const twoPass = runVar(false);
    if (name.startsWith('reference')) {
      // Exact in float64 (also behind the tf bridge): both algorithms give 5.25.
      expect(fast).toEqual(twoPass);
      expect(fast[0]).toBe(5.25);
    } else {
      expect(Math.abs(twoPass[0]! - 5.25)).toBeLessThan(1e-3);
      // E[x²] - E[x]² in float32 loses the variance to cancellation (google/flax#1491).
      expect(Math.abs(fast[0]! - twoPass[0]!)).toBeGreaterThan(0.05);
    }
  });

  it('dtype must be inexact; paramDtype and forceFloat32Reductions fix the variable dtypes', () => {
    expect(() => new linen.BatchNorm({ useRunningAverage: true, dtype: 'int32' }).init(KEY, x43(), { engine })).toThrow(
      new ValueError('Dtype must be inexact: int32'),
    );
    if (name !== 'reference-f64') return;
    const vars = new linen.BatchNorm({ useRunningAverage: true, paramDtype: 'float64', forceFloat32Reductions: false }).init(KEY, x43(), { engine });
    expect((vars['params']!['scale'] as { dtype: string }).dtype).toBe('float64');
    expect((vars['batch_stats']!['mean'] as { dtype: string }).dtype).toBe('float64');
    const f32 = new linen.BatchNorm({ useRunningAverage: true, paramDtype: 'float64' }).init(KEY, x43(), { engine });
    expect((f32['batch_stats']!['mean'] as { dtype: string }).dtype).toBe('float32');
  });
});

describe('linen.BatchNorm errors (docs/semantics.md#flax-linen)', () => {
  const engine = cases[0]!.engine;
  const x = upload(engine, [4, 3], X43);

  it('use_running_average: neither or both raise linen ValueErrors', () => {
    expect(() => new linen.BatchNorm().init(KEY, x, { engine })).toThrow(
      new ValueError('Parameter "use_running_average" must be passed to the constructor or at call time.'),
    );
    expect(() => new linen.BatchNorm({ useRunningAverage: true }).init(KEY, x, { useRunningAverage: false, engine })).toThrow(
      new ValueError('Parameter "use_running_average" was passed to the constructor and at call time. Should be passed just once.'),
    );
  });

  it('training apply without mutable batch_stats: ModifyScopeVariableError', () => {
    const bn = new linen.BatchNorm();
    const vars = bn.init(KEY, x, { useRunningAverage: false, engine });
    const err = (() => {
      try {
        bn.apply(vars, x, { useRunningAverage: false, engine });
      } catch (e) {
        return e as ModifyScopeVariableError;
      }
      throw new Error('no error');
    })();
    expect(err).toBeInstanceOf(ModifyScopeVariableError);
    expect(err.name).toBe('ModifyScopeVariableError');
    expect(err.flaxMessage).toBe('Cannot update variable "mean" in "/" because collection "batch_stats" is immutable.');
    expect(err.message).toBe(
      'Cannot update variable "mean" in "/" because collection "batch_stats" is immutable. ' +
        '(https://flax.readthedocs.io/en/latest/api_reference/flax.errors.html#flax.errors.ModifyScopeVariableError)',
    );
  });

  it('batch_stats not passed and immutable: ScopeCollectionNotFound', () => {
    const bn = new linen.BatchNorm();
    const vars = bn.init(KEY, x, { useRunningAverage: false, engine });
    for (const useRunningAverage of [false, true]) {
      try {
        bn.apply({ params: vars['params']! }, x, { useRunningAverage, engine });
        throw new Error('no error');
      } catch (e) {
        expect(e).toBeInstanceOf(ScopeCollectionNotFound);
        expect((e as ScopeCollectionNotFound).flaxMessage).toBe(
          'Tried to access "mean" from collection "batch_stats" in "/" but the collection is empty.',
        );
      }
    }
  });

  it('trap: batch_stats mutable but not passed is silently re-created as zeros/ones', () => {
    const bn = new linen.BatchNorm();
    const vars = bn.init(KEY, x, { useRunningAverage: false, engine });
    const [, first] = bn.apply(vars, x, { useRunningAverage: false, mutable: ['batch_stats'], engine });
    const [, again] = bn.apply({ params: vars['params']! }, x, { useRunningAverage: false, mutable: ['batch_stats'], engine });
    // The second call starts from scratch instead of continuing from `first`.
    expectClose(values(again['batch_stats']!['mean']), ROW.mean, 1e-12);
    expectClose(values(first['batch_stats']!['mean']), ROW.mean, 1e-12);
  });

  it('a parameter of another shape: ScopeParamShapeError', () => {
    const bn = new linen.BatchNorm({ useRunningAverage: true });
    const vars = bn.init(KEY, x, { engine });
    const x2 = upload(engine, [2, 2], [1, 2, 3, 4]);
    expect(() => bn.apply({ params: vars['params']!, batch_stats: { mean: upload(engine, [2], [0, 0]), var: upload(engine, [2], [1, 1]) } }, x2, { engine })).toThrow(
      ScopeParamShapeError,
    );
  });
});

describe('linen.BatchNorm feature axes >= 8 (set order, docs/semantics.md#flax-linen)', () => {
  const engine = cases[0]!.engine; // rank 9: the reference engine (tfjs kernels stop at rank 6)
  const shape = (d1: number, d8: number) => [2, d1, 1, 1, 1, 1, 1, 1, d8];
  const data = (n: number) => Array.from({ length: n }, (_, i) => Math.sin(i * 1.3) * 3 + (i % 4));

  it('variables take the shape [x.shape[a] for a in (8, 1)]', () => {
    const bn = new linen.BatchNorm({ axis: [1, 8], useRunningAverage: false });
    const vars = bn.init(KEY, upload(engine, shape(2, 3), data(12)), { engine });
    expect(treeMapShapes(vars)).toEqual({ batch_stats: { mean: [3, 2], var: [3, 2] }, params: { scale: [3, 2], bias: [3, 2] } });
  });

  it('the stored arrays are reshaped (not transposed) into the ascending-axis layout', () => {
    const x = upload(engine, shape(2, 3), data(12));
    const bn = new linen.BatchNorm({ axis: [1, 8], useRunningAverage: true });
    const vars = {
      params: { scale: upload(engine, [3, 2], [1, 2, 3, 4, 5, 6]), bias: upload(engine, [3, 2], [0, 1, 0, 1, 0, 1]) },
      batch_stats: { mean: upload(engine, [3, 2], [0.5, 0, 1, 0, -1, 2]), var: upload(engine, [3, 2], [1, 2, 3, 4, 5, 6]) },
    };
    const y = bn.apply(vars, x, { engine });
    // Flax's `scale.reshape(feature_shape)` reads the (3, 2) buffer row-major as (2, 3) = (x1, x8).
    const host = (shape: number[], d: number[]) => hostTensor(shape, Float64Array.from(d));
    const expected = referenceEval(
      defineSpec({ featureAxes: [1, 8], epsilon: 1e-5 }),
      {
        scale: host([2, 3], [1, 2, 3, 4, 5, 6]),
        bias: host([2, 3], [0, 1, 0, 1, 0, 1]),
        runningMean: host([2, 3], [0.5, 0, 1, 0, -1, 2]),
        runningVar: host([2, 3], [1, 2, 3, 4, 5, 6]),
        numBatchesTracked: 0,
      },
      x,
    );
    expect(values(y)).toEqual(values(expected));
  });

  it('training fails to broadcast (3, 2) with (2, 3), as linen does; equal sizes work', () => {
    const bn = new linen.BatchNorm({ axis: [1, 8], useRunningAverage: false });
    const x = upload(engine, shape(2, 3), data(12));
    const vars = bn.init(KEY, x, { engine });
    expect(() => bn.apply(vars, x, { mutable: ['batch_stats'], engine })).toThrow(
      new IncompatibleShapesError('add', [
        [3, 2],
        [2, 3],
      ]),
    );
    expect(() => bn.apply(vars, x, { mutable: ['batch_stats'], engine })).toThrow('add got incompatible shapes for broadcasting: (3, 2), (2, 3).');
    const x3 = upload(engine, shape(3, 3), data(18));
    const v3 = bn.init(KEY, x3, { engine });
    const [, upd] = bn.apply(v3, x3, { mutable: ['batch_stats'], engine });
    expect(shapeOf(upd['batch_stats']!['mean'])).toEqual([3, 3]);
    const x4 = upload(engine, shape(1, 3), data(6));
    expect(() => bn.apply(bn.init(KEY, x4, { engine }), x4, { mutable: ['batch_stats'], engine })).toThrow(UnsupportedError);
  });
});

