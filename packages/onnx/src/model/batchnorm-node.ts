/**
 * Reading one ONNX BatchNormalization node as a canonical spec and host state.
 *
 * ONNX stores `epsilon` and `momentum` as float32 attributes, so 1e-5 arrives as
 * 9.99999974738e-6. By default the shortest decimal that rounds to the same float32 is taken
 * instead (what the exporter was given, in every realistic case); `float32` keeps the stored
 * value (what ONNX Runtime computes with).
 */
import type { BatchNormSpec, HostState, HostTensor } from '@normbridge/core';
import { onnx } from '@normbridge/frameworks';
import type { NodeProto } from 'onnx-buf';
import { OnnxModelError } from '../errors.js';
import { hostTensorFromProto } from '../proto/tensor.js';
import { attr, type GraphIndex } from './graph-index.js';

export interface BatchNormNodeInfo {
  readonly spec: BatchNormSpec;
  readonly state: HostState;
  /** The node updates running statistics (training_mode = 1, or the pre-opset-14 training forms). */
  readonly trainingMode: boolean;
}

/** The shortest decimal whose float32 rounding is `f`. */
export function shortestFloat32(f: number): number {
  if (!Number.isFinite(f) || f === 0) return f;
  for (let p = 1; p <= 9; p++) {
    const v = Number(f.toPrecision(p));
    if (Math.fround(v) === Math.fround(f)) return v;
  }
  return f;
}

/** How float attributes are read: see {@link ImportOptions}. */
export type AttributeReading = 'decimal' | 'float32';

function floatAttr(node: NodeProto, name: string, fallback: number, reading: AttributeReading): number {
  const a = attr(node, name);
  if (!a) return fallback;
  return reading === 'float32' ? a.f : shortestFloat32(a.f);
}

function intAttr(node: NodeProto, name: string, fallback: number): number {
  const a = attr(node, name);
  return a ? Number(a.i) : fallback;
}

export function isTrainingNode(node: NodeProto, opset: number): boolean {
  if (opset >= 14) return intAttr(node, 'training_mode', 0) === 1;
  if (opset <= 6) return intAttr(node, 'is_test', 0) === 0;
  return node.output.filter((o) => o !== '').length > 1;
}

/** Inputs 1–4 of the node, in order (the ONNX profile's variables). */
const ROLES = [...onnx.params, ...onnx.stats].map((v) => v.name);

/** ONNX `BatchNormalization` attributes (opset 15) as numbers. */
export interface BatchNormAttributes {
  /** @default 1e-5 (the ONNX profile's) */
  readonly epsilon?: number;
  /** ONNX momentum: the weight of the OLD running value (a decay, like Flax/Keras). @default 0.9 */
  readonly momentum?: number;
}

/** The canonical spec of an ONNX BatchNormalization node: the ONNX profile's (`@normbridge/frameworks`). */
export function onnxBatchNormSpec(attributes: BatchNormAttributes, label = 'BatchNormalization'): BatchNormSpec {
  return onnx.specFromArgs(attributes, { label });
}

export function readBatchNormNode(node: NodeProto, label: string, index: GraphIndex, opset: number, reading: AttributeReading = 'decimal'): BatchNormNodeInfo {
  if (opset < 9 && intAttr(node, 'spatial', 1) === 0) {
    throw new OnnxModelError(label, 'spatial = 0 (per-activation statistics) has no canonical spec; only spatial BatchNormalization is read');
  }
  const tensors = ROLES.map((role, i) => {
    const name = node.input[i + 1];
    const proto = name ? index.constant(name) : undefined;
    if (!proto) {
      throw new OnnxModelError(label, `input ${i + 1} (${role}${name ? ` "${name}"` : ''}) is not an initializer or Constant, so its values cannot be read`);
    }
    return hostTensorFromProto(proto, label);
  }) as [HostTensor, HostTensor, HostTensor, HostTensor];
  const channels = tensors[0].data.length;
  tensors.forEach((t, i) => {
    if (t.shape.length !== 1 || t.data.length !== channels) {
      throw new OnnxModelError(label, `${ROLES[i]} has dims [${t.shape.join(', ')}]; expected [${channels}] like scale`);
    }
  });
  const spec = onnxBatchNormSpec(
    { epsilon: floatAttr(node, 'epsilon', onnx.defaults.epsilon, reading), momentum: floatAttr(node, 'momentum', onnx.defaults.momentum, reading) },
    label,
  );
  const [scale, bias, runningMean, runningVar] = tensors;
  return { spec, state: { scale, bias, runningMean, runningVar, numBatchesTracked: 0 }, trainingMode: isTrainingNode(node, opset) };
}
