import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { createReferenceEngine, hostTensor, setDefaultEngine } from '@normbridge/core';
import { hostEngineOnTf } from '@normbridge/tfjs';
import { linen, nn, nnx, random, shapeOf } from './index.js';
import { asyncReference, engineCases } from './test-support/engines.js';

await engineCases(); // a TF.js backend for the tf.Tensor inputs

// The README's examples, as printed (on the default engine the README sets: the float64 reference seen through tf).
setDefaultEngine(hostEngineOnTf(createReferenceEngine()));
describe('README examples', () => {
  const x = tf.tensor2d([1, 2, 3, 4, 6, 8, 0, -1, 5, 2, 2, 2, 1, 1, 1, 0, 0, 0], [6, 3]);

  it('flax.linen', () => {
    const bn = new linen.BatchNorm({ momentum: 0.9 });        // nn.BatchNorm(momentum=0.9)
    const variables = bn.init(random.key(0), x, { useRunningAverage: false });
    const [y, updates] = bn.apply(variables, x, { useRunningAverage: false, mutable: ['batch_stats'] });
    const yEval = bn.apply({ ...variables, ...updates }, x, { useRunningAverage: true });
    expect([shapeOf(y), shapeOf(yEval)]).toEqual([[6, 3], [6, 3]]);
  });

  it('flax.nnx', () => {
    const bn = new nnx.BatchNorm(3, { momentum: 0.9, rngs: new nnx.Rngs(0) });
    const model = new nnx.Sequential(bn);
    const y = bn.call(x);            // training: updates bn.mean / bn.var in place
    bn.eval();                       // set_attributes(use_running_average=True, ...)
    bn.call(x, { useRunningAverage: false });  // a call argument overrides the attribute
    const [graphdef, params, batchStats] = nnx.split(model, nnx.Param, nnx.BatchStat);
    expect(Object.keys(nnx.toPureDict(nnx.state(bn)))).toEqual(['bias', 'mean', 'scale', 'var']);
    expect([shapeOf(y), graphdef.paths.length, Object.keys(params!), Object.keys(batchStats!)]).toEqual([[6, 3], 4, ['layers'], ['layers']]);
  });

  it('legacy flax.nn', () => {
    const Block = nn.module('Block', (self, x: tf.Tensor, kw: { train: boolean }) =>
      nn.BatchNorm(x, { useRunningAverage: !kw.train, name: 'bn' }));
    const Model = nn.module('Model', (self, x: tf.Tensor, kw: { train: boolean }) => {
      x = Block(x, { train: kw.train });                            // auto-named Block_0
      return nn.BatchNorm(x, { useRunningAverage: !kw.train });   // auto-named BatchNorm_1
    });
    const [[, params], state] = nn.stateful(undefined, () => Model.init(random.key(0), x, { train: true }));
    const [y, newState] = nn.stateful(state, () => Model.call(params, x, { train: true }));
    nn.stateful(newState, () => Model.call(params, x, { train: false }), { mutable: false });
    expect(Object.keys(newState.asDict())).toEqual(['/Block_0/bn', '/BatchNorm_1']);
    expect(shapeOf(y)).toEqual([6, 3]);
  });

  it('asynchronous engines (asyncReference standing in for createOrtEngine)', async () => {
    const createOrtEngine = async (_: { backend: 'node' }) => asyncReference();
    const data = [1, 2, 3, 4, 6, 8, 0, -1, 5, 2, 2, 2, 1, 1, 1, 0, 0, 0];
    const cotangent = data.map((v, i) => v - i / 3);

    const engine = await createOrtEngine({ backend: 'node' });  // @normbridge/onnx
    const x = engine.fromHost(hostTensor([6, 3], data));         // the engine's own tensors
    const dy = engine.fromHost(hostTensor([6, 3], cotangent));

    const bn = new linen.BatchNorm({ momentum: 0.9 });
    const variables = await bn.initAsync(random.key(0), x, { useRunningAverage: false, engine });
    const [y, updates] = await bn.applyAsync(variables, x, { useRunningAverage: false, mutable: ['batch_stats'], engine });
    const grads = await bn.vjpAsync({ ...variables, ...updates }, x, dy, { useRunningAverage: true, engine });

    const layer = new nnx.BatchNorm(3, { rngs: new nnx.Rngs(0), engine });
    const yNnx = await layer.callAsync(x);  // training: updates layer.mean / layer.var
    const gNnx = await layer.vjpAsync(x, dy);

    const [[, params], state] = await nn.statefulAsync(undefined, () => nn.BatchNorm.initAsync(random.key(0), x, { engine }));
    const [yLegacy, newState] = await nn.statefulAsync(state, () => nn.BatchNorm.callAsync(params, x, { engine }));
    const [gLegacy] = await nn.statefulAsync(newState, () => nn.batchNormVjpAsync(params, x, dy, { engine }));

    expect([y, yNnx, yLegacy, grads.input, gNnx.input, gLegacy.input].map(shapeOf)).toEqual(Array(6).fill([6, 3]));
    expect(Array.from(y.data)).toEqual(Array.from(yNnx.data));
    expect(Object.keys(newState.asDict())).toEqual(['/']);
  });
});
