import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { ensureTf } from '../test-support/engines.js';
import { sgd, type SgdState } from './optim.js';
import { softmaxCrossEntropyWithIntegerLabels } from './losses.js';

await ensureTf();
const leaf = (tree: unknown, k: string) => Array.from((tree as Record<string, tf.Tensor>)[k]!.dataSync());

describe('optax.sgd with momentum', () => {
  it('keeps the trace g + momentum * trace and steps by -lr * trace (optax.trace then scale)', () => {
    const tx = sgd(0.1, 0.9);
    const params = { w: tf.tensor1d([1, -2]) };
    let state: SgdState = tx.init(params);
    expect(leaf(state.trace, 'w')).toEqual([0, 0]);
    const [u1, s1] = tx.update({ w: tf.tensor1d([0.5, 1]) }, state);
    expect(leaf(u1, 'w').map((v) => Math.round(v * 1e6) / 1e6)).toEqual([-0.05, -0.1]);
    state = s1;
    const [u2, s2] = tx.update({ w: tf.tensor1d([1, -1]) }, state);
    expect(leaf(s2.trace, 'w').map((v) => Math.round(v * 1e6) / 1e6)).toEqual([1.45, -0.1]);
    expect(leaf(u2, 'w').map((v) => Math.round(v * 1e6) / 1e6)).toEqual([-0.145, 0.01]);
  });

  it('without momentum has no state, as optax.sgd(lr)', () => {
    const tx = sgd(0.5);
    expect(tx.init({ w: tf.tensor1d([1]) })).toBeNull();
  });
});

describe('softmax cross-entropy with integer labels', () => {
  it('is exactly 0 for a one-logit head (the guide as written), with no depth error', () => {
    const loss = softmaxCrossEntropyWithIntegerLabels(tf.tensor2d([[3.5], [-1]]), tf.tensor1d([0, 0], 'int32'));
    expect(Array.from(loss.dataSync())).toEqual([0, 0]);
  });
});
