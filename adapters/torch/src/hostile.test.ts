/** Issue 16, items 3, 7, 10 and 11: hostile values at the torch adapter's boundaries. */
import { describe, expect, it } from 'vitest';
import { ShapeError, SpecError, type HostTensor } from '@normbridge/core';
import { engineCases } from '@normbridge/testing-engines';
import { BatchNorm1d, BatchNorm2d, StateDictLoadError } from './index.js';

const f32 = (shape: number[], values: number[]): HostTensor => ({ shape, data: Float32Array.from(values), dtype: 'float32' });
const cases = await engineCases();

describe.each(cases)('torch adapter on $name', ({ engine }) => {
  const values = (t: unknown) => Array.from(engine.toHost(t as never).data);

  it('loadStateDict refuses a running_mean of shape [3] holding 2 values and changes nothing', () => {
    const bn = new BatchNorm1d(3, { engine });
    expect(() => bn.loadStateDict({ running_mean: f32([3], [1, 2]) }, { strict: false })).toThrow(StateDictLoadError);
    expect(() => bn.loadStateDict({ running_mean: f32([3], [1, 2]) }, { strict: false })).toThrow(/shape \[3\] \(3 values\) but holds 2 values/);
    expect(values(bn.runningMean)).toEqual([0, 0, 0]);
  });

  it('a [4, 3] input holding 6 values is a ShapeError and does not touch running_mean', () => {
    const bn = new BatchNorm1d(3, { engine });
    const x = f32([4, 3], [1, 2, 3, 4, 5, 6]);
    // The reference takes host tensors as they are (fromHost is the identity): hand it the raw one.
    expect(() => bn.forward(engine.name === 'reference-f64' ? (x as never) : engine.fromHost(x))).toThrow(ShapeError);
    expect(values(bn.runningMean)).toEqual([0, 0, 0]);
    expect(bn.numBatchesTracked).toBe(0);
  });

  it('counts a training call with the wrong channel count before raising, as PyTorch does', () => {
    const bn = new BatchNorm2d(3, { engine });
    bn.forward(engine.fromHost(f32([2, 3, 1, 1], [1, 2, 3, 4, 5, 6])));
    expect(bn.numBatchesTracked).toBe(1);
    expect(() => bn.forward(engine.fromHost(f32([2, 5, 2, 2], new Array(40).fill(1))))).toThrow(/running_mean should contain 5 elements not 3/);
    expect(bn.numBatchesTracked).toBe(2);
  });
});

describe('torch adapter limits and counters', () => {
  it('num_features above MAX_NUM_FEATURES is a SpecError, not an allocation', () => {
    expect(() => new BatchNorm1d(2_000_000_000)).toThrow(SpecError);
  });

  it('a counter above 2^53 - 1 is refused, not rounded to 1152921504606847000', () => {
    const bn = new BatchNorm1d(2);
    const counter = { shape: [], data: BigInt64Array.of((1n << 60n) + 1n), dtype: 'int64' as const };
    expect(() => bn.loadStateDict({ num_batches_tracked: counter }, { strict: false })).toThrow(/1152921504606846977 is beyond 2\^53 - 1/);
    expect(bn.numBatchesTracked).toBe(0);
  });
});
