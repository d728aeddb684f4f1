/**
 * `torch.nn.BatchNorm1d/2d/3d` and `LazyBatchNorm1d/2d/3d`: PyTorch's names, defaults, mode
 * switches, checks and state dict over core's {@link LayerState}. All numerics run in
 * the engine.
 */
import {
  getDefaultEngine,
  hostTensor,
  initialState,
  numel,
  requireEngineDtype,
  int64Scalar,
  LayerState,
  requireSync,
  UnsupportedError,
  type BatchNormSpec,
  type BatchNormState,
  type Engine,
  type HostState,
  type HostTensor,
  type Mode,
  type SyncEngine,
} from '@normbridge/core';
import {
  channelCount,
  checkFeatureCount,
  checkInputDim,
  checkNumFeatures,
  checkTrainingMode,
  verifyBatchSize,
  type RankRule,
} from './checks.js';
import { checkEps, checkMomentum, torch, TORCH_COUNTER, torchSpec, TorchVersion, torchVersionTraits, type TorchSpecArgs, type TorchVersionTraits } from '@normbridge/frameworks';
import { checkTrainingEps } from './version.js';
import {
  BUFFER_KEYS,
  CANONICAL_KEY,
  PARAMETER_KEYS,
  planLoad,
  toDtype,
  type TorchDtype,
  type FloatStateKey,
  type IncompatibleKeys,
  type LoadStateDictOptions,
  type StateDict,
  type StateDictOptions,
} from './state-dict.js';

/** Constructor options shared by every PyTorch batch norm module. */
export interface BatchNormOptions<T> {
  /**
   * PyTorch `eps`: added to the variance before the square root, `1/sqrt(var + eps)`.
   * @default 1e-5
   */
  eps?: number;
  /**
   * PyTorch `momentum`: the weight of the **batch** statistic,
   * `running = (1 - momentum) * running + momentum * batch` (the opposite of Keras/Flax's
   * momentum). `null` (Python `None`) makes the running statistics a plain cumulative average
   * of every batch so far, driven by `num_batches_tracked`.
   * @default 0.1
   */
  momentum?: number | null;
  /**
   * PyTorch `affine`: learnable `weight` (init 1) and `bias` (init 0). When false both are
   * absent (`null`) and left out of the state dict.
   * @default true
   */
  affine?: boolean;
  /**
   * PyTorch `track_running_stats`: when true the module owns `running_mean` (init 0),
   * `running_var` (init 1) and `num_batches_tracked` (int64 0), updates them in training and
   * normalises with them in eval. When false at construction there are no buffers and eval
   * normalises with the batch's own statistics. Setting the attribute to false later keeps
   * the buffers: eval still uses them, training neither updates nor counts.
   * @default true
   */
  trackRunningStats?: boolean;
  /**
   * Where the maths runs: PyTorch's `device`. Any core engine; its tensor type is `T`.
   * @default getDefaultEngine() from `@normbridge/core` (the float64 reference on HostTensor
   * unless `setDefaultEngine` was called)
   */
  engine?: Engine<T>;
  /**
   * PyTorch `dtype`: the dtype of `weight`, `bias` and the running buffers, and so of the state
   * dict. `'float64'` on an engine without float64 (tfjs) is refused with core's
   * `UnsupportedDtypeError` naming the engine, never computed in float32 silently.
   * @default 'float32'
   */
  dtype?: TorchDtype;
  /**
   * Which PyTorch to reproduce where versions differ (see {@link TorchVersion}): `'1.13'`
   * accepts `eps = 0` in training, `'2.13'` raises PyTorch 2's `ValueError`.
   * @default '2.13' (the newest)
   */
  version?: TorchVersion;
}

/** How a concrete class differs from `_BatchNorm`. */
export interface ModuleConfig {
  /** PyTorch class name used in messages (`BatchNorm2d`). */
  readonly name: string;
  /** Ranks `_check_input_dim` accepts. */
  readonly rankRule: RankRule;
  /** Name before the first forward for `LazyBatchNorm*` (PyTorch's `cls_to_become` swap). */
  readonly lazyName?: string;
}

/**
 * PyTorch's `_BatchNorm`: the shared implementation of BatchNorm1d/2d/3d, their lazy forms
 * and SyncBatchNorm. `T` is the engine's tensor type.
 */
export abstract class _BatchNorm<T> {
  /** The engine every call runs on (fixed at construction, like a module's device). */
  readonly engine: Engine<T>;
  /** PyTorch `num_features` (0 for a lazy module until its first forward). */
  numFeatures: number;
  /** PyTorch `eps`; may be changed between calls. */
  eps: number;
  /** PyTorch `momentum` (`null` = cumulative average); may be changed between calls. */
  momentum: number | null;
  /** PyTorch `affine`. */
  readonly affine: boolean;
  /**
   * PyTorch `track_running_stats`. Changing it after construction does not add or remove
   * buffers (docs/semantics.md#pytorch): false with buffers → training neither updates nor counts, eval
   * still uses the buffers; true without buffers → still batch statistics everywhere.
   */
  trackRunningStats: boolean;
  /** PyTorch `training`: modules start in training mode. */
  training = true;
  /** PyTorch `dtype` of parameters and buffers. */
  readonly dtype: TorchDtype;
  /** The PyTorch version reproduced where versions differ. */
  readonly version: TorchVersion;
  /** What {@link version} changes (read by subclasses that call F.batch_norm's checks). */
  protected readonly _versionTraits: TorchVersionTraits;

  protected readonly _config: ModuleConfig;
  /** Whether `running_mean`/`running_var`/`num_batches_tracked` exist (fixed at construction). */
  protected readonly _hasBuffers: boolean;
  #stateful: LayerState<T> | undefined;
  /** A lazy module's counter before its tensors exist. */
  #pendingCounter = 0;
  #disposed = false;

  protected constructor(config: ModuleConfig, numFeatures: number | undefined, options: BatchNormOptions<T> = {}) {
    this._config = config;
    this.engine = options.engine ?? (getDefaultEngine() as Engine<T>);
    this.eps = checkEps(options.eps ?? torch.defaults.epsilon);
    this.momentum = checkMomentum(options.momentum === undefined ? torch.defaults.momentum : options.momentum);
    this.affine = options.affine ?? true;
    this.dtype = options.dtype ?? 'float32';
    this.version = options.version ?? TorchVersion.latest;
    this._versionTraits = torchVersionTraits(this.version);
    requireEngineDtype(this.engine, this.dtype, `${config.name}(dtype=torch.${this.dtype})`);
    this.trackRunningStats = options.trackRunningStats ?? true;
    this._hasBuffers = this.trackRunningStats;
    this.numFeatures = numFeatures === undefined ? 0 : checkNumFeatures(numFeatures);
    if (numFeatures !== undefined) this.#materialize(numFeatures, {});
  }

  /** The PyTorch class name (`LazyBatchNorm2d` becomes `BatchNorm2d` after its first forward). */
  get className(): string {
    return this.#stateful === undefined && this._config.lazyName !== undefined ? this._config.lazyName : this._config.name;
  }

  /** PyTorch `has_uninitialized_params()`: true for a lazy module before its first forward/load. */
  hasUninitializedParams(): boolean {
    return this.#stateful === undefined;
  }

  /** PyTorch `weight` (gamma), or `null` when `affine` is false. Owned by the module. */
  get weight(): T | null {
    return this.#stateful?.state.scale ?? null;
  }

  /** PyTorch `bias` (beta), or `null` when `affine` is false. Owned by the module. */
  get bias(): T | null {
    return this.#stateful?.state.bias ?? null;
  }

  /**
   * PyTorch `running_mean`, or `null` without buffers. JS tensors are not updated in place:
   * a training call replaces it (and disposes the old tensor on engines that manage memory),
   * so read it again after each call.
   */
  get runningMean(): T | null {
    return this._hasBuffers ? (this.#stateful?.state.runningMean ?? null) : null;
  }

  /** PyTorch `running_var` (unbiased estimate), or `null` without buffers. Same lifetime as `runningMean`. */
  get runningVar(): T | null {
    return this._hasBuffers ? (this.#stateful?.state.runningVar ?? null) : null;
  }

  /** PyTorch `num_batches_tracked` as a number, or `null` without buffers. */
  get numBatchesTracked(): number | null {
    if (!this._hasBuffers) return null;
    return this.#stateful?.state.numBatchesTracked ?? this.#pendingCounter;
  }

  /** PyTorch `train(mode=True)`: sets training mode and returns the module. */
  train(mode = true): this {
    this.training = checkTrainingMode(mode);
    return this;
  }

  /** PyTorch `eval()`: same as `train(false)`. */
  eval(): this {
    return this.train(false);
  }

  /**
   * PyTorch `forward(input)` (`module(input)`) on a synchronous engine. In training mode the
   * output is normalised with the batch's statistics (biased variance) and the running
   * statistics move towards them (unbiased variance); in eval mode the running statistics are
   * used, or the batch's own when the module has no buffers.
   */
  forward(x: T): T {
    this._requireSync('forward', 'forwardAsync');
    const shape = this.engine.shapeOf(x);
    const { mode, spec } = this._prepare(shape);
    if (numel(shape) === 0) return this._emptyCall(shape);
    return this._stateful.run(spec, mode, x);
  }

  /** {@link forward} on any engine (ONNX Runtime engines are asynchronous). */
  async forwardAsync(x: T): Promise<T> {
    const shape = this.engine.shapeOf(x);
    const { mode, spec } = this._prepare(shape);
    if (numel(shape) === 0) return this._emptyCall(shape);
    return this._stateful.runAsync(spec, mode, x);
  }

  /**
   * Gradients of `forward(x)` for a cotangent `dy` at the current state — what
   * `torch.autograd.grad(y, (input, weight, bias), dy)` returns — without running the step or
   * touching the buffers. On tfjs engines `tf.grad` through `forward` gives the same; this form
   * also works on asynchronous engines, so the conformance suite uses it everywhere.
   */
  async vjpAsync(x: T, dy: T): Promise<{ input: T; weight?: T; bias?: T }> {
    const { mode, spec } = this._prepare(this.engine.shapeOf(x), false);
    const g = await this._stateful.vjpAsync(spec, mode, x, dy);
    return { input: g.dx, ...(g.dScale ? { weight: g.dScale } : {}), ...(g.dBias ? { bias: g.dBias } : {}) };
  }

  /**
   * PyTorch `state_dict(prefix=...)` on a synchronous engine: `weight`, `bias` (if `affine`),
   * `running_mean`, `running_var` (float32, shape [C]) and `num_batches_tracked` (int64,
   * shape []) if the module has buffers, in that order. Values are copies.
   */
  stateDict(options: StateDictOptions = {}): StateDict {
    const engine = this._requireSync('stateDict', 'stateDictAsync');
    return this.#stateDict(options, (t) => engine.toHost(t));
  }

  /** {@link stateDict} on any engine. */
  async stateDictAsync(options: StateDictOptions = {}): Promise<StateDict> {
    const entries = this.#stateEntries();
    const hosts = await Promise.all(entries.map(([, t]) => (typeof t === 'number' ? t : this.engine.toHost(t))));
    return this.#dictFrom(entries.map(([k], i) => [k, hosts[i]!] as const), options);
  }

  /**
   * PyTorch `load_state_dict(state_dict, strict=True)`. Returns `{ missingKeys, unexpectedKeys }`.
   * Raises {@link StateDictLoadError} (PyTorch's `RuntimeError: Error(s) in loading state_dict
   * for BatchNorm2d: ...`) for missing/unexpected keys when `strict`, and for size mismatches
   * always. Unlike PyTorch, which copies every tensor that fits before raising, a failed load
   * changes nothing. Values are converted to float32 (int64 for the counter).
   */
  loadStateDict(dict: Readonly<Record<string, unknown>>, options: LoadStateDictOptions = {}): IncompatibleKeys {
    const plan = planLoad(
      {
        className: this.className,
        affine: this.affine,
        hasBuffers: this._hasBuffers,
        trackRunningStats: this.trackRunningStats,
        numFeatures: this.#stateful === undefined ? undefined : this.numFeatures,
        numBatchesTracked: this.numBatchesTracked,
        dtype: this.dtype,
      },
      dict,
      options,
    );
    const loaded: Partial<Record<'scale' | 'bias' | 'runningMean' | 'runningVar', HostTensor>> = {};
    for (const [name, t] of Object.entries(plan.tensors) as [FloatStateKey, HostTensor][]) loaded[CANONICAL_KEY[name]] = t;
    const counter = plan.numBatchesTracked;
    if (this.#disposed) throw new UnsupportedError(`${this.className} after dispose()`, 'its tensors were freed');
    if (this.#stateful === undefined) {
      if (plan.numFeatures !== undefined) {
        this.#materialize(plan.numFeatures, loaded, counter ?? this.#pendingCounter);
      } else if (counter !== undefined) {
        this.#pendingCounter = counter;
      }
    } else {
      const stateful = this.#stateful;
      const current = stateful.state;
      const numBatchesTracked = counter ?? current.numBatchesTracked;
      // Upload (and value-check) only what was loaded; a throw here still changes nothing.
      const uploaded = this.engine.stateFromHost({ ...loaded, numBatchesTracked });
      const next: BatchNormState<T> = { ...current, numBatchesTracked };
      const merged = next as { -readonly [K in keyof BatchNormState<T>]: BatchNormState<T>[K] };
      for (const key of Object.keys(loaded) as (keyof typeof loaded)[]) merged[key] = uploaded[key];
      stateful.replace(merged);
    }
    return { missingKeys: plan.missingKeys, unexpectedKeys: plan.unexpectedKeys };
  }

  /** PyTorch `reset_running_stats()`: running_mean 0, running_var 1, counter 0. */
  resetRunningStats(): void {
    if (!this._hasBuffers || this.#stateful === undefined) return;
    const fresh = this.#initialHost(this.numFeatures);
    const uploaded = this.engine.stateFromHost({ runningMean: fresh.runningMean, runningVar: fresh.runningVar, numBatchesTracked: 0 });
    this.#stateful.replace({ ...this.#stateful.state, ...uploaded, scale: this.#stateful.state.scale, bias: this.#stateful.state.bias });
  }

  /** PyTorch `reset_parameters()`: `resetRunningStats()`, then weight 1 and bias 0. */
  resetParameters(): void {
    if (this.#stateful === undefined) return;
    this.resetRunningStats();
    if (!this.affine) return;
    const fresh = this.#initialHost(this.numFeatures);
    const uploaded = this.engine.stateFromHost({ scale: fresh.scale, bias: fresh.bias, numBatchesTracked: 0 });
    this.#stateful.replace({ ...this.#stateful.state, scale: uploaded.scale, bias: uploaded.bias });
  }

  /** Frees the engine memory held by the module's tensors. The module is unusable afterwards. */
  dispose(): void {
    const s = this.#stateful;
    if (s === undefined) return;
    this.engine.dispose(s.state.scale, s.state.bias, s.state.runningMean, s.state.runningVar);
    this.#stateful = undefined;
    this.#disposed = true;
  }

  // ---- for subclasses -------------------------------------------------------------------

  /** The mutable state; materialised for every module but an unused lazy one. */
  protected get _stateful(): LayerState<T> {
    if (this.#disposed) throw new UnsupportedError(`${this.className} after dispose()`, 'its tensors were freed');
    if (this.#stateful === undefined) {
      throw new UnsupportedError(`${this.className} state`, 'its parameters are uninitialized (run forward() or loadStateDict() first)');
    }
    return this.#stateful;
  }

  /** The canonical spec for the current attributes. */
  protected _spec(extra?: Partial<TorchSpecArgs>): BatchNormSpec {
    const args: TorchSpecArgs = {
      eps: this.eps,
      momentum: this.momentum,
      scale: this.affine,
      bias: this.affine,
      updatesRunningStatistics: this._hasBuffers && this.trackRunningStats,
      evalUsesBatchStatistics: !this._hasBuffers,
    };
    return torchSpec(extra === undefined ? args : { ...args, ...extra });
  }

  /** `_check_input_dim`, then (lazy modules) materialisation from `input.shape[1]`. */
  protected _checkInputDim(localShape: readonly number[]): void {
    checkInputDim(this._config.rankRule, localShape);
    if (this.#stateful === undefined && !this.#disposed) this.#materialize(channelCount(localShape), {}, this.#pendingCounter);
  }

  /**
   * ATen's size checks of the tensors `_BatchNorm.forward` passes to the kernel, in PyTorch's
   * order. `localShape` is one replica's input (the whole input outside SyncBatchNorm).
   */
  protected _checkFeatures(localShape: readonly number[]): void {
    const channels = channelCount(localShape);
    const state = this._stateful.state;
    // Buffers reach the kernel only in eval or while tracking (docs/semantics.md#pytorch).
    // One call per tensor, no closures or tuple lists: the per-call path (ARCHITECTURE.md).
    if (this._hasBuffers && (!this.training || this.trackRunningStats)) {
      checkFeatureCount(channels, 'running_mean', this.#shapeOf(state.runningMean));
      checkFeatureCount(channels, 'running_var', this.#shapeOf(state.runningVar));
    }
    checkFeatureCount(channels, 'weight', this.#shapeOf(state.scale));
    checkFeatureCount(channels, 'bias', this.#shapeOf(state.bias));
  }

  /** PyTorch's `bn_training`: batch statistics in training, and in eval without buffers. */
  protected _usesBatchStatistics(): boolean {
    return this.training || !this._hasBuffers;
  }

  /** `_BatchNorm.forward` up to the kernel call: every check in PyTorch's order, then the spec. */
  protected _prepare(shape: readonly number[], counting = true): { mode: Mode; spec: BatchNormSpec } {
    this._checkInputDim(shape);
    try {
      if (this._usesBatchStatistics()) {
        verifyBatchSize(shape);
        checkTrainingEps(this._versionTraits, this.eps, true);
      }
      if (numel(shape) > 0) this._checkFeatures(shape);
    } catch (err) {
      // PyTorch counts the call (`num_batches_tracked += 1`) before F.batch_norm raises, for
      // a batch of one value per channel and for a wrong channel count alike.
      if (counting && this.training && this._hasBuffers && this.trackRunningStats && this.#stateful) {
        const state = this.#stateful.state;
        this.#stateful.replace({ ...state, numBatchesTracked: state.numBatchesTracked + 1 });
      }
      throw err;
    }
    return { mode: this.training ? 'train' : 'eval', spec: this._spec() };
  }

  /**
   * An empty input: ATen returns an empty output before any check or update, while the
   * Python side has already counted the call (`num_batches_tracked += 1` while tracking).
   */
  protected _emptyCall(shape: readonly number[]): T {
    if (this.training && this._hasBuffers && this.trackRunningStats) {
      const state = this._stateful.state;
      this._stateful.replace({ ...state, numBatchesTracked: state.numBatchesTracked + 1 });
    }
    return this.engine.fromHost(hostTensor(shape, new Float32Array(0)));
  }

  protected _requireSync(what: string, alternative: string): SyncEngine<T> {
    return requireSync(this.engine, `${what}()`, `${alternative}()`);
  }

  /** Replaces the whole state (used by SyncBatchNorm's conversion). */
  protected _replaceState(state: BatchNormState<T>): void {
    this._stateful.replace(state);
  }

  // ---- private --------------------------------------------------------------------------

  #shapeOf(t: T | undefined): readonly number[] | undefined {
    return t === undefined ? undefined : this.engine.shapeOf(t);
  }

  #initialHost(numFeatures: number): HostState {
    return initialState(this._spec({ updatesRunningStatistics: true }), [numFeatures], this.dtype);
  }

  #materialize(numFeatures: number, loaded: Partial<HostState>, counter = 0): void {
    const fresh = this.#initialHost(numFeatures);
    const host: HostState = {
      scale: this.affine ? (loaded.scale ?? fresh.scale) : undefined,
      bias: this.affine ? (loaded.bias ?? fresh.bias) : undefined,
      runningMean: this._hasBuffers ? (loaded.runningMean ?? fresh.runningMean) : undefined,
      runningVar: this._hasBuffers ? (loaded.runningVar ?? fresh.runningVar) : undefined,
      numBatchesTracked: this._hasBuffers ? counter : 0,
    };
    const state = this.engine.stateFromHost(host);
    this.#stateful = new LayerState(this.engine, state);
    this.numFeatures = numFeatures;
  }

  #stateEntries(): (readonly [string, T | number])[] {
    const s = this._stateful.state;
    const names = [...(this.affine ? PARAMETER_KEYS : []), ...(this._hasBuffers ? BUFFER_KEYS : [])];
    return names.map((name) => [name, name === TORCH_COUNTER ? s.numBatchesTracked : s[CANONICAL_KEY[name]]!] as const);
  }

  #stateDict(options: StateDictOptions, toHost: (t: T) => HostTensor): StateDict {
    return this.#dictFrom(
      this.#stateEntries().map(([k, t]) => [k, typeof t === 'number' ? t : toHost(t)] as const),
      options,
    );
  }

  #dictFrom(entries: readonly (readonly [string, HostTensor | number])[], { prefix = '' }: StateDictOptions): StateDict {
    const dict: StateDict = {};
    for (const [k, v] of entries) dict[prefix + k] = typeof v === 'number' ? int64Scalar(v) : toDtype(v, this.dtype);
    return dict;
  }
}

/**
 * `torch.nn.BatchNorm1d(num_features, eps=1e-5, momentum=0.1, affine=True,
 * track_running_stats=True)`: input `[N, C]` or `[N, C, L]`.
 */
export class BatchNorm1d<T = HostTensor> extends _BatchNorm<T> {
  constructor(numFeatures: number, options: BatchNormOptions<T> = {}) {
    super({ name: 'BatchNorm1d', rankRule: [2, 3] }, checkNumFeatures(numFeatures), options);
  }
}

/** `torch.nn.BatchNorm2d(num_features, ...)`: input `[N, C, H, W]`. */
export class BatchNorm2d<T = HostTensor> extends _BatchNorm<T> {
  constructor(numFeatures: number, options: BatchNormOptions<T> = {}) {
    super({ name: 'BatchNorm2d', rankRule: [4] }, checkNumFeatures(numFeatures), options);
  }
}

/** `torch.nn.BatchNorm3d(num_features, ...)`: input `[N, C, D, H, W]`. */
export class BatchNorm3d<T = HostTensor> extends _BatchNorm<T> {
  constructor(numFeatures: number, options: BatchNormOptions<T> = {}) {
    super({ name: 'BatchNorm3d', rankRule: [5] }, checkNumFeatures(numFeatures), options);
  }
}

/**
 * `torch.nn.LazyBatchNorm1d(eps=1e-5, ...)`: `numFeatures` is taken from `input.shape[1]` at
 * the first forward (or from the tensors' shapes at a `loadStateDict`), after which the
 * module behaves, and names itself, as `BatchNorm1d`.
 */
export class LazyBatchNorm1d<T = HostTensor> extends _BatchNorm<T> {
  constructor(options: BatchNormOptions<T> = {}) {
    super({ name: 'BatchNorm1d', lazyName: 'LazyBatchNorm1d', rankRule: [2, 3] }, undefined, options);
  }
}

/** `torch.nn.LazyBatchNorm2d(...)`; becomes `BatchNorm2d` at the first forward. */
export class LazyBatchNorm2d<T = HostTensor> extends _BatchNorm<T> {
  constructor(options: BatchNormOptions<T> = {}) {
    super({ name: 'BatchNorm2d', lazyName: 'LazyBatchNorm2d', rankRule: [4] }, undefined, options);
  }
}

/** `torch.nn.LazyBatchNorm3d(...)`; becomes `BatchNorm3d` at the first forward. */
export class LazyBatchNorm3d<T = HostTensor> extends _BatchNorm<T> {
  constructor(options: BatchNormOptions<T> = {}) {
    super({ name: 'BatchNorm3d', lazyName: 'LazyBatchNorm3d', rankRule: [5] }, undefined, options);
  }
}
