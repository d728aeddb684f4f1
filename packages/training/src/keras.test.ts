import { createReferenceEngine, hostTensor, referenceTrain, referenceVjp } from '@normbridge/core';
import { describe, expect, it } from 'vitest';
import { BatchNormalization, KerasError } from '@normbridge/keras';
import { trainOnBatch } from './index.js';

const engine = createReferenceEngine();
const x = hostTensor([4, 2], Float64Array.from([0.5, -1, 2, 0.25, -0.75, 3, 1.5, -2]), 'float64');
const target = hostTensor([4, 2], Float64Array.from([1, 0, -1, 2, 0.5, 1, 0, -0.5]), 'float64');

describe('trainOnBatch (Sequential([BatchNormalization]) with SGD and mean squared error)', () => {
  it('reports the MSE of the training-mode output and takes one SGD step on gamma and beta', async () => {
    const bn = new BatchNormalization({ momentum: 0.9, engine });
    bn.build([4, 2]);
    const loss = await trainOnBatch(bn, x, target, { optimizer: { className: 'SGD', learningRate: 0.1 } });
    // The same step by hand on the reference: forward, dL/dy = 2 (y - t) / n, vjp, SGD.
    const s0 = { scale: hostTensor([2], [1, 1]), bias: hostTensor([2], [0, 0]), runningMean: hostTensor([2], [0, 0]), runningVar: hostTensor([2], [1, 1]), numBatchesTracked: 0 };
    const { y, state } = referenceTrain(bn.spec, s0, x);
    const n = y.data.length;
    const diff = Array.from(y.data, (v, i) => v - target.data[i]!);
    expect(loss).toBeCloseTo(diff.reduce((a, d) => a + d * d, 0) / n, 12);
    const g = referenceVjp(bn.spec, s0, x, hostTensor([4, 2], Float64Array.from(diff, (d) => (2 * d) / n), 'float64'), 'train');
    const [gamma, beta, mean, variance] = bn.getWeights();
    Array.from(gamma!.data).forEach((v, i) => expect(v).toBeCloseTo(1 - 0.1 * g.dScale!.data[i]!, 7));
    Array.from(beta!.data).forEach((v, i) => expect(v).toBeCloseTo(-0.1 * g.dBias!.data[i]!, 7));
    expect(Math.abs(gamma!.data[0]! - 1)).toBeGreaterThan(1e-4); // the step moved gamma
    // The moving statistics updated in the same call, as train_on_batch does.
    Array.from(mean!.data).forEach((v, i) => expect(v).toBeCloseTo(state.runningMean!.data[i]!, 7));
    Array.from(variance!.data).forEach((v, i) => expect(v).toBeCloseTo(state.runningVar!.data[i]!, 7));
  });

  it('refuses a loss or optimizer it does not implement, with Keras-style errors', async () => {
    const bn = new BatchNormalization({ engine });
    await expect(trainOnBatch(bn, x, target, { loss: 'hinge' as 'mean_squared_error', optimizer: { className: 'SGD', learningRate: 0.1 } })).rejects.toThrow(KerasError);
    await expect(trainOnBatch(bn, x, target, { optimizer: { className: 'Adam' as 'SGD', learningRate: 0.1 } })).rejects.toThrow(/Unsupported optimizer/);
  });
});
