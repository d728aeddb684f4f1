import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import {
  defineSpec,
  hostTensor,
  initialState,
  type BatchNormSpec,
  type BatchNormState,
  type StepOptions,
} from '@normbridge/core';
import { batchNormTrainOp } from './differentiable-ops.js';
import { TEST_BACKENDS, useEngine } from './test-support/engines.js';
import { normals } from '@normbridge/testing';

type State = BatchNormState<tf.Tensor>;

/** One spec per code path: the rows view, the broadcast view, masks and replicas. */
const VARIANTS: { name: string; spec: BatchNormSpec; shape: number[]; features: number[]; mask?: number[]; replicas?: boolean }[] = [
  { name: 'channels last', spec: defineSpec({}), shape: [8, 5, 4], features: [4] },
  { name: 'axis 1, one-pass, unbiased', spec: defineSpec({ featureAxes: [1], varianceAlgorithm: 'one-pass-clamped', runningVarianceEstimator: 'unbiased' }), shape: [8, 5, 4], features: [5] },
  { name: 'masked, cumulative', spec: defineSpec({ masked: true, runningAverage: { kind: 'cumulative' } }), shape: [8, 5, 4], features: [4], mask: [8, 5, 1] },
  { name: 'replicas, decay-toward', spec: defineSpec({ runningUpdateForm: 'decay-toward', replicaCombination: 'unweighted-mean' }), shape: [2, 4, 4], features: [4], replicas: true },
];

describe.each(TEST_BACKENDS)('tensor accounting on tfjs-%s', (backend) => {
  const engine = useEngine(backend);

  function setup(v: (typeof VARIANTS)[number]) {
    const size = v.shape.reduce((a, b) => a * b, 1);
    const x = engine().fromHost(hostTensor(v.shape, Float32Array.from(normals(size, 3))));
    const dy = engine().fromHost(hostTensor(v.shape, Float32Array.from(normals(size, 4))));
    const mask = v.mask && engine().fromHost(hostTensor(v.mask, Float32Array.from({ length: v.mask.reduce((a, b) => a * b, 1) }, (_, i) => i % 3 ? 1 : 0)));
    const options: StepOptions<tf.Tensor> = { mask, replicas: v.replicas ? {} : undefined };
    const state = engine().stateFromHost(initialState(v.spec, v.features));
    const teardown = () => tf.dispose([x, dy, ...(mask ? [mask] : [])]);
    return { x, dy, options, state, teardown };
  }

  const disposeState = (s: State) => engine().dispose(s.scale, s.bias, s.runningMean, s.runningVar);

  it('1,000 training steps, disposing what comes back, leave the tensor count unchanged', () => {
    const runs = VARIANTS.map(setup);
    const before = tf.memory().numTensors;
    for (let step = 0; step < 1000; step++) {
      const run = runs[step % runs.length]!;
      const v = VARIANTS[step % runs.length]!;
      const out = engine().train(v.spec, run.state, run.x, run.options);
      engine().dispose(out.y, out.batchMean, out.batchVar);
      // Replicated runs stack the running statistics per replica; keep the first replica's.
      const next = v.replicas ? firstReplica(out.state) : out.state;
      if (next.runningMean !== run.state.runningMean) engine().dispose(run.state.runningMean, run.state.runningVar);
      run.state = next;
    }
    expect(tf.memory().numTensors).toBe(before);
    runs.forEach((r) => (disposeState(r.state), r.teardown()));
  });

  it('inference, vjp and tf.grad through the op leave nothing behind either', () => {
    const runs = VARIANTS.map(setup);
    const before = tf.memory().numTensors;
    for (let step = 0; step < 200; step++) {
      const run = runs[step % runs.length]!;
      const v = VARIANTS[step % runs.length]!;
      engine().dispose(engine().evaluate(v.spec, run.state, run.x, run.options));
      const g = engine().vjp(v.spec, run.state, run.x, run.dy, step % 2 ? 'train' : 'eval', run.options);
      engine().dispose(g.dx, g.dScale, g.dBias);
      const grads = tf.grads((x: tf.Tensor, scale: tf.Tensor) => {
        const out = batchNormTrainOp(v.spec, { ...run.state, scale }, x, run.options);
        tf.dispose([out.batchMean, out.batchVar, out.state.runningMean!, out.state.runningVar!]);
        return out.y;
      })([run.x, run.state.scale!], run.dy);
      tf.dispose(grads);
    }
    expect(tf.memory().numTensors).toBe(before);
    runs.forEach((r) => (disposeState(r.state), r.teardown()));
  });

  it('does not dispose or change what it is given', () => {
    const run = setup(VARIANTS[0]!);
    const values = run.state.runningMean!.dataSync().slice();
    const out = engine().train(VARIANTS[0]!.spec, run.state, run.x);
    for (const t of [run.x, run.state.scale!, run.state.bias!, run.state.runningMean!, run.state.runningVar!]) {
      expect(t.isDisposed).toBe(false);
    }
    expect(Array.from(run.state.runningMean!.dataSync())).toEqual(Array.from(values));
    expect(out.state.runningMean).not.toBe(run.state.runningMean);
    expect(run.state.numBatchesTracked).toBe(0);
    tf.dispose([out.y, out.batchMean, out.batchVar, out.state.runningMean!, out.state.runningVar!]);
    disposeState(run.state);
    run.teardown();
  });

  function firstReplica(s: State): State {
    const pick = (t: tf.Tensor) => {
      const first = tf.tidy(() => tf.squeeze(tf.slice(t, [0], [1]), [0]));
      t.dispose();
      return first;
    };
    return { ...s, runningMean: pick(s.runningMean!), runningVar: pick(s.runningVar!) };
  }
});
