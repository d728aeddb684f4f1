import {
  checkFeatureCountLimit,
  filled,
  getDefaultEngine,
  LayerState,
  requireSync,
  type BatchNormSpec,
  type BatchNormState,
  type Engine,
  type HostState,
  type HostTensor,
  type Mode,
  type StateTensorKey,
  type SyncEngine,
} from '@normbridge/core';
import { keras, tfjsLayers, type KerasFamilyProfile } from '@normbridge/frameworks';
import { KerasError, pyShape } from './errors.js';
import { uniqueLayerName } from './names.js';

/**
 * Which implementation to reproduce:
 *
 * - `'keras3'` — Keras 3 `keras.layers.BatchNormalization`: `trainable = false` runs the layer
 *   in inference mode even with `training: true`; masks restrict the statistics; any input rank;
 *   moving statistics updated as `moving * momentum + batch * (1 - momentum)` ('blend').
 * - `'tfjs-layers'` — `tf.layers.batchNormalization` of @tensorflow/tfjs-layers 4.x: `trainable`
 *   is ignored (a frozen layer keeps updating its moving statistics when trained); masks are
 *   ignored; ranks 2–4 only (`NotImplementedError` otherwise); moving statistics updated as
 *   `moving - (moving - batch) * (1 - momentum)` ('decay-toward'), which fixes the last float32
 *   bit. Its crashes are not reproduced: `center: false` / `scale: false` train fine here, and a
 *   non-last `axis` is computed correctly (tfjs' CPU kernel gets it wrong, tensorflow/tfjs#1106).
 */
export type KerasProfile = 'keras3' | 'tfjs-layers';

/**
 * An initializer: `'zeros'`, `'ones'`, or a number `v` meaning `keras.initializers.Constant(v)`
 * (`tf.initializers.constant({ value: v })`).
 */
export type InitializerIdentifier = 'zeros' | 'ones' | number;

/** Options of {@link BatchNormalization}: Keras' arguments in tfjs-layers' camelCase. */
export interface BatchNormalizationOptions<T> {
  /**
   * The feature axis (one integer; negatives count from the end). Statistics are reduced over
   * every other axis. For channels-first convolutions use `axis: 1`.
   * @default -1
   */
  axis?: number;
  /**
   * Keras momentum: the weight of the **old** moving value (decay),
   * `moving = moving * momentum + batch * (1 - momentum)` — the opposite of PyTorch/MLX.
   * Converted by the Keras profile (`@normbridge/frameworks`); must lie in [0, 1] (Keras does not check).
   * @default 0.99
   */
  momentum?: number;
  /**
   * Added to the variance before the square root (`rsqrt(var + epsilon)`). Note the Keras
   * default is 1e-3, not the 1e-5 of PyTorch/Flax/MLX. Must be ≥ 0 (canonical spec).
   * @default 1e-3
   */
  epsilon?: number;
  /** Add the learned offset `beta`; without it there is no `beta` weight. @default true */
  center?: boolean;
  /** Multiply by the learned `gamma`; without it there is no `gamma` weight. @default true */
  scale?: boolean;
  /** @default 'zeros' */
  betaInitializer?: InitializerIdentifier;
  /** @default 'ones' */
  gammaInitializer?: InitializerIdentifier;
  /** @default 'zeros' */
  movingMeanInitializer?: InitializerIdentifier;
  /** @default 'ones' */
  movingVarianceInitializer?: InitializerIdentifier;
  /**
   * Keras 3: `false` freezes the layer **and runs it in inference mode**, even when called with
   * `training: true` (moving statistics are then never written). In the `'tfjs-layers'` profile
   * it only moves the weights to `nonTrainableWeights`, as tfjs-layers does.
   * @default true
   */
  trainable?: boolean;
  /**
   * Layer name, used in weight paths (`<name>/gamma`).
   * @default 'batch_normalization', then 'batch_normalization_1', … (per process, Keras 3 style)
   */
  name?: string;
  /** @default 'keras3' */
  profile?: KerasProfile;
  /**
   * Keras' cross-replica statistics, TensorFlow backend only. `true` raises Keras' own
   * `ValueError`: normbridge is not the TensorFlow backend.
   * @default false
   */
  synchronized?: boolean;
  /**
   * Batch renormalization (Keras ≥ 3.14). Not supported: `true` raises a `NotImplementedError`.
   * @default false
   */
  renorm?: boolean;
  /**
   * The engine that runs the numerics and owns the weights.
   * @default getDefaultEngine() from @normbridge/core
   */
  engine?: Engine<T>;
}

/** Call arguments of {@link BatchNormalization.apply}. */
export interface BatchNormalizationCallOptions<T> {
  /**
   * Normalise with the batch statistics and update the moving ones (Keras 3: only while
   * `trainable`). `false`/absent means inference, as in Keras and tfjs-layers.
   * @default false
   */
  training?: boolean;
  /**
   * Keras 3: positions that count towards the statistics in training, shaped like the input
   * without its last axis (nonzero = counted), broadcast over the last axis as Keras does.
   * Rank must be `rank(input) - 1`. Unused in inference; ignored in the `'tfjs-layers'`
   * profile (tfjs-layers ignores masks).
   * @default undefined (every position counts)
   */
  mask?: T;
}

/** One of the layer's variables, as Keras 3 describes it (`layer.weights[i]`). */
export interface KerasVariable<T> {
  /** `gamma`, `beta`, `moving_mean` or `moving_variance`. */
  readonly name: WeightName;
  /** `<layer name>/<name>`, e.g. `batch_normalization/gamma`. */
  readonly path: string;
  /** The variable's own flag: gamma and beta are trainable, the moving statistics are not. */
  readonly trainable: boolean;
  readonly shape: readonly number[];
  /** The current value (an engine tensor, owned by the layer). */
  readonly value: T;
}

export type WeightName = 'gamma' | 'beta' | 'moving_mean' | 'moving_variance';

/** `layer.weights` order, from the Keras profile: the parameters are trainable, the statistics not. */
const WEIGHTS: readonly (readonly [WeightName, StateTensorKey, boolean])[] = [
  ...keras.params.map((v) => [v.name as WeightName, v.key, true] as const),
  ...keras.stats.map((v) => [v.name as WeightName, v.key, false] as const),
];

const FAMILY: Readonly<Record<KerasProfile, KerasFamilyProfile<string>>> = { keras3: keras, 'tfjs-layers': tfjsLayers };

interface InputSpec {
  readonly ndim: number;
  /** The axis as the layer was given it (Keras prints it that way). */
  readonly axis: number;
  readonly resolvedAxis: number;
  readonly dim: number;
}

interface PreparedCall<T> {
  readonly mode: Mode;
  readonly mask: T | undefined;
  /** The layer's spec, masked when the call has a mask. */
  readonly spec: BatchNormSpec;
}

/**
 * `keras.layers.BatchNormalization` / `tf.layers.batchNormalization`: normalises over every
 * axis but `axis`; in training with the batch's statistics (updating the moving ones), in
 * inference with the moving statistics. Weights are created on the first call from the input
 * shape (Keras `build`), or by {@link build}.
 *
 * Numerics are delegated to an engine through the canonical spec; this class only translates
 * Keras' arguments, weights and errors.
 */
export class BatchNormalization<T = any> {
  readonly name: string;
  /** @default -1 */
  readonly axis: number;
  /** @default 0.99 */
  readonly momentum: number;
  /** @default 1e-3 */
  readonly epsilon: number;
  /** @default true */
  readonly center: boolean;
  /** @default true */
  readonly scale: boolean;
  /** @default 'keras3' */
  readonly profile: KerasProfile;
  readonly engine: Engine<T>;
  /** The canonical spec this layer runs. */
  readonly spec: BatchNormSpec;
  /** Whether the layer's weights are created. */
  built = false;
  /** See {@link BatchNormalizationOptions.trainable}. @default true */
  trainable: boolean;
  readonly #initializers: Readonly<Record<WeightName, InitializerIdentifier>>;
  readonly #maskedSpec: BatchNormSpec;
  #runner: LayerState<T> | undefined;
  #inputSpec: InputSpec | undefined;

  constructor(options: BatchNormalizationOptions<T> = {}) {
    // An unknown profile is refused below, by name.
    const requested = options.profile ?? 'keras3';
    const defaults = (Object.hasOwn(FAMILY, requested) ? FAMILY[requested] : keras).defaults;
    const {
      axis = defaults.featureAxis,
      momentum = defaults.momentum,
      epsilon = defaults.epsilon,
      center = true,
      scale = true,
      trainable = true,
      profile = 'keras3',
      synchronized = false,
      renorm = false,
    } = options;
    if (profile !== 'keras3' && profile !== 'tfjs-layers') {
      throw new KerasError('ValueError', `Unknown profile ${JSON.stringify(profile)}: expected "keras3" or "tfjs-layers".`);
    }
    if (!Number.isInteger(axis)) {
      throw new KerasError('TypeError', `axis must be an integer (Keras converts it with int()), received: ${String(axis)}`);
    }
    if (synchronized) {
      throw new KerasError('ValueError', 'Argument synchronized=True is only supported with the TensorFlow backend.');
    }
    if (renorm) {
      throw new KerasError(
        'NotImplementedError',
        'BatchNormalization(renorm=True) is not supported by normbridge: batch renormalization ' +
          '(Keras >= 3.14, moving_stddev/renorm_mean/renorm_stddev) has no canonical BatchNorm spec. ' +
          'Use renorm=False, or run the layer in Keras.',
      );
    }
    this.axis = axis;
    this.momentum = momentum;
    this.epsilon = epsilon;
    this.center = center;
    this.scale = scale;
    this.trainable = trainable;
    this.profile = profile;
    this.#initializers = {
      gamma: options.gammaInitializer ?? 'ones',
      beta: options.betaInitializer ?? 'zeros',
      moving_mean: options.movingMeanInitializer ?? 'zeros',
      moving_variance: options.movingVarianceInitializer ?? 'ones',
    };
    for (const [key, init] of Object.entries(this.#initializers)) checkInitializer(key, init);
    const args = { axis, momentum, epsilon, center, scale };
    this.spec = FAMILY[profile].specFromArgs(args, { masked: false });
    // Keras 3 restricts the statistics to a mask; TF.js ignores masks (its profile never masks).
    this.#maskedSpec = keras.specFromArgs(args, { masked: true });
    this.engine = options.engine ?? (getDefaultEngine() as Engine<T>);
    this.name = options.name ?? uniqueLayerName('batch_normalization');
  }

  /**
   * Creates the weights for an input shape (Keras `build`); `null` marks an unknown size, which
   * only the feature axis may not be. Called by the first {@link apply}; a no-op once built.
   */
  build(inputShape: readonly (number | null | undefined)[]): void {
    if (this.built) return;
    const ndim = inputShape.length;
    const resolved = this.axis < 0 ? this.axis + ndim : this.axis;
    if (resolved < 0 || resolved >= ndim) {
      throw new KerasError(
        'IndexError',
        `tuple index out of range: axis ${this.axis} does not exist for an input of shape ${pyShape(inputShape)} ` +
          `(rank ${ndim}); valid axes are ${-ndim} to ${ndim - 1}.`,
      );
    }
    const dim = inputShape[resolved];
    if (dim === null || dim === undefined) {
      throw new KerasError(
        'ValueError',
        `Axis ${resolved} of input tensor should have a defined dimension but the layer received an input with shape ` +
          `${pyShape(inputShape)}.`,
      );
    }
    // A shape is not backed by data: cap the weights it would allocate.
    checkFeatureCountLimit(`input_shape[${resolved}]`, dim);
    const host: { -readonly [K in keyof HostState]: HostState[K] } = { numBatchesTracked: 0 };
    for (const [name, key] of WEIGHTS) {
      if ((key === 'scale' && !this.scale) || (key === 'bias' && !this.center)) continue;
      host[key] = filled([dim], initialValue(this.#initializers[name]));
    }
    this.#runner = new LayerState(this.engine, this.engine.stateFromHost(host));
    this.#inputSpec = { ndim, axis: this.axis, resolvedAxis: resolved, dim };
    this.built = true;
  }

  /**
   * Calls the layer on a synchronous engine (Keras `layer(x, training=...)`, tfjs `apply`).
   * `training` defaults to false (inference). Builds the layer on first use.
   */
  apply(x: T, options: BatchNormalizationCallOptions<T> = {}): T {
    const prepared = this.#prepare(x, options);
    requireSync(this.engine, 'apply()', 'applyAsync()');
    const mask = this.#expandMask(prepared.mask);
    try {
      return this.#runner!.run(prepared.spec, prepared.mode, x, { mask });
    } finally {
      this.engine.dispose(mask);
    }
  }

  /** Keras 3's name for {@link apply}: `call(inputs, { training, mask })`. */
  call(x: T, options: BatchNormalizationCallOptions<T> = {}): T {
    return this.apply(x, options);
  }

  /** {@link apply} on any engine (required for asynchronous ones). */
  async applyAsync(x: T, options: BatchNormalizationCallOptions<T> = {}): Promise<T> {
    const prepared = this.#prepare(x, options);
    const mask = this.#expandMask(prepared.mask);
    try {
      return await this.#runner!.runAsync(prepared.spec, prepared.mode, x, { mask });
    } finally {
      this.engine.dispose(mask);
    }
  }

  /**
   * Gradients of `apply(x, { training })` for a cotangent `dy` at the current weights — what
   * `tf.variableGrads` / `GradientTape` give for the input, `gamma` and `beta` — without
   * updating the moving statistics. Works on asynchronous engines too (no masks).
   */
  async vjpAsync(x: T, dy: T, options: Pick<BatchNormalizationCallOptions<T>, 'training'> = {}): Promise<{ input: T; gamma?: T; beta?: T }> {
    const { mode, spec } = this.#prepare(x, options);
    const g = await this.#runner!.vjpAsync(spec, mode, x, dy);
    return { input: g.dx, ...(g.dScale ? { gamma: g.dScale } : {}), ...(g.dBias ? { beta: g.dBias } : {}) };
  }

  /** `layer.weights`: gamma, beta, moving_mean, moving_variance (absent ones skipped); `[]` before build. */
  get weights(): KerasVariable<T>[] {
    const runner = this.#runner;
    if (!runner) return [];
    const out: KerasVariable<T>[] = [];
    for (const [name, key, trainable] of WEIGHTS) {
      const value = runner.state[key];
      if (value === undefined) continue;
      out.push({ name, path: `${this.name}/${name}`, trainable, shape: this.engine.shapeOf(value), value });
    }
    return out;
  }

  /** Keras `layer.gamma`; undefined before build or with `scale: false`. */
  get gamma(): KerasVariable<T> | undefined {
    return this.#variable('gamma');
  }

  /** Keras `layer.beta`; undefined before build or with `center: false`. */
  get beta(): KerasVariable<T> | undefined {
    return this.#variable('beta');
  }

  /** Keras `layer.moving_mean`; undefined before build. */
  get moving_mean(): KerasVariable<T> | undefined {
    return this.#variable('moving_mean');
  }

  /** Keras `layer.moving_variance`; undefined before build. */
  get moving_variance(): KerasVariable<T> | undefined {
    return this.#variable('moving_variance');
  }

  /** Trainable weights: gamma and beta, or none while `trainable` is false. */
  get trainableWeights(): KerasVariable<T>[] {
    return this.trainable ? this.weights.filter((w) => w.trainable) : [];
  }

  /** Non-trainable weights: the moving statistics, or every weight while `trainable` is false. */
  get nonTrainableWeights(): KerasVariable<T>[] {
    return this.trainable ? this.weights.filter((w) => !w.trainable) : this.weights;
  }

  /** The current canonical state (engine tensors), once built. */
  get state(): BatchNormState<T> | undefined {
    return this.#runner?.state;
  }

  /** `get_weights()`: the values of {@link weights} as host arrays. Synchronous engines only. */
  getWeights(): HostTensor[] {
    const engine = this.engine as SyncEngine<T>;
    if (!engine.synchronous) {
      throw new KerasError('ValueError', `getWeights() needs a synchronous engine; "${this.engine.name}" is not: use getWeightsAsync().`);
    }
    return this.weights.map((w) => engine.toHost(w.value));
  }

  /** {@link getWeights} on any engine. */
  async getWeightsAsync(): Promise<HostTensor[]> {
    return Promise.all(this.weights.map((w) => this.engine.toHost(w.value)));
  }

  /**
   * `set_weights([...])`: by position, in the order of {@link weights} (absent weights are
   * skipped, so `center: false` takes `[gamma, moving_mean, moving_variance]`). Keras'
   * `ValueError`s for a wrong count or shape; values are checked by the engine (a NaN or
   * negative moving variance is a `StateError`). All-or-nothing.
   */
  setWeights(weights: readonly HostTensor[]): void {
    const current = this.weights;
    if (current.length !== weights.length) {
      throw new KerasError(
        'ValueError',
        `You called \`set_weights(weights)\` on layer '${this.name}' with a weight list of length ${weights.length}, ` +
          `but the layer was expecting ${current.length} weights.`,
      );
    }
    const host: { -readonly [K in keyof HostState]: HostState[K] } = { numBatchesTracked: this.#runner?.state.numBatchesTracked ?? 0 };
    current.forEach((variable, i) => {
      const value = weights[i]!;
      // Not a tensor at all (a string, a plain array): refused by name before its shape is read.
      if (typeof value !== 'object' || value === null || !Array.isArray((value as { shape?: unknown }).shape)) {
        throw new KerasError('ValueError', `Layer ${this.name} weight ${i} (${variable.name}) is not an array: got ${value === null ? 'null' : typeof value}.`);
      }
      if (!sameShape(variable.shape, value.shape)) {
        throw new KerasError(
          'ValueError',
          `Layer ${this.name} weight shape ${pyShape(variable.shape)} is not compatible with provided weight shape ${pyShape(value.shape)}.`,
        );
      }
      host[keyOf(variable.name)] = value;
    });
    if (!this.#runner) return;
    this.#runner.replace({ ...this.engine.stateFromHost(host), numBatchesTracked: this.#runner.state.numBatchesTracked });
  }

  /** Frees the engine memory of the weights. */
  dispose(): void {
    const s = this.#runner?.state;
    if (s) this.engine.dispose(s.scale, s.bias, s.runningMean, s.runningVar);
  }

  #variable(name: WeightName): KerasVariable<T> | undefined {
    return this.weights.find((w) => w.name === name);
  }

  #prepare(x: T, options: BatchNormalizationCallOptions<T>): PreparedCall<T> {
    const shape = this.engine.shapeOf(x);
    const keras3 = this.profile === 'keras3';
    // Keras' __call__: InputSpec check (once built), build, then call().
    if (this.built) this.#checkInput(shape);
    else this.build(shape);
    if (keras3 && options.mask !== undefined) {
      const maskShape = this.engine.shapeOf(options.mask);
      if (maskShape.length !== shape.length - 1) {
        throw new KerasError(
          'ValueError',
          `The mask provided should be one dimension less than the inputs. Received: mask.shape=${pyShape(maskShape)}, ` +
            `inputs.shape=${pyShape(shape)}`,
        );
      }
    }
    if (!keras3 && (shape.length < 2 || shape.length > 4)) {
      throw new KerasError('NotImplementedError', `batchNormalization is not implemented for array of rank ${shape.length} yet`);
    }
    const mode: Mode = options.training === true && (this.trainable || !keras3) ? 'train' : 'eval';
    const mask = keras3 && mode === 'train' ? options.mask : undefined;
    return { mode, mask, spec: mask === undefined ? this.spec : this.#maskedSpec };
  }

  /** Keras' InputSpec check: the rank and the feature size fixed at build. */
  #checkInput(shape: readonly number[]): void {
    const spec = this.#inputSpec!;
    if (shape.length !== spec.ndim) {
      throw new KerasError(
        'ValueError',
        `Input 0 of layer "${this.name}" is incompatible with the layer: expected ndim=${spec.ndim}, found ndim=${shape.length}. ` +
          `Full shape received: ${pyShape(shape)}`,
      );
    }
    if (shape[spec.resolvedAxis] !== spec.dim) {
      throw new KerasError(
        'ValueError',
        `Input 0 of layer "${this.name}" is incompatible with the layer: expected axis ${spec.axis} of input shape to have ` +
          `value ${spec.dim}, but received input with shape ${pyShape(shape)}`,
      );
    }
  }

  /** Keras broadcasts the mask over the last axis (`expand_dims(mask, -1)`): a reshape, no data change. */
  #expandMask(mask: T | undefined): T | undefined {
    return mask === undefined ? undefined : this.engine.reshape(mask, [...this.engine.shapeOf(mask), 1]);
  }
}

function keyOf(name: WeightName): StateTensorKey {
  return WEIGHTS.find(([n]) => n === name)![1];
}

function initialValue(init: InitializerIdentifier): number {
  return init === 'zeros' ? 0 : init === 'ones' ? 1 : init;
}

function checkInitializer(key: string, init: unknown): void {
  if (init === 'zeros' || init === 'ones' || (typeof init === 'number' && Number.isFinite(init))) return;
  throw new KerasError(
    'ValueError',
    `Could not interpret initializer identifier for ${key}: ${JSON.stringify(init)} ` +
      `(normbridge supports 'zeros', 'ones' or a finite number for a constant).`,
  );
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
