import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { createReferenceEngine, hostTensor, ShapeError } from '@normbridge/core';
import { hostEngineOnTf } from './bridge.js';
import { createTfjsEngine } from './engine.js';

const cases = async () => [
  await createTfjsEngine('cpu'),
  await createTfjsEngine('wasm'),
  hostEngineOnTf(createReferenceEngine()),
];

describe('tensor handling on tf tensors: owns, reshape, row', () => {
  it('owns tf tensors, not host tensors', async () => {
    for (const engine of await cases()) {
      const t = engine.fromHost(hostTensor([2], [1, 2]));
      expect(engine.owns(t)).toBe(true);
      expect(engine.owns(hostTensor([2], [1, 2]))).toBe(false);
      expect(engine.owns(undefined)).toBe(false);
      engine.dispose(t);
    }
  });

  it('reshape is a new handle on the same values: disposing either leaves the other usable', async () => {
    for (const engine of await cases()) {
      const t = engine.fromHost(hostTensor([2, 3], [1, 2, 3, 4, 5, 6]));
      const r = engine.reshape(t, [3, 2]);
      expect(r.shape).toEqual([3, 2]);
      engine.dispose(t);
      expect(Array.from(engine.toHost(r).data)).toEqual([1, 2, 3, 4, 5, 6]);
      expect(() => engine.reshape(r, [5])).toThrow(ShapeError);
      engine.dispose(r);
    }
  });

  it('row slices the leading axis; an index outside it is a ShapeError', async () => {
    for (const engine of await cases()) {
      const before = tf.memory().numTensors;
      const t = engine.fromHost(hostTensor([3, 2], [1, 2, 3, 4, 5, 6]));
      const r = engine.row(t, 2);
      expect(engine.shapeOf(r)).toEqual([2]);
      expect(Array.from(engine.toHost(r).data)).toEqual([5, 6]);
      expect(() => engine.row(t, 3)).toThrow(ShapeError);
      engine.dispose(t, r);
      // The slice's intermediates are freed: only what the caller holds was ever alive.
      expect(tf.memory().numTensors).toBe(before);
    }
  });
});

describe('retain', () => {
  it('keeps a tensor past the tf.tidy it was made in; others made there are freed', async () => {
    const engine = await createTfjsEngine('cpu');
    let kept: tf.Tensor | undefined;
    let dropped: tf.Tensor | undefined;
    tf.tidy(() => {
      kept = engine.retain(engine.fromHost(hostTensor([2], [1, 2])));
      dropped = engine.fromHost(hostTensor([2], [3, 4]));
    });
    expect(kept!.isDisposed).toBe(false);
    expect(dropped!.isDisposed).toBe(true);
    engine.dispose(kept);
  });
});
