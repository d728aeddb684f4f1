/** Issue 16, item 10: Keras setWeights checks host tensors against their shapes. */
import { describe, expect, it } from 'vitest';
import { StateError, type HostTensor } from '@normbridge/core';
import { engineCases } from '@normbridge/testing-engines';
import { BatchNormalization } from './index.js';

const f32 = (shape: number[], v: number[]): HostTensor => ({ shape, data: Float32Array.from(v), dtype: 'float32' });
const cases = await engineCases();

describe.each(cases)('Keras setWeights on $name', ({ engine }) => {
  it('refuses a moving_mean of shape [3] holding 2 values; nothing changes', () => {
    const bn = new BatchNormalization({ engine });
    bn.build([null, 3]);
    const before = bn.getWeights().map((w) => Array.from(w.data));
    const bad = [f32([3], [1, 1, 1]), f32([3], [0, 0, 0]), f32([3], [5, 5]), f32([3], [1, 1, 1])];
    expect(() => bn.setWeights(bad)).toThrow(StateError);
    expect(bn.getWeights().map((w) => Array.from(w.data))).toEqual(before);
  });
});
