import { describe, expect, it } from 'vitest';
import { hostTensor, int64Scalar, StateError, type CheckpointValue, type HostTensor, type Int64Tensor } from '@normbridge/core';
import { BatchNorm1d, BatchNorm2d, LazyBatchNorm2d } from './batchnorm.js';
import { StateDictLoadError } from './errors.js';
import type { StateDict } from './state-dict.js';
import { expectClose, t64, X43 } from './test-support/engines.js';

const arr = (t: HostTensor | CheckpointValue | null | undefined) => Array.from(t!.data as Float32Array);
const f32 = (data: number[]) => hostTensor([data.length], Float32Array.from(data), 'float32');

/** A trained module and a checkpoint of another trained module. */
function trained(): BatchNorm1d {
  const bn = new BatchNorm1d(3);
  bn.forward(t64([4, 3], X43));
  bn.forward(t64([4, 3], X43.map((v) => v * 2 - 1)));
  return bn;
}

function snapshot(bn: BatchNorm1d | BatchNorm2d) {
  const sd = bn.stateDict();
  return Object.fromEntries(Object.entries(sd).map(([k, v]) => [k, { shape: v.shape, data: Array.from(v.data as ArrayLike<number | bigint>, String) }]));
}

describe('stateDict()', () => {
  it('PyTorch keys, order, dtypes and shapes', () => {
    const sd = trained().stateDict();
    expect(Object.keys(sd)).toEqual(['weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked']);
    for (const k of ['weight', 'bias', 'running_mean', 'running_var']) {
      expect(sd[k]!.dtype).toBe('float32');
      expect(sd[k]!.data).toBeInstanceOf(Float32Array);
      expect(sd[k]!.shape).toEqual([3]);
    }
    const counter = sd['num_batches_tracked'] as Int64Tensor;
    expect(counter.dtype).toBe('int64');
    expect(counter.shape).toEqual([]);
    expect(counter.data).toEqual(BigInt64Array.of(2n));
  });

  it('prefix, as for a submodule', () => {
    expect(Object.keys(new BatchNorm2d(2).stateDict({ prefix: '0.' }))).toEqual([
      '0.weight',
      '0.bias',
      '0.running_mean',
      '0.running_var',
      '0.num_batches_tracked',
    ]);
  });

  it('values are copies: editing them does not touch the module', () => {
    const bn = trained();
    const sd = bn.stateDict();
    (sd['running_mean']!.data as Float32Array).fill(99);
    expect(arr(bn.stateDict()['running_mean'])).not.toContain(99);
  });
});

describe('loadStateDict()', () => {
  it('round trip: a fresh module loaded from a trained one evaluates identically', () => {
    const src = trained();
    const dst = new BatchNorm1d(3);
    expect(dst.loadStateDict(src.stateDict())).toEqual({ missingKeys: [], unexpectedKeys: [] });
    expect(snapshot(dst)).toEqual(snapshot(src));
    const x = t64([4, 3], X43);
    expectClose(arr(dst.eval().forward(x)), arr(src.eval().forward(x)), 1e-6);
    expect(dst.numBatchesTracked).toBe(2);
  });

  it('float64 checkpoint values are stored as float32, as copy_ into float32 buffers does', () => {
    const bn = new BatchNorm1d(3);
    bn.loadStateDict({ running_mean: t64([3], [0.1, 0.2, 0.3]) }, { strict: false });
    expect(arr(bn.stateDict()['running_mean'])).toEqual(Array.from(Float32Array.of(0.1, 0.2, 0.3)));
  });

  it('strict=false reports missing and unexpected keys and loads the rest', () => {
    const bn = new BatchNorm1d(3);
    const report = bn.loadStateDict({ weight: f32([2, 3, 4]), 'weight.extra': f32([1]), other: f32([1]) }, { strict: false });
    // 'weight.extra' is not unexpected: PyTorch only looks at the first name component.
    expect(report).toEqual({ missingKeys: ['bias', 'running_mean', 'running_var'], unexpectedKeys: ['other'] });
    expect(arr(bn.weight)).toEqual([2, 3, 4]);
  });

  it('size mismatches raise even with strict=false', () => {
    const bn = new BatchNorm1d(3);
    expect(() => bn.loadStateDict({ weight: f32([1, 2]) }, { strict: false })).toThrow(StateDictLoadError);
  });

  it('a prefix selects the module\'s keys; other prefixes are not unexpected', () => {
    const bn = new BatchNorm1d(3);
    const sd: StateDict = { ...trained().stateDict({ prefix: 'features.1.' }), 'classifier.weight': f32([1]) };
    expect(bn.loadStateDict(sd, { prefix: 'features.1.' })).toEqual({ missingKeys: [], unexpectedKeys: [] });
    expect(bn.numBatchesTracked).toBe(2);
  });

  it('a failed load leaves the module unchanged (size mismatch after valid keys)', () => {
    const bn = trained();
    const before = snapshot(bn);
    const { running_var: _omit, ...rest } = new BatchNorm1d(3).stateDict();
    expect(() => bn.loadStateDict({ ...rest, weight: f32([5, 5, 5]), running_var: f32([1, 1, 1, 1]) })).toThrow(
      'size mismatch for running_var: copying a param with shape [4] from checkpoint, the shape in current model is [3].',
    );
    expect(snapshot(bn)).toEqual(before);
  });

  it('a failed load leaves the module unchanged (strict missing key)', () => {
    const bn = trained();
    const before = snapshot(bn);
    expect(() => bn.loadStateDict({ weight: f32([5, 5, 5]), bias: f32([1, 1, 1]) })).toThrow(StateDictLoadError);
    expect(snapshot(bn)).toEqual(before);
  });

  it('a failed load leaves the module unchanged (NaN running_var rejected by the engine)', () => {
    const bn = trained();
    const before = snapshot(bn);
    const sd = { ...new BatchNorm1d(3).stateDict(), weight: f32([7, 7, 7]), running_var: f32([1, Number.NaN, 1]) };
    expect(() => bn.loadStateDict(sd)).toThrow(StateError);
    expect(snapshot(bn)).toEqual(before);
  });

  it('a value that is not a tensor is reported as PyTorch does', () => {
    const bn = new BatchNorm1d(3);
    expect(() => bn.loadStateDict({ ...bn.stateDict(), bias: [0, 0, 0] })).toThrow(
      'While copying the parameter named "bias", expected torch.Tensor or Tensor-like object from checkpoint but received Array',
    );
  });

  describe('num_batches_tracked', () => {
    const withoutCounter = () => {
      const { num_batches_tracked: _c, ...rest } = trained().stateDict();
      return rest;
    };

    it('missing: kept by default (PyTorch ≥ 2.2), not reported missing', () => {
      const bn = new BatchNorm1d(3);
      bn.forward(t64([4, 3], X43));
      expect(bn.loadStateDict(withoutCounter())).toEqual({ missingKeys: [], unexpectedKeys: [] });
      expect(bn.numBatchesTracked).toBe(1);
    });

    it("missing with missingNumBatchesTracked: 'reset': set to 0 (PyTorch ≤ 2.1)", () => {
      const bn = new BatchNorm1d(3);
      bn.forward(t64([4, 3], X43));
      bn.loadStateDict(withoutCounter(), { missingNumBatchesTracked: 'reset' });
      expect(bn.numBatchesTracked).toBe(0);
    });

    it('missing while trackRunningStats was turned off: reported missing, strict raises', () => {
      const bn = new BatchNorm1d(3);
      bn.trackRunningStats = false;
      expect(() => bn.loadStateDict(withoutCounter())).toThrow('Missing key(s) in state_dict: "num_batches_tracked". ');
    });

    it('a 1-element 1-D counter loads into the 0-D buffer; other shapes mismatch', () => {
      const bn = new BatchNorm1d(3);
      const sd = new BatchNorm1d(3).stateDict();
      bn.loadStateDict({ ...sd, num_batches_tracked: { shape: [1], data: BigInt64Array.of(7n), dtype: 'int64' } });
      expect(bn.numBatchesTracked).toBe(7);
      expect(() => bn.loadStateDict({ ...sd, num_batches_tracked: { shape: [2], data: BigInt64Array.of(1n, 2n), dtype: 'int64' } })).toThrow(
        'size mismatch for num_batches_tracked: copying a param with shape [2] from checkpoint, the shape in current model is [].',
      );
    });

    it('the loaded counter drives momentum=None', () => {
      const bn = new BatchNorm1d(3, { momentum: null });
      bn.loadStateDict({ ...bn.stateDict(), running_mean: f32([10, 10, 10]), num_batches_tracked: int64Scalar(1) });
      bn.forward(t64([4, 3], X43));
      // (10 + batch mean) / 2
      expectClose(arr(bn.runningMean), [5.875, 6.125, 7.25], 1e-12);
      expect(bn.numBatchesTracked).toBe(2);
    });
  });

  it('a module without buffers reports a checkpoint\'s buffers as unexpected', () => {
    const bn = new BatchNorm1d(3, { trackRunningStats: false });
    expect(bn.loadStateDict(trained().stateDict(), { strict: false }).unexpectedKeys).toEqual([
      'running_mean',
      'running_var',
      'num_batches_tracked',
    ]);
  });

  it('a lazy module materialises from the checkpoint', () => {
    const bn = new LazyBatchNorm2d();
    expect(bn.hasUninitializedParams()).toBe(true);
    bn.loadStateDict(trained().stateDict());
    expect(bn.hasUninitializedParams()).toBe(false);
    expect(bn.numFeatures).toBe(3);
    expect(bn.numBatchesTracked).toBe(2);
  });
});
