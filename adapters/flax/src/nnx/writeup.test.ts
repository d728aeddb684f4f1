import { describe, expect, it } from 'vitest';
import { hostTensor, referenceEval, referenceTrain } from '@normbridge/core';
import { nnx, shapeOf } from '../index.js';
import { engineCases, expectClose, upload, values } from '../test-support/engines.js';

const cases = await engineCases();
// NHWC: N=2, H=2, W=3, C=3.
const DATA = Array.from({ length: 36 }, (_, i) => Math.cos(i * 0.7) * 2 + (i % 3) * 1.5 - 1);

describe.each(cases)("the write-up's NNX BatchNorm on $name", ({ engine, atol }) => {
  const tol = Math.max(atol, 1e-8);
  const x = () => upload(engine, [2, 2, 3, 3], DATA);

  it('keeps gamma/beta/moving_mean/moving_var of shape (1, 1, 1, C)', () => {
    const bn = new nnx.WriteupBatchNorm(3, { engine });
    expect(Object.keys(nnx.state(bn))).toEqual(['beta', 'gamma', 'moving_mean', 'moving_var']);
    expect(shapeOf(bn.gamma.value)).toEqual([1, 1, 1, 3]);
    const [, params, stats] = nnx.split(bn, nnx.Param, nnx.BatchStat);
    expect(Object.keys(params!)).toEqual(['beta', 'gamma']);
    expect(Object.keys(stats!)).toEqual(['moving_mean', 'moving_var']);
  });

  it('equals nnx.BatchNorm(C, momentum=0.9, use_fast_variance=False), in training and after .eval()', () => {
    const mine = new nnx.WriteupBatchNorm(3, { engine });
    const flax = new nnx.BatchNorm(3, { rngs: new nnx.Rngs(0), momentum: 0.9, useFastVariance: false, engine });
    for (let step = 0; step < 2; step++) {
      expectClose(values(mine.call(x())), values(flax.call(x())), tol);
    }
    expectClose(values(mine.moving_mean.value), values(flax.mean.value), tol);
    expectClose(values(mine.moving_var.value), values(flax.var.value), tol);
    expect(shapeOf(mine.moving_var.value)).toEqual([1, 1, 1, 3]);
    mine.eval();
    flax.eval();
    expect(mine.useRunningAverage).toBe(true);
    expectClose(values(mine.call(x())), values(flax.call(x())), tol);
  });

  it('agrees with the float64 reference for its spec', () => {
    const bn = new nnx.WriteupBatchNorm(3, { engine });
    const spec = nnx.writeupSpec();
    expect(spec.runningAverage).toEqual({ kind: 'exponential', oldValueWeight: 0.9 });
    expect(spec.varianceAlgorithm).toBe('two-pass');
    const hx = hostTensor([2, 2, 3, 3], Float64Array.from(DATA));
    const f = (v: number) => hostTensor([3], Float64Array.from([v, v, v]));
    const state = { scale: f(1), bias: f(0), runningMean: f(0), runningVar: f(1), numBatchesTracked: 0 };
    const out = referenceTrain(spec, state, hx);
    expectClose(values(bn.call(x())), Array.from(out.y.data), tol);
    expectClose(values(bn.moving_mean.value), Array.from(out.state.runningMean!.data), tol);
    bn.eval();
    expectClose(values(bn.call(x())), Array.from(referenceEval(spec, out.state, hx).data), tol);
  });
});
