import { describe, expect, it } from 'vitest';
import {
  defineSpec,
  initialState,
  referenceEval,
  referenceTrain,
  UnsupportedError,
  type BatchNormSpecInput,
  type HostState,
  type HostTensor,
} from '@normbridge/core';
import { BatchNorm1d, BatchNorm2d, BatchNorm3d } from './batchnorm.js';
import { TorchValueError } from './errors.js';
import { asyncReference, expectClose, reference, sequence, t64, values, X43 } from './test-support/engines.js';

const arr = (t: HostTensor | null) => Array.from(t!.data);

// docs/semantics.md#worked-example, PyTorch rows (its input, fresh layer, one training step, then eval).
const TORCH_TRAIN_Y0 = [-0.50709139, -0.1005037, -0.65465305];
const TORCH_RUNNING_MEAN = [0.175, 0.225, 0.45];
const TORCH_RUNNING_VAR = [1.19166667, 1.725, 1.6];
const TORCH_EVAL_Y0 = [0.75574404, 1.35145799, 2.01594571];
const NONE_RUNNING_MEAN = [1.75, 2.25, 4.5];
const NONE_RUNNING_VAR = [2.9166667, 8.25, 7];

describe('docs/semantics.md#worked-example, PyTorch rows', () => {
  const cases = [
    ['BatchNorm1d', () => new BatchNorm1d(3), [4, 3]],
    ['BatchNorm2d', () => new BatchNorm2d(3), [4, 3, 1, 1]],
    ['BatchNorm3d', () => new BatchNorm3d(3), [4, 3, 1, 1, 1]],
  ] as const;

  it.each(cases)('%s defaults (momentum 0.1, eps 1e-5)', (_name, make, shape) => {
    const bn = make();
    expect(bn.training).toBe(true);
    const y = bn.forward(t64(shape, X43));
    expectClose(arr(y).slice(0, 3), TORCH_TRAIN_Y0, 1e-7);
    expectClose(arr(bn.runningMean), TORCH_RUNNING_MEAN, 1e-12);
    expectClose(arr(bn.runningVar), TORCH_RUNNING_VAR, 1e-7);
    expect(bn.numBatchesTracked).toBe(1);
    bn.eval();
    expectClose(arr(bn.forward(t64(shape, X43))).slice(0, 3), TORCH_EVAL_Y0, 1e-7);
    expect(bn.numBatchesTracked).toBe(1);
  });

  it.each(cases)('%s momentum=None: one step replaces the initial buffers', (_name, make, shape) => {
    const bn = make();
    bn.momentum = null;
    const y = bn.forward(t64(shape, X43));
    expectClose(arr(y).slice(0, 3), TORCH_TRAIN_Y0, 1e-7);
    expectClose(arr(bn.runningMean), NONE_RUNNING_MEAN, 1e-12);
    expectClose(arr(bn.runningVar), NONE_RUNNING_VAR, 1e-7);
  });
});

/** PyTorch's behaviour written directly as a canonical spec, independently of the adapter. */
const TORCH_SPEC = (over: BatchNormSpecInput = {}) =>
  defineSpec({
    featureAxes: [1],
    epsilon: 1e-5,
    runningAverage: { kind: 'exponential', oldValueWeight: 0.9 },
    runningVarianceEstimator: 'unbiased',
    varianceAlgorithm: 'two-pass',
    singleValuePerChannel: 'error',
    runningUpdateForm: 'blend',
    ...over,
  });

describe('multi-step trajectories match the float64 reference', () => {
  const shape = [2, 3, 2, 2];
  const batches = Array.from({ length: 6 }, (_, k) => t64(shape, sequence(24, 17 + k)));

  it.each([
    ['momentum 0.1', 0.1, TORCH_SPEC()],
    ['momentum 0.3', 0.3, TORCH_SPEC({ runningAverage: { kind: 'exponential', oldValueWeight: 0.7 } })],
    ['momentum None', null, TORCH_SPEC({ runningAverage: { kind: 'cumulative' } })],
  ] as const)('%s, train and eval interleaved', (_name, momentum, spec) => {
    const bn = new BatchNorm2d(3, { momentum });
    let state: HostState = initialState(spec, [3], 'float32');
    for (const [k, x] of batches.entries()) {
      bn.train();
      const out = referenceTrain(spec, state, x);
      state = out.state;
      expectClose(arr(bn.forward(x)), arr(out.y), 1e-12);
      expectClose(arr(bn.runningMean), arr(state.runningMean!), 1e-12);
      expectClose(arr(bn.runningVar), arr(state.runningVar!), 1e-12);
      expect(bn.numBatchesTracked).toBe(k + 1);
      bn.eval();
      expectClose(arr(bn.forward(x)), arr(referenceEval(spec, state, x)), 1e-12);
    }
  });

  it('momentum None is the plain average of every batch statistic (unbiased variance)', () => {
    const bn = new BatchNorm2d(3, { momentum: null });
    const spec = TORCH_SPEC({ runningAverage: { kind: 'none' } });
    const means: number[][] = [];
    const vars: number[][] = [];
    for (const x of batches) {
      const out = referenceTrain(spec, initialState(spec, [3], 'float64'), x);
      means.push(arr(out.batchMean));
      vars.push(arr(out.batchVar).map((v) => (v * 8) / 7)); // n = 8 per channel
      bn.forward(x);
    }
    const avg = (rows: number[][]) => rows[0]!.map((_, c) => rows.reduce((s, r) => s + r[c]!, 0) / rows.length);
    expectClose(arr(bn.runningMean), avg(means), 1e-12);
    expectClose(arr(bn.runningVar), avg(vars), 1e-12);
  });
});

describe('running statistics and the counter', () => {
  const x = t64([4, 3], X43);

  it('num_batches_tracked counts every training call while tracking, whatever the momentum; eval never', () => {
    for (const momentum of [0.1, 0, 1, null]) {
      const bn = new BatchNorm1d(3, { momentum });
      bn.forward(x);
      bn.forward(x);
      bn.eval().forward(x);
      expect(bn.numBatchesTracked).toBe(2);
    }
  });

  it('track_running_stats=False at construction: no buffers, eval uses batch statistics', () => {
    const bn = new BatchNorm1d(3, { trackRunningStats: false });
    expect(bn.runningMean).toBeNull();
    expect(bn.runningVar).toBeNull();
    expect(bn.numBatchesTracked).toBeNull();
    const yTrain = arr(bn.forward(x));
    expectClose(yTrain.slice(0, 3), TORCH_TRAIN_Y0, 1e-7);
    expect(arr(bn.eval().forward(x))).toEqual(yTrain);
    expect(Object.keys(bn.stateDict())).toEqual(['weight', 'bias']);
  });

  it('module.trackRunningStats = false later: buffers stay, training neither updates nor counts, eval uses them', () => {
    const bn = new BatchNorm1d(3);
    bn.forward(x);
    bn.trackRunningStats = false;
    const mean = arr(bn.runningMean);
    const yTrain = arr(bn.forward(x));
    expectClose(yTrain.slice(0, 3), TORCH_TRAIN_Y0, 1e-7); // batch statistics
    expect(arr(bn.runningMean)).toEqual(mean);
    expect(bn.numBatchesTracked).toBe(1);
    expectClose(arr(bn.eval().forward(x)).slice(0, 3), TORCH_EVAL_Y0, 1e-7); // the buffers
    expect(Object.keys(bn.stateDict())).toEqual(['weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked']);
  });

  it('module.trackRunningStats = true on a module built without buffers changes nothing', () => {
    const bn = new BatchNorm1d(3, { trackRunningStats: false });
    bn.trackRunningStats = true;
    const y = arr(bn.forward(x));
    expect(bn.numBatchesTracked).toBeNull();
    expect(arr(bn.eval().forward(x))).toEqual(y);
  });

  it('affine=False: no weight/bias, output equals the affine output at init', () => {
    const bn = new BatchNorm1d(3, { affine: false });
    expect(bn.weight).toBeNull();
    expect(bn.bias).toBeNull();
    expectClose(arr(bn.forward(x)).slice(0, 3), TORCH_TRAIN_Y0, 1e-7);
    expect(Object.keys(bn.stateDict({ prefix: 'bn.' }))).toEqual(['bn.running_mean', 'bn.running_var', 'bn.num_batches_tracked']);
  });

  it('eps and momentum may be changed between calls, as attributes in PyTorch', () => {
    // torch 1.13's profile: torch 2 refuses eps = 0 in training (version.test.ts).
    const bn = new BatchNorm1d(3, { version: '1.13' });
    bn.momentum = 1;
    bn.eps = 0;
    bn.forward(x);
    expectClose(arr(bn.runningMean), NONE_RUNNING_MEAN, 1e-12);
    expectClose(arr(bn.runningVar), NONE_RUNNING_VAR, 1e-7);
    const spec = TORCH_SPEC({ epsilon: 0, runningAverage: { kind: 'exponential', oldValueWeight: 0 } });
    expectClose(arr(bn.forward(x)), arr(referenceTrain(spec, initialState(spec, [3]), x).y), 1e-12);
  });

  it('an empty input: empty output, buffers untouched, the call still counted (as PyTorch)', () => {
    const bn = new BatchNorm2d(3);
    const y = bn.forward(t64([0, 3, 2, 2], []));
    expect(y.shape).toEqual([0, 3, 2, 2]);
    expect(arr(bn.runningMean)).toEqual([0, 0, 0]);
    expect(bn.numBatchesTracked).toBe(1);
    bn.eval().forward(t64([0, 3, 2, 2], []));
    expect(bn.numBatchesTracked).toBe(1);
  });

  it('resetRunningStats / resetParameters restore the initial values', () => {
    const bn = new BatchNorm1d(3);
    bn.forward(x);
    bn.resetRunningStats();
    expect(arr(bn.runningMean)).toEqual([0, 0, 0]);
    expect(arr(bn.runningVar)).toEqual([1, 1, 1]);
    expect(bn.numBatchesTracked).toBe(0);
    bn.loadStateDict({ weight: t64([3], [2, 2, 2]), bias: t64([3], [1, 1, 1]) }, { strict: false });
    bn.resetParameters();
    expect(arr(bn.weight)).toEqual([1, 1, 1]);
    expect(arr(bn.bias)).toEqual([0, 0, 0]);
  });

  it('train()/eval() set and return; train() takes booleans only', () => {
    const bn = new BatchNorm2d(3);
    expect(bn.eval()).toBe(bn);
    expect(bn.training).toBe(false);
    expect(bn.train().training).toBe(true);
    expect(bn.train(false).training).toBe(false);
    expect(() => bn.train('yes' as unknown as boolean)).toThrow(TorchValueError);
    expect(() => bn.train('yes' as unknown as boolean)).toThrow('training mode is expected to be boolean');
  });
});

describe('engines', () => {
  const x = t64([4, 3], X43);

  it('defaults to core getDefaultEngine() (the reference)', () => {
    expect(new BatchNorm1d(3).engine.name).toBe(reference.name);
  });

  it('forwardAsync and stateDictAsync run on an asynchronous engine; forward/stateDict refuse it', async () => {
    const bn = new BatchNorm1d(3, { engine: asyncReference() });
    expect(() => bn.forward(x)).toThrow(UnsupportedError);
    expect(() => bn.stateDict()).toThrow(UnsupportedError);
    const y = await bn.forwardAsync(x);
    expectClose(arr(y).slice(0, 3), TORCH_TRAIN_Y0, 1e-7);
    const sd = await bn.stateDictAsync();
    expectClose(Array.from(sd['running_var']!.data as Float32Array), TORCH_RUNNING_VAR, 1e-6);
    bn.eval();
    expectClose(arr(await bn.forwardAsync(x)).slice(0, 3), TORCH_EVAL_Y0, 1e-6);
  });

  it('dispose() frees the state; the module refuses further use', () => {
    const disposed: unknown[] = [];
    const bn = new BatchNorm1d(3, { engine: { ...reference, dispose: (...t) => disposed.push(...t) } });
    const weight = bn.weight;
    bn.dispose();
    expect(disposed).toContain(weight);
    expect(() => bn.forward(x)).toThrow(UnsupportedError);
    expect(() => bn.stateDict()).toThrow(UnsupportedError);
  });

  it('replaced running buffers are disposed on engines that manage memory', () => {
    const disposed: unknown[] = [];
    const bn = new BatchNorm1d(3, { engine: { ...reference, dispose: (...t) => disposed.push(...t) } });
    const before = bn.runningMean;
    bn.forward(x);
    expect(disposed).toContain(before);
    expect(values(reference, bn.runningMean!)).toHaveLength(3);
  });
});
