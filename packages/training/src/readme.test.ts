import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { linen, nn, nnx, random, treeMapShapes } from '@normbridge/flax';
import { flax } from './index.js';
import { engineCases } from './test-support/engines.js';

const cases = await engineCases();

// README block start
class Net extends linen.Module<tf.Tensor, { train: boolean }, tf.Tensor> {
  call(scope: linen.Scope, x: tf.Tensor, { train }: { train: boolean }) {
    x = scope.child(new flax.linen.Dense({ features: 4 }))(x);
    x = scope.child(new linen.BatchNorm<tf.Tensor>({ useRunningAverage: !train }))(x);
    return scope.child(new flax.linen.Dense({ features: 1 }))(flax.linen.relu(x));
  }
}
// README block end

describe.each(cases)('README: Flax model code on $name', ({ engine }) => {
  it('linen Dense, nnx Linear and legacy nn.Dense build the variable trees the README prints', () => {
    const x = tf.tensor2d([1, 2, 3, 4, 6, 8, 0, -1, 5], [3, 3]);
    // README block start
const variables = new Net().init(random.key(0), x, { train: false, engine });
// params: Dense_0 {kernel (3, 4), bias (4,)}, BatchNorm_0 {scale, bias}, Dense_1 {kernel (4, 1), bias}

const model = new nnx.Sequential(
  new flax.nnx.Linear(3, 4, { rngs: new nnx.Rngs(0) }),
  new nnx.BatchNorm(4, { rngs: new nnx.Rngs(1), engine }),
  flax.nnx.relu,
);
const [, params] = nnx.split(model, nnx.Param, nnx.BatchStat); // layers/0/{bias,kernel}, layers/1/{bias,scale}

const Legacy = nn.module('Legacy', (self, x: tf.Tensor, kw: { train: boolean }) => {
  x = flax.nn.Dense(x, { features: 4 });
  x = nn.BatchNorm(x, { useRunningAverage: !kw.train });   // auto-named BatchNorm_1
  return flax.nn.Dense(flax.nn.relu(x), { features: 1 });
});
const [[, legacyParams], state] = nn.stateful(undefined, () => Legacy.init(random.key(0), x, { train: true, engine }));
    // README block end
    expect(treeMapShapes(variables['params']!)).toEqual({
      BatchNorm_0: { bias: [4], scale: [4] },
      Dense_0: { bias: [4], kernel: [3, 4] },
      Dense_1: { bias: [1], kernel: [4, 1] },
    });
    expect(treeMapShapes(nnx.toPureDict(params!) as never)).toEqual({ layers: { '0': { bias: [4], kernel: [3, 4] }, '1': { bias: [4], scale: [4] } } });
    expect(treeMapShapes(legacyParams)).toEqual({ BatchNorm_1: { bias: [4], scale: [4] }, Dense_0: { bias: [4], kernel: [3, 4] }, Dense_2: { bias: [1], kernel: [4, 1] } });
    expect(Object.keys(state.asDict())).toEqual(['/BatchNorm_1']);
  });
});

describe('README', () => {
  it('prints the blocks this test runs, verbatim', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const block = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!).find((b) => b.includes('flax.linen.Dense'));
    expect(block).toBeDefined();
    const source = readFileSync(new URL(import.meta.url), 'utf8');
    const excerpts = [...source.matchAll(/\/\/ README block start\n([\s\S]*?)\s*\/\/ README block end/g)].map((m) => m[1]!.trimEnd());
    expect(excerpts).toHaveLength(2);
    const imports = block!.split('\n\n')[0]!;
    expect(imports).toBe(
      ["import * as tf from '@tensorflow/tfjs-core';", "import { linen, nn, nnx, random } from '@normbridge/flax';", "import { flax } from '@normbridge/training';"].join('\n'),
    );
    expect(block!.trimEnd()).toBe([imports, ...excerpts].join('\n\n'));
  });
});
