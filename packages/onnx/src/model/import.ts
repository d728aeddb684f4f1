/** The BatchNormalization nodes of an existing ONNX model, as canonical specs and host state. */
import type { BatchNormSpec, HostState } from '@normbridge/core';
import { readBatchNormNode, type AttributeReading } from './batchnorm-node.js';
import { decodeModel, defaultOpset, GraphIndex, isOnnxOp, nodeLabel } from './graph-index.js';

export interface ImportedBatchNorm {
  /** The node's name, or `BatchNormalization#<index>` when it has none. */
  readonly name: string;
  /** The value normalised (input 0) and the normalised output (output 0). */
  readonly input: string;
  readonly output: string;
  /** Feature axis 1, the node's epsilon, its momentum converted with `fromDecayMomentum`, ONNX semantics. */
  readonly spec: BatchNormSpec;
  /** scale, B, input_mean and input_var from the initializers; the counter is 0 (ONNX has none). */
  readonly state: HostState;
  /** The node is a training-mode node (it writes running statistics when run). */
  readonly trainingMode: boolean;
  /** Opset of the model's default domain. */
  readonly opset: number;
}

export interface ImportOptions {
  /**
   * ONNX stores epsilon and momentum as float32. `decimal` reads them as the shortest decimal
   * with that float32 value (1e-5, 0.9: what the exporter was given); `float32` keeps the stored
   * value exactly (9.99999974738e-6, 0.899999976: what ONNX Runtime computes with).
   * @default 'decimal'
   */
  readonly attributes?: AttributeReading | undefined;
}

/**
 * Reads every BatchNormalization node of the model's main graph (not of nested subgraphs), in
 * graph order. A node whose parameters are not constants is an {@link OnnxModelError}.
 */
export function importBatchNorms(modelBytes: Uint8Array, options: ImportOptions = {}): ImportedBatchNorm[] {
  const model = decodeModel(modelBytes);
  const graph = model.graph!;
  const opset = defaultOpset(model);
  const index = new GraphIndex(graph);
  const out: ImportedBatchNorm[] = [];
  graph.node.forEach((node, i) => {
    if (!isOnnxOp(node, 'BatchNormalization')) return;
    const name = nodeLabel(node, i);
    const info = readBatchNormNode(node, name, index, opset, options.attributes);
    out.push({ name, input: node.input[0] ?? '', output: node.output[0] ?? '', ...info, opset });
  });
  return out;
}
