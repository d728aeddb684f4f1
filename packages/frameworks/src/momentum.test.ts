import { SpecError } from '@normbridge/core';
import { describe, expect, it } from 'vitest';
import { convertMomentum, momentumIn, runningAverageFrom } from './momentum.js';

describe('the one momentum conversion', () => {
  it('reads a PyTorch/MLX momentum as the weight of the batch and a Flax/Keras one as the weight of the old value', () => {
    expect(runningAverageFrom(0.25, 'batch-weight')).toEqual({ kind: 'exponential', oldValueWeight: 0.75 });
    expect(runningAverageFrom(0.25, 'decay')).toEqual({ kind: 'exponential', oldValueWeight: 0.25 });
  });

  it('converts between conventions through the canonical average', () => {
    expect(convertMomentum(0.5, 'batch-weight', 'decay')).toBe(0.5);
    expect(convertMomentum(0.25, 'decay', 'batch-weight')).toBe(0.75);
    expect(convertMomentum(0.9, 'decay', 'decay')).toBe(0.9);
  });

  it("keeps PyTorch's cumulative average (null) in the batch-weight convention and refuses it as a decay", () => {
    expect(runningAverageFrom(null, 'batch-weight')).toEqual({ kind: 'cumulative' });
    expect(momentumIn({ kind: 'cumulative' }, 'batch-weight')).toBeNull();
    expect(() => runningAverageFrom(null, 'decay')).toThrow(SpecError);
    expect(() => momentumIn({ kind: 'cumulative' }, 'decay')).toThrow(SpecError);
  });

  it('names the field of a momentum outside [0, 1]', () => {
    expect(() => runningAverageFrom(1.5, 'decay', 'bn.momentum')).toThrow(/bn\.momentum/);
  });
});
