import { describe, expect, it } from 'vitest';
import { defineSpec, initialState, referenceTrain, UnsupportedError, type HostTensor } from '@normbridge/core';
import { TorchTypeError } from './errors.js';
import { batchNorm, batchNormAsync } from './functional.js';
import { asyncReference, expectClose, reference, t64, X43 } from './test-support/engines.js';

const arr = (t: HostTensor | undefined) => Array.from(t!.data);
const x = t64([4, 3], X43);
const zeros = () => t64([3], [0, 0, 0]);
const ones = () => t64([3], [1, 1, 1]);

describe('batchNorm (F.batch_norm)', () => {
  it('docs/semantics.md#worked-example PyTorch row: training returns the updated buffers; eval uses them', () => {
    const rm = zeros();
    const rv = ones();
    const r = batchNorm(x, rm, rv, { training: true });
    expectClose(arr(r.output).slice(0, 3), [-0.50709139, -0.1005037, -0.65465305], 1e-7);
    expectClose(arr(r.runningMean), [0.175, 0.225, 0.45], 1e-12);
    expectClose(arr(r.runningVar), [1.19166667, 1.725, 1.6], 1e-7);
    expect(arr(rm)).toEqual([0, 0, 0]); // inputs untouched
    expect(arr(rv)).toEqual([1, 1, 1]);
    const e = batchNorm(x, r.runningMean, r.runningVar);
    expectClose(arr(e.output).slice(0, 3), [0.75574404, 1.35145799, 2.01594571], 1e-7);
    expect(e.runningMean).toBeUndefined();
  });

  it('training without buffers: batch statistics, nothing returned but the output', () => {
    const r = batchNorm(x, null, null, { training: true });
    expectClose(arr(r.output).slice(0, 3), [-0.50709139, -0.1005037, -0.65465305], 1e-7);
    expect(Object.keys(r)).toEqual(['output']);
  });

  it('only running_mean given: only it is updated, as the kernel does', () => {
    const r = batchNorm(x, zeros(), null, { training: true, momentum: 0.5 });
    expectClose(arr(r.runningMean), [0.875, 1.125, 2.25], 1e-12);
    expect(r.runningVar).toBeUndefined();
  });

  it('weight, bias, momentum and eps reach the spec', () => {
    const weight = t64([3], [2, 0.5, -1]);
    const bias = t64([3], [1, 2, 3]);
    const r = batchNorm(x, zeros(), ones(), { training: true, weight, bias, momentum: 0.25, eps: 1e-3 });
    const spec = defineSpec({
      featureAxes: [1],
      epsilon: 1e-3,
      runningAverage: { kind: 'exponential', oldValueWeight: 0.75 },
      runningVarianceEstimator: 'unbiased',
    });
    const out = referenceTrain(spec, { ...initialState(spec, [3], 'float64'), scale: weight, bias }, x);
    expectClose(arr(r.output), arr(out.y), 1e-12);
    expectClose(arr(r.runningVar), arr(out.state.runningVar), 1e-12);
  });

  it('an empty input returns an empty output before any buffer check, as ATen does', () => {
    expect(batchNorm(t64([0, 3], []), null, null).output.shape).toEqual([0, 3]);
    expect(Object.keys(batchNorm(t64([0, 3], []), zeros(), ones(), { training: true }))).toEqual(['output']);
  });

  it('momentum must be a number (F.batch_norm has no None form)', () => {
    expect(() => batchNorm(x, zeros(), ones(), { momentum: null as unknown as number })).toThrow(TorchTypeError);
  });

  it('stand-ins for a missing buffer are disposed; the caller\'s tensors never are', () => {
    const disposed: unknown[] = [];
    const engine = { ...reference, dispose: (...t: unknown[]) => disposed.push(...t.filter((v) => v !== undefined)) };
    const rm = zeros();
    const r = batchNorm(x, rm, null, { training: true, engine });
    expect(disposed).not.toContain(rm);
    expect(disposed).not.toContain(r.runningMean);
    expect(disposed.length).toBe(4); // batch mean, batch var, the var stand-in and its update
  });

  it('batchNormAsync runs on an asynchronous engine; batchNorm refuses it', async () => {
    const engine = asyncReference();
    expect(() => batchNorm(x, zeros(), ones(), { engine })).toThrow(UnsupportedError);
    const r = await batchNormAsync(x, zeros(), ones(), { training: true, engine });
    expectClose(arr(r.runningVar), [1.19166667, 1.725, 1.6], 1e-7);
  });
});
