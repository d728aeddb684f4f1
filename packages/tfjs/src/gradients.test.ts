import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { defineSpec, hostTensor, initialState, referenceVjp, type HostTensor } from '@normbridge/core';
import { batchNormEvalOp, batchNormTrainOp } from './differentiable-ops.js';
import { expectClose, normals, PROPERTY_TOLERANCE } from '@normbridge/testing';
import { TEST_BACKENDS, useEngine } from './test-support/engines.js';

const host = (shape: number[], seed: number, scale = 1): HostTensor =>
  hostTensor(shape, Float32Array.from(normals(shape.reduce((a, b) => a * b, 1), seed), (v) => v * scale));

describe.each(TEST_BACKENDS)('gradients through the ops on tfjs-%s', (backend) => {
  const engine = useEngine(backend);

  it('tf.variableGrads trains an MLP through the BatchNorm op; its gradients are the reference VJP', () => {
    // x → dense W1 → BatchNorm (train) → relu → dense W2 → mean square loss.
    const spec = defineSpec({ featureAxes: [-1] });
    const hx = host([16, 5], 1);
    const hw1 = host([5, 4], 2, 0.5);
    const hostState = { ...initialState(spec, [4]), scale: host([4], 3), bias: host([4], 4) };
    const x = engine().fromHost(hx);
    const w1 = tf.variable(engine().fromHost(hw1), true, 'w1');
    const w2 = tf.variable(engine().fromHost(host([4, 1], 5, 0.5)), true, 'w2');
    const scale = tf.variable(engine().fromHost(hostState.scale), true, 'scale');
    const bias = tf.variable(engine().fromHost(hostState.bias), true, 'bias');
    const running = engine().stateFromHost(initialState(spec, [4]));

    const head = (y: tf.Tensor) => tf.mean(tf.square(tf.matMul(tf.relu(y), w2)));
    const { grads, value } = tf.variableGrads(() => {
      const out = batchNormTrainOp(spec, { ...running, scale, bias }, tf.matMul(x, w1));
      tf.dispose([out.batchMean, out.batchVar, out.state.runningMean!, out.state.runningVar!]);
      return head(out.y) as tf.Scalar;
    });
    expect(Number.isFinite(value.dataSync()[0])).toBe(true);

    // The reference side: BatchNorm's input h = x·W1 and the cotangent the head sends back.
    const h = tf.matMul(x, w1);
    const y = batchNormTrainOp(spec, { ...running, scale, bias }, h);
    const dy = tf.grad(head)(y.y);
    const ref = referenceVjp(spec, hostState, engine().toHost(h), engine().toHost(dy), 'train');
    expectClose(engine().toHost(grads['scale']!), ref.dScale!, PROPERTY_TOLERANCE, 'dScale');
    expectClose(engine().toHost(grads['bias']!), ref.dBias!, PROPERTY_TOLERANCE, 'dBias');
    // dW1 = xᵀ · dh, in float64 from the reference's dh.
    const dw1 = new Float64Array(20);
    for (let i = 0; i < 5; i++) {
      for (let j = 0; j < 4; j++) {
        for (let n = 0; n < 16; n++) dw1[i * 4 + j]! += hx.data[n * 5 + i]! * ref.dx.data[n * 4 + j]!;
      }
    }
    expectClose(engine().toHost(grads['w1']!), { shape: [5, 4], data: dw1, dtype: 'float64' }, PROPERTY_TOLERANCE, 'dW1');
    tf.dispose([x, w1, w2, scale, bias, value, h, dy, y.y, y.batchMean, y.batchVar, y.state.runningMean!, y.state.runningVar!, ...Object.values(grads)]);
    engine().dispose(running.scale, running.bias, running.runningMean, running.runningVar);
  });

  it('an SGD step with those gradients lowers the loss', () => {
    const spec = defineSpec({ featureAxes: [1] }); // NCHW-style: the broadcast path
    const x = engine().fromHost(host([6, 3, 2, 2], 8));
    const target = engine().fromHost(host([6, 3, 2, 2], 9));
    const state = engine().stateFromHost(initialState(spec, [3]));
    const scale = tf.variable(state.scale!.clone());
    const bias = tf.variable(state.bias!.clone());
    const loss = () =>
      tf.tidy(() => {
        const out = batchNormTrainOp(spec, { ...state, scale, bias }, x);
        return tf.mean(tf.squaredDifference(out.y, target)) as tf.Scalar;
      });
    const optimizer = tf.train.sgd(0.1);
    const before = loss().dataSync()[0]!;
    for (let i = 0; i < 5; i++) optimizer.minimize(loss);
    expect(loss().dataSync()[0]!).toBeLessThan(before);
  });

  it('the running statistics are outside the gradient: an eval output has none for them', () => {
    const spec = defineSpec({});
    const state = engine().stateFromHost({ ...initialState(spec, [3]), runningMean: host([3], 10) });
    const x = engine().fromHost(host([4, 3], 11));
    expect(() => tf.grad((m: tf.Tensor) => batchNormEvalOp(spec, { ...state, runningMean: m }, x))(state.runningMean!)).toThrow(
      /Cannot compute gradient/,
    );
  });

  it('a gradient with respect to x alone works when scale and bias are absent', () => {
    const spec = defineSpec({ scale: false, bias: false, featureAxes: [0, 2] });
    const hx = host([3, 2, 4], 12);
    const hdy = host([3, 2, 4], 13);
    const hostState = initialState(spec, [3, 4]);
    const state = engine().stateFromHost(hostState);
    const dx = tf.grad((x: tf.Tensor) => batchNormTrainOp(spec, state, x).y)(engine().fromHost(hx), engine().fromHost(hdy));
    expectClose(engine().toHost(dx), referenceVjp(spec, hostState, hx, hdy, 'train').dx, PROPERTY_TOLERANCE, 'dx');
  });
});
