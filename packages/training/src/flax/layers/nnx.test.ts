import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { ValueError, nnx as flaxNnx, random, shapeOf, treeMapShapes, type Tree } from '@normbridge/flax';
import { engineCases, values } from '../../test-support/engines.js';
import { lecunNormal } from './initializers.js';
import { Linear, relu } from './nnx.js';

const { BatchNorm, BatchStat, GraphDef, Param, Rngs, Sequential, flatState, split, toPureDict, update } = flaxNnx;
const cases = await engineCases();

describe.each(cases)('nnx.Linear in an nnx.Sequential on $name', ({ engine }) => {
  it('split into Param and BatchStat with Sequential paths; training updates layers/1', () => {
    const model = new Sequential(new Linear(3, 4, { rngs: new Rngs(0) }), new BatchNorm(4, { rngs: new Rngs(1), engine }), relu);
    const [graphdef, params, batchStats] = split(model, Param, BatchStat);
    expect(graphdef).toBeInstanceOf(GraphDef);
    expect(flatState(params!).map(([p]) => p.join('/'))).toEqual(['layers/0/bias', 'layers/0/kernel', 'layers/1/bias', 'layers/1/scale']);
    expect(flatState(batchStats!).map(([p]) => p.join('/'))).toEqual(['layers/1/mean', 'layers/1/var']);
    expect(treeMapShapes(toPureDict(params!) as Tree)).toEqual({ layers: { '0': { bias: [4], kernel: [3, 4] }, '1': { bias: [4], scale: [4] } } });
    expect(treeMapShapes(toPureDict(batchStats!) as Tree)).toEqual({ layers: { '1': { mean: [4], var: [4] } } });
    expect(() => split(model, Param)).toThrow(ValueError);

    // Training through the Sequential updates layers/1; nnx.update writes a state back.
    const y = model.call(tf.tensor2d([1, 2, 3, 0, 1, 0, 2, 2, 2], [3, 3]));
    expect(shapeOf(y)).toEqual([3, 4]);
    expect(Math.min(...values(y))).toBeGreaterThanOrEqual(0); // relu
    const bnLayer = model.layers[1] as flaxNnx.BatchNorm;
    expect(values(bnLayer.mean.value)).not.toEqual([0, 0, 0, 0]);
    update(model, batchStats!);
    expect(values(bnLayer.mean.value)).toEqual([0, 0, 0, 0]);
  });
});

describe('nnx.Linear', () => {
  it('computes x @ kernel + bias; useBias false has no bias', () => {
    const ones = () => tf.ones([2, 3]);
    const layer = new Linear(2, 3, { rngs: new Rngs(0), kernelInit: () => ones(), biasInit: () => tf.tensor1d([1, 2, 3]) });
    expect(values(layer.call(tf.tensor2d([1, 2, -1, 0.5], [2, 2])))).toEqual([4, 5, 6, 0.5, 1.5, 2.5]);
    const noBias = new Linear(2, 3, { rngs: new Rngs(0), useBias: false, kernelInit: () => ones() });
    expect(noBias.bias).toBeNull();
    expect(values(noBias.call(tf.tensor2d([1, 2], [1, 2])))).toEqual([3, 3, 3]);
  });

  it('the default kernel is lecun_normal: same Rngs seed, same kernel; shape (in, out)', () => {
    const a = new Linear(3, 4, { rngs: new Rngs(0) });
    const b = new Linear(3, 4, { rngs: new Rngs(0) });
    const c = new Linear(3, 4, { rngs: new Rngs(1) });
    expect(shapeOf(a.kernel.value)).toEqual([3, 4]);
    expect(values(a.kernel.value)).toEqual(values(b.kernel.value));
    expect(values(a.kernel.value)).not.toEqual(values(c.kernel.value));
    // Truncated at two standard deviations of sqrt(1/fan_in)/.8796…
    const bound = (2 * Math.sqrt(1 / 3)) / 0.87962566103423978;
    const k = values(lecunNormal()(random.key(3), [3, 400], 'float32'));
    expect(Math.max(...k.map(Math.abs))).toBeLessThanOrEqual(bound + 1e-6);
  });
});
