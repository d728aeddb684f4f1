import { describe, expect, it } from 'vitest';
import { defineSpec, initialState, referenceTrain, SpecError, type HostTensor } from '@normbridge/core';
import { BatchNorm1d, BatchNorm2d, LazyBatchNorm1d } from './batchnorm.js';
import { convertSyncBatchnorm, convertSyncBatchnormAsync, SyncBatchNorm } from './sync-batchnorm.js';
import { asyncReference, expectClose, sequence, t64 } from './test-support/engines.js';

const arr = (t: HostTensor | null | undefined) => Array.from(t!.data);

/** Rows [from, to) of a row-major [N, ...rest] tensor. */
function rows(t: HostTensor, from: number, to: number): HostTensor {
  const size = t.data.length / t.shape[0]!;
  return t64([to - from, ...t.shape.slice(1)], t.data.slice(from * size, to * size));
}

describe('SyncBatchNorm with equal batches equals BatchNorm on the concatenated batch', () => {
  it('outputs, running statistics and counter over several steps, then eval', () => {
    const sync = new SyncBatchNorm(3);
    const bn = new BatchNorm1d(3);
    for (let k = 0; k < 4; k++) {
      const data = sequence(2 * 2 * 3 * 2, 5 + k);
      const y = sync.forward(t64([2, 2, 3, 2], data)); // 2 replicas × [2, 3, 2]
      expect(y.shape).toEqual([2, 2, 3, 2]);
      expectClose(arr(y), arr(bn.forward(t64([4, 3, 2], data))), 1e-12);
      expectClose(arr(sync.runningMean), arr(bn.runningMean), 1e-12);
      expectClose(arr(sync.runningVar), arr(bn.runningVar), 1e-12); // unbiased over N_total = 8
    }
    expect(sync.numBatchesTracked).toBe(4);
    const data = sequence(12, 99);
    sync.eval();
    bn.eval();
    expectClose(arr(sync.forward(t64([2, 1, 3, 2], data))), arr(bn.forward(t64([2, 3, 2], data))), 1e-12);
  });

  it('a world of one replica is plain BatchNorm', () => {
    const data = sequence(24, 3);
    const sync = new SyncBatchNorm(3, { momentum: null });
    const bn = new BatchNorm2d(3, { momentum: null });
    expectClose(arr(sync.forward(t64([1, 2, 3, 2, 2], data))), arr(bn.forward(t64([2, 3, 2, 2], data))), 1e-12);
    expectClose(arr(sync.runningVar), arr(bn.runningVar), 1e-12);
  });
});

describe('SyncBatchNorm with unequal batches is count-weighted', () => {
  // Replica 0 holds 1 sample, replica 1 holds 3; both padded to 3.
  const valid0 = sequence(1 * 3 * 2, 41);
  const valid1 = sequence(3 * 3 * 2, 42);
  const padded = [...valid0, ...new Array(2 * 3 * 2).fill(1000), ...valid1];

  it('equals BatchNorm on the concatenation of the real samples', () => {
    const sync = new SyncBatchNorm(3);
    const bn = new BatchNorm1d(3);
    const y = t64([6, 3, 2], sync.forward(t64([2, 3, 3, 2], padded), { batchSizes: [1, 3] }).data);
    const yRef = bn.forward(t64([4, 3, 2], [...valid0, ...valid1]));
    expectClose(arr(rows(y, 0, 1)), arr(rows(yRef, 0, 1)), 1e-12);
    expectClose(arr(rows(y, 3, 6)), arr(rows(yRef, 1, 4)), 1e-12);
    expectClose(arr(sync.runningMean), arr(bn.runningMean), 1e-12);
    expectClose(arr(sync.runningVar), arr(bn.runningVar), 1e-12);
  });

  it('differs from an unweighted mean of the replicas\' statistics', () => {
    const sync = new SyncBatchNorm(3);
    sync.forward(t64([2, 3, 3, 2], padded), { batchSizes: [1, 3] });
    const spec = defineSpec({ featureAxes: [1], masked: true, replicaCombination: 'unweighted-mean', runningVarianceEstimator: 'unbiased' });
    const mask = t64([2, 3, 1, 1], [1, 0, 0, 1, 1, 1]);
    const unweighted = referenceTrain(spec, initialState(spec, [3], 'float64'), t64([2, 3, 3, 2], padded), { replicas: {}, mask });
    const a = arr(sync.runningMean);
    const b = arr(unweighted.state.runningMean).slice(0, 3);
    expect(a.some((v, i) => Math.abs(v - b[i]!) > 1e-6)).toBe(true);
  });

  it('a replica with an empty batch contributes nothing', () => {
    const sync = new SyncBatchNorm(3);
    const bn = new BatchNorm1d(3);
    sync.forward(t64([2, 3, 3, 2], padded), { batchSizes: [0, 3] });
    bn.forward(t64([3, 3, 2], valid1));
    expectClose(arr(sync.runningVar), arr(bn.runningVar), 1e-12);
  });

  it('batchSizes are validated', () => {
    const sync = new SyncBatchNorm(3);
    expect(() => sync.forward(t64([2, 3, 3, 2], padded), { batchSizes: [1, 4] })).toThrow(SpecError);
    expect(() => sync.forward(t64([2, 3, 3, 2], padded), { batchSizes: [1] })).toThrow(SpecError);
  });
});

describe('process groups', () => {
  const data = sequence(4 * 2 * 3, 7); // 4 replicas × [2, 3]
  const group = (r0: number) => data.slice(r0 * 6, (r0 + 2) * 6);

  it('each group is normalised with its own statistics; the module keeps its rank\'s group', () => {
    const sync = new SyncBatchNorm(3, { processGroup: [[0, 1], [2, 3]], rank: 2 });
    const y = sync.forward(t64([4, 2, 3], data)) as HostTensor;
    const g0 = new BatchNorm1d(3);
    const g1 = new BatchNorm1d(3);
    expectClose(arr(y).slice(0, 12), arr(g0.forward(t64([4, 3], group(0)))), 1e-12);
    expectClose(arr(y).slice(12), arr(g1.forward(t64([4, 3], group(2)))), 1e-12);
    expectClose(arr(sync.runningMean), arr(g1.runningMean), 1e-12);
    expectClose(arr(sync.runningVar), arr(g1.runningVar), 1e-12);
  });

  it('groups must partition the replicas; rank must be a replica', () => {
    expect(() => new SyncBatchNorm(3, { processGroup: [[0, 1]] }).forward(t64([4, 2, 3], data))).toThrow(SpecError);
    expect(() => new SyncBatchNorm(3, { rank: 4 }).forward(t64([4, 2, 3], data))).toThrow(SpecError);
  });

  it('eval without buffers normalises every replica on its own (no sync outside training)', () => {
    const sync = new SyncBatchNorm(3, { trackRunningStats: false }).eval();
    const y = sync.forward(t64([4, 2, 3], data)) as HostTensor;
    for (let r = 0; r < 4; r++) {
      const own = new BatchNorm1d(3, { trackRunningStats: false }).eval();
      expectClose(arr(y).slice(r * 6, r * 6 + 6), arr(own.forward(t64([2, 3], data.slice(r * 6, r * 6 + 6)))), 1e-12);
    }
  });

  it('training with trackRunningStats turned off syncs but neither updates nor counts', () => {
    const sync = new SyncBatchNorm(3);
    sync.trackRunningStats = false;
    const y = sync.forward(t64([4, 2, 3], data));
    expectClose(arr(y), arr(new BatchNorm1d(3).forward(t64([8, 3], data))), 1e-12);
    expect(arr(sync.runningMean)).toEqual([0, 0, 0]);
    expect(sync.numBatchesTracked).toBe(0);
  });
});

describe('convertSyncBatchnorm', () => {
  function trainedBn() {
    const bn = new BatchNorm1d(3, { momentum: 0.2, eps: 1e-3 });
    bn.loadStateDict({ ...bn.stateDict(), weight: t64([3], [2, 3, 4]), bias: t64([3], [-1, 0, 1]) });
    bn.forward(t64([4, 3], sequence(12, 1)));
    bn.forward(t64([4, 3], sequence(12, 2)));
    bn.eval();
    return bn;
  }

  it('copies hyper-parameters, weight, bias, buffers, counter and training flag', () => {
    const bn = trainedBn();
    const sync = convertSyncBatchnorm(bn, [[0, 1]]);
    expect(sync).toBeInstanceOf(SyncBatchNorm);
    expect(sync.className).toBe('SyncBatchNorm');
    expect([sync.numFeatures, sync.eps, sync.momentum, sync.affine, sync.trackRunningStats]).toEqual([3, 1e-3, 0.2, true, true]);
    expect(sync.processGroup).toEqual([[0, 1]]);
    expect(sync.training).toBe(false);
    const a = bn.stateDict();
    const b = sync.stateDict();
    expect(Object.keys(b)).toEqual(Object.keys(a));
    for (const k of Object.keys(a)) expect(Array.from(b[k]!.data as ArrayLike<unknown>)).toEqual(Array.from(a[k]!.data as ArrayLike<unknown>));
    const x = sequence(12, 9); // two replicas of [2, 3]; eval normalises each with the buffers
    expectClose(arr(sync.forward(t64([2, 2, 3], x))), arr(bn.forward(t64([4, 3], x))), 1e-12);
  });

  it('the two modules are independent afterwards', () => {
    const bn = trainedBn().train();
    const sync = SyncBatchNorm.convertSyncBatchnorm(bn);
    const before = arr(bn.runningMean);
    sync.forward(t64([2, 2, 3], sequence(12, 3)));
    expect(arr(bn.runningMean)).toEqual(before);
    expect(sync.numBatchesTracked).toBe(3);
  });

  it('keeps a module without buffers, or with tracking turned off, as it is', () => {
    const untracked = convertSyncBatchnorm(new BatchNorm1d(3, { trackRunningStats: false, affine: false }));
    expect(untracked.runningMean).toBeNull();
    expect(untracked.weight).toBeNull();
    const off = new BatchNorm1d(3);
    off.trackRunningStats = false;
    const converted = convertSyncBatchnorm(off);
    expect(converted.trackRunningStats).toBe(false);
    expect(converted.runningMean).not.toBeNull();
  });

  it('refuses an uninitialised lazy module', () => {
    expect(() => convertSyncBatchnorm(new LazyBatchNorm1d())).toThrow('uninitialized');
  });

  it('async engines: convertSyncBatchnormAsync and forwardAsync', async () => {
    const bn = new BatchNorm1d(3, { engine: asyncReference() });
    await bn.forwardAsync(t64([4, 3], sequence(12, 4)));
    expect(() => convertSyncBatchnorm(bn)).toThrow('asynchronous');
    const sync = await convertSyncBatchnormAsync(bn);
    expect(sync.numBatchesTracked).toBe(1);
    const data = sequence(24, 5);
    const ref = new BatchNorm1d(3);
    ref.loadStateDict(await bn.stateDictAsync());
    expect(() => sync.forward(t64([2, 4, 3], data))).toThrow('asynchronous');
    expectClose(arr(await sync.forwardAsync(t64([2, 4, 3], data))), arr(ref.forward(t64([8, 3], data))), 1e-6);
    expectClose(arr(sync.runningMean), arr(ref.runningMean), 1e-6);
    const noAffine = await convertSyncBatchnormAsync(new BatchNorm1d(3, { affine: false, engine: asyncReference() }));
    expect(noAffine.weight).toBeNull();
    expect(arr(noAffine.runningVar)).toEqual([1, 1, 1]);
  });
});
