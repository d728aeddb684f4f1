import {
  defineSpec,
  fromBatchWeightMomentum,
  hostTensor,
  referenceEval,
  referenceTrain,
  type BatchNormSpecInput,
  type Dtype,
  type HostState,
} from '@normbridge/core';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { decodeModel } from './graph-index.js';
import { expectClose } from '@normbridge/testing';
import { randomTensor, TOL } from '../test-support/data.js';
import { runModel } from '../test-support/models.js';
import { exportOnnxModel } from './export.js';
import { importBatchNorms } from './import.js';

function state(featureShape: number[], dtype: Dtype, spec = defineSpec()): HostState {
  const r = (seed: number, offset: number, spread: number) => randomTensor(featureShape, seed, dtype, offset, spread);
  return { scale: spec.scale ? r(1, 1, 0.5) : undefined, bias: spec.bias ? r(2, 0, 0.5) : undefined, runningMean: r(3, 0.2, 0.5), runningVar: r(4, 1.5, 0.4), numBatchesTracked: 3 };
}

const CASES: [string, BatchNormSpecInput, number[], 'float32' | 'float64'][] = [
  ['NCHW, ONNX semantics', { featureAxes: [1] }, [2, 3, 4, 5], 'float32'],
  ['NHWC', { featureAxes: [-1], runningAverage: { kind: 'exponential', oldValueWeight: 0.99 } }, [2, 4, 5, 3], 'float32'],
  ['multi-axis [3, 1]', { featureAxes: [3, 1] }, [2, 3, 4, 5], 'float32'],
  ['torch: unbiased, momentum 0.1', { featureAxes: [1], runningAverage: fromBatchWeightMomentum(0.1), runningVarianceEstimator: 'unbiased' }, [4, 3, 5], 'float32'],
  ['torch: cumulative (weight from the counter)', { featureAxes: [1], runningAverage: { kind: 'cumulative' }, runningVarianceEstimator: 'unbiased' }, [4, 3, 5], 'float32'],
  ['no scale or bias, one-pass', { featureAxes: [-1], scale: false, bias: false, varianceAlgorithm: 'one-pass-clamped' }, [6, 4], 'float32'],
  ['float64, eps 1e-5', { featureAxes: [1] }, [3, 2, 4], 'float64'],
  ['float64 torch', { featureAxes: [1], runningAverage: fromBatchWeightMomentum(0.1), runningVarianceEstimator: 'unbiased' }, [3, 2, 4], 'float64'],
];

const tensor = (t: { shape: readonly number[]; data: Float32Array | Float64Array; dtype: Dtype }) =>
  new ort.Tensor(t.dtype === 'float64' ? 'float64' : 'float32', t.data, [...t.shape]);

describe('exportOnnxModel → onnxruntime-node, against the reference', () => {
  for (const [name, input, shape, dtype] of CASES) {
    it(name, async () => {
      const spec = defineSpec(input);
      const rank = shape.length;
      const featureShape = spec.featureAxes.map((a) => shape[a < 0 ? rank + a : a]!);
      const s = state(featureShape, dtype, spec);
      const x = randomTensor(shape, 7, dtype);
      const tol = dtype === 'float64' ? TOL.float64 : TOL.float32;
      const inference = await runModel(exportOnnxModel(spec, s, { inputShape: shape, dtype }), { X: tensor(x) });
      expectClose(hostTensor(shape, inference.Y!), referenceEval(spec, s, x), tol, 'inference Y');
      const training = await runModel(exportOnnxModel(spec, s, { mode: 'training', inputShape: shape, dtype }), { X: tensor(x) });
      const ref = referenceTrain(spec, s, x);
      expectClose(hostTensor(shape, training.Y!), ref.y, tol, 'training Y');
      expectClose(hostTensor(featureShape, training.running_mean!), ref.state.runningMean!, tol, 'running_mean');
      expectClose(hostTensor(featureShape, training.running_var!), ref.state.runningVar!, tol, 'running_var');
    });
  }
});

describe('the exported model itself', () => {
  const spec = defineSpec({ featureAxes: [1] });
  const s = state([3], 'float32');

  it('NCHW inference is one BatchNormalization node with named initializers (opset 15, IR 8)', () => {
    const model = decodeModel(exportOnnxModel(spec, s, { inputShape: [2, 3, 4] }));
    expect(model.irVersion).toBe(8n);
    expect(model.opsetImport.map((o) => [o.domain, o.version])).toEqual([['', 15n]]);
    expect(model.graph!.node.map((n) => [n.opType, n.input, n.output])).toEqual([
      ['BatchNormalization', ['X', 'scale', 'B', 'input_mean', 'input_var'], ['Y']],
    ]);
    // And it imports back to the same spec and state.
    const [back] = importBatchNorms(exportOnnxModel(spec, s, { inputShape: [2, 3, 4] }));
    expect(back!.spec).toEqual(spec);
    expect(Array.from(back!.state.runningVar!.data)).toEqual(Array.from(s.runningVar!.data));
  });

  it('ONNX-semantics training is the standard training_mode=1 node with momentum = oldValueWeight', () => {
    const model = decodeModel(exportOnnxModel(spec, s, { mode: 'training', inputShape: [2, 3, 4] }));
    const [node, ...rest] = model.graph!.node;
    expect(rest).toHaveLength(0);
    expect(node!.output).toEqual(['Y', 'running_mean', 'running_var']);
    const attrs = Object.fromEntries(node!.attribute.map((a) => [a.name, a.name === 'training_mode' ? Number(a.i) : a.f]));
    expect(attrs).toEqual({ epsilon: Math.fround(1e-5), momentum: Math.fround(0.9), training_mode: 1 });
    // scale and B are parameters; the running statistics are what a caller feeds back each step.
    expect(model.graph!.input.map((i) => i.name)).toEqual(['X', 'input_mean', 'input_var']);
  });

  it("runningStatistics: 'inputs' makes the running state required inputs; fed tensors are left untouched", async () => {
    for (const torchLike of [false, true]) {
      const sp = torchLike ? defineSpec({ featureAxes: [1], runningVarianceEstimator: 'unbiased' }) : spec;
      const model = exportOnnxModel(sp, s, { mode: 'training', inputShape: [4, 3], runningStatistics: 'inputs' });
      const x = randomTensor([4, 3], 8);
      const fed = { ...s, runningMean: hostTensor([3], [1, 2, 3]), runningVar: hostTensor([3], [4, 5, 6]) };
      const feeds: Record<string, ort.Tensor> = { X: tensor(x), input_mean: tensor(fed.runningMean), input_var: tensor(fed.runningVar) };
      if (torchLike) feeds.average_weight = new ort.Tensor('float32', Float32Array.of(0.9), []);
      const out = await runModel(model, feeds);
      const ref = referenceTrain(sp, fed, x);
      expectClose(hostTensor([3], out.running_mean!), ref.state.runningMean!, TOL.float32, 'running_mean');
      expectClose(hostTensor([3], out.running_var!), ref.state.runningVar!, TOL.float32, 'running_var');
      expect(Array.from(fed.runningMean.data)).toEqual([1, 2, 3]);
    }
  });

  it('by default the running state is an overridable initializer, which onnxruntime-node does not expose', async () => {
    const session = await ort.InferenceSession.create(exportOnnxModel(spec, s, { mode: 'training', inputShape: [4, 3] }), { logSeverityLevel: 3 });
    expect(session.inputNames).toEqual(['X']);
    await session.release();
  });

  it('float64 keeps float64 parity: the standard node only where its float32 attributes are exact', async () => {
    const s64 = state([3], 'float64');
    const x = randomTensor([4, 3], 9, 'float64');
    for (const [oldValueWeight, standard] of [[0.875, true], [0.9, false]] as const) {
      const sp = defineSpec({ featureAxes: [1], epsilon: 2 ** -10, runningAverage: { kind: 'exponential', oldValueWeight } });
      const model = exportOnnxModel(sp, s64, { mode: 'training', inputShape: [4, 3], dtype: 'float64' });
      expect(decodeModel(model).graph!.node.length === 1, `standard node for ${oldValueWeight}`).toBe(standard);
      const out = await runModel(model, { X: tensor(x) });
      const ref = referenceTrain(sp, s64, x);
      expectClose(hostTensor([4, 3], out.Y!), ref.y, TOL.float64, 'Y');
      expectClose(hostTensor([3], out.running_mean!), ref.state.runningMean!, TOL.float64, 'running_mean');
      expectClose(hostTensor([3], out.running_var!), ref.state.runningVar!, TOL.float64, 'running_var');
    }
  });
});
