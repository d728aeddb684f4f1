import { describe, expect, it } from 'vitest';
import { ValueError, initializers, nn, random, shapeOf, treeMapShapes, type Tree } from '../index.js';
import { engineCases, expectClose, upload, values, X43 } from '../test-support/engines.js';

const cases = await engineCases();
const KEY = random.key(0);

const ROW = {
  trainY0: [-0.50709139, -0.1005037, -0.65465305],
  mean: [0.0175, 0.0225, 0.045],
  var: [1.011875, 1.051875, 1.0425],
  evalY0: [0.97671303, 1.92811246, 2.89412557],
};

/** A legacy module whose apply calls BatchNorm once (auto-named BatchNorm_0). */
const Net = nn.module('Net', (_self, x: any, kw: { train?: boolean; batchStats?: nn.Collection; momentum?: number }) =>
  nn.BatchNorm(x, { useRunningAverage: !(kw.train ?? true), batchStats: kw.batchStats, momentum: kw.momentum }),
);

describe.each(cases)('legacy flax.nn.BatchNorm on $name', ({ engine, atol }) => {
  const tol = Math.max(atol, 1e-8);
  const x43 = () => upload(engine, [4, 3], X43);

  it('docs/semantics.md#worked-example through nn.stateful: init (no update), train, eval with mutable=False', () => {
    const [[, params], initState] = nn.stateful(undefined, () => Net.init(KEY, x43(), { train: true, engine }));
    expect(treeMapShapes(params)).toEqual({ BatchNorm_0: { bias: [3], scale: [3] } });
    expect(Object.keys(initState.asDict())).toEqual(['/BatchNorm_0']);
    expect(values(initState.asDict()['/BatchNorm_0']!['mean'])).toEqual([0, 0, 0]);
    expect(values(initState.asDict()['/BatchNorm_0']!['var'])).toEqual([1, 1, 1]);

    const [y, newState] = nn.stateful(initState, () => Net.call(params, x43(), { train: true, engine }));
    expectClose(values(y).slice(0, 3), ROW.trainY0, tol);
    expectClose(values(newState.get('/BatchNorm_0')!['mean']), ROW.mean, tol);
    expectClose(values(newState.get('/BatchNorm_0')!['var']), ROW.var, tol);
    // The state passed in is not modified (the context works on a mutable copy).
    expect(values(initState.get('/BatchNorm_0')!['mean'])).toEqual([0, 0, 0]);

    const model = new nn.Model(Net, params);
    const [yEval] = nn.stateful(newState, () => model.call(x43(), { train: false, engine }), { mutable: false });
    expectClose(values(yEval).slice(0, 3), ROW.evalY0, tol);
  });

  it('without state: training tracks nothing, eval raises (docs/semantics.md#flax-legacy)', () => {
    const [, params] = Net.init(KEY, x43(), { train: true, engine });
    const y = Net.call(params, x43(), { train: true, engine });
    expectClose(values(y).slice(0, 3), ROW.trainY0, tol);
    expect(() => Net.call(params, x43(), { train: false, engine })).toThrow(
      new ValueError('when use_running_averages is True either use a stateful context or provide batch_stats'),
    );
  });

  it('nn.stateful(state, mutable=False) in training fails when storing', () => {
    const [[, params], state] = nn.stateful(undefined, () => Net.init(KEY, x43(), { train: true, engine }));
    expect(() => nn.stateful(state, () => Net.call(params, x43(), { train: true, engine }), { mutable: false })).toThrow(
      new ValueError('Collection is not mutable. Use the `mutate` method to create a mutable copy.'),
    );
    // Initialising into an immutable collection fails as well.
    expect(() => nn.stateful(new nn.Collection(), () => Net.init(KEY, x43(), { train: true, engine }), { mutable: false })).toThrow(
      'Collection is not mutable.',
    );
  });

  it('an explicit batch_stats collection', () => {
    const [[, params], stats] = new nn.Collection().mutate((c) => Net.init(KEY, x43(), { train: true, engine, batchStats: c }));
    const [, updated] = stats.mutate((c) => Net.call(params, x43(), { train: true, engine, batchStats: c, momentum: 0.9 }));
    expectClose(values(updated.get('/BatchNorm_0')!['mean']), [0.175, 0.225, 0.45], tol);
  });
});

describe('legacy flax.nn modules', () => {
  const engine = cases.find((c) => c.tf)!.engine;

  // A test-only module standing in for model code (nn.Dense is tested in @normbridge/training):
  // params `kernel (in, features)` and `bias (features,)`, x passed through unchanged.
  const Params = nn.module('Params', (self, x: any, kw: { features: number }) => {
    self.param('kernel', [shapeOf(x).at(-1)!, kw.features], initializers.ones);
    self.param('bias', [kw.features], initializers.zeros);
    return x;
  });

  it('one auto-name counter shared by all unnamed children: Params_0, BatchNorm_1, Params_2', () => {
    const MLP = nn.module('MLP', (_self, x: any, kw: { train: boolean }) => {
      x = Params(x, { features: 4 });
      x = nn.BatchNorm(x, { useRunningAverage: !kw.train });
      return Params(x, { features: 1 });
    });
    const [[y, params], state] = nn.stateful(undefined, () => MLP.init(KEY, upload(engine, [2, 3], [1, 2, 3, 4, 5, 6]), { train: true, engine }));
    expect(shapeOf(y)).toEqual([2, 3]);
    expect(treeMapShapes(params)).toEqual({
      BatchNorm_1: { bias: [3], scale: [3] },
      Params_0: { bias: [4], kernel: [3, 4] },
      Params_2: { bias: [1], kernel: [3, 1] },
    });
    expect(Object.keys(state.asDict())).toEqual(['/BatchNorm_1']);
  });

  it('nested modules key state by path ("/block/bn"); params are nested', () => {
    const Block = nn.module('Block', (_self, x: any) => nn.BatchNorm(x, { name: 'bn' }));
    const Top = nn.module('Top', (_self, x: any) => Block(x, { name: 'block' }));
    const ref = cases[0]!.engine;
    const x = upload(ref, [4, 3], X43);
    const [[, params], state] = nn.stateful(undefined, () => Top.init(KEY, x, { engine: ref }));
    expect(Object.keys(state.asDict())).toEqual(['/block/bn']);
    expect(Object.keys((params as Tree)['block'] as Tree)).toEqual(['bn']);
    expect(() => Top.call({}, x, { engine: ref })).toThrow(new ValueError('No module named block was created during initialization.'));
  });
});
