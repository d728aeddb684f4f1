import { describe, expect, it } from 'vitest';
import type { AsyncEngine } from './engine.js';
import { UnsupportedError } from './errors.js';
import { createReferenceEngine } from './host-engine.js';
import { initialState } from './reference.js';
import { StatefulBatchNorm } from './runner.js';
import { defineSpec } from './spec.js';
import { hostTensor, transpose, type HostTensor } from './tensor.js';

const x = hostTensor([4, 2], [1, 2, 3, 5, 0, 1, 2, 8], 'float64');

describe('StatefulBatchNorm', () => {
  it('training commits new running stats; eval leaves them', () => {
    const spec = defineSpec({});
    const engine = createReferenceEngine();
    const disposed: unknown[] = [];
    const bn = new StatefulBatchNorm({ ...engine, dispose: (...t) => disposed.push(...t) }, spec, initialState(spec, [2], 'float64'));
    const before = bn.state.runningMean;
    bn.run('train', x);
    expect(bn.state.runningMean).not.toBe(before);
    expect(disposed).toContain(before);
    expect(bn.state.numBatchesTracked).toBe(1);
    const after = bn.state;
    bn.run('eval', x);
    expect(bn.state).toBe(after);
  });

  it('sync calls on an async engine fail with a typed error; async calls work', async () => {
    const ref = createReferenceEngine();
    const asyncEngine: AsyncEngine<HostTensor> = {
      ...ref,
      synchronous: false,
      toHost: async (t) => t,
      train: async (...a) => ref.train(...a),
      evaluate: async (...a) => ref.evaluate(...a),
      vjp: async (...a) => ref.vjp(...a),
    };
    const spec = defineSpec({});
    const bn = new StatefulBatchNorm(asyncEngine, spec, initialState(spec, [2], 'float64'));
    expect(() => bn.run('train', x)).toThrow(UnsupportedError);
    await bn.runAsync('train', x);
    expect(bn.state.numBatchesTracked).toBe(1);
  });
});

describe('transpose', () => {
  it('NCHW → NHWC moves channels last', () => {
    const t = hostTensor([1, 2, 1, 3], [0, 1, 2, 10, 11, 12]);
    const out = transpose(t, [0, 2, 3, 1]);
    expect(out.shape).toEqual([1, 1, 3, 2]);
    expect(Array.from(out.data)).toEqual([0, 10, 1, 11, 2, 12]);
  });
});
