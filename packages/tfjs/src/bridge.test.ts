import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { createReferenceEngine, defineSpec, hostTensor, initialState, referenceTrain, referenceVjp } from '@normbridge/core';
import { customGradOps, hostEngineOnTf } from './bridge.js';
import { createTfjsEngine } from './engine.js';

describe('bridge: the float64 reference through tf tensors, differentiable', () => {
  it('forward and tf.grad equal the reference (train), and the new running stats survive', async () => {
    await createTfjsEngine('cpu'); // registers gradients and sets a backend
    const spec = defineSpec({ featureAxes: [1] });
    const engine = hostEngineOnTf(createReferenceEngine());
    const ops = customGradOps(engine);
    const hostState = { ...initialState(spec, [3]), scale: hostTensor([3], [1.5, -1, 0.5]) };
    const state = engine.stateFromHost(hostState);
    const xv = Array.from({ length: 12 }, (_, i) => Math.sin(i) * 3);
    const dyv = Array.from({ length: 12 }, (_, i) => Math.cos(i));
    const x = tf.tensor(xv, [4, 3]);
    const dy = tf.tensor(dyv, [4, 3]);
    let next = state;
    const g = tf.grad((t: tf.Tensor) => {
      const out = ops.train(spec, state, t);
      next = out.state;
      return tf.sum(tf.mul(out.y, dy));
    })(x);
    const refX = hostTensor([4, 3], xv, 'float64');
    const ref = referenceVjp(spec, hostState, refX, hostTensor([4, 3], dyv, 'float64'), 'train');
    (await g.data()).forEach((v, i) => expect(v).toBeCloseTo(ref.dx.data[i]!, 5));
    const refState = referenceTrain(spec, hostState, refX).state;
    (await next.runningVar!.data()).forEach((v, i) => expect(v).toBeCloseTo(refState.runningVar!.data[i]!, 5));
  });
});

describe('hostEngineOnTf is differentiable itself', () => {
  it('tf.grad through engine.train equals the reference vjp', async () => {
    await createTfjsEngine('cpu');
    const spec = defineSpec({ featureAxes: [1] });
    const engine = hostEngineOnTf(createReferenceEngine());
    const hostState = initialState(spec, [3]);
    const state = engine.stateFromHost(hostState);
    const xv = Array.from({ length: 12 }, (_, i) => Math.cos(i * 0.7) * 2);
    const dyv = Array.from({ length: 12 }, (_, i) => Math.sin(i));
    const dy = tf.tensor(dyv, [4, 3]);
    const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(engine.train(spec, state, t).y, dy)))(tf.tensor(xv, [4, 3]));
    const ref = referenceVjp(spec, hostState, hostTensor([4, 3], xv, 'float64'), hostTensor([4, 3], dyv, 'float64'), 'train');
    (await g.data()).forEach((v, i) => expect(v).toBeCloseTo(ref.dx.data[i]!, 5));

  });
});
