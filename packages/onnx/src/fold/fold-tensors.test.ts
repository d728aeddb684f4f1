import { defineSpec, hostTensor, ShapeError, SpecError, StateError, type HostState } from '@normbridge/core';
import { describe, expect, it } from 'vitest';
import { foldBatchNormIntoConv, foldBatchNormIntoGemm } from './fold-tensors.js';

// s = scale / sqrt(var + eps) = [1 / 2, 2 / 1], t = B - mean · s = [0.5 - 0.5, 0 - 4]
const spec = defineSpec({ featureAxes: [1], epsilon: 1 });
const state: HostState = {
  scale: hostTensor([2], [1, 2]),
  bias: hostTensor([2], [0.5, 0]),
  runningMean: hostTensor([2], [1, 2]),
  runningVar: hostTensor([2], [3, 0]),
  numBatchesTracked: 0,
};

describe('foldBatchNormIntoConv', () => {
  it('scales each output channel and shifts the bias', () => {
    const w = hostTensor([2, 1, 1, 2], [2, 4, 3, 5]);
    const out = foldBatchNormIntoConv({ weight: w, bias: hostTensor([2], [1, -1]) }, spec, state);
    expect(Array.from(out.weight.data)).toEqual([1, 2, 6, 10]);
    expect(Array.from(out.bias.data)).toEqual([0.5, -6]);
    expect(out.weight.dtype).toBe('float32');
    // No bias: treated as zero.
    expect(Array.from(foldBatchNormIntoConv({ weight: w }, spec, state).bias.data)).toEqual([0, -4]);
  });

  it('keeps float64 weights float64', () => {
    const w = hostTensor([2, 1, 1], [2, 3], 'float64');
    expect(foldBatchNormIntoConv({ weight: w }, spec, state).weight.data).toBeInstanceOf(Float64Array);
  });

  it('typed errors: batch statistics, mis-shaped state or weight', () => {
    const w = hostTensor([2, 1, 1], [2, 3]);
    expect(() => foldBatchNormIntoConv({ weight: w }, defineSpec({ evalStatistics: 'batch' }), state)).toThrow(SpecError);
    expect(() => foldBatchNormIntoConv({ weight: hostTensor([3, 1, 1], [1, 2, 3]) }, spec, state)).toThrow(StateError);
    expect(() => foldBatchNormIntoConv({ weight: hostTensor([2, 1], [1, 2]) }, spec, state)).toThrow(ShapeError);
  });
});

describe('foldBatchNormIntoGemm', () => {
  it('transB = 0 scales columns of B [K, N]; beta is absorbed', () => {
    const w = hostTensor([3, 2], [1, 1, 2, 2, 3, 3]);
    const out = foldBatchNormIntoGemm({ weight: w, bias: hostTensor([2], [2, 1]), beta: 0.5 }, spec, state);
    expect(Array.from(out.weight.data)).toEqual([0.5, 2, 1, 4, 1.5, 6]);
    // (0.5·2)·0.5 + 0 = 0.5; (0.5·1)·2 - 4 = -3
    expect(Array.from(out.bias.data)).toEqual([0.5, -3]);
  });

  it('transB = 1 scales rows of B [N, K]; a scalar C broadcasts', () => {
    const w = hostTensor([2, 3], [1, 2, 3, 1, 2, 3]);
    const out = foldBatchNormIntoGemm({ weight: w, bias: hostTensor([], [2]), transB: true }, spec, state);
    expect(Array.from(out.weight.data)).toEqual([0.5, 1, 1.5, 2, 4, 6]);
    expect(Array.from(out.bias.data)).toEqual([1, 0]);
  });

  it('rejects a per-row C', () => {
    expect(() => foldBatchNormIntoGemm({ weight: hostTensor([3, 2], [1, 1, 1, 1, 1, 1]), bias: hostTensor([3, 2], [1, 1, 1, 1, 1, 1]) }, spec, state)).toThrow(ShapeError);
  });
});
