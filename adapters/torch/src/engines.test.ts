/**
 * The adapter on every engine: the float64 reference, `@normbridge/tfjs` (cpu, wasm) and nb-wasm.
 * Expected values come from docs/semantics.md#worked-example or the float64 reference; float32 engines are
 * compared with float32 tolerances.
 */
import { describe, expect, it } from 'vitest';
import { createReferenceEngine, hostTensor, UnsupportedDtypeError, type HostTensor, type SyncEngine } from '@normbridge/core';
import { BatchNorm1d, BatchNorm2d, LazyBatchNorm2d } from './batchnorm.js';
import { StateDictLoadError } from './errors.js';
import { batchNorm } from './functional.js';
import { convertSyncBatchnorm, SyncBatchNorm } from './sync-batchnorm.js';
import { expectClose, sequence, X43 } from './test-support/engines.js';
import { engineCases } from '@normbridge/testing-engines';

// A backend that fails to start rejects here and fails this file: it is never a skipped case.
// The tolerances are this suite's own: 1e-7 against the rounded 8-digit expectations of the
// worked example, 2e-5 for float32 engines (the chained train/eval calls each round).
const engines: { name: string; engine: SyncEngine<unknown>; atol: number }[] = (await engineCases()).map((c) => ({
  name: c.name,
  engine: c.engine as SyncEngine<unknown>,
  atol: c.float32 ? 2e-5 : 1e-7,
}));

describe('the engines under test', () => {
  it('are the float64 reference, tfjs on cpu and wasm, and nb-wasm, every one started', () => {
    expect(engines.map((e) => e.name)).toEqual(['reference-f64', 'tfjs-cpu', 'tfjs-wasm', 'nb-wasm']);
  });
});

const reference = createReferenceEngine();
const r64 = (shape: readonly number[], data: ArrayLike<number>) => hostTensor(shape, Float64Array.from(data), 'float64');

describe.each(engines)('on $name', ({ engine, atol }) => {
  type T = unknown;
  const up = (shape: readonly number[], data: ArrayLike<number>): T => engine.fromHost(hostTensor(shape, Float32Array.from(data)));
  const down = (t: T | null | undefined): number[] => Array.from(engine.toHost(t as T).data);
  /** The reference result for the same float32 input values. */
  const f32 = (data: readonly number[]) => Array.from(Float32Array.from(data));

  it('docs/semantics.md#worked-example PyTorch row: train, buffers, eval', () => {
    const bn = new BatchNorm1d<T>(3, { engine });
    const y = bn.forward(up([4, 3], X43));
    expectClose(down(y).slice(0, 3), [-0.50709139, -0.1005037, -0.65465305], atol);
    expectClose(down(bn.runningMean), [0.175, 0.225, 0.45], atol);
    expectClose(down(bn.runningVar), [1.19166667, 1.725, 1.6], atol * 10);
    expect(bn.numBatchesTracked).toBe(1);
    bn.eval();
    expectClose(down(bn.forward(up([4, 3], X43))).slice(0, 3), [0.75574404, 1.35145799, 2.01594571], atol);
  });

  it('dtype float64 runs only where the engine has float64; elsewhere a typed error names engine and dtype', () => {
    if (engine.capabilities.dtypes.includes('float64')) {
      expect(new BatchNorm2d<T>(3, { engine, dtype: 'float64' }).dtype).toBe('float64');
      return;
    }
    expect(() => new BatchNorm2d<T>(3, { engine, dtype: 'float64' })).toThrow(UnsupportedDtypeError);
    expect(() => new BatchNorm2d<T>(3, { engine, dtype: 'float64' })).toThrow(
      new RegExp(`^BatchNorm2d\\(dtype=torch\\.float64\\): engine "${engine.name}" cannot compute float64`),
    );
  });

  it('docs/semantics.md#worked-example momentum=None row', () => {
    const bn = new BatchNorm2d<T>(3, { engine, momentum: null });
    bn.forward(up([4, 3, 1, 1], X43));
    expectClose(down(bn.runningMean), [1.75, 2.25, 4.5], atol * 10);
    expectClose(down(bn.runningVar), [2.9166667, 8.25, 7], atol * 10);
  });

  it('a 5-step trajectory (train + eval) follows the float64 reference', () => {
    const bn = new BatchNorm2d<T>(3, { engine, momentum: null });
    const ref = new BatchNorm2d(3, { momentum: null, engine: reference });
    for (let k = 0; k < 5; k++) {
      const data = f32(sequence(2 * 3 * 2 * 2, 30 + k));
      bn.train();
      ref.train();
      expectClose(down(bn.forward(up([2, 3, 2, 2], data))), Array.from(ref.forward(r64([2, 3, 2, 2], data)).data), 1e-5, 1e-5);
      expectClose(down(bn.runningVar), Array.from(ref.runningVar!.data), 1e-5, 1e-5);
      bn.eval();
      ref.eval();
      expectClose(down(bn.forward(up([2, 3, 2, 2], data))), Array.from(ref.forward(r64([2, 3, 2, 2], data)).data), 1e-5, 1e-5);
    }
    expect(bn.numBatchesTracked).toBe(5);
  });

  it('stateDict / loadStateDict round trip; a failed load changes nothing', () => {
    const bn = new BatchNorm1d<T>(3, { engine });
    bn.forward(up([4, 3], X43));
    const sd = bn.stateDict({ prefix: 'bn.' });
    const other = new BatchNorm1d<T>(3, { engine });
    other.loadStateDict(sd, { prefix: 'bn.' });
    expect(down(other.runningVar)).toEqual(Array.from(sd['bn.running_var']!.data as Float32Array));
    expect(() => other.loadStateDict({ ...new BatchNorm1d(3).stateDict(), bias: hostTensor([2], [1, 2]) })).toThrow(StateDictLoadError);
    expect(down(other.runningVar)).toEqual(Array.from(sd['bn.running_var']!.data as Float32Array));
    expect(other.numBatchesTracked).toBe(1);
  });

  it('replaced buffers are disposed (no leak per step)', () => {
    const bn = new BatchNorm1d<T>(3, { engine });
    const old = bn.runningMean as { isDisposed?: boolean } | HostTensor;
    bn.forward(up([4, 3], X43));
    if ('isDisposed' in old) expect(old.isDisposed).toBe(true);
    expect(down(bn.runningMean)).toHaveLength(3);
  });

  it('functional batchNorm', () => {
    const r = batchNorm<T>(up([4, 3], X43), up([3], [0, 0, 0]), up([3], [1, 1, 1]), { training: true, engine });
    expectClose(down(r.output).slice(0, 3), [-0.50709139, -0.1005037, -0.65465305], atol);
    expectClose(down(r.runningVar), [1.19166667, 1.725, 1.6], atol * 10);
  });

  it('SyncBatchNorm: equal batches = concatenated BatchNorm; unequal batches are count-weighted', () => {
    const data = f32(sequence(2 * 3 * 3, 8));
    const sync = new SyncBatchNorm<T>(3, { engine });
    const bn = new BatchNorm1d(3, { engine: reference });
    expectClose(down(sync.forward(up([2, 3, 3], data))), Array.from(bn.forward(r64([6, 3], data)).data), 1e-5, 1e-5);
    expectClose(down(sync.runningVar), Array.from(bn.runningVar!.data), 1e-5, 1e-5);

    const ragged = new SyncBatchNorm<T>(3, { engine });
    const ref = new BatchNorm1d(3, { engine: reference });
    const padded = [...data.slice(0, 3), 500, 500, 500, 500, 500, 500, ...data.slice(9)]; // replica 0 holds 1 sample
    const y = down(ragged.forward(up([2, 3, 3], padded), { batchSizes: [1, 3] }));
    const yRef = Array.from(ref.forward(r64([4, 3], [...data.slice(0, 3), ...data.slice(9)])).data);
    expectClose([...y.slice(0, 3), ...y.slice(9)], yRef, 1e-5, 1e-5);
    expectClose(down(ragged.runningMean), Array.from(ref.runningMean!.data), 1e-5, 1e-5);
    expectClose(down(ragged.runningVar), Array.from(ref.runningVar!.data), 1e-5, 1e-5);
  });

  it('convertSyncBatchnorm and LazyBatchNorm2d', () => {
    const lazy = new LazyBatchNorm2d<T>({ engine });
    lazy.forward(up([2, 3, 1, 2], sequence(12, 4)));
    const sync = convertSyncBatchnorm(lazy);
    expect(sync.numBatchesTracked).toBe(1);
    expect(down(sync.runningMean)).toEqual(down(lazy.runningMean));
  });
});
