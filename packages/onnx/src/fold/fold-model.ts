/**
 * BatchNorm folding as an ONNX graph rewrite: each inference-mode BatchNormalization whose input
 * is a Conv or Gemm output read by nothing else is folded into that node's weights, and removed.
 * New initializers are added (the old ones may be shared) and orphans are dropped afterwards.
 */
import { ModelProtoSchema, type GraphProto, type NodeProto, type TensorProto } from 'onnx-buf';
import { attribute } from '../proto/builder.js';
import { encode } from '../proto/runtime.js';
import { hostTensorFromProto, replaceTensorData } from '../proto/tensor.js';
import { isTrainingNode, readBatchNormNode } from '../model/batchnorm-node.js';
import { attr, decodeModel, defaultOpset, GraphIndex, isOnnxOp, nodeLabel } from '../model/graph-index.js';
import { foldBatchNormIntoConv, foldBatchNormIntoGemm } from './fold-tensors.js';

export interface FoldedPair {
  readonly batchNorm: string;
  /** The Conv or Gemm node that absorbed it. */
  readonly into: string;
  readonly op: 'Conv' | 'Gemm';
}

export interface FoldResult {
  readonly model: Uint8Array;
  readonly folded: readonly FoldedPair[];
}

export function foldBatchNormsInModel(modelBytes: Uint8Array): FoldResult {
  const model = decodeModel(modelBytes);
  const graph = model.graph!;
  const opset = defaultOpset(model);
  const index = new GraphIndex(graph);
  const names = new Set<string>([...index.initializers.keys(), ...index.producers.keys(), ...graph.input.map((i) => i.name)]);
  const fresh = (base: string) => {
    let name = `${base}_bnfolded`;
    for (let i = 1; names.has(name); i++) name = `${base}_bnfolded_${i}`;
    names.add(name);
    return name;
  };
  const removed = new Set<NodeProto>();
  // Constants the rewrite may orphan: the old weights and the BatchNorms' parameters.
  const candidates = new Set<string>();
  const folded: FoldedPair[] = [];

  graph.node.forEach((bn, i) => {
    if (!isOnnxOp(bn, 'BatchNormalization') || isTrainingNode(bn, opset)) return;
    const z = bn.input[0];
    const producer = z ? index.producers.get(z) : undefined;
    if (!producer || !z || index.uses.get(z) !== 1 || index.graphOutputs.has(z)) return;
    const op = isOnnxOp(producer, 'Conv') ? 'Conv' : isOnnxOp(producer, 'Gemm') ? 'Gemm' : undefined;
    if (!op || producer.output[0] !== z) return;
    const w = index.constant(producer.input[1] ?? '');
    const cName = producer.input[2];
    const c = cName ? index.constant(cName) : undefined;
    if (!w || (cName && !c)) return; // weights computed at run time: nothing to fold into
    const label = nodeLabel(bn, i);
    const { spec, state } = readBatchNormNode(bn, label, index, opset);
    const weight = hostTensorFromProto(w, nodeLabel(producer, graph.node.indexOf(producer)));
    const bias = c ? hostTensorFromProto(c, label) : undefined;
    const result =
      op === 'Conv'
        ? foldBatchNormIntoConv({ weight, bias }, spec, state)
        : foldBatchNormIntoGemm({ weight, bias, transB: intAttr(producer, 'transB') === 1, beta: floatAttr(producer, 'beta', 1) }, spec, state);
    const newW = addInitializer(graph, replaceTensorData(w, fresh(w.name || 'W'), result.weight));
    const newB = addInitializer(graph, replaceTensorData(c ?? w, fresh(cName || `${producer.output[0]}_bias`), result.bias));
    for (const name of [...producer.input.slice(1), ...bn.input.slice(1)]) if (name) candidates.add(name);
    producer.input = [producer.input[0]!, newW, newB];
    if (op === 'Gemm') setAttr(producer, 'beta', 1);
    // The producer now writes the BatchNorm's output; the intermediate value disappears.
    producer.output = [bn.output[0]!, ...producer.output.slice(1)];
    graph.valueInfo = graph.valueInfo.filter((v) => v.name !== z);
    removed.add(bn);
    folded.push({ batchNorm: label, into: nodeLabel(producer, graph.node.indexOf(producer)), op });
  });

  graph.node = graph.node.filter((n) => !removed.has(n));
  dropOrphans(graph, candidates);
  return { model: encode(ModelProtoSchema, model), folded };
}

function addInitializer(graph: GraphProto, t: TensorProto): string {
  graph.initializer.push(t);
  return t.name;
}

function intAttr(node: NodeProto, name: string): number {
  const a = attr(node, name);
  return a ? Number(a.i) : 0;
}

function floatAttr(node: NodeProto, name: string, fallback: number): number {
  const a = attr(node, name);
  return a ? a.f : fallback;
}

function setAttr(node: NodeProto, name: string, value: number): void {
  node.attribute = [...node.attribute.filter((a) => a.name !== name), attribute(name, { float: value })];
}

/**
 * Drops the candidates nothing reads any more: initializers (with their graph-input entries, which
 * older models have) and Constant nodes. Constants that were unused before are left alone.
 */
function dropOrphans(graph: GraphProto, candidates: ReadonlySet<string>): void {
  const used = new GraphIndex(graph).uses;
  const outputs = new Set(graph.output.map((o) => o.name));
  const dropped = new Set([...candidates].filter((name) => !used.has(name) && !outputs.has(name)));
  graph.initializer = graph.initializer.filter((t) => !dropped.has(t.name));
  graph.input = graph.input.filter((i) => !dropped.has(i.name));
  graph.node = graph.node.filter((n) => !(isOnnxOp(n, 'Constant') && n.output.length === 1 && dropped.has(n.output[0]!)));
}
