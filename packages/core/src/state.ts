import type { HostTensor } from './tensor.js';

/**
 * Layer state in canonical names. Engines return a new state instead of mutating one;
 * adapters rename these to their framework's keys (`running_mean`, `batch_stats/…/mean`, …).
 */
export interface BatchNormState<T> {
  /** gamma; absent when the spec has `scale: false`. */
  readonly scale?: T | undefined;
  /** beta; absent when the spec has `bias: false`. */
  readonly bias?: T | undefined;
  readonly runningMean?: T | undefined;
  readonly runningVar?: T | undefined;
  /**
   * Training calls that updated running statistics so far (PyTorch `num_batches_tracked`); the
   * cumulative average divides by it.
   * @default 0
   */
  readonly numBatchesTracked: number;
}

export type HostState = BatchNormState<HostTensor>;

export const STATE_TENSOR_KEYS = ['scale', 'bias', 'runningMean', 'runningVar'] as const;
export type StateTensorKey = (typeof STATE_TENSOR_KEYS)[number];

/**
 * A state's tensors in {@link STATE_TENSOR_KEYS} order, read by name: on a per-call path a loop
 * over the key names is a keyed load that sees four names, which V8 answers from a global
 * lookup table, a cache miss when the kernels have just run (ARCHITECTURE.md, the per-call path).
 */
export function stateTensorsOf<T>(s: { readonly [K in StateTensorKey]?: T | undefined }): [T | undefined, T | undefined, T | undefined, T | undefined] {
  return [s.scale, s.bias, s.runningMean, s.runningVar];
}

/** Replica groups for cross-replica statistics: the input's axis 0 indexes replicas. */
export interface ReplicaOptions {
  /**
   * Groups of replica indices whose statistics are combined (Flax `axis_index_groups`,
   * a PyTorch process group). Every replica must appear exactly once.
   * @default one group holding every replica
   */
  readonly groups?: readonly (readonly number[])[] | undefined;
}

/** Call-time options shared by the reference and every engine. */
export interface StepOptions<T> {
  /** Positions that count towards the statistics; broadcastable to the input (spec.masked). */
  readonly mask?: T | undefined;
  /**
   * Treat axis 0 as a replica axis: each replica is normalised with its group's combined
   * statistics, and the new running statistics come back stacked as [replicas, ...features].
   */
  readonly replicas?: ReplicaOptions | undefined;
}

export interface TrainOutput<T> {
  readonly y: T;
  /** The batch mean used to normalise (stacked per replica in replica mode). */
  readonly batchMean: T;
  /** The biased batch variance used to normalise. */
  readonly batchVar: T;
  readonly state: BatchNormState<T>;
}

export interface Gradients<T> {
  readonly dx: T;
  readonly dScale?: T | undefined;
  readonly dBias?: T | undefined;
}

/** `train` normalises with batch statistics; `eval` with what `spec.evalStatistics` says. */
export type Mode = 'train' | 'eval';

/** The state with each present tensor mapped (uploading, downloading, casting), the counter kept. */
export function mapStateTensors<A, B>(state: BatchNormState<A>, f: (t: A, key: StateTensorKey) => B): BatchNormState<B> {
  const map = (key: StateTensorKey) => {
    const t = state[key];
    return t === undefined ? undefined : f(t, key);
  };
  return {
    scale: map('scale'),
    bias: map('bias'),
    runningMean: map('runningMean'),
    runningVar: map('runningVar'),
    numBatchesTracked: state.numBatchesTracked,
  };
}
