import * as tf from '@tensorflow/tfjs-core';
import {
  checkMaskShape,
  checkStateShapes,
  checkValuesPerChannel,
  resolveLayout,
  usesBatchStatistics,
  type BatchNormSpec,
  type BatchNormState,
  type Mode,
  type StepOptions,
} from '@normbridge/core';
import { preferRowsView } from './channel-ops.js';
import { fusedStatistics } from './kernels/fused-ops.js';
import { fusedKernelsActive } from './kernels/register.js';
import { replicaGroups, type ReplicaGroups } from './groups.js';
import type { Normalization } from './normalize.js';
import { broadcastParam, flatParam, makePlan, rowsView, type Plan } from './plan.js';
import { plainStatistics, rowsBlockStatistics, weightedStatistics, type BatchStatistics } from './statistics.js';

/** One call, checked: spec and shape checks happen here, once, before any numerics. */
export interface Call {
  readonly spec: BatchNormSpec;
  readonly mode: Mode;
  readonly plan: Plan;
  readonly groups: ReplicaGroups;
  readonly mask: tf.Tensor | undefined;
}

export function prepareCall(
  spec: BatchNormSpec,
  state: BatchNormState<tf.Tensor>,
  x: tf.Tensor,
  mode: Mode,
  options: StepOptions<tf.Tensor>,
): Call {
  const layout = resolveLayout(spec, x.shape, options.replicas);
  checkValuesPerChannel(spec, layout, mode);
  checkStateShapes(spec, layout, mode, state);
  if (options.mask !== undefined) checkMaskShape(spec, x.shape, options.mask.shape);
  const plan = makePlan(layout, options.replicas !== undefined);
  return { spec, mode, plan, groups: replicaGroups(plan), mask: options.mask };
}

/** The statistics a call normalises with, and the batch statistics when it computes them. */
export function normalizationFor(
  call: Call,
  state: BatchNormState<tf.Tensor>,
  x: tf.Tensor,
): { norm: Normalization; stats: BatchStatistics | undefined } {
  const { spec, plan } = call;
  const base = { plan, epsilon: spec.epsilon };
  // Trailing features always take the rows view (tfjs-layers' ops, hence its bits); other
  // consecutive features take it where that backend runs it faster than broadcasting.
  // Where the backend has the fused kernels, every consecutive-feature layout uses them.
  const fused = plan.block !== undefined && fusedKernelsActive();
  const rowsViewable = fused || plan.channelsLast || (plan.block !== undefined && preferRowsView());
  if (!usesBatchStatistics(spec, call.mode)) {
    const rows = rowsViewable;
    const view = rows ? flatParam : broadcastParam;
    const norm: Normalization = {
      ...base,
      rows,
      mean: view(plan, state.runningMean!),
      variance: view(plan, state.runningVar!),
      batchWeight: undefined,
    };
    return { norm, stats: undefined };
  }
  const n = plan.layout.perChannel;
  let stats: BatchStatistics;
  let rows = false;
  if (plan.replicated || call.mask !== undefined) {
    stats = weightedStatistics(spec, plan, x, call.mask, call.groups);
  } else if (fused) {
    rows = true;
    stats = fusedStatistics(spec, plan, x);
  } else if (plan.channelsLast) {
    rows = true;
    stats = plainStatistics(spec, rowsView(plan, x), [0], false, n);
  } else if (rowsViewable) {
    rows = true;
    stats = rowsBlockStatistics(spec, plan, rowsView(plan, x), n);
  } else {
    stats = plainStatistics(spec, x, plan.reduceAxes, true, n);
  }
  const norm: Normalization = { ...base, rows, mean: stats.mean, variance: stats.variance, batchWeight: stats.weight };
  return { norm, stats };
}

/** Integer or bool inputs are normalised as float32, like every framework here does. */
export function asFloat(t: tf.Tensor): tf.Tensor {
  return t.dtype === 'float32' ? t : tf.cast(t, 'float32');
}
