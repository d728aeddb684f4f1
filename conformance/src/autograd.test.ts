import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { hostTensor, initialState, referenceVjp, type BatchNormSpec } from '@normbridge/core';
import { BatchNormalization } from '@normbridge/keras';
import { BatchNorm } from '@normbridge/mlx';
import { createTfjsEngine } from '@normbridge/tfjs';
import { BatchNorm2d } from '@normbridge/torch';

// The README promises that tf.grad flows through an adapter's forward on the tfjs engine, as
// autograd does through the framework's module: the gradient must be the reference VJP.
const engine = await createTfjsEngine('cpu');
const values = (n: number, f: (i: number) => number) => Array.from({ length: n }, (_, i) => f(i));

async function check(forward: (x: tf.Tensor) => tf.Tensor, spec: BatchNormSpec, shape: number[], features: number[]) {
  const n = shape.reduce((a, b) => a * b, 1);
  const xv = values(n, (i) => Math.sin(i * 1.7) * 2 + (i % 3));
  const dyv = values(n, (i) => Math.cos(i * 0.3));
  const x = tf.tensor(xv, shape);
  const dy = tf.tensor(dyv, shape);
  const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(forward(t), dy)))(x);
  const ref = referenceVjp(spec, initialState(spec, features, 'float64'), hostTensor(shape, xv, 'float64'), hostTensor(shape, dyv, 'float64'), 'train');
  const got = await g.data();
  got.forEach((v, i) => expect(v).toBeCloseTo(ref.dx.data[i]!, 4));
}

describe('tf.grad through adapter layers on the tfjs engine', () => {
  it('PyTorch BatchNorm2d.forward in training mode', async () => {
    const bn = new BatchNorm2d(3, { engine });
    await check((x) => bn.forward(x), bn['_spec'](), [2, 3, 2, 2], [3]);
    expect(bn.numBatchesTracked).toBe(1);
  });

  it('MLX BatchNorm call in training mode', async () => {
    const bn = new BatchNorm<tf.Tensor>(3, { engine });
    await check((x) => bn.call(x), bn.spec, [4, 2, 3], [3]);
  });

  it('Keras BatchNormalization apply with training: true', async () => {
    const bn = new BatchNormalization<tf.Tensor>({ engine });
    await check((x) => bn.apply(x, { training: true }), bn.spec, [5, 3], [3]);
  });
});
