import { defineSpec, hostTensor, initialState, referenceEval, referenceTrain } from '@normbridge/core';
import { describe, expect, it } from 'vitest';
import { OnnxModelError } from '../errors.js';
import { expectClose } from '@normbridge/testing';
import { TOL } from '../test-support/data.js';
import { exposeOutputs, f32, fixture, runModel, torchExpected } from '../test-support/models.js';
import { shortestFloat32 } from './batchnorm-node.js';
import { exportOnnxModel } from './export.js';
import { importBatchNorms } from './import.js';

const expected = torchExpected();
const BN = '/bn/BatchNormalization';
const CONV_OUT = '/conv/Conv_output_0';
const BN_OUT = '/bn/BatchNormalization_output_0';

describe('importBatchNorms on torch.onnx.export (torch 1.13, opset 15) models', () => {
  it('reads the eval export: ONNX momentum 0.9 → oldValueWeight 0.9, eps 1e-5, axis 1, state from initializers', () => {
    const [bn, ...rest] = importBatchNorms(fixture('torch_cbr_eval.onnx'));
    expect(rest).toHaveLength(0);
    expect(bn!.name).toBe(BN);
    expect(bn!.input).toBe(CONV_OUT);
    expect(bn!.trainingMode).toBe(false);
    expect(bn!.opset).toBe(15);
    expect(bn!.spec).toMatchObject({
      featureAxes: [1],
      epsilon: 1e-5,
      runningAverage: { kind: 'exponential', oldValueWeight: 0.9 },
      runningVarianceEstimator: 'biased',
    });
    const before = expected.bn_eval;
    const f = (v: number[]) => Array.from(Float32Array.from(v));
    expect(Array.from(bn!.state.scale!.data)).toEqual(f(before.weight));
    expect(Array.from(bn!.state.bias!.data)).toEqual(f(before.bias));
    expect(Array.from(bn!.state.runningMean!.data)).toEqual(f(before.running_mean));
    expect(Array.from(bn!.state.runningVar!.data)).toEqual(f(before.running_var));
  });

  it('the imported spec and state reproduce the node in ORT (reference on the Conv output)', async () => {
    const [bn] = importBatchNorms(fixture('torch_cbr_eval.onnx'));
    const model = exposeOutputs(fixture('torch_cbr_eval.onnx'), [CONV_OUT, BN_OUT]);
    const out = await runModel(model, { input: f32(expected.input_shape, expected.input) });
    expectClose({ shape: [expected.eval_output.length], data: out.output!, dtype: 'float32' }, hostTensor([expected.eval_output.length], expected.eval_output, 'float64'), { atol: 1e-5, rtol: 1e-5 }, 'model vs torch eval output');
    const z = hostTensor([2, 4, 5, 5], out[CONV_OUT]!);
    expectClose(hostTensor(z.shape, out[BN_OUT]!), referenceEval(bn!.spec, bn!.state, z), TOL.float32, 'BatchNormalization output');
  });

  it('reads the training export as a training-mode node; ORT then keeps the biased running variance, unlike torch', async () => {
    const [bn] = importBatchNorms(fixture('torch_cbr_train.onnx'));
    expect(bn!.trainingMode).toBe(true);
    // Exporting in training mode traced one forward pass, which moved torch's running statistics.
    expect(Array.from(bn!.state.runningMean!.data)).toEqual(Array.from(Float32Array.from(expected.bn_in_train_export.running_mean)));
    const model = exposeOutputs(fixture('torch_cbr_train.onnx'), [CONV_OUT, '/bn/BatchNormalization_output_1', '/bn/BatchNormalization_output_2']);
    const out = await runModel(model, { input: f32(expected.input_shape, expected.input) });
    // The training-mode output normalises with the biased batch variance in both.
    expectClose(hostTensor([expected.train_output.length], out.output!), hostTensor([expected.train_output.length], expected.train_output, 'float64'), { atol: 1e-5, rtol: 1e-5 }, 'train output vs torch');
    const ref = referenceTrain(bn!.spec, bn!.state, hostTensor([2, 4, 5, 5], out[CONV_OUT]!));
    expectClose(hostTensor([4], out['/bn/BatchNormalization_output_1']!), ref.state.runningMean!, TOL.float32, 'running mean');
    expectClose(hostTensor([4], out['/bn/BatchNormalization_output_2']!), ref.state.runningVar!, TOL.float32, 'running var (biased)');
    // torch itself updated the running variance with the unbiased estimate (docs/semantics.md#pytorch).
    const torchVar = hostTensor([4], expected.bn_after_train_step.running_var, 'float64');
    const unbiased = referenceTrain(defineSpec({ ...bn!.spec, runningVarianceEstimator: 'unbiased' }), bn!.state, hostTensor([2, 4, 5, 5], out[CONV_OUT]!));
    expectClose(torchVar, unbiased.state.runningVar!, TOL.float32, 'torch running var = unbiased reference');
    expect(Math.abs(torchVar.data[0]! - ref.state.runningVar!.data[0]!)).toBeGreaterThan(1e-4);
    expectClose(hostTensor([4], out['/bn/BatchNormalization_output_1']!), hostTensor([4], expected.bn_after_train_step.running_mean, 'float64'), { atol: 1e-5, rtol: 1e-5 }, 'running mean vs torch');
  });
});

describe('import details', () => {
  it("attributes: 'float32' keeps what ONNX Runtime computes with", () => {
    const [bn] = importBatchNorms(fixture('torch_cbr_eval.onnx'), { attributes: 'float32' });
    expect(bn!.spec.epsilon).toBe(Math.fround(1e-5));
    expect(bn!.spec.runningAverage).toEqual({ kind: 'exponential', oldValueWeight: Math.fround(0.9) });
  });

  it('shortestFloat32 recovers what an exporter wrote', () => {
    expect(shortestFloat32(Math.fround(1e-5))).toBe(1e-5);
    expect(shortestFloat32(Math.fround(0.9))).toBe(0.9);
    expect(shortestFloat32(Math.fround(0.99))).toBe(0.99);
    expect(shortestFloat32(0.5)).toBe(0.5);
    expect(shortestFloat32(Math.fround(1 / 3))).toBe(0.33333334);
  });

  it('rejects bytes that are not a model, and BatchNorm inputs that are not constants', () => {
    expect(() => importBatchNorms(Uint8Array.of(1, 2, 3, 255))).toThrow(OnnxModelError);
    const spec = defineSpec({ featureAxes: [1] });
    const fedState = exportOnnxModel(spec, initialState(spec, [3]), { mode: 'training', inputShape: [2, 3], runningStatistics: 'inputs' });
    expect(() => importBatchNorms(fedState)).toThrow(/input 3 \(input_mean "input_mean"\) is not an initializer/);
    const error = (() => {
      try {
        importBatchNorms(fedState);
      } catch (e) {
        return e;
      }
    })();
    expect(error).toMatchObject({ code: 'onnx-model', node: 'BatchNormalization_0' });
  });
});
