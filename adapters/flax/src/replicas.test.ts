import { describe, expect, it } from 'vitest';
import { UnboundAxisNameError, linen, nn, nnx, pmap, random, shapeOf, unreplicate, type Tree } from './index.js';
import { engineCases, expectClose, upload, values, X43 } from './test-support/engines.js';

const cases = await engineCases();
const KEY = random.key(0);

// Four replicas of 4 x 3 (one process, replicas stacked on axis 0).
const R = [X43, X43.map((v) => 2 * v - 1), X43.map((v, i) => v + (i % 3)), X43.map((v) => -v + 3)];

const stats = (vars: Tree, k: 'mean' | 'var') => values((vars as Record<string, Tree>)['batch_stats']![k]);

describe.each(cases)('cross-replica BatchNorm (axis_name, pmap emulation) on $name', ({ engine, atol }) => {
  const tol = Math.max(atol, 1e-8);
  const stacked = (rs: number[][]) => upload(engine, [rs.length, 4, 3], rs.flat());
  /** linen BatchNorm (momentum 0) trained on one plain batch: its running stats are the batch stats. */
  const plain = (rows: number[], n: number) => {
    const bn = new linen.BatchNorm({ momentum: 0, useRunningAverage: false });
    const x = upload(engine, [n, 3], rows);
    const [y, upd] = bn.apply(bn.init(KEY, x, { engine }), x, { mutable: ['batch_stats'], engine });
    return { y: values(y), mean: stats(upd, 'mean'), var: stats(upd, 'var') };
  };

  it('linen: equal replica sizes give the statistics of the whole batch, stacked per replica', () => {
    const bn = new linen.BatchNorm({ momentum: 0, useRunningAverage: false, axisName: 'batch' });
    const x = stacked(R.slice(0, 2));
    const vars = bn.init(KEY, upload(engine, [4, 3], X43), { engine }); // init outside pmap, as usual
    const step = pmap((xs: unknown) => bn.apply(vars, xs, { mutable: ['batch_stats'], engine }), { axisName: 'batch' });
    const [y, upd] = step(x);
    const whole = plain([...R[0]!, ...R[1]!], 8);
    expect(shapeOf(upd['batch_stats']!['mean'])).toEqual([2, 3]);
    expectClose(stats(upd, 'mean'), [...whole.mean, ...whole.mean], tol);
    expectClose(stats(upd, 'var'), [...whole.var, ...whole.var], tol);
    expectClose(values(y), whole.y, tol);
    expectClose(stats(unreplicate(upd), 'mean'), whole.mean, tol);
  });

  it('linen: an UNWEIGHTED mean of per-replica moments when masks make counts differ', () => {
    const bn = new linen.BatchNorm({ momentum: 0, useRunningAverage: false, axisName: 'batch', useFastVariance: true });
    const vars = bn.init(KEY, upload(engine, [4, 3], X43), { engine });
    const mask = upload(engine, [2, 4, 1], [1, 1, 1, 1, 0, 1, 0, 0]);
    const [, upd] = pmap((xs: unknown) => bn.apply(vars, xs, { mask, mutable: ['batch_stats'], engine }), { axisName: 'batch' })(
      stacked(R.slice(0, 2)),
    );
    const r0 = plain(R[0]!, 4);
    const r1 = plain(R[1]!.slice(3, 6), 1);
    // lax.pmean of [mean, mean(x²)]: each replica counts once, whatever its size.
    const mean = r0.mean.map((m, c) => (m + r1.mean[c]!) / 2);
    const mean2 = r0.mean.map((m, c) => (r0.var[c]! + m * m + r1.var[c]! + r1.mean[c]! ** 2) / 2);
    expectClose(stats(upd, 'mean').slice(0, 3), mean, tol);
    expectClose(stats(upd, 'var').slice(3), mean2.map((m2, c) => m2 - mean[c]! ** 2), tol * 10);
    // Count-weighted (PyTorch SyncBatchNorm) would differ: (4·m0 + m1) / 5.
    expect(Math.abs(stats(upd, 'mean')[0]! - (4 * r0.mean[0]! + r1.mean[0]!) / 5)).toBeGreaterThan(0.1);
  });

  it('linen: axisIndexGroups combine replicas within groups only', () => {
    const bn = new linen.BatchNorm({ momentum: 0, useRunningAverage: false, axisName: 'batch', axisIndexGroups: [[0, 1], [2, 3]] });
    const vars = bn.init(KEY, upload(engine, [4, 3], X43), { engine });
    const [y, upd] = pmap((xs: unknown) => bn.apply(vars, xs, { mutable: ['batch_stats'], engine }), { axisName: 'batch' })(stacked(R));
    const g0 = plain([...R[0]!, ...R[1]!], 8);
    const g1 = plain([...R[2]!, ...R[3]!], 8);
    expectClose(stats(upd, 'mean'), [...g0.mean, ...g0.mean, ...g1.mean, ...g1.mean], tol);
    expectClose(values(y), [...g0.y, ...g1.y], tol);
  });

  it('inside pmap a BatchNorm without axisName (or initialising) uses each replica alone', () => {
    const bn = new linen.BatchNorm({ momentum: 0, useRunningAverage: false });
    const vars = bn.init(KEY, upload(engine, [4, 3], X43), { engine });
    const [, upd] = pmap((xs: unknown) => bn.apply(vars, xs, { mutable: ['batch_stats'], engine }), { axisName: 'batch' })(stacked(R.slice(0, 2)));
    expectClose(stats(upd, 'mean'), [...plain(R[0]!, 4).mean, ...plain(R[1]!, 4).mean], tol);
    const synced = new linen.BatchNorm({ useRunningAverage: false, axisName: 'batch' });
    const [y] = pmap((xs: unknown) => synced.initWithOutput(KEY, xs, { engine }), { axisName: 'batch' })(stacked(R.slice(0, 2)));
    expectClose(values(y), [...plain(R[0]!, 4).y, ...plain(R[1]!, 4).y], tol);
  });

  it('nnx and flax.nn combine replicas the same way', () => {
    const whole = plain([...R[0]!, ...R[1]!], 8);
    const n = new nnx.BatchNorm(3, { momentum: 0, axisName: 'batch', rngs: new nnx.Rngs(0), engine });
    pmap((xs: unknown) => n.call(xs), { axisName: 'batch' })(stacked(R.slice(0, 2)));
    expectClose(values(n.mean.value), [...whole.mean, ...whole.mean], tol);
    const Net = nn.module('Net', (_self, xs: any) => nn.BatchNorm(xs, { momentum: 0, axisName: 'batch' }));
    const x = stacked(R.slice(0, 2));
    const [[, params], state] = nn.stateful(undefined, () => Net.init(KEY, upload(engine, [4, 3], X43), { engine }));
    const [, after] = nn.stateful(state, () => pmap(() => Net.call(params, x, { engine }), { axisName: 'batch' })());
    expectClose(values(after.get('/BatchNorm_0')!['var']), [...whole.var, ...whole.var], tol);
  });
});

describe('axis names must be bound', () => {
  const engine = cases[0]!.engine;
  const x = upload(engine, [4, 3], X43);

  it('training outside pmap raises NameError; init and eval do not use the axis', () => {
    const bn = new linen.BatchNorm({ axisName: 'batch' });
    const vars = bn.init(KEY, x, { useRunningAverage: false, engine });
    expect(() => bn.apply(vars, x, { useRunningAverage: false, mutable: ['batch_stats'], engine })).toThrow(new UnboundAxisNameError('batch'));
    expect(() => bn.apply(vars, x, { useRunningAverage: false, mutable: ['batch_stats'], engine })).toThrow('unbound axis name: batch');
    expect(shapeOf(bn.apply(vars, x, { useRunningAverage: true, engine }))).toEqual([4, 3]);
    const other = pmap((xs: unknown) => bn.apply(vars, xs, { useRunningAverage: false, mutable: ['batch_stats'], engine }), { axisName: 'devices' });
    expect(() => other(upload(engine, [2, 4, 3], [...X43, ...X43]))).toThrow(new UnboundAxisNameError('batch'));
    const n = new nnx.BatchNorm(3, { axisName: 'batch', rngs: new nnx.Rngs(0), engine });
    expect(() => n.call(x)).toThrow(UnboundAxisNameError);
  });
});
