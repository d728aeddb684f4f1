import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import {
  ApplyScopeInvalidVariablesStructureError,
  InvalidRngError,
  ModifyScopeVariableError,
  NameInUseError,
  ScopeCollectionNotFound,
  ScopeParamNotFoundError,
  ScopeVariableNotFoundError,
  flattenDict,
  linen,
  random,
  treeMapShapes,
} from '@normbridge/flax';
import { engineCases, expectClose, values } from '../../test-support/engines.js';
import { Dense, relu } from './linen.js';

type NoArgs = linen.NoArgs;

const cases = await engineCases();
const engine = cases.find((c) => c.name === 'tfjs-cpu')!.engine;
const KEY = random.key(0);

class Block extends linen.Module<tf.Tensor, { train: boolean }, tf.Tensor> {
  call(scope: linen.Scope, x: tf.Tensor, { train }: { train: boolean } = { train: false }) {
    x = scope.child(new Dense({ features: 3 }))(x);
    return scope.child(new linen.BatchNorm<tf.Tensor>({ useRunningAverage: !train }))(x);
  }
}

class Net extends linen.Module<tf.Tensor, { train: boolean }, tf.Tensor> {
  constructor(readonly named = false) {
    super();
  }
  call(scope: linen.Scope, x: tf.Tensor, { train }: { train: boolean } = { train: false }) {
    x = scope.child(new Dense({ features: 4 }))(x);
    x = scope.child(new linen.BatchNorm<tf.Tensor>({ useRunningAverage: !train, name: this.named ? 'bn' : undefined }))(x);
    x = relu(x);
    x = scope.child(new Block())(x, { train });
    x = scope.child(new Dense({ features: 2 }))(x);
    return x;
  }
}

describe('linen.Dense in linen modules: names and variable trees', () => {
  const x = tf.ones([2, 3]);

  it('per-class counters: Dense_0, BatchNorm_0, Block_0, Dense_1; name overrides', () => {
    const vars = new Net().init(KEY, x, { train: false, engine });
    expect(Object.keys(flattenDict(vars, '/'))).toEqual([
      'batch_stats/BatchNorm_0/mean',
      'batch_stats/BatchNorm_0/var',
      'batch_stats/Block_0/BatchNorm_0/mean',
      'batch_stats/Block_0/BatchNorm_0/var',
      'params/BatchNorm_0/bias',
      'params/BatchNorm_0/scale',
      'params/Block_0/BatchNorm_0/bias',
      'params/Block_0/BatchNorm_0/scale',
      'params/Block_0/Dense_0/bias',
      'params/Block_0/Dense_0/kernel',
      'params/Dense_0/bias',
      'params/Dense_0/kernel',
      'params/Dense_1/bias',
      'params/Dense_1/kernel',
    ]);
    const named = new Net(true).init(KEY, x, { train: false, engine });
    expect(Object.keys(named['batch_stats']!)).toEqual(['bn', 'Block_0']);
    expect(treeMapShapes(named['params']!)['Dense_1']).toEqual({ bias: [2], kernel: [3, 2] });
  });

  it('init is deterministic in the key', () => {
    const a = new Net().init(KEY, x, { train: false, engine });
    const b = new Net().init(KEY, x, { train: false, engine });
    const c = new Net().init(random.key(1), x, { train: false, engine });
    const k = (v: typeof a) => values((v['params']!['Dense_0'] as Record<string, unknown>)['kernel']);
    expect(k(a)).toEqual(k(b));
    expect(k(a)).not.toEqual(k(c));
  });

  it('errors name the module path: /BatchNorm_0, /Block_0/BatchNorm_0', () => {
    const net = new Net();
    const vars = net.init(KEY, x, { train: false, engine });
    expect(() => net.apply(vars, x, { train: true, engine })).toThrow(
      'Cannot update variable "mean" in "/BatchNorm_0" because collection "batch_stats" is immutable.',
    );
    expect(() => net.apply({ params: vars['params']! }, x, { train: false, engine })).toThrow(
      new ScopeCollectionNotFound('batch_stats', 'mean', '/BatchNorm_0'),
    );
    const partial = { params: vars['params']!, batch_stats: { BatchNorm_0: vars['batch_stats']!['BatchNorm_0']! } };
    expect(() => net.apply(partial, x, { train: false, engine })).toThrow(new ScopeVariableNotFoundError('mean', 'batch_stats', '/Block_0/BatchNorm_0'));
    const noDense = { ...vars, params: { ...vars['params']!, Dense_1: {} } };
    expect(() => net.apply(noDense, x, { train: false, engine })).toThrow(new ScopeParamNotFoundError('kernel', '/Dense_1'));
    expect(() => net.apply({ params: vars }, x, { train: false, engine })).toThrow(ApplyScopeInvalidVariablesStructureError);
    expect(() => net.apply({}, x, { train: false, engine, mutable: true })).toThrow(new InvalidRngError('Dense_0 needs PRNG for "params"'));
    expect(ModifyScopeVariableError.name).toBe('ModifyScopeVariableError');
  });

  it('a training apply returns the whole batch_stats collection, updated', () => {
    const net = new Net();
    const vars = net.init(KEY, x, { train: false, engine });
    const xs = tf.tensor2d([1, 2, 3, -1, 0, 2, 4, 4, 1], [3, 3]);
    const [, updates] = net.apply(vars, xs, { train: true, engine, mutable: ['batch_stats'] });
    expect(Object.keys(updates)).toEqual(['batch_stats']);
    expect(treeMapShapes(updates)).toEqual(treeMapShapes({ batch_stats: vars['batch_stats']! }));
    expect(values((updates['batch_stats']!['BatchNorm_0'] as Record<string, unknown>)['mean'])).not.toEqual([0, 0, 0, 0]);
    // The caller's variables are not modified.
    expect(values((vars['batch_stats']!['BatchNorm_0'] as Record<string, unknown>)['mean'])).toEqual([0, 0, 0, 0]);
  });

  it('reusing one instance shares its name and variables; duplicate names raise NameInUseError', () => {
    class Twice extends linen.Module<tf.Tensor, NoArgs, tf.Tensor> {
      call(scope: linen.Scope, x: tf.Tensor) {
        const bn = new linen.BatchNorm<tf.Tensor>({ useRunningAverage: true });
        return scope.child(bn)(scope.child(bn)(x));
      }
    }
    const vars = new Twice().init(KEY, x, { engine });
    expect(Object.keys(vars['params']!)).toEqual(['BatchNorm_0']);
    const y = new Twice().apply(vars, tf.ones([1, 3]), { engine });
    expectClose(values(y), [1, 1, 1].map((v) => v / (1 + 1e-5)), 1e-6);
    class Clash extends linen.Module<tf.Tensor, NoArgs, tf.Tensor> {
      call(scope: linen.Scope, x: tf.Tensor) {
        x = scope.child(new Dense({ features: 3, name: 'same' }))(x);
        return scope.child(new Dense({ features: 3, name: 'same' }))(x);
      }
    }
    expect(() => new Clash().init(KEY, x, { engine })).toThrow(new NameInUseError('submodule', 'same', 'Clash'));
  });
});
