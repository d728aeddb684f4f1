/** Read access to a decoded ONNX graph: constants by name, producers, consumers, opset. */
import type { AttributeProto, GraphProto, ModelProto, NodeProto, TensorProto } from 'onnx-buf';
import { ModelProtoSchema } from 'onnx-buf';
import { OnnxModelError } from '../errors.js';
import { decode } from '../proto/runtime.js';

export function decodeModel(bytes: Uint8Array): ModelProto {
  let model: ModelProto;
  try {
    model = decode(ModelProtoSchema, bytes);
  } catch (e) {
    throw new OnnxModelError('(model)', 'the bytes are not an ONNX ModelProto', { cause: e });
  }
  if (!model.graph) throw new OnnxModelError('(model)', 'the model has no graph');
  return model;
}

/** Opset of the default ONNX domain. */
export function defaultOpset(model: ModelProto): number {
  const entry = model.opsetImport.find((o) => o.domain === '' || o.domain === 'ai.onnx');
  return entry ? Number(entry.version) : 1;
}

export function isOnnxOp(node: NodeProto, opType: string): boolean {
  return node.opType === opType && (node.domain === '' || node.domain === 'ai.onnx');
}

/** A readable, stable name for a node: its own, or its op type and index. */
export function nodeLabel(node: NodeProto, index: number): string {
  return node.name !== '' ? node.name : `${node.opType}#${index}`;
}

export function attr(node: NodeProto, name: string): AttributeProto | undefined {
  return node.attribute.find((a) => a.name === name);
}

export class GraphIndex {
  readonly initializers = new Map<string, TensorProto>();
  readonly producers = new Map<string, NodeProto>();
  readonly graphOutputs: Set<string>;
  /** How often each value is read, by nodes of this graph and of nested subgraphs. */
  readonly uses = new Map<string, number>();

  constructor(readonly graph: GraphProto) {
    for (const t of graph.initializer) this.initializers.set(t.name, t);
    for (const n of graph.node) {
      for (const o of n.output) this.producers.set(o, n);
      // Constant nodes are constants too (exporters emit either form).
      const value = isOnnxOp(n, 'Constant') ? attr(n, 'value')?.t : undefined;
      if (value && n.output[0]) this.initializers.set(n.output[0], value);
      // torch.onnx deduplicates equal initializers and re-creates the dropped names with
      // Identity nodes (two BatchNorm biases that trained alike); their outputs are constants.
      const source = isOnnxOp(n, 'Identity') ? this.initializers.get(n.input[0] ?? '') : undefined;
      if (source && n.output[0]) this.initializers.set(n.output[0], source);
    }
    this.graphOutputs = new Set(graph.output.map((o) => o.name));
    countUses(graph, this.uses);
  }

  /** A constant tensor by value name, or undefined if the value is computed or fed. */
  constant(name: string): TensorProto | undefined {
    return this.initializers.get(name);
  }
}

function countUses(graph: GraphProto, uses: Map<string, number>): void {
  for (const n of graph.node) {
    for (const i of n.input) if (i !== '') uses.set(i, (uses.get(i) ?? 0) + 1);
    for (const a of n.attribute) {
      if (a.g) countUses(a.g, uses);
      for (const g of a.graphs) countUses(g, uses);
    }
  }
}
