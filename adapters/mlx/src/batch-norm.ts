import {
  checkFeatureCountLimit,
  checkValuesPerChannel,
  getDefaultEngine,
  initialState,
  resolveLayout,
  SingleValuePerChannelError,
  LayerState,
  requireSync,
  type BatchNormSpec,
  type BatchNormState,
  type Engine,
  type HostState,
  type HostTensor,
  type Mode,
  type StateTensorKey,
} from '@normbridge/core';
import { mlx, versionTraits, type MlxVersion } from '@normbridge/frameworks';
import { MlxError, mlxCoreShape, pyFloat } from './errors.js';
import { Module, type FreezeOptions, type PreparedLoad } from './module.js';

/** Options of {@link BatchNorm}, named as MLX's keyword arguments in camelCase. */
export interface BatchNormOptions<T> {
  /**
   * Added to the variance before the square root: `(x - mean) * rsqrt(var + eps)`. MLX's
   * docstring up to v0.31 showed `sqrt(var) + eps`; the code never did that.
   * In the `'0.32.1'` profile `eps <= 0` raises MLX's `ValueError`; negative values are
   * rejected by the canonical spec (`SpecError`) in every profile.
   * @default 1e-5
   */
  eps?: number;
  /**
   * MLX momentum: the weight of the **batch** statistic,
   * `running = (1 - momentum) * running + momentum * batch` (PyTorch's convention, the
   * opposite of Keras/Flax). Converted by the MLX profile (`@normbridge/frameworks`); must lie in [0, 1]
   * (MLX does not check).
   * @default 0.1
   */
  momentum?: number;
  /**
   * Learned `weight` (ones) and `bias` (zeros) of shape `[numFeatures]`; without them the
   * layer has no `weight`/`bias` keys at all.
   * @default true
   */
  affine?: boolean;
  /**
   * Keep `running_mean` (zeros) and `running_var` (ones), frozen, updated in training and used
   * in eval. Without them there are no running keys and eval normalises with the batch's own
   * statistics, as training does (but never writes anything).
   * @default true
   */
  trackRunningStats?: boolean;
  /**
   * Which MLX to reproduce: `'0.32.0'` (biased running variance) or `'0.32.1'` (unbiased,
   * plus the one-value and eps errors). See {@link MlxVersion}.
   * @default '0.32.1' (the newest)
   */
  version?: MlxVersion;
  /**
   * The engine that runs the numerics and owns the arrays.
   * @default getDefaultEngine() from @normbridge/core
   */
  engine?: Engine<T>;
}

/** `parameters()` order, from the MLX profile; the running statistics are frozen. */
const KEYS: readonly (readonly [string, StateTensorKey])[] = [...mlx.params, ...mlx.stats].map((v) => [v.name, v.key]);
const STATE_KEY = new Map<string, StateTensorKey>(KEYS);
const STATS = mlx.stats.map((v) => v.name);

/**
 * `mlx.nn.BatchNorm`: batch normalisation over the last axis of a channels-last input of rank
 * 2, 3 or 4 (`NC`, `NLC`, `NHWC`), starting in training mode.
 *
 * ```ts
 * const bn = new BatchNorm(4);        // nn.BatchNorm(num_features=4)
 * const y = bn.call(x);               // output = bn(x)   (training: updates running stats)
 * bn.eval();                          // bn.eval()
 * ```
 *
 * The arrays are `weight`, `bias`, `running_mean`, `running_var` (in that order, as
 * `parameters()` lists them); the running statistics are frozen at construction and
 * {@link unfreeze} keeps them frozen. Numerics are delegated to an engine through the canonical
 * spec; this class only translates MLX's arguments, errors and module behaviour.
 */
export class BatchNorm<T = any> extends Module<T> {
  /** MLX `num_features`: the size of the last axis; not checked by MLX (see {@link call}). */
  readonly numFeatures: number;
  /** @default 1e-5 */
  readonly eps: number;
  /** @default 0.1 */
  readonly momentum: number;
  /** Whether `weight` and `bias` exist. @default true */
  readonly affine: boolean;
  /** @default true */
  readonly trackRunningStats: boolean;
  /** @default '0.32.1' */
  readonly version: MlxVersion;
  readonly engine: Engine<T>;
  /** The canonical spec this layer runs. */
  readonly spec: BatchNormSpec;
  readonly #layer: LayerState<T>;

  constructor(numFeatures: number, options: BatchNormOptions<T> = {}) {
    super();
    const { eps = mlx.defaults.epsilon, momentum = mlx.defaults.momentum, affine = true, trackRunningStats = true, version = mlx.latest } = options;
    if (!Number.isInteger(numFeatures) || numFeatures < 0) {
      throw new MlxError('ValueError', `[BatchNorm] num_features must be a non-negative integer but got ${String(numFeatures)}.`);
    }
    checkFeatureCountLimit('num_features', numFeatures);
    const traits = versionTraits(version);
    if (traits.positiveEps && !(eps > 0)) {
      throw new MlxError('ValueError', `[BatchNorm] 'eps' must be positive but got ${pyFloat(eps)}.`);
    }
    this.numFeatures = numFeatures;
    this.eps = eps;
    this.momentum = momentum;
    this.affine = affine;
    this.trackRunningStats = trackRunningStats;
    this.version = version;
    this.spec = mlx.specFromArgs({ eps, momentum, affine, track_running_stats: trackRunningStats }, {}, version);
    this.engine = options.engine ?? (getDefaultEngine() as Engine<T>);
    const init = initialState(this.spec, [numFeatures], 'float32');
    const host: HostState = trackRunningStats ? init : { ...init, runningMean: undefined, runningVar: undefined };
    this.#layer = new LayerState(this.engine, this.engine.stateFromHost(host));
    if (trackRunningStats) this.freeze({ keys: STATS, recurse: false });
  }

  /** The current canonical state (engine tensors). */
  get state(): BatchNormState<T> {
    return this.#layer.state;
  }

  /** MLX `bn.weight` (ones at construction); undefined without `affine`. */
  get weight(): T | undefined {
    return this.#layer.state.scale;
  }

  /** MLX `bn.bias` (zeros at construction); undefined without `affine`. */
  get bias(): T | undefined {
    return this.#layer.state.bias;
  }

  /** MLX `bn.running_mean` (zeros at construction); undefined without tracking. */
  get running_mean(): T | undefined {
    return this.#layer.state.runningMean;
  }

  /** MLX `bn.running_var` (ones at construction); undefined without tracking. */
  get running_var(): T | undefined {
    return this.#layer.state.runningVar;
  }

  protected override localArrays(): (readonly [string, T])[] {
    const state = this.#layer.state;
    const out: (readonly [string, T])[] = [];
    for (const [name, key] of KEYS) {
      const t = state[key];
      if (t !== undefined) out.push([name, t]);
    }
    return out;
  }

  protected override arrayEngine(): Engine<T> {
    return this.engine;
  }

  protected override prepareLoad(entries: readonly (readonly [string, HostTensor])[]): PreparedLoad {
    const current = this.#layer.state;
    const host: { -readonly [K in keyof HostState]: HostState[K] } = { numBatchesTracked: current.numBatchesTracked };
    const loaded: StateTensorKey[] = [];
    for (const [name, value] of entries) {
      const key = STATE_KEY.get(name);
      if (key === undefined || current[key] === undefined) {
        throw new MlxError('ValueError', `Module does not have parameter named "${name}".`);
      }
      host[key] = value;
      loaded.push(key);
    }
    const uploaded = this.engine.stateFromHost(host);
    return {
      commit: () => {
        const next: { -readonly [K in keyof BatchNormState<T>]: BatchNormState<T>[K] } = { ...this.#layer.state };
        for (const key of loaded) next[key] = uploaded[key];
        this.#layer.replace(next);
      },
      abort: () => this.engine.dispose(...loaded.map((k) => uploaded[k])),
    };
  }

  /**
   * MLX's `unfreeze` override: unfreezes as asked, then re-freezes `running_mean` and
   * `running_var`, so they are never trainable through the layer itself. A parent's
   * `unfreeze()` does not come through here (see {@link Module}).
   */
  override unfreeze(options: FreezeOptions = {}): this {
    super.unfreeze(options);
    this.freeze({ keys: STATS, recurse: false });
    return this;
  }

  /**
   * `bn(x)` on a synchronous engine. In training mode (the default) normalises with the batch
   * statistics and, when tracking, replaces `running_mean`/`running_var`; in eval mode uses the
   * running statistics (or the batch's, without tracking).
   *
   * Errors, as MLX raises them (`MlxError`, `pythonType: 'ValueError'`): rank not 2–4
   * ("Expected input tensor to have 2, 3 or 4 dimensions, but got N"); in the `'0.32.1'`
   * profile, training on one value per channel ("BatchNorm training requires more than one
   * value per channel."). A last axis that differs from `numFeatures` while the layer holds
   * arrays is MLX's broadcast `ValueError`; MLX would instead broadcast silently when that
   * axis is 1 — we raise there too.
   */
  call(x: T): T {
    const mode = this.#mode(x);
    requireSync(this.engine, 'call()', 'callAsync()');
    return this.#layer.run(this.spec, mode, x);
  }

  /** {@link call} on any engine (required for asynchronous ones). */
  callAsync(x: T): Promise<T> {
    try {
      return this.#layer.runAsync(this.spec, this.#mode(x), x);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Frees the engine memory held by the layer's arrays (a no-op on garbage-collected engines). */
  dispose(): void {
    const s = this.#layer.state;
    this.engine.dispose(s.scale, s.bias, s.runningMean, s.runningVar);
  }

  /** MLX's repr: `BatchNorm(4, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)`. */
  override toString(): string {
    const py = (b: boolean) => (b ? 'True' : 'False');
    return (
      `BatchNorm(${this.numFeatures}, eps=${pyFloat(this.eps)}, momentum=${pyFloat(this.momentum)}, ` +
      `affine=${py(this.affine)}, track_running_stats=${py(this.trackRunningStats)})`
    );
  }

  #mode(x: T): Mode {
    const shape = this.engine.shapeOf(x);
    const ndim = shape.length;
    if (ndim < 2 || ndim > 4) {
      throw new MlxError('ValueError', `Expected input tensor to have 2, 3 or 4 dimensions, but got ${ndim}`);
    }
    const mode: Mode = this.training ? 'train' : 'eval';
    try {
      checkValuesPerChannel(this.spec, resolveLayout(this.spec, shape), mode);
    } catch (e) {
      if (e instanceof SingleValuePerChannelError) {
        throw new MlxError('ValueError', 'BatchNorm training requires more than one value per channel.', { cause: e });
      }
      throw e;
    }
    const holdsArrays = this.affine || this.trackRunningStats;
    if (holdsArrays && shape[ndim - 1] !== this.numFeatures) {
      throw new MlxError(
        'ValueError',
        `[broadcast_shapes] Shapes ${mlxCoreShape(shape)} and ${mlxCoreShape([this.numFeatures])} cannot be broadcast.`,
      );
    }
    return mode;
  }
}
