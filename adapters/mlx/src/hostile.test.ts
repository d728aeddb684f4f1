/** Issue 16, item 10: MLX loadWeights checks host tensors against their shapes. */
import { describe, expect, it } from 'vitest';
import { StateError, type HostTensor } from '@normbridge/core';
import { engineCases } from '@normbridge/testing-engines';
import { BatchNorm, Module } from './index.js';

const f32 = (shape: number[], v: number[]): HostTensor => ({ shape, data: Float32Array.from(v), dtype: 'float32' });
const cases = await engineCases();

describe.each(cases)('MLX loadWeights on $name', ({ engine }) => {
  it('refuses a running_mean of shape [3] holding 2 values; nothing changes', () => {
    const m = new Module({ bn: new BatchNorm(3, { engine }) });
    expect(() => m.loadWeights([['bn.running_mean', f32([3], [1, 2])]], false)).toThrow(StateError);
    const saved = new Map(m.saveWeights());
    expect(Array.from(saved.get('bn.running_mean')!.data)).toEqual([0, 0, 0]);
  });
});
