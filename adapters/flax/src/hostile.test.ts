/** Issue 16, item 11: Flax state checks on every engine (typed, named, all-or-nothing). */
import { describe, expect, it } from 'vitest';
import { hostTensor, StateError } from '@normbridge/core';
import { values } from '@normbridge/testing';
import { engineCases } from '@normbridge/testing-engines';
import { linen, nnx, random, ValueError } from './index.js';

const cases = await engineCases();
const h = (shape: number[], v: number[]) => hostTensor(shape, Float32Array.from(v));

describe.each(cases)('Flax hostile state on $name', ({ engine }) => {
  const x = () => engine.fromHost(h([4, 3], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]));

  it('linen: a batch_stats.mean of the wrong size is a StateError naming the variable', () => {
    const bn = new linen.BatchNorm({ useRunningAverage: true });
    const vars = bn.init(random.key(0), x(), { engine });
    const bad = { ...vars, batch_stats: { ...vars['batch_stats'], mean: engine.fromHost(h([2], [0, 0])) } };
    expect(() => bn.apply(bad, x(), { engine })).toThrow(StateError);
    expect(() => bn.apply(bad, x(), { engine })).toThrow(/batch_stats\/mean" has shape \[2\]/);
  });

  it('linen and nnx: a NaN running variance in eval is a StateError, not NaN outputs', () => {
    const bn = new linen.BatchNorm({ useRunningAverage: true });
    const vars = bn.init(random.key(0), x(), { engine });
    const nanVar = { ...vars, batch_stats: { ...vars['batch_stats'], var: engine.fromHost(h([3], [NaN, 1, 1])) } };
    expect(() => bn.apply(nanVar, x(), { engine })).toThrow(StateError);
    const m = new nnx.BatchNorm(3, { rngs: new nnx.Rngs(0), engine, useRunningAverage: true });
    m.var.value = engine.fromHost(h([3], [NaN, 1, 1]));
    expect(() => m.call(x())).toThrow(/runningVar" holds NaN/);
  });

  it('linen and nnx vjp: a NaN running variance is the same StateError as in a call, not NaN gradients', async () => {
    const bn = new linen.BatchNorm({ useRunningAverage: true });
    const vars = bn.init(random.key(0), x(), { engine });
    const nanVar = { ...vars, batch_stats: { ...vars['batch_stats'], var: engine.fromHost(h([3], [NaN, 1, 1])) } };
    if (engine.synchronous) expect(() => bn.vjp(nanVar, x(), x(), { engine })).toThrow(/runningVar" holds NaN/);
    await expect(bn.vjpAsync(nanVar, x(), x(), { engine })).rejects.toThrow(StateError);
    const m = new nnx.BatchNorm(3, { rngs: new nnx.Rngs(0), engine, useRunningAverage: true });
    m.var.value = engine.fromHost(h([3], [NaN, 1, 1]));
    if (engine.synchronous) expect(() => m.vjp(x(), x())).toThrow(/runningVar" holds NaN/);
    await expect(m.vjpAsync(x(), x())).rejects.toThrow(StateError);
  });

  it('nnx.update with an unknown path changes nothing', () => {
    const m = new nnx.BatchNorm(3, { rngs: new nnx.Rngs(0), engine });
    const state = {
      mean: new nnx.VariableState('BatchStat', engine.fromHost(h([3], [5, 5, 5]))),
      zz_unknown: new nnx.VariableState('BatchStat', engine.fromHost(h([3], [1, 1, 1]))), // after "mean" in path order
    };
    expect(() => nnx.update(m, state as never)).toThrow(ValueError);
    expect(values(engine, m.mean.value)).toEqual([0, 0, 0]);
  });
});
