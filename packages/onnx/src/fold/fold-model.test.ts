import { hostTensor } from '@normbridge/core';
import { describe, expect, it } from 'vitest';
import { decodeModel } from '../model/graph-index.js';
import { expectClose } from '@normbridge/testing';
import { randomTensor } from '../test-support/data.js';
import { f32, fixture, runModel, torchExpected } from '../test-support/models.js';
import { SYNTHETIC_INPUT_SHAPE, syntheticModel } from '../test-support/synthetic.js';
import { foldBatchNormsInModel } from './fold-model.js';

const TOL = { atol: 1e-5, rtol: 1e-5 };
const opTypes = (model: Uint8Array) => decodeModel(model).graph!.node.map((n) => n.opType);

async function sameOutputs(a: Uint8Array, b: Uint8Array, shape: number[], seeds: number[]) {
  for (const seed of seeds) {
    const x = randomTensor(shape, seed);
    const [ya, yb] = await Promise.all([runModel(a, { input: f32(shape, x.data) }), runModel(b, { input: f32(shape, x.data) })]);
    expectClose(hostTensor([yb.output!.length], yb.output!), hostTensor([ya.output!.length], ya.output!), TOL, `folded vs unfolded (seed ${seed})`);
  }
}

describe('foldBatchNormsInModel', () => {
  it('synthetic model: folds Conv±bias, grouped Conv and Gemm (both transB) pairs; leaves shared and non-Conv ones', async () => {
    const model = syntheticModel();
    const { model: folded, folded: pairs } = foldBatchNormsInModel(model);
    expect(pairs.map((p) => [p.op, p.batchNorm])).toEqual([
      ['Conv', 'BatchNormalization_1'],
      ['Conv', 'BatchNormalization_4'],
      ['Gemm', 'BatchNormalization_11'],
      ['Gemm', 'BatchNormalization_13'],
    ]);
    expect(opTypes(folded).filter((t) => t === 'BatchNormalization')).toHaveLength(2);
    await sameOutputs(model, folded, SYNTHETIC_INPUT_SHAPE, [1, 2, 3]);
    // The folded BatchNorms' parameters are gone; the unfoldable ones' stay.
    const inits = decodeModel(folded).graph!.initializer.map((t) => t.name);
    expect(inits.filter((n) => n.startsWith('bn')).map((n) => n.split('.')[0])).toEqual(['bn3', 'bn3', 'bn3', 'bn3', 'bn6', 'bn6', 'bn6', 'bn6']);
  });

  it("torch's eval export: the fold matches the unfolded model, torch's output and torch's own fused export", async () => {
    const expected = torchExpected();
    const model = fixture('torch_cbr_eval.onnx');
    const { model: folded, folded: pairs } = foldBatchNormsInModel(model);
    expect(pairs).toEqual([{ batchNorm: '/bn/BatchNormalization', into: '/conv/Conv', op: 'Conv' }]);
    expect(opTypes(folded)).toEqual(['Conv', 'Relu', 'Flatten', 'Gemm']);
    expect(decodeModel(folded).graph!.initializer.map((t) => t.name).some((n) => n.startsWith('bn.'))).toBe(false);
    await sameOutputs(model, folded, expected.input_shape, [4, 5]);
    const x = f32(expected.input_shape, expected.input);
    const ours = (await runModel(folded, { input: x })).output!;
    const theirs = (await runModel(fixture('torch_cbr_fused.onnx'), { input: x })).output!;
    expectClose(hostTensor([ours.length], ours), hostTensor([ours.length], expected.eval_output, 'float64'), TOL, 'vs torch eval output');
    expectClose(hostTensor([ours.length], ours), hostTensor([ours.length], theirs), TOL, 'vs torch-fused model');
  });

  it('leaves training-mode BatchNormalization alone', () => {
    const { folded } = foldBatchNormsInModel(fixture('torch_cbr_train.onnx'));
    expect(folded).toEqual([]);
  });
});
