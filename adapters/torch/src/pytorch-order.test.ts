import { describe, expect, it } from 'vitest';
import { hostTensor } from '@normbridge/core';
import { BatchNorm1d, BatchNorm2d } from './index.js';

// Behaviours found by replaying real torch 1.13 fixtures (fixtures/torch/*).
describe('PyTorch call order and dtypes', () => {
  it('counts the call before raising "more than 1 value per channel" (num_batches_tracked += 1 runs first)', () => {
    const bn = new BatchNorm1d(3);
    expect(() => bn.forward(hostTensor([1, 3], [1, 2, 3]))).toThrow('Expected more than 1 value per channel when training');
    expect(bn.numBatchesTracked).toBe(1);
    bn.eval();
    bn.forward(hostTensor([1, 3], [1, 2, 3]));
    expect(bn.numBatchesTracked).toBe(1);
  });

  it('does not count a rejected rank (checked before the counter)', () => {
    const bn = new BatchNorm2d(3);
    expect(() => bn.forward(hostTensor([2, 3, 4], new Array(24).fill(1)))).toThrow('expected 4D input (got 3D input)');
    expect(bn.numBatchesTracked).toBe(0);
  });

  it('dtype float64 keeps parameters, buffers and the state dict in float64', () => {
    const bn = new BatchNorm1d(2, { dtype: 'float64' });
    bn.loadStateDict({ running_mean: hostTensor([2], [0.1, 1e-12 + 0.2], 'float64') }, { strict: false });
    const sd = bn.stateDict();
    expect(sd.running_mean!.dtype).toBe('float64');
    expect((sd.running_mean!.data as Float64Array)[1]).toBe(1e-12 + 0.2);
    expect(new BatchNorm1d(2).stateDict().weight!.dtype).toBe('float32');
  });
});
