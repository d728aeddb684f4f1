/** Issue 16, item 10: host tensors are checked against their shapes where they enter an engine. */
import { describe, expect, it } from 'vitest';
import { createReferenceEngine } from './host-engine.js';
import { checkFeatureCountLimit, checkStateValues } from './layout.js';
import { MAX_NUM_FEATURES } from './limits.js';
import { defineSpec } from './spec.js';
import { ShapeError, SpecError, StateError } from './errors.js';
import { hostTensorProblem } from './tensor.js';

const t = (shape: number[], values: number[]) => ({ shape, data: Float64Array.from(values), dtype: 'float64' as const });

describe('host tensors', () => {
  it('hostTensorProblem names a short buffer, a bad dimension, an oversized shape and a wrong data type', () => {
    expect(hostTensorProblem(t([3], [1, 2, 3]))).toBeUndefined();
    expect(hostTensorProblem(t([3], [1, 2]))).toMatch(/has shape \[3\] \(3 values\) but holds 2 values/);
    expect(hostTensorProblem(t([-1], []))).toMatch(/dimension 0 = -1/);
    expect(hostTensorProblem(t([2 ** 40, 2 ** 40, 0], []))).toMatch(/exceeds 2\^53 - 1/);
    expect(hostTensorProblem({ shape: [1], data: [1] })).toMatch(/not a Float32Array or Float64Array/);
  });

  it('a running mean of shape [3] with 2 values is a StateError, not NaN in eval', () => {
    expect(() => checkStateValues({ runningMean: t([3], [0, 0]), runningVar: t([3], [1, 1, 1]), numBatchesTracked: 0 })).toThrow(StateError);
    expect(() => checkStateValues({ runningMean: t([3], [0, 0]), numBatchesTracked: 0 })).toThrow(/"runningMean" has shape \[3\] \(3 values\) but holds 2 values/);
  });

  it('a [4, 3] input with 6 values is a ShapeError on the reference engine, and the state is untouched', () => {
    const engine = createReferenceEngine();
    const spec = defineSpec({ featureAxes: [1] });
    const state = { scale: t([3], [1, 1, 1]), bias: t([3], [0, 0, 0]), runningMean: t([3], [0, 0, 0]), runningVar: t([3], [1, 1, 1]), numBatchesTracked: 0 };
    expect(() => engine.train(spec, state, t([4, 3], [1, 2, 3, 4, 5, 6]))).toThrow(ShapeError);
    expect(() => engine.fromHost(t([4, 3], [1, 2, 3, 4, 5, 6]))).toThrow(/holds 6 values/);
    expect(Array.from(state.runningMean.data)).toEqual([0, 0, 0]);
  });

  it('a feature count above MAX_NUM_FEATURES is refused before anything is allocated', () => {
    expect(() => checkFeatureCountLimit('num_features', 2_000_000_000)).toThrow(SpecError);
    expect(() => checkFeatureCountLimit('num_features', MAX_NUM_FEATURES)).not.toThrow();
  });
});
