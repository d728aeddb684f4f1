import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { createReferenceEngine, hostTensor, UnsupportedError } from '@normbridge/core';
import { linen, random } from './index.js';
import { cloneLeaf, indexLeaf, isEngineLeaf, leafValues, registerEngine, reshapeLeaf, shapeOf } from './leaf.js';
import { wasmEngine } from '@normbridge/testing-engines';
import { BoxTensor, boxedAsyncReference, engineCases } from './test-support/engines.js';

await engineCases(); // a TF.js backend for the tf.Tensor below

describe('inputs must be the engine’s tensors', () => {
  it('a tf.Tensor on the host reference is an UnsupportedError naming the engine and the fix', () => {
    const x = tf.tensor2d([1, 2, 3, 4, 6, 8], [2, 3]);
    const bn = new linen.BatchNorm({ useRunningAverage: false });
    expect(() => bn.init(random.key(0), x, { engine: createReferenceEngine() })).toThrow(UnsupportedError);
    expect(() => bn.init(random.key(0), x, { engine: createReferenceEngine() })).toThrow(/not a tensor of engine "reference-f64".*hostEngineOnTf/);
    x.dispose();
  });
});

describe('leaves of other engines are recognised by engine.owns, handled by engine.reshape/row', () => {
  it('registering uploads nothing; shape, reshape, clone and row go through the engine', () => {
    const inner = boxedAsyncReference();
    const calls: string[] = [];
    const engine = {
      ...inner,
      fromHost: (t: Parameters<typeof inner.fromHost>[0]) => (calls.push('fromHost'), inner.fromHost(t)),
      reshape: (t: BoxTensor, s: readonly number[]) => (calls.push('reshape'), inner.reshape(t, s)),
      row: (t: BoxTensor, i: number) => (calls.push('row'), inner.row(t, i)),
    };
    registerEngine(engine);
    expect(calls).toEqual([]);
    const t = new BoxTensor(hostTensor([2, 3], [1, 2, 3, 4, 5, 6]));
    expect(isEngineLeaf(t)).toBe(true);
    expect(isEngineLeaf({ dims: [2, 3], reshape: () => t })).toBe(false);
    expect(shapeOf(reshapeLeaf(t, [3, 2]))).toEqual([3, 2]);
    const copy = cloneLeaf(t);
    t.dispose();
    expect(Array.from(indexLeaf(copy, 1).host.data)).toEqual([4, 5, 6]);
    expect(calls).toEqual(['reshape', 'reshape', 'row']);
  });
});

describe('leafValues of other engines’ leaves', () => {
  it('reads a synchronous engine’s leaf with its toHost (nb-wasm); an asynchronous one’s is an UnsupportedError', async () => {
    const engine = await wasmEngine();
    registerEngine(engine);
    const t = engine.fromHost(hostTensor([2, 2], Float32Array.of(1, 2, 3, 4)));
    expect(leafValues(t)).toEqual([1, 2, 3, 4]);
    engine.dispose(t);
    const boxed = boxedAsyncReference();
    registerEngine(boxed);
    expect(() => leafValues(new BoxTensor(hostTensor([1], [5])))).toThrow(UnsupportedError);
    expect(() => leafValues(new BoxTensor(hostTensor([1], [5])))).toThrow(/engine "reference-f64-boxed-async".*await engine\.toHost/);
  });
});
