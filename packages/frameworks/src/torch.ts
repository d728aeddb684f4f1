/**
 * PyTorch `torch.nn.BatchNorm1d/2d/3d` (and `F.batch_norm`, `SyncBatchNorm`): channel axis 1,
 * the biased variance for the output, the unbiased one (n/(n-1)) into `running_var`,
 * `new = (1 - m)·old + m·batch` (`blend`), a cumulative average for `momentum=None`, one value
 * per channel refused, replicas merged by element count (SyncBatchNorm).
 */
import { defineSpec, SpecError, type BatchNormSpec } from '@normbridge/core';
import { runningAverageFrom } from './momentum.js';
import type { FrameworkProfile, StateVariable } from './profile.js';

/**
 * Which PyTorch to reproduce. The committed fixtures come from both and differ in one place
 * (everything else agrees to float32 rounding):
 *
 * - `'1.13'` — torch 1.13: `F.batch_norm` accepts `eps = 0` in training (the variance of a
 *   non-constant batch keeps it finite).
 * - `'2.13'` — torch 2.13 (the newest, and the default): `F.batch_norm` raises
 *   `ValueError("batch_norm eps must be positive during training, but got 0.0")` whenever it
 *   computes batch statistics (training, or eval without running buffers), after the
 *   one-value-per-channel check and after the module has counted the call.
 */
export type TorchVersion = '1.13' | '2.13';

/** Named {@link TorchVersion} values. */
export const TorchVersion = {
  /** torch 1.13: eps = 0 allowed in training. */
  zeroEpsAllowed: '1.13',
  /** torch 2.13: eps must be positive whenever batch statistics are computed. */
  positiveEpsInTraining: '2.13',
  /** The newest behaviour (the default). */
  latest: '2.13',
} as const satisfies Record<string, TorchVersion>;

export const TORCH_VERSIONS: readonly TorchVersion[] = ['1.13', '2.13'];

/** What a version changes, resolved once. */
export interface TorchVersionTraits {
  /** `F.batch_norm` refuses `eps <= 0` when it computes batch statistics. */
  readonly positiveEpsInTraining: boolean;
}

export function torchVersionTraits(version: TorchVersion): TorchVersionTraits {
  switch (version) {
    case '1.13':
      return { positiveEpsInTraining: false };
    case '2.13':
      return { positiveEpsInTraining: true };
    default:
      throw new SpecError('version', version, `expected one of ${TORCH_VERSIONS.map((v) => `"${v}"`).join(', ')}`);
  }
}

/** What one PyTorch call means, in PyTorch's terms but already resolved from module state. */
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
  /** Whether the engine should raise the one-value-per-channel error (the adapter checks first). @default 'error' */
  readonly singleValuePerChannel?: 'error' | 'allowed';
  /** A mask over the reduction is passed (SyncBatchNorm with unequal replica batches). @default false */
  readonly masked?: boolean;
}

/** Validates `eps` under PyTorch's name before the spec would report it as `epsilon`. */
export function checkEps(eps: unknown): number {
  if (typeof eps !== 'number' || !Number.isFinite(eps) || eps < 0) {
    throw new SpecError('eps', eps, 'eps must be a finite non-negative number');
  }
  return eps;
}

/** Validates `momentum` (a number in [0, 1] or `null`) through the momentum conversion. */
export function checkMomentum(momentum: unknown): number | null {
  if (momentum !== null && typeof momentum !== 'number') {
    throw new SpecError('momentum', momentum, 'momentum must be a number in [0, 1] or null');
  }
  runningAverageFrom(momentum, 'batch-weight');
  return momentum;
}

// A module asks for its spec on every forward; the arguments rarely change.
const cache = new Map<string, BatchNormSpec>();

/**
 * The last call's arguments and spec. A layer asks for its spec on every forward, right after
 * the previous call's kernels have emptied the caches; comparing the arguments costs far less
 * there than the JSON key below (about 20 us cold against 1 us, measured on a [32, 64, 56, 56]
 * nb-wasm call).
 */
let last: { readonly args: TorchSpecArgs; readonly spec: BatchNormSpec } | undefined;

/** The canonical spec of a PyTorch batch norm call. */
export function torchSpec(args: TorchSpecArgs): BatchNormSpec {
  if (last !== undefined && sameArgs(last.args, args)) return last.spec;
  const spec = cachedTorchSpec(args);
  last = { args: { ...args }, spec };
  return spec;
}

/**
 * Field by field, each read by name: this runs cold on every forward, where a loop over the
 * field names would be a keyed load V8 answers from a global table (ARCHITECTURE.md, the
 * per-call path). A field added to TorchSpecArgs must be added here too; torch.test.ts lists
 * every field (a new one is a type error there) and checks that each changes the spec.
 */
function sameArgs(a: TorchSpecArgs, b: TorchSpecArgs): boolean {
  return (
    a.eps === b.eps &&
    a.momentum === b.momentum &&
    a.scale === b.scale &&
    a.bias === b.bias &&
    a.updatesRunningStatistics === b.updatesRunningStatistics &&
    a.evalUsesBatchStatistics === b.evalUsesBatchStatistics &&
    a.singleValuePerChannel === b.singleValuePerChannel &&
    a.masked === b.masked
  );
}

function cachedTorchSpec(args: TorchSpecArgs): BatchNormSpec {
  const key = JSON.stringify(args);
  const hit = cache.get(key);
  if (hit) return hit;
  const spec = defineSpec({
    featureAxes: [torch.defaults.featureAxis],
    epsilon: checkEps(args.eps),
    runningAverage: args.updatesRunningStatistics ? runningAverageFrom(args.momentum, 'batch-weight') : { kind: 'none' },
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

/** `torch.nn.BatchNorm*d` constructor arguments, as Python spells them. */
export interface TorchArgs {
  /** @default 1e-5 */
  readonly eps?: number | undefined;
  /** @default 0.1 */
  readonly momentum?: number | null | undefined;
  /** @default true */
  readonly affine?: boolean | undefined;
  /** At construction: whether the running buffers exist. @default true */
  readonly track_running_stats?: boolean | undefined;
}

/** What a call adds: the `track_running_stats` attribute when it was changed after construction. */
export interface TorchCall {
  readonly set_attributes?: { readonly track_running_stats?: boolean | undefined } | undefined;
}

// Registration order (`_BatchNorm.__init__`): parameters, then buffers.
export const TORCH_PARAMS = [
  { name: 'weight', key: 'scale' },
  { name: 'bias', key: 'bias' },
] as const satisfies readonly StateVariable[];
export const TORCH_STATS = [
  { name: 'running_mean', key: 'runningMean' },
  { name: 'running_var', key: 'runningVar' },
] as const satisfies readonly StateVariable[];
export const TORCH_COUNTER = 'num_batches_tracked';

export const torch: FrameworkProfile<TorchArgs, TorchCall, TorchVersion> = {
  id: 'torch',
  title: 'PyTorch',
  versions: TORCH_VERSIONS,
  latest: TorchVersion.latest,
  versionOf: (reported) => TORCH_VERSIONS.find((v) => /^(\d+\.\d+)/.exec(reported)?.[1] === v),
  momentum: { convention: 'batch-weight', cumulative: true },
  defaults: { epsilon: 1e-5, momentum: 0.1, featureAxis: 1 },
  argumentCase: 'snake_case',
  argumentNames: { epsilon: 'eps', momentum: 'momentum' },
  params: TORCH_PARAMS,
  stats: TORCH_STATS,
  counter: TORCH_COUNTER,
  affinePaired: true,
  checkpoint: { name: 'torch', formatTag: 'pt', separators: ['.'], kernel: 'weight', kernelBias: 'bias', convLayout: 'OI*', linearLayout: 'OI' },
  // fixtures/torch/bn1d_empty_batch: counted, statistics untouched.
  emptyTrainingBatch: 'unchanged',
  takesMask: false,
  specFromArgs(args, call) {
    const buffers = args.track_running_stats !== false;
    const tracking = buffers && call.set_attributes?.track_running_stats !== false;
    const affine = args.affine !== false;
    return torchSpec({
      eps: args.eps ?? torch.defaults.epsilon,
      momentum: args.momentum === undefined ? torch.defaults.momentum : args.momentum,
      scale: affine,
      bias: affine,
      updatesRunningStatistics: tracking,
      evalUsesBatchStatistics: !buffers,
    });
  },
};
