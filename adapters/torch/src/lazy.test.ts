import { describe, expect, it } from 'vitest';
import { UnsupportedError, type HostTensor } from '@normbridge/core';
import { BatchNorm2d, BatchNorm3d, LazyBatchNorm1d, LazyBatchNorm2d, LazyBatchNorm3d } from './batchnorm.js';
import { expectClose, sequence, t64, X43 } from './test-support/engines.js';

const arr = (t: HostTensor | null) => Array.from(t!.data);

describe('LazyBatchNorm1d/2d/3d', () => {
  it('takes numFeatures from input.shape[1] at the first forward and becomes BatchNorm*d', () => {
    const bn = new LazyBatchNorm1d({ momentum: null });
    expect(bn.className).toBe('LazyBatchNorm1d');
    expect(bn.numFeatures).toBe(0);
    expect(bn.weight).toBeNull();
    expect(() => bn.stateDict()).toThrow(UnsupportedError);
    bn.forward(t64([4, 3], X43));
    expect(bn.className).toBe('BatchNorm1d');
    expect(bn.numFeatures).toBe(3);
    expectClose(arr(bn.runningMean), [1.75, 2.25, 4.5], 1e-12);
    expect(Object.keys(bn.stateDict())).toEqual(['weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked']);
  });

  it('behaves exactly as the eager class afterwards', () => {
    const data = sequence(2 * 3 * 2 * 2, 11);
    const lazy = new LazyBatchNorm2d();
    const eager = new BatchNorm2d(3);
    for (let k = 0; k < 3; k++) {
      expectClose(arr(lazy.forward(t64([2, 3, 2, 2], data))), arr(eager.forward(t64([2, 3, 2, 2], data))), 1e-12);
    }
    expect(() => lazy.forward(t64([2, 4, 2, 2], sequence(32, 1)))).toThrow('running_mean should contain 4 elements not 3');
  });

  it('materialises on a first call in eval mode too (running stats 0/1)', () => {
    const bn = new LazyBatchNorm3d().eval();
    const y = bn.forward(t64([1, 2, 1, 1, 2], [1, 2, 3, 4]));
    expectClose(arr(y), arr(new BatchNorm3d(2).eval().forward(t64([1, 2, 1, 1, 2], [1, 2, 3, 4]))), 1e-12);
    expect(bn.numFeatures).toBe(2);
  });
});
