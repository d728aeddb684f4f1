import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { tensorKindOf, hostTensor } from '@normbridge/core';
import { createTfjsEngine } from './engine.js';
import { tfTensorKind } from './index.js';

describe("the 'tf' tensor kind (registered on import)", () => {
  it('owns tf tensors only, and moves their data without touching the active backend', async () => {
    const engine = await createTfjsEngine('cpu');
    const before = tf.getBackend();
    const t = engine.fromHost(hostTensor([2, 3], [1, 2, 3, 4, 5, 6]));
    expect(tensorKindOf(t)).toBe(tfTensorKind);
    expect(tensorKindOf(hostTensor([2], [1, 2]))).toBeUndefined();
    const r = tfTensorKind.reshape(t, [3, 2]);
    const c = tfTensorKind.clone(t);
    const row = tfTensorKind.row(t, 1);
    t.dispose();
    expect(tfTensorKind.shapeOf(r)).toEqual([3, 2]);
    expect(Array.from(tfTensorKind.toHostSync!(r).data)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(Array.from(tfTensorKind.toHostSync!(c).data)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(tfTensorKind.toHostSync!(row)).toEqual({ shape: [3], data: Float32Array.from([4, 5, 6]), dtype: 'float32' });
    expect(tf.getBackend()).toBe(before);
    tf.dispose([r, c, row]);
  });
});
