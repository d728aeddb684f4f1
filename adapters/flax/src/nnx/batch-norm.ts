import {
  checkFeatureCountLimit,
  numel,
  sameShape,
  ShapeError,
  LayerState,
  UnsupportedError,
  type BatchNormSpec,
  type BatchNormState,
  type Dtype,
  type Engine,
  type Gradients,
  type Mode,
  type LayerRunOptions,
  type StepOptions,
} from '@normbridge/core';
import { flaxNnx } from '@normbridge/frameworks';
import { modernArgs, resolveAttributes, type BatchNormAttributeValues, type BatchNormAttributes } from '../attributes.js';
import { canonicalizeAxes } from '../axes.js';
import {
  checkInput,
  resolveAnyEngine,
  runBatchNormVjp,
  runBatchNormVjpAsync,
  stateOnEngine,
  syncEngineFor,
  trustComputed,
  verifyStatistics,
  verifyStatisticsAsync,
} from '../backend.js';
import { checkInexact } from '../dtypes.js';
import { IncompatibleShapesError, ValueError } from '../errors.js';
import { hostFull, reshapeLeaf, shapeOf, toEngine } from '../leaf.js';
import { replicaOptions } from '../replicas.js';
import { Module } from './module.js';
import type { Rngs } from './rngs.js';
import { BatchStat, Param } from './variables.js';

/** Keyword arguments of `nnx.BatchNorm(num_features, *, …)`, camelCased, with NNX's defaults. */
export interface BatchNormOptions extends BatchNormAttributes {
  /**
   * Normalise with the stored `mean`/`var` (`true`) or with batch statistics, updating them.
   * `train()`/`eval()` set it; a call argument overrides it (`first_from`); `null` here and at
   * the call raises NNX's `ValueError`.
   * @default false
   */
  readonly useRunningAverage?: boolean | null | undefined;
  /** Key streams; `rngs.params()` is drawn once per created parameter (scale, then bias). Required. */
  readonly rngs: Rngs;
  /**
   * The engine that computes (normbridge's addition). A synchronous engine serves `call`/`vjp`
   * and `callAsync`/`vjpAsync`; an asynchronous one (ONNX Runtime) only the `…Async` calls.
   * @default core's `getDefaultEngine()`
   */
  readonly engine?: Engine<any> | undefined;
}

/** Call-time arguments of `BatchNorm.__call__(x, use_running_average=None, *, mask=None)`. */
export interface BatchNormCallArgs<T = any> {
  /** Overrides the attribute when given (`first_from`). @default null */
  readonly useRunningAverage?: boolean | null | undefined;
  /** Positions counted in the batch statistics. @default null */
  readonly mask?: T | null | undefined;
}

/**
 * What {@link BatchNorm.vjp} returns: the input's cotangent and those of the `nnx.Param`s,
 * keyed as `nnx.state(bn, nnx.Param)` keys them (absent where the layer has no such Param).
 */
export interface BatchNormVjp<T = any> {
  readonly input: T;
  readonly scale?: T;
  readonly bias?: T;
}

const FIRST_FROM_MESSAGE =
  'No `use_running_average` argument was provided to BatchNorm\n        as either a __call__ argument, class attribute, or nnx.flag.';

/** numpy broadcasting of two shapes; `undefined` when they do not broadcast. */
function broadcastShapes(a: readonly number[], b: readonly number[]): number[] | undefined {
  const n = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) return undefined;
    out.push(Math.max(da, db));
  }
  return out;
}

/** NNX's `first_from`: the first non-null value, else `ValueError(message)`. */
export function firstFrom<V>(message: string, ...values: (V | null | undefined)[]): V {
  for (const v of values) if (v !== undefined && v !== null) return v;
  throw new ValueError(message);
}

/** The canonical spec of an NNX BatchNorm call. */
export function nnxSpec(
  m: Pick<BatchNormOptions, 'momentum' | 'epsilon' | 'useBias' | 'useScale' | 'useFastVariance'>,
  call: { readonly featureAxes: readonly number[]; readonly masked: boolean },
): BatchNormSpec {
  return flaxNnx.specFromArgs(modernArgs(m), call);
}

/** The shared attributes, filled in by the constructor ({@link resolveAttributes}). */
export interface BatchNorm<T = any> extends BatchNormAttributeValues {}

/**
 * `flax.nnx.BatchNorm`: a stateful module. `mean`/`var` are `BatchStat`s (float32 zeros/ones),
 * `scale`/`bias` are `Param`s (or `null` when disabled), all of shape `(numFeatures,)` (so
 * `axis`, canonicalized as in linen, is in practice one axis). Every training call updates
 * `mean`/`var` in place (no init special case); the variables are views of a core
 * `LayerState`, which runs every call and disposes replaced engine tensors.
 */
export class BatchNorm<T = any> extends Module {
  numFeatures: number;
  useRunningAverage: boolean | null;
  mean: BatchStat<T>;
  var: BatchStat<T>;
  scale: Param<T> | null;
  bias: Param<T> | null;
  readonly #layer: LayerState<T>;

  constructor(numFeatures: number, options: BatchNormOptions) {
    super();
    this.numFeatures = numFeatures;
    this.useRunningAverage = options.useRunningAverage === undefined ? false : options.useRunningAverage;
    Object.assign(this, resolveAttributes(options, flaxNnx.defaults));
    // Before anything of that size is allocated (NNX itself would try).
    if (typeof numFeatures === 'number') checkFeatureCountLimit('num_features', numFeatures);
    const engine = resolveAnyEngine<T>(options.engine);
    const shape = [numFeatures];
    // NNX creates the statistics first, then draws one params key per parameter: scale, bias.
    const mean = toEngine(engine, hostFull(shape, 0, 'float32'));
    const variance = toEngine(engine, hostFull(shape, 1, 'float32'));
    const scale = this.useScale ? toEngine(engine, this.scaleInit(options.rngs.params(), shape, this.paramDtype)) : undefined;
    const bias = this.useBias ? toEngine(engine, this.biasInit(options.rngs.params(), shape, this.paramDtype)) : undefined;
    const initial: BatchNormState<T> = { scale, bias, runningMean: mean, runningVar: variance, numBatchesTracked: 0 };
    const layer = (this.#layer = new LayerState(engine, initial));
    const slot = <K extends 'scale' | 'bias' | 'runningMean' | 'runningVar'>(k: K) =>
      [() => layer.state[k] as T, (v: T) => layer.replace({ ...layer.state, [k]: v })] as const;
    this.mean = new BatchStat<T>(mean).bindStorage(...slot('runningMean'));
    this.var = new BatchStat<T>(variance).bindStorage(...slot('runningVar'));
    this.scale = scale === undefined ? null : new Param<T>(scale).bindStorage(...slot('scale'));
    this.bias = bias === undefined ? null : new Param<T>(bias).bindStorage(...slot('bias'));
  }

  /** The engine this layer computes with. */
  get engine(): Engine<T> {
    return this.#layer.engine;
  }

  /** `bn(x, use_running_average=None, *, mask=None)`, on a synchronous engine. */
  call(x: T, args: BatchNormCallArgs<T> = {}): T {
    const c = this.#prepare(x, args);
    const engine = syncEngineFor(c.engine, x);
    verifyStatistics(engine, c.state);
    return this.#layer.run(c.spec, c.mode, x, this.#runOptions(c));
  }

  /**
   * {@link call} on any engine (required for asynchronous ones, e.g. ONNX Runtime): the same
   * resolution and checks in the same order, the engine awaited, then the same in-place update
   * of `mean`/`var`. Await a training call before starting the next on the same layer (each
   * reads the statistics the previous one wrote, as successive `bn(x)` calls do).
   */
  async callAsync(x: T, args: BatchNormCallArgs<T> = {}): Promise<T> {
    const c = this.#prepare(x, args);
    checkInput(c.engine, x);
    await verifyStatisticsAsync(c.engine, c.state);
    return this.#layer.runAsync(c.spec, c.mode, x, this.#runOptions(c));
  }

  /**
   * The call as the layer state runs it: the engine sees the variables reshaped into the
   * call's layout (host leaves uploaded); a training call stores the new running statistics
   * back in the variables' shape, in place.
   */
  #runOptions(c: Prepared<T>): LayerRunOptions<T> {
    const on = stateOnEngine(c.engine, c.state, c.options);
    const keep = c.options.replicas ? [c.xShape[0]!, this.numFeatures] : [this.numFeatures];
    return {
      ...on.options,
      view: () => on.state,
      commit: (next) => {
        const stored = { ...this.#layer.state, runningMean: reshapeLeaf(next.runningMean!, keep), runningVar: reshapeLeaf(next.runningVar!, keep) };
        trustComputed(next);
        trustComputed(stored);
        return stored;
      },
    };
  }

  /**
   * `jax.vjp` of this call with respect to `x` and the `nnx.Param`s, at the current state:
   * what `jax.vjp(lambda x, p: (nnx.update(m := nnx.merge(graphdef, state), p), m(x, **args))[1],
   * x, nnx.state(bn, nnx.Param))` gives for the cotangent `dy`, keyed as NNX keys the Param
   * state (`scale`, `bias`, absent when disabled). Resolves the call exactly as {@link call}
   * does (same errors) and computes with the engine's `vjp`; nothing is updated.
   */
  vjp(x: T, dy: T, args: BatchNormCallArgs<T> = {}): BatchNormVjp<T> {
    const c = this.#prepare(x, args);
    return this.#vjpResult(runBatchNormVjp(c.engine, c.spec, c.state, x, dy, c.mode, c.options));
  }

  /** {@link vjp} on any engine (required for asynchronous ones): same resolution, the engine's `vjp` awaited. */
  async vjpAsync(x: T, dy: T, args: BatchNormCallArgs<T> = {}): Promise<BatchNormVjp<T>> {
    const c = this.#prepare(x, args);
    return this.#vjpResult(await runBatchNormVjpAsync(c.engine, c.spec, c.state, x, dy, c.mode, c.options));
  }

  /** The engine's gradients keyed as the Param state, in the Params' stored shape. */
  #vjpResult(g: Gradients<T>): BatchNormVjp<T> {
    // Parameters were reshaped into the broadcast layout; their gradients go back to the stored shape.
    const back = (d: T | undefined, p: Param<T> | null) => (d === undefined || p === null ? undefined : reshapeLeaf(d, shapeOf(p.value)));
    const dScale = back(g.dScale, this.scale);
    const dBias = back(g.dBias, this.bias);
    return { input: g.dx, ...(dScale !== undefined ? { scale: dScale } : {}), ...(dBias !== undefined ? { bias: dBias } : {}) };
  }

  /**
   * What a call resolves to before anything is computed: engine, spec, state, mode, options.
   * Shared by `call`, `callAsync`, `vjp` and `vjpAsync` (the synchronous ones then require a
   * synchronous engine).
   */
  #prepare(x: T, args: BatchNormCallArgs<T>) {
    const useRunningAverage = firstFrom(FIRST_FROM_MESSAGE, args.useRunningAverage, this.useRunningAverage);
    if (this.dtype !== null) checkInexact(this.dtype);
    const engine = this.#layer.engine;
    const xShape = shapeOf(x);
    const replicas = replicaOptions(this.axisName ?? undefined, this.axisIndexGroups ?? undefined, !useRunningAverage, xShape[0] ?? 1);
    const sampleShape = replicas ? xShape.slice(1) : xShape;
    const featureAxes = canonicalizeAxes(sampleShape.length, this.axis);
    const ascending = [...featureAxes].sort((a, b) => a - b);
    const layoutShape = ascending.map((a) => sampleShape[a]!);

    const stored = (v: T | undefined, what: string) => {
      if (v === undefined) return undefined;
      const shape = shapeOf(v);
      if (numel(shape) !== numel(layoutShape)) {
        throw new ShapeError(`BatchNorm ${what} (num_features=${this.numFeatures})`, `${numel(layoutShape)} values for features [${layoutShape.join(', ')}]`, shape);
      }
      return reshapeLeaf(v, layoutShape);
    };
    const masked = !useRunningAverage && args.mask !== undefined && args.mask !== null;
    if (!useRunningAverage) {
      // NNX adds the stored running mean to a batch mean of the feature shape (numpy broadcasting).
      const statShape = shapeOf(this.mean.value);
      const result = broadcastShapes(statShape, layoutShape);
      if (result === undefined) throw new IncompatibleShapesError('add', [statShape, layoutShape]);
      if (!sameShape(result, statShape)) {
        throw new UnsupportedError(
          `NNX BatchNorm training with running statistics of shape (${statShape.join(', ')}) and features (${layoutShape.join(', ')})`,
          `NNX would store running statistics of the broadcast shape (${result.join(', ')}); normbridge does not reproduce that`,
        );
      }
    }
    const spec = nnxSpec(this, { featureAxes: ascending, masked });
    const state: BatchNormState<T> = {
      scale: stored(this.scale?.value, 'scale'),
      bias: stored(this.bias?.value, 'bias'),
      runningMean: stored(this.mean.value, 'mean'),
      runningVar: stored(this.var.value, 'var'),
      numBatchesTracked: 0,
    };
    const mode: Mode = useRunningAverage ? 'eval' : 'train';
    const options: StepOptions<T> = { mask: masked ? (args.mask as T) : undefined, replicas };
    return { engine, spec, state, mode, options, xShape };
  }
}

/** What {@link BatchNorm}'s `#prepare` resolves a call to. */
type Prepared<T> = {
  readonly engine: Engine<T>;
  readonly spec: BatchNormSpec;
  readonly state: BatchNormState<T>;
  readonly mode: Mode;
  readonly options: StepOptions<T>;
  readonly xShape: readonly number[];
};
