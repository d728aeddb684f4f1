import { create } from '@bufbuild/protobuf';
import { hostTensor } from '@normbridge/core';
import { ModelProtoSchema, NodeProtoSchema } from 'onnx-buf';
import { describe, expect, it } from 'vitest';
import { decodeModel } from '../model/graph-index.js';
import { encode } from '../proto/runtime.js';
import { expectClose } from '@normbridge/testing';
import { randomTensor } from '../test-support/data.js';
import { f32, fixture, runModel, torchExpected } from '../test-support/models.js';
import { foldBatchNormsInModel } from './fold-model.js';

/**
 * torch.onnx deduplicates initializers with equal values and re-creates the dropped name with an
 * Identity node (seen on a trained ResNet whose two residual-branch BatchNorm biases are equal).
 * The BatchNorm then reads its bias through that Identity; folding must still see a constant.
 */
describe('foldBatchNormsInModel with a parameter behind an Identity node', () => {
  it('folds, and the folded model computes what the unfolded one does', async () => {
    const model = decodeModel(fixture('torch_cbr_eval.onnx'));
    const graph = model.graph!;
    const bn = graph.node.find((n) => n.opType === 'BatchNormalization')!;
    const biasName = bn.input[2]!;
    graph.initializer.find((t) => t.name === biasName)!.name = `${biasName}.dedup`;
    graph.node.unshift(create(NodeProtoSchema, { opType: 'Identity', name: 'dedup', input: [`${biasName}.dedup`], output: [biasName] }));
    const withIdentity = encode(ModelProtoSchema, model);

    const { model: folded, folded: pairs } = foldBatchNormsInModel(withIdentity);
    expect(pairs).toHaveLength(1);
    expect(decodeModel(folded).graph!.node.some((n) => n.opType === 'BatchNormalization')).toBe(false);
    const shape = torchExpected().input_shape;
    const x = randomTensor(shape, 7);
    const [a, b] = await Promise.all([runModel(withIdentity, { input: f32(shape, x.data) }), runModel(folded, { input: f32(shape, x.data) })]);
    expectClose(hostTensor([b.output!.length], b.output!), hostTensor([a.output!.length], a.output!), { atol: 1e-5, rtol: 1e-5 }, 'folded vs unfolded');
  });
});
