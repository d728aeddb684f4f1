/**
 * Which graph serves a call: ONNX's own BatchNormalization node where its semantics are the
 * spec's, primitive ops otherwise. The README's decision table is this function.
 */
import { usesBatchStatistics, type BatchNormSpec, type Mode } from '@normbridge/core';

export type GraphKind = 'batchnorm-node' | 'primitive';
export type StepOp = 'train' | 'eval' | 'vjp';

export interface GraphChoice {
  readonly kind: GraphKind;
  /** Why, in words (shown by `describeOrtGraph` and in error messages). */
  readonly reason: string;
}

export interface CallTraits {
  readonly dtype: 'float32' | 'float64';
  /** A mask tensor is passed in this call. */
  readonly masked: boolean;
  /** A leading replica axis is in use. */
  readonly replicated: boolean;
  /** Force the primitive graph (for tests and comparisons). */
  readonly primitiveOnly: boolean;
  /**
   * Whether the execution provider runs BatchNormalization in training mode (ONNX Runtime's
   * WebGPU provider does not).
   * @default true
   */
  readonly trainingNode?: boolean;
}

export function chooseGraph(spec: BatchNormSpec, op: StepOp, mode: Mode, traits: CallTraits): GraphChoice {
  const primitive = (reason: string): GraphChoice => ({ kind: 'primitive', reason });
  if (op === 'vjp') return primitive('ONNX Runtime inference builds have no autodiff: the backward pass is an analytic graph');
  if (traits.primitiveOnly) return primitive('the engine was created with graph: "primitive"');
  // BatchNormalization's epsilon is a float32 attribute. In float64 an epsilon that float32
  // cannot hold exactly (1e-5 cannot) would shift every output by up to ~1e-8 relative.
  if (traits.dtype === 'float64' && Math.fround(spec.epsilon) !== spec.epsilon) {
    return primitive(`epsilon ${spec.epsilon} is not exactly a float32, and the node stores it as one (float64 parity)`);
  }
  if (!usesBatchStatistics(spec, mode)) return { kind: 'batchnorm-node', reason: 'inference with running statistics' };
  if (traits.trainingNode === false) {
    return primitive('the execution provider has no BatchNormalization training mode (ONNX Runtime WebGPU: "trainingMode is not supported yet")');
  }
  if (spec.varianceAlgorithm !== 'two-pass') {
    return primitive(`variance "${spec.varianceAlgorithm}": the node computes the two-pass variance`);
  }
  if (traits.masked) return primitive('a mask restricts the statistics; the node reduces over every position');
  if (traits.replicated) return primitive('replica statistics are combined across the leading axis');
  return {
    kind: 'batchnorm-node',
    reason: 'training-mode node (momentum 0) gives the batch statistics; the running update is added with an exact weight',
  };
}
