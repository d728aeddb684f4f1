import { describe, expect, it } from 'vitest';
import {
  ApplyScopeInvalidVariablesStructureError,
  InvalidRngError,
  ModifyScopeVariableError,
  NameInUseError,
  ScopeCollectionNotFound,
  ScopeParamNotFoundError,
  ScopeParamShapeError,
  ScopeVariableNotFoundError,
  flattenDict,
  initializers,
  linen,
  random,
  shapeOf,
  treeMapShapes,
} from '../index.js';
import { engineCases, expectClose, upload, values } from '../test-support/engines.js';
import type { NoArgs } from './module.js';

// The Module system on its own: naming, scopes, collections, errors. A test-only module stands in
// for model code (Dense, with its maths, is tested in @normbridge/training): it creates a
// `kernel (in, features)` and a `bias (features,)` param and passes x through unchanged.
class Params extends linen.Module<any, NoArgs, any> {
  static readonly flaxName = 'Params';
  constructor(
    readonly features: number,
    name?: string,
  ) {
    super({ name });
  }
  call(scope: linen.Scope, x: any): any {
    const inFeatures = shapeOf(x).at(-1)!;
    scope.param('kernel', initializers.ones, [inFeatures, this.features], 'float32');
    scope.param('bias', initializers.zeros, [this.features], 'float32');
    return x;
  }
}

class Block extends linen.Module<any, { train: boolean }, any> {
  call(scope: linen.Scope, x: any, { train }: { train: boolean } = { train: false }) {
    x = scope.child(new Params(3))(x);
    return scope.child(new linen.BatchNorm<any>({ useRunningAverage: !train }))(x);
  }
}

class Net extends linen.Module<any, { train: boolean }, any> {
  constructor(readonly named = false) {
    super();
  }
  call(scope: linen.Scope, x: any, { train }: { train: boolean } = { train: false }) {
    x = scope.child(new Params(4))(x);
    x = scope.child(new linen.BatchNorm<any>({ useRunningAverage: !train, name: this.named ? 'bn' : undefined }))(x);
    x = scope.child(new Block())(x, { train });
    x = scope.child(new Params(2))(x);
    return x;
  }
}

const KEY = random.key(0);
const cases = (await engineCases()).filter((c) => c.name === 'reference-f64' || c.name === 'tfjs-cpu');

describe.each(cases)('linen modules: names and variable trees ($name)', ({ engine }) => {
  const x = upload(engine, [2, 3], [1, 1, 1, 1, 1, 1]);

  it('per-class counters: Params_0, BatchNorm_0, Block_0, Params_1; name overrides', () => {
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
      'params/Block_0/Params_0/bias',
      'params/Block_0/Params_0/kernel',
      'params/Params_0/bias',
      'params/Params_0/kernel',
      'params/Params_1/bias',
      'params/Params_1/kernel',
    ]);
    expect(treeMapShapes(vars['params']!)['Params_1']).toEqual({ bias: [2], kernel: [3, 2] });
    expect(values((vars['params']!['Params_0'] as Record<string, unknown>)['kernel'])).toEqual(new Array(12).fill(1));
    const named = new Net(true).init(KEY, x, { train: false, engine });
    expect(Object.keys(named['batch_stats']!)).toEqual(['bn', 'Block_0']);
  });

  it('errors name the module path: /BatchNorm_0, /Block_0/BatchNorm_0, /Params_1', () => {
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
    const noParams = { ...vars, params: { ...vars['params']!, Params_1: {} } };
    expect(() => net.apply(noParams, x, { train: false, engine })).toThrow(new ScopeParamNotFoundError('kernel', '/Params_1'));
    const wrongShape = { ...vars, params: { ...vars['params']!, Params_1: { ...(vars['params']!['Params_0'] as object) } } };
    expect(() => net.apply(wrongShape, x, { train: false, engine })).toThrow(ScopeParamShapeError);
    expect(() => net.apply({ params: vars }, x, { train: false, engine })).toThrow(ApplyScopeInvalidVariablesStructureError);
    expect(() => net.apply({}, x, { train: false, engine, mutable: true })).toThrow(new InvalidRngError('Params_0 needs PRNG for "params"'));
    expect(ModifyScopeVariableError.name).toBe('ModifyScopeVariableError');
  });

  it('a training apply returns the whole batch_stats collection, updated', () => {
    const net = new Net();
    const vars = net.init(KEY, x, { train: false, engine });
    const xs = upload(engine, [3, 3], [1, 2, 3, -1, 0, 2, 4, 4, 1]);
    const [, updates] = net.apply(vars, xs, { train: true, engine, mutable: ['batch_stats'] });
    expect(Object.keys(updates)).toEqual(['batch_stats']);
    expect(treeMapShapes(updates)).toEqual(treeMapShapes({ batch_stats: vars['batch_stats']! }));
    expect(values((updates['batch_stats']!['BatchNorm_0'] as Record<string, unknown>)['mean'])).not.toEqual([0, 0, 0]);
    // The caller's variables are not modified.
    expect(values((vars['batch_stats']!['BatchNorm_0'] as Record<string, unknown>)['mean'])).toEqual([0, 0, 0]);
  });

  it('reusing one instance shares its name and variables; duplicate names raise NameInUseError', () => {
    class Twice extends linen.Module<any, NoArgs, any> {
      call(scope: linen.Scope, x: any) {
        const bn = new linen.BatchNorm<any>({ useRunningAverage: true });
        return scope.child(bn)(scope.child(bn)(x));
      }
    }
    const vars = new Twice().init(KEY, x, { engine });
    expect(Object.keys(vars['params']!)).toEqual(['BatchNorm_0']);
    const y = new Twice().apply(vars, upload(engine, [1, 3], [1, 1, 1]), { engine });
    expectClose(values(y), [1, 1, 1].map((v) => v / (1 + 1e-5)), 1e-6);
    class Clash extends linen.Module<any, NoArgs, any> {
      call(scope: linen.Scope, x: any) {
        x = scope.child(new Params(3, 'same'))(x);
        return scope.child(new Params(3, 'same'))(x);
      }
    }
    expect(() => new Clash().init(KEY, x, { engine })).toThrow(new NameInUseError('submodule', 'same', 'Clash'));
  });
});
