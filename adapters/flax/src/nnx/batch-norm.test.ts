import type { SyncEngine } from '@normbridge/core';
import { describe, expect, it } from 'vitest';
import { IncompatibleShapesError, ValueError, nnx, shapeOf, treeMapShapes, type Tree } from '../index.js';
const { flatState, toPureDict } = nnx;
import { engineCases, expectClose, upload, values, X43 } from '../test-support/engines.js';

const cases = await engineCases();

/**
 * A test-only nnx.Module standing in for model code (nnx.Linear is tested in
 * @normbridge/training): Params `kernel (in, out)` and `bias (out,)`, x passed through.
 */
class Params extends nnx.Module {
  kernel: nnx.Param;
  bias: nnx.Param;
  constructor(engine: SyncEngine<any>, inFeatures: number, outFeatures: number) {
    super();
    this.kernel = new nnx.Param(upload(engine, [inFeatures, outFeatures], new Array(inFeatures * outFeatures).fill(1)));
    this.bias = new nnx.Param(upload(engine, [outFeatures], new Array(outFeatures).fill(0)));
  }
  call(x: unknown): unknown {
    return x;
  }
}

const ROW = {
  trainY0: [-0.50709139, -0.1005037, -0.65465305],
  mean: [0.0175, 0.0225, 0.045],
  var: [1.011875, 1.051875, 1.0425],
  evalY0: [0.97671303, 1.92811246, 2.89412557],
};

describe.each(cases)('nnx.BatchNorm on $name', ({ engine, atol }) => {
  const tol = Math.max(atol, 1e-8);
  const x43 = () => upload(engine, [4, 3], X43);

  it('attributes, variables and defaults', () => {
    const bn = new nnx.BatchNorm(3, { rngs: new nnx.Rngs(0), engine });
    expect(bn.useRunningAverage).toBe(false);
    expect(bn.momentum).toBe(0.99);
    expect(bn.epsilon).toBe(1e-5);
    expect(bn.useFastVariance).toBe(true);
    expect(bn.mean).toBeInstanceOf(nnx.BatchStat);
    expect(bn.var).toBeInstanceOf(nnx.BatchStat);
    expect(bn.scale).toBeInstanceOf(nnx.Param);
    expect(bn.bias).toBeInstanceOf(nnx.Param);
    expect(values(bn.mean.value)).toEqual([0, 0, 0]);
    expect(values(bn.var.value)).toEqual([1, 1, 1]);
    expect(values(bn.scale!.value)).toEqual([1, 1, 1]);
    expect(values(bn.bias!.value)).toEqual([0, 0, 0]);
    const plain = new nnx.BatchNorm(3, { rngs: new nnx.Rngs(0), useScale: false, useBias: false, engine });
    expect(plain.scale).toBeNull();
    expect(Object.keys(nnx.state(plain))).toEqual(['mean', 'var']);
  });

  it('docs/semantics.md#worked-example: a training call updates in place, eval() uses the running averages', () => {
    const bn = new nnx.BatchNorm(3, { rngs: new nnx.Rngs(0), engine });
    const y = bn.call(x43());
    expectClose(values(y).slice(0, 3), ROW.trainY0, tol);
    expectClose(values(bn.mean.value), ROW.mean, tol);
    expectClose(values(bn.var.value), ROW.var, tol);
    bn.eval();
    expect(bn.useRunningAverage).toBe(true);
    expectClose(values(bn.call(x43())).slice(0, 3), ROW.evalY0, tol);
    expectClose(values(bn.mean.value), ROW.mean, tol); // eval does not write
  });

  it('every training call updates (no init special case)', () => {
    const bn = new nnx.BatchNorm(3, { rngs: new nnx.Rngs(0), engine, momentum: 0.5 });
    bn.call(x43());
    bn.call(x43());
    // 0.5 · (0.5 · 0 + 0.5 · m) + 0.5 · m = 0.75 · m, m = [1.75, 2.25, 4.5]
    expectClose(values(bn.mean.value), [1.3125, 1.6875, 3.375], tol);
  });

  it('a call argument overrides the attribute (first_from); null in both raises', () => {
    const bn = new nnx.BatchNorm(3, { rngs: new nnx.Rngs(0), engine });
    bn.eval();
    bn.call(x43(), { useRunningAverage: false });
    expectClose(values(bn.mean.value), ROW.mean, tol);
    bn.train();
    bn.call(x43(), { useRunningAverage: true });
    expectClose(values(bn.mean.value), ROW.mean, tol);
    const none = new nnx.BatchNorm(3, { rngs: new nnx.Rngs(0), useRunningAverage: null, engine });
    expect(() => none.call(x43())).toThrow(
      new ValueError(
        'No `use_running_average` argument was provided to BatchNorm\n        as either a __call__ argument, class attribute, or nnx.flag.',
      ),
    );
  });

  it('mask and momentum/useFastVariance map to the spec', () => {
    const bn = new nnx.BatchNorm(3, { rngs: new nnx.Rngs(0), engine, momentum: 0.9, useFastVariance: false });
    bn.call(x43(), { mask: upload(engine, [4, 1], [1, 1, 0, 1]) });
    const ref = new nnx.BatchNorm(3, { rngs: new nnx.Rngs(0), engine, momentum: 0.9, useFastVariance: false });
    ref.call(upload(engine, [3, 3], [...X43.slice(0, 6), ...X43.slice(9)]));
    expectClose(values(bn.mean.value), values(ref.mean.value), tol);
    expectClose(values(bn.var.value), values(ref.var.value), tol);
  });

  it('nnx.state snapshots stay valid after the module trains again', () => {
    const bn = new nnx.BatchNorm(3, { rngs: new nnx.Rngs(0), engine });
    const before = nnx.state(bn);
    bn.call(x43());
    const mean = (before['mean'] as nnx.VariableState).value;
    expect(values(mean)).toEqual([0, 0, 0]);
  });
});

describe('nnx graph utilities', () => {
  const engine = cases.find((c) => c.tf)!.engine;

  it('rngs.params() is drawn once per created parameter', () => {
    const rngs = new nnx.Rngs(0);
    new nnx.BatchNorm(3, { rngs, engine });
    expect(rngs.count('params')).toBe(2);
    new nnx.BatchNorm(3, { rngs, engine, useBias: false });
    expect(rngs.count('params')).toBe(3);
  });

  it('nnx.state sorts keys; split into Param and BatchStat with Sequential paths', () => {
    const bn = new nnx.BatchNorm(4, { rngs: new nnx.Rngs(0), engine });
    const s = nnx.state(bn);
    expect(Object.keys(s)).toEqual(['bias', 'mean', 'scale', 'var']);
    expect((s['mean'] as nnx.VariableState).type).toBe('BatchStat');
    expect((s['scale'] as nnx.VariableState).type).toBe('Param');

    const model = new nnx.Sequential(new Params(engine, 3, 4), new nnx.BatchNorm(3, { rngs: new nnx.Rngs(1), engine }), (y: unknown) => y);
    const [graphdef, params, batchStats] = nnx.split(model, nnx.Param, nnx.BatchStat);
    expect(graphdef).toBeInstanceOf(nnx.GraphDef);
    expect(flatState(params!).map(([p]) => p.join('/'))).toEqual(['layers/0/bias', 'layers/0/kernel', 'layers/1/bias', 'layers/1/scale']);
    expect(flatState(batchStats!).map(([p]) => p.join('/'))).toEqual(['layers/1/mean', 'layers/1/var']);
    expect(treeMapShapes(toPureDict(batchStats!) as Tree)).toEqual({ layers: { '1': { mean: [3], var: [3] } } });
    expect(() => nnx.split(model, nnx.Param)).toThrow(ValueError);
    expect(() => nnx.split(model, nnx.Param)).toThrow(/^Non-exhaustive filters, got a non-empty remainder/);

    // Training through the Sequential updates layers/1; nnx.update writes a state back.
    const y = model.call(upload(engine, [3, 3], [1, 2, 3, 0, 1, 0, 2, 2, 2]));
    expect(shapeOf(y)).toEqual([3, 3]);
    const bnLayer = model.layers[1] as nnx.BatchNorm;
    expect(values(bnLayer.mean.value)).not.toEqual([0, 0, 0]);
    nnx.update(model, batchStats!);
    expect(values(bnLayer.mean.value)).toEqual([0, 0, 0]);
  });

  it('train()/eval() walk submodules; setAttributes raises for unknown attributes', () => {
    const model = new nnx.Sequential(new nnx.BatchNorm(2, { rngs: new nnx.Rngs(0), engine }), new nnx.BatchNorm(2, { rngs: new nnx.Rngs(0), engine }));
    model.eval();
    expect(model.layers.map((l) => (l as nnx.BatchNorm).useRunningAverage)).toEqual([true, true]);
    model.train();
    expect(model.layers.map((l) => (l as nnx.BatchNorm).useRunningAverage)).toEqual([false, false]);
    expect(() => model.setAttributes({ foo: 1 })).toThrow(new ValueError("Could not find at least one instance of the following attributes: ['foo']"));
    model.setAttributes({ momentum: 0.5 });
    expect((model.layers[0] as nnx.BatchNorm).momentum).toBe(0.5);
  });

  it('several feature axes: eval works, training fails to broadcast as in NNX', () => {
    const ref = cases[0]!.engine;
    const bn = new nnx.BatchNorm(6, { rngs: new nnx.Rngs(0), axis: [1, 2], engine: ref });
    const x = upload(ref, [2, 2, 3], Array.from({ length: 12 }, (_, i) => i));
    bn.eval();
    expect(shapeOf(bn.call(x))).toEqual([2, 2, 3]);
    bn.train();
    expect(() => bn.call(x)).toThrow(
      new IncompatibleShapesError('add', [
        [6],
        [2, 3],
      ]),
    );
  });
});
