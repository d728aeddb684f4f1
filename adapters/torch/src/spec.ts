/**
 * PyTorch's arguments → the canonical spec. Every numeric behaviour PyTorch has is named here
 * as a spec field; the engine does the rest.
 */
import { defineSpec, fromBatchWeightMomentum, SpecError, type BatchNormSpec, type RunningAverage } from '@normbridge/core';

export interface TorchSpecArgs {
  readonly eps: number;
  /** PyTorch momentum (weight of the batch); `null` = cumulative average. */
  readonly momentum: number | null;
  readonly scale: boolean;
  readonly bias: boolean;
  /** Training writes running statistics (buffers exist and are passed to the kernel). */
  readonly updatesRunningStatistics: boolean;
  /** Inference normalises with the batch's own statistics (no running buffers). */
  readonly evalUsesBatchStatistics: boolean;
  /** Whether the engine should raise the one-value-per-channel error (the adapter checks first). */
  readonly singleValuePerChannel?: 'error' | 'allowed';
  /** A mask over the reduction is passed (SyncBatchNorm with unequal replica batches). */
  readonly masked?: boolean;
}

/** Validates `eps` under PyTorch's name before the spec would report it as `epsilon`. */
export function checkEps(eps: unknown): number {
  if (typeof eps !== 'number' || !Number.isFinite(eps) || eps < 0) {
    throw new SpecError('eps', eps, 'eps must be a finite non-negative number');
  }
  return eps;
}

/** Validates `momentum` (a number in [0, 1] or `null`) through core's conventions. */
export function checkMomentum(momentum: unknown): number | null {
  if (momentum !== null && typeof momentum !== 'number') {
    throw new SpecError('momentum', momentum, 'momentum must be a number in [0, 1] or null');
  }
  fromBatchWeightMomentum(momentum);
  return momentum;
}

const cache = new Map<string, BatchNormSpec>();

/**
 * The canonical spec of a PyTorch batch norm: channel axis 1, two-pass biased variance for the
 * output, unbiased (n/(n-1)) variance into `running_var`, `new = (1 - m)·old + m·batch`
 * (`blend`), cumulative average for `momentum=None`, count-weighted replica merge (SyncBatchNorm).
 */
export function torchSpec(args: TorchSpecArgs): BatchNormSpec {
  const key = JSON.stringify(args);
  const hit = cache.get(key);
  if (hit) return hit;
  const runningAverage: RunningAverage = args.updatesRunningStatistics
    ? fromBatchWeightMomentum(args.momentum)
    : { kind: 'none' };
  const spec = defineSpec({
    featureAxes: [1],
    epsilon: checkEps(args.eps),
    runningAverage,
    runningVarianceEstimator: 'unbiased',
    varianceAlgorithm: 'two-pass',
    scale: args.scale,
    bias: args.bias,
    evalStatistics: args.evalUsesBatchStatistics ? 'batch' : 'running',
    singleValuePerChannel: args.singleValuePerChannel ?? 'error',
    masked: args.masked ?? false,
    statisticsDtype: 'float32',
    runningUpdateForm: 'blend',
    replicaCombination: 'count-weighted',
  });
  if (cache.size > 256) cache.clear();
  cache.set(key, spec);
  return spec;
}
