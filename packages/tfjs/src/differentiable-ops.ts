import * as tf from '@tensorflow/tfjs-core';
import {
  ShapeError,
  sameShape,
  updatesRunningStatistics,
  type BatchNormSpec,
  type BatchNormState,
  type Gradients,
  type Mode,
  type StepOptions,
  type TrainOutput,
} from '@normbridge/core';
import { asFloat, normalizationFor, prepareCall } from './call.js';
import { normalizationGradient } from './gradient.js';
import type { ReplicaGroups } from './groups.js';
import { normalize, type Normalization } from './normalize.js';
import { toFeatureShape } from './plan.js';
import { updateRunning } from './running.js';

type State = BatchNormState<tf.Tensor>;
const NO_OPTIONS: StepOptions<tf.Tensor> = {};

/**
 * One training step as a differentiable tfjs op: `y` carries the analytic gradient with
 * respect to `x`, `state.scale` and `state.bias` (so `tf.grad` and `tf.variableGrads` work
 * through it); the running statistics are no input of that gradient. Runs on the active tfjs
 * backend. Inputs are neither mutated nor disposed; the new state reuses the passed scale and
 * bias tensors (and, when nothing is updated, the running statistics), so dispose only the
 * tensors that differ from the ones you passed.
 */
export function batchNormTrainOp(
  spec: BatchNormSpec,
  state: State,
  x: tf.Tensor,
  options: StepOptions<tf.Tensor> = NO_OPTIONS,
): TrainOutput<tf.Tensor> {
  const call = prepareCall(spec, state, x, 'train', options);
  const { plan } = call;
  const update = updatesRunningStatistics(spec, 'train');
  const out = tf.tidy(() => {
    const xf = asFloat(x);
    const { norm, stats } = normalizationFor(call, state, xf);
    const y = differentiableNormalize(norm, call.groups, xf, params(spec, state));
    const batchMean = toFeatureShape(plan, stats!.mean, plan.replicated);
    const batchVar = toFeatureShape(plan, stats!.variance, plan.replicated);
    if (!update) return { y, batchMean, batchVar };
    const tracked = state.numBatchesTracked + 1;
    const runningInput = toFeatureShape(plan, stats!.runningInput, plan.replicated);
    return {
      y,
      batchMean,
      batchVar,
      runningMean: updateRunning(spec, state.runningMean!, batchMean, tracked),
      runningVar: updateRunning(spec, state.runningVar!, runningInput, tracked),
    };
  });
  const next: State = update
    ? { ...state, runningMean: out.runningMean, runningVar: out.runningVar, numBatchesTracked: state.numBatchesTracked + 1 }
    : { ...state };
  return { y: out.y, batchMean: out.batchMean, batchVar: out.batchVar, state: next };
}

/**
 * Inference as a differentiable op: normalises with the running statistics (or the batch's,
 * when `spec.evalStatistics` is 'batch', and then the gradient flows through them).
 */
export function batchNormEvalOp(
  spec: BatchNormSpec,
  state: State,
  x: tf.Tensor,
  options: StepOptions<tf.Tensor> = NO_OPTIONS,
): tf.Tensor {
  const call = prepareCall(spec, state, x, 'eval', options);
  return tf.tidy(() => {
    const xf = asFloat(x);
    const { norm } = normalizationFor(call, state, xf);
    return differentiableNormalize(norm, call.groups, xf, params(spec, state));
  });
}

/**
 * The vector-Jacobian product of the output for a cotangent `dy`, computed directly (no tape)
 * with the same gradient the ops register. The state is not updated.
 */
export function batchNormVjp(
  spec: BatchNormSpec,
  state: State,
  x: tf.Tensor,
  dy: tf.Tensor,
  mode: Mode,
  options: StepOptions<tf.Tensor> = NO_OPTIONS,
): Gradients<tf.Tensor> {
  const call = prepareCall(spec, state, x, mode, options);
  if (!sameShape(dy.shape, x.shape)) throw new ShapeError('cotangent', `shape [${x.shape.join(', ')}]`, dy.shape);
  return tf.tidy(() => {
    const xf = asFloat(x);
    const { norm } = normalizationFor(call, state, xf);
    const { scale } = params(spec, state);
    const g = normalizationGradient(norm, call.groups, xf, asFloat(dy), scale);
    return { dx: g.dx, dScale: spec.scale ? g.dScale : undefined, dBias: spec.bias ? g.dBias : undefined };
  });
}

interface Params {
  readonly scale: tf.Tensor | undefined;
  readonly bias: tf.Tensor | undefined;
}

function params(spec: BatchNormSpec, state: State): Params {
  return { scale: spec.scale ? state.scale : undefined, bias: spec.bias ? state.bias : undefined };
}

/**
 * `normalize` wrapped in `tf.customGrad` over (x, scale?, bias?). The statistics are closed
 * over for the forward pass and saved for the backward one, which replaces autodiff through
 * moments and the fused kernel with the closed-form gradient.
 */
function differentiableNormalize(norm: Normalization, groups: ReplicaGroups, x: tf.Tensor, { scale, bias }: Params): tf.Tensor {
  const inputs = [x, ...(scale ? [scale] : []), ...(bias ? [bias] : [])];
  const weightTensor = norm.batchWeight instanceof tf.Tensor ? norm.batchWeight : undefined;
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const save = args[args.length - 1] as tf.GradSaveFunc;
    const xi = args[0] as tf.Tensor;
    const si = scale ? (args[1] as tf.Tensor) : undefined;
    const bi = bias ? (args[scale ? 2 : 1] as tf.Tensor) : undefined;
    // Saved tensors are kept until backprop ends, whatever happens to the originals meanwhile.
    save([xi, norm.mean, norm.variance, ...(si ? [si] : []), ...(weightTensor ? [weightTensor] : [])]);
    return {
      value: normalize(norm, xi, si, bi),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sx, mean, variance, ...rest] = saved;
        const sScale = si ? rest.shift() : undefined;
        const batchWeight = weightTensor ? rest.shift() : norm.batchWeight;
        const restored: Normalization = { ...norm, mean: mean!, variance: variance!, batchWeight };
        const g = normalizationGradient(restored, groups, sx!, dy, sScale);
        return [g.dx, ...(si ? [g.dScale] : []), ...(bi ? [g.dBias] : [])];
      },
    };
  });
  return op(...inputs);
}
