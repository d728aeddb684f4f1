/**
 * `torch.nn.SyncBatchNorm` in one process: the replicas (PyTorch's ranks) are stacked on a
 * leading axis, and each process group's statistics are merged by element count in the engine
 * (core's `replicaCombination: 'count-weighted'` with `StepOptions.replicas`).
 */
import {
  hostTensor,
  numel,
  requireSync,
  resolveLayout,
  SpecError,
  UnsupportedError,
  updatesRunningStatistics,
  type CommitHook,
  type HostTensor,
  type LayerRunOptions,
} from '@normbridge/core';
import { _BatchNorm, type BatchNormOptions } from './batchnorm.js';
import { verifyBatchSize } from './checks.js';
import { checkTrainingEps } from './version.js';
import { TorchValueError } from './errors.js';

/** Replica groups: a partition of the replica indices `0..R-1`. */
export type ProcessGroups = readonly (readonly number[])[];

/** SyncBatchNorm's constructor options: BatchNorm's plus PyTorch's `process_group`. */
export interface SyncBatchNormOptions<T> extends BatchNormOptions<T> {
  /**
   * PyTorch `process_group`. Here: how the replicas on the input's leading axis are split
   * into groups that share statistics, e.g. `[[0, 1], [2, 3]]` for two groups of two (what
   * `torch.distributed.new_subgroups(2)` gives each rank). Every replica appears exactly once.
   * @default one group holding every replica (PyTorch's default, the WORLD group)
   */
  processGroup?: ProcessGroups;
  /**
   * Which replica's copy of the module this object is (PyTorch: the calling process's rank).
   * After a training call the module keeps the running statistics of this replica's group,
   * as each PyTorch process keeps its own buffers. Irrelevant with a single group.
   * @default 0
   */
  rank?: number;
}

/** Per-call options of {@link SyncBatchNorm.forward}. */
export interface SyncBatchNormCallOptions {
  /**
   * Each replica's real batch size when they differ: replicas are padded along their batch
   * axis to the input's size, and only the first `batchSizes[r]` samples of replica `r`
   * count towards the statistics (a mask over the reduction; the engine must support masks).
   * Output rows of padding are meaningless.
   * @default every replica's whole batch
   */
  batchSizes?: readonly number[];
}

/**
 * `torch.nn.SyncBatchNorm(num_features, eps=1e-5, momentum=0.1, affine=True,
 * track_running_stats=True, process_group=None)`.
 *
 * Input: `[R, N, C, *]`, R replicas (ranks) each holding its own `[N, C, *]` batch. In
 * training, every replica is normalised with its group's statistics, merged by element
 * count; the running statistics are updated with the group's unbiased variance
 * `var_n / (N_total - 1)` and come back identical for every replica of a group. In eval, and
 * in training with a group of one replica, each replica is normalised on its own exactly like
 * BatchNorm (PyTorch syncs only in training with world size > 1).
 */
export class SyncBatchNorm<T = HostTensor> extends _BatchNorm<T> {
  /** PyTorch `process_group` (see {@link SyncBatchNormOptions.processGroup}). */
  processGroup: ProcessGroups | undefined;
  /** The replica whose buffers this module keeps (see {@link SyncBatchNormOptions.rank}). */
  rank: number;

  constructor(numFeatures: number, options: SyncBatchNormOptions<T> = {}) {
    super({ name: 'SyncBatchNorm', rankRule: '2+' }, numFeatures, options);
    this.processGroup = options.processGroup;
    this.rank = options.rank ?? 0;
  }

  /**
   * PyTorch `SyncBatchNorm.convert_sync_batchnorm(module, process_group)` on a synchronous
   * engine: a new SyncBatchNorm with the module's hyper-parameters, a copy of its weight,
   * bias, running statistics and counter, and its training flag. PyTorch shares the tensors
   * with the old module; here they are copied, so the two modules are independent.
   */
  static convertSyncBatchnorm<T>(module: _BatchNorm<T>, processGroup?: ProcessGroups): SyncBatchNorm<T> {
    const engine = requireSync(module.engine, 'convertSyncBatchnorm()', 'convertSyncBatchnormAsync()');
    return SyncBatchNorm.#convert(module, processGroup, (t) => engine.toHost(t));
  }

  /** {@link SyncBatchNorm.convertSyncBatchnorm} on any engine. */
  static async convertSyncBatchnormAsync<T>(module: _BatchNorm<T>, processGroup?: ProcessGroups): Promise<SyncBatchNorm<T>> {
    const tensors = [module.weight, module.bias, module.runningMean, module.runningVar].filter((t): t is T => t !== null);
    const hosts = await Promise.all(tensors.map((t) => module.engine.toHost(t)));
    const byTensor = new Map<T, HostTensor>(tensors.map((t, i) => [t, hosts[i]!]));
    return SyncBatchNorm.#convert(module, processGroup, (t) => byTensor.get(t)!);
  }

  static #convert<T>(module: _BatchNorm<T>, processGroup: ProcessGroups | undefined, toHost: (t: T) => HostTensor): SyncBatchNorm<T> {
    if (module.hasUninitializedParams()) {
      throw new UnsupportedError(`convertSyncBatchnorm(${module.className})`, 'its parameters are uninitialized (run forward() or loadStateDict() first)');
    }
    const hasBuffers = module.runningMean !== null;
    const out = new SyncBatchNorm<T>(module.numFeatures, {
      eps: module.eps,
      momentum: module.momentum,
      affine: module.affine,
      trackRunningStats: hasBuffers,
      processGroup,
      engine: module.engine,
    });
    out.trackRunningStats = module.trackRunningStats;
    out.training = module.training;
    // Copies (host round trip): the new module owns its tensors.
    const copy = (t: T | null): T | undefined => {
      if (t === null) return undefined;
      const h = toHost(t);
      return module.engine.fromHost({ shape: [...h.shape], data: h.data.slice(), dtype: h.dtype });
    };
    const scale = copy(module.weight);
    const bias = copy(module.bias);
    const runningMean = copy(module.runningMean);
    const runningVar = copy(module.runningVar);
    out._replaceState({ scale, bias, runningMean, runningVar, numBatchesTracked: module.numBatchesTracked ?? 0 });
    return out;
  }

  /**
   * PyTorch `forward` on a synchronous engine, for `x` of shape `[R, N, C, *]` (R replicas).
   * Returns `[R, N, C, *]`.
   */
  override forward(x: T, options: SyncBatchNormCallOptions = {}): T {
    this._requireSync('forward', 'forwardAsync');
    const call = this.#prepareCall(x, options);
    if (call.empty) return this._emptyCall(call.shape);
    try {
      return this._stateful.run(call.spec, call.mode, x, call.step);
    } finally {
      this.engine.dispose(call.step.mask);
    }
  }

  /** {@link forward} on any engine. */
  override async forwardAsync(x: T, options: SyncBatchNormCallOptions = {}): Promise<T> {
    const call = this.#prepareCall(x, options);
    if (call.empty) return this._emptyCall(call.shape);
    try {
      return await this._stateful.runAsync(call.spec, call.mode, x, call.step);
    } finally {
      this.engine.dispose(call.step.mask);
    }
  }

  /** Keeps row `rank` of the stacked `[R, C]` running statistics the engine returned. */
  #keepOwnRow(rank: number): CommitHook<T> {
    return (next, engine) => ({ ...next, runningMean: engine.row(next.runningMean!, rank), runningVar: engine.row(next.runningVar!, rank) });
  }

  #prepareCall(x: T, options: SyncBatchNormCallOptions) {
    const shape = this.engine.shapeOf(x);
    if (shape.length < 1) throw new TorchValueError('SyncBatchNorm expects a leading replica axis (got 0D input)');
    const replicas = shape[0]!;
    const local = shape.slice(1);
    // _check_input_dim, then the non-zero channel check.
    this._checkInputDim(local);
    if (local[1] === 0) throw new TorchValueError('SyncBatchNorm number of input channels should be non-zero');
    if (!Number.isInteger(this.rank) || this.rank < 0 || this.rank >= replicas) {
      throw new SpecError('rank', this.rank, `rank must be a replica index in [0, ${replicas})`);
    }
    const batchSizes = options.batchSizes;
    if (batchSizes !== undefined) {
      if (batchSizes.length !== replicas || batchSizes.some((b) => !Number.isInteger(b) || b < 0 || b > local[0]!)) {
        throw new SpecError('batchSizes', batchSizes, `expected ${replicas} integers in [0, ${local[0]}] (one per replica)`);
      }
    }
    const all = Array.from({ length: replicas }, (_, i) => i);
    const groups = resolveLayout(this._spec(), shape, { groups: this.processGroup ?? [all] }).groups;
    // PyTorch syncs only when training; eval (with or without buffers) is per replica.
    const batchStatistics = this._usesBatchStatistics();
    const effective = this.training ? groups : all.map((r) => [r]);
    // A replica computing statistics alone is plain F.batch_norm: one value per channel raises.
    if (batchStatistics) {
      for (const group of effective) {
        if (group.length >= 2) continue;
        const r = group[0]!;
        verifyBatchSize([batchSizes?.[r] ?? local[0]!, ...local.slice(1)]);
        checkTrainingEps(this._versionTraits, this.eps, true);
      }
    }
    if (numel(shape) === 0) return { empty: true as const, shape };
    this._checkFeatures(local);
    if (!this.engine.capabilities.crossReplica) {
      throw new UnsupportedError(`SyncBatchNorm on engine "${this.engine.name}"`, 'it does not support a replica axis');
    }
    const masked = batchSizes !== undefined && batchSizes.some((b) => b !== local[0]);
    if (masked && !this.engine.capabilities.masks) {
      throw new UnsupportedError(`batchSizes on engine "${this.engine.name}"`, 'it does not support masks');
    }
    const spec = this._spec({ singleValuePerChannel: 'allowed', masked });
    let mask: T | undefined;
    if (masked) {
      const n = local[0]!;
      const flags = new Float32Array(replicas * n);
      batchSizes!.forEach((b, r) => flags.fill(1, r * n, r * n + b));
      mask = this.engine.fromHost(hostTensor([replicas, n, ...local.slice(1).map(() => 1)], flags));
    }
    const updates = this.training && updatesRunningStatistics(spec, 'train');
    const step: LayerRunOptions<T> = { replicas: { groups: effective }, mask, ...(updates ? { commit: this.#keepOwnRow(this.rank) } : {}) };
    const mode = this.training ? ('train' as const) : ('eval' as const);
    return { empty: false as const, shape, mode, spec, step };
  }
}

/** PyTorch `torch.nn.SyncBatchNorm.convert_sync_batchnorm(module, process_group=None)`. */
export function convertSyncBatchnorm<T>(module: _BatchNorm<T>, processGroup?: ProcessGroups): SyncBatchNorm<T> {
  return SyncBatchNorm.convertSyncBatchnorm(module, processGroup);
}

/** {@link convertSyncBatchnorm} on any engine. */
export function convertSyncBatchnormAsync<T>(module: _BatchNorm<T>, processGroup?: ProcessGroups): Promise<SyncBatchNorm<T>> {
  return SyncBatchNorm.convertSyncBatchnormAsync(module, processGroup);
}
