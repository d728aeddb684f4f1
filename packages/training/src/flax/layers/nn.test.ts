import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { nn as flaxNn, random, shapeOf, treeMapShapes } from '@normbridge/flax';
import { engineCases } from '../../test-support/engines.js';
import { Dense, relu } from './nn.js';

const cases = await engineCases();
const KEY = random.key(0);

describe('legacy flax.nn.Dense', () => {
  const engine = cases.find((c) => c.name === 'tfjs-cpu')!.engine;

  it('one auto-name counter shared by all unnamed children: Dense_0, BatchNorm_1, Dense_2', () => {
    const MLP = flaxNn.module('MLP', (_self, x: tf.Tensor, kw: { train: boolean }) => {
      x = Dense(x, { features: 4 });
      x = flaxNn.BatchNorm(x, { useRunningAverage: !kw.train });
      x = relu(x);
      return Dense(x, { features: 1 });
    });
    const [[y, params], state] = flaxNn.stateful(undefined, () => MLP.init(KEY, tf.ones([2, 3]), { train: true, engine }));
    expect(shapeOf(y)).toEqual([2, 1]);
    expect(treeMapShapes(params)).toEqual({
      BatchNorm_1: { bias: [4], scale: [4] },
      Dense_0: { bias: [4], kernel: [3, 4] },
      Dense_2: { bias: [1], kernel: [4, 1] },
    });
    expect(Object.keys(state.asDict())).toEqual(['/BatchNorm_1']);
  });
});
