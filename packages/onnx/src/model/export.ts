/**
 * Exporting a spec and its state as a standalone ONNX model (opset 15), for use outside
 * normbridge: inference (Y from X) or one training step.
 */
import {
  checkStateShapes,
  checkStateValues,
  requiredStateKeys,
  resolveLayout,
  type BatchNormSpec,
  type HostState,
  type HostTensor,
  type Layout,
  type Mode,
  type StateTensorKey,
} from '@normbridge/core';
import { canonicalize, fromCanonical, toCanonical3 } from '../graph/canonical.js';
import { NAMES, readState, type StateSources, type ValueSource } from '../graph/io.js';
import { chooseGraph } from '../graph/plan.js';
import { buildStepGraph } from '../graph/step.js';
import { GraphBuilder } from '../proto/builder.js';
import { elemTypeOf } from '../proto/tensor.js';

export interface ExportOptions {
  /**
   * `inference`: Y from X with the running statistics. `training`: one training step with
   * outputs Y, running_mean and running_var (plus batch_mean and batch_var when the spec is
   * not ONNX's own training semantics; see the README).
   * @default 'inference'
   */
  readonly mode?: 'inference' | 'training' | undefined;
  /** The input's shape, fixed in the model. */
  readonly inputShape: readonly number[];
  /** @default 'float32' */
  readonly dtype?: 'float32' | 'float64' | undefined;
  /**
   * Training models: how input_mean, input_var (and average_weight, where the model has one)
   * enter. `initializers`: baked from `hostState` and also listed as graph inputs, which ONNX
   * lets a runtime override (onnxruntime for Python and C++ do; onnxruntime-node 1.30 does not
   * expose overridable initializers and ignores such feeds). `inputs`: required graph inputs,
   * fed on every step. Inference models always bake their state.
   * @default 'initializers'
   */
  readonly runningStatistics?: 'initializers' | 'inputs' | undefined;
}

export function exportOnnxModel(spec: BatchNormSpec, hostState: HostState, options: ExportOptions): Uint8Array {
  const dtype = options.dtype ?? 'float32';
  const mode: Mode = options.mode === 'training' ? 'train' : 'eval';
  const layout = resolveLayout(spec, options.inputShape);
  checkStateShapes(spec, layout, mode, hostState);
  checkStateValues(hostState);
  const training = mode === 'train';
  const fed = training && options.runningStatistics === 'inputs';
  const source = (key: StateTensorKey | 'averageWeight', tensor: HostTensor): ValueSource => {
    const running = key === 'runningMean' || key === 'runningVar' || key === 'averageWeight';
    if (fed && running) return { kind: 'input', elemType: elemTypeOf(dtype) };
    return { kind: 'initializer', tensor, overridable: training && running };
  };
  if (training && usesStandardNode(spec, layout, dtype)) return onnxTrainingModel(spec, hostState, layout, dtype, source);
  const state: StateSources = {};
  for (const key of requiredStateKeys(spec, mode)) state[key] = source(key, hostState[key]!);
  const avg = spec.runningAverage;
  const a = avg.kind === 'exponential' ? avg.oldValueWeight : 1 - 1 / (hostState.numBatchesTracked + 1);
  return buildStepGraph({
    op: mode,
    spec,
    layout,
    replicated: false,
    dtype,
    // Training that ONNX's node cannot express is written with primitive ops only, so that the
    // model holds no BatchNormalization node whose running outputs ORT would alias (see step.ts).
    kind: chooseGraph(spec, mode, mode, { dtype, masked: false, replicated: false, primitiveOnly: training }).kind,
    x: { kind: 'input', elemType: elemTypeOf(dtype) },
    state,
    averageWeight: training && avg.kind !== 'none' ? source('averageWeight', { shape: [], data: Float64Array.of(a), dtype: 'float64' }) : undefined,
  }).bytes;
}

/**
 * ONNX BatchNormalization's own training semantics (exponential, biased, blend, two-pass) on one
 * feature axis, and, for float64, a momentum and epsilon that its float32 attributes hold exactly.
 */
export function usesStandardNode(spec: BatchNormSpec, layout: Layout, dtype: 'float32' | 'float64'): boolean {
  const avg = spec.runningAverage;
  const exact = (v: number) => dtype === 'float32' || Math.fround(v) === v;
  return (
    avg.kind === 'exponential' &&
    spec.runningVarianceEstimator === 'biased' &&
    spec.runningUpdateForm === 'blend' &&
    spec.varianceAlgorithm === 'two-pass' &&
    layout.featureAxes.length === 1 &&
    exact(avg.oldValueWeight) &&
    exact(spec.epsilon)
  );
}

/**
 * The standard form: one training-mode node with `momentum` = the old value's weight. Its
 * running outputs are graph outputs themselves: ORT's CPU kernel aliases them to
 * input_mean/input_var, and only graph outputs get buffers of their own (a consumed running
 * output would overwrite the initializer, or the caller's fed tensor, in place).
 */
function onnxTrainingModel(
  spec: BatchNormSpec,
  state: HostState,
  layout: Layout,
  dtype: 'float32' | 'float64',
  source: (key: StateTensorKey, t: HostTensor) => ValueSource,
): Uint8Array {
  const b = new GraphBuilder(dtype);
  const c = canonicalize(layout, false);
  const x = b.input(NAMES.x, b.elemType, layout.inputShape);
  // A disabled scale or bias is ignored even when present, as everywhere else.
  const read = (key: StateTensorKey, enabled: boolean, fill: number) => {
    const t = enabled ? state[key] : undefined;
    return t ? readState(b, key, source(key, t), layout.featureShape) : b.constant(new Array<number>(c.C).fill(fill), [c.C], key);
  };
  const inputs = [toCanonical3(b, c, x), read('scale', spec.scale, 1), read('bias', spec.bias, 0), read('runningMean', true, 0), read('runningVar', true, 1)];
  const oldWeight = spec.runningAverage.kind === 'exponential' ? spec.runningAverage.oldValueWeight : 0.9;
  const [y3, rm, rv] = b.opN('BatchNormalization', inputs, ['bn_y', NAMES.runningMean, NAMES.runningVar], {
    epsilon: { float: spec.epsilon },
    momentum: { float: oldWeight },
    training_mode: 1,
  });
  b.output(NAMES.y, fromCanonical(b, c, y3!, 3));
  b.output(NAMES.runningMean, rm!);
  b.output(NAMES.runningVar, rv!);
  return b.build().bytes;
}
