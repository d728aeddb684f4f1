import {
  type BatchNormSpec,
  type BatchNormState,
  type Engine,
  type Gradients,
  type Mode,
  type StepOptions,
} from '@normbridge/core';
import { flaxLegacy } from '@normbridge/frameworks';
import type { BatchNormAttributes } from '../attributes.js';
import { absoluteDims, type Axes } from '../axes.js';
import { runBatchNorm, runBatchNormAsync, runBatchNormVjp, runBatchNormVjpAsync, type BatchNormOutput } from '../backend.js';
import { checkInexact, type FlaxDtype } from '../dtypes.js';
import { ValueError } from '../errors.js';
import { ones, zeros, type Initializer } from '../initializers.js';
import { shapeOf, toEngine } from '../leaf.js';
import { replicaOptions } from '../replicas.js';
import { asyncModule, module, type Collection, type ModuleContext, type ModuleState, type TopLevelOptions } from './base.js';
import type { Tree } from '../tree.js';

/** Keyword arguments of legacy `flax.nn.BatchNorm(x, …)`, camelCased, with its defaults. */
export interface BatchNormKwargs<T = any>
  extends Pick<BatchNormAttributes, 'momentum' | 'epsilon' | 'biasInit' | 'scaleInit' | 'axisName' | 'axisIndexGroups'> {
  /**
   * Collection holding the running statistics; without it the innermost `stateful` context's
   * is used, and with neither there is no state: training tracks nothing.
   * @default null
   */
  readonly batchStats?: Collection<T> | null | undefined;
  /** Normalise with the stored statistics (needs state, else `ValueError`). @default false */
  readonly useRunningAverage?: boolean | undefined;
  /** Feature axis or axes (features in ascending axis order). @default -1 */
  readonly axis?: Axes | undefined;
  /** Computation/output dtype (x is cast to float32 first). @default 'float32' */
  readonly dtype?: FlaxDtype | undefined;
  /** Add the learned `bias`. @default true */
  readonly bias?: boolean | undefined;
  /** Multiply by the learned `scale`. @default true */
  readonly scale?: boolean | undefined;
}

/** The canonical spec of a legacy call: unclamped one-pass variance, float32 statistics. */
export function legacySpec(kw: BatchNormKwargs, call: { readonly featureAxes: readonly number[]; readonly updating: boolean }): BatchNormSpec {
  return flaxLegacy.specFromArgs({ momentum: kw.momentum, epsilon: kw.epsilon, scale: kw.scale, bias: kw.bias }, call);
}

/**
 * Everything one call resolves to before computing: feature axes, the state variables (from
 * `batchStats` or the stateful context; none without either), the `ValueError` of an eval call
 * without state, the parameters and the spec. Shared by the module's synchronous and
 * asynchronous apply functions, {@link batchNormVjp} and {@link batchNormVjpAsync}.
 */
function prepareCall<T>(self: ModuleContext, x: T, kw: BatchNormKwargs<T>) {
  checkInexact(kw.dtype ?? 'float32');
  const engine = self.engine as Engine<T>;
  const initializing = self.isInitializing();
  const useRunningAverage = kw.useRunningAverage ?? false;
  const xShape = shapeOf(x);
  const replicas = replicaOptions(kw.axisName ?? undefined, kw.axisIndexGroups ?? undefined, !useRunningAverage && !initializing, xShape[0] ?? 1);
  const sampleShape = replicas ? xShape.slice(1) : xShape;
  const axes = new Set(absoluteDims(sampleShape.length, kw.axis ?? -1));
  // `i in axis` over x's axes: features in ascending order, duplicates ignored.
  const featureAxes = sampleShape.map((_, i) => i).filter((i) => axes.has(i));
  if (featureAxes.length !== axes.size) {
    throw new ValueError(`axis ${JSON.stringify(kw.axis)} is out of range for an input of rank ${sampleShape.length}`);
  }
  const featureShape = featureAxes.map((a) => sampleShape[a]!);

  const onEngine = (v: Parameters<typeof toEngine>[1]) => toEngine(engine, v) as T;
  let raMean: ModuleState<T> | undefined;
  let raVar: ModuleState<T> | undefined;
  if (self.isStateful() || kw.batchStats) {
    const col = kw.batchStats ?? undefined;
    raMean = self.state<T>('mean', featureShape, zeros, col, onEngine);
    raVar = self.state<T>('var', featureShape, ones, col, onEngine);
  }
  if (useRunningAverage && raMean === undefined) {
    throw new ValueError('when use_running_averages is True either use a stateful context or provide batch_stats');
  }
  const updating = !useRunningAverage && raMean !== undefined && !initializing;
  const needStats = useRunningAverage || updating;
  const scale = kw.scale ?? true ? self.param<T>('scale', featureShape, kw.scaleInit ?? ones, onEngine) : undefined;
  const bias = kw.bias ?? true ? self.param<T>('bias', featureShape, kw.biasInit ?? zeros, onEngine) : undefined;
  const state: BatchNormState<T> = {
    scale,
    bias,
    runningMean: needStats ? raMean!.value : undefined,
    runningVar: needStats ? raVar!.value : undefined,
    numBatchesTracked: 0,
  };
  const spec = legacySpec(kw, { featureAxes, updating });
  const mode: Mode = useRunningAverage ? 'eval' : 'train';
  const options: StepOptions<T> = { replicas };
  return { engine, spec, state, mode, options, updating, raMean, raVar };
}

type PreparedCall<T> = ReturnType<typeof prepareCall<T>>;

/** After the engine: a training call with state stores the new running statistics; returns `y`. */
function commitCall<T>(c: PreparedCall<T>, out: BatchNormOutput<T>): T {
  if (c.updating) {
    c.raMean!.value = out.state.runningMean!;
    c.raVar!.value = out.state.runningVar!;
  }
  return out.y;
}

function batchNormApply<T>(self: ModuleContext, x: T, kw: BatchNormKwargs<T>): T {
  const c = prepareCall(self, x, kw);
  return commitCall(c, runBatchNorm(c.engine, c.spec, c.state, x, c.mode, c.options));
}

/** {@link batchNormApply} on any engine: set up in the frame, engine awaited, state stored back in the frame. */
async function batchNormApplyAsync<T>(self: ModuleContext, x: T, kw: BatchNormKwargs<T>): Promise<T> {
  const c = prepareCall(self, x, kw);
  const out = await runBatchNormAsync(c.engine, c.spec, c.state, x, c.mode, c.options);
  return self.within(() => commitCall(c, out));
}

/**
 * Legacy `flax.nn.BatchNorm(x, batch_stats=None, use_running_average=False, axis=-1,
 * momentum=0.99, epsilon=1e-5, dtype=float32, bias=True, scale=True, …)`, used inside a
 * module's apply. State `mean`/`var` (shape of the feature dims) in the stateful collection
 * under the module path (`'/BatchNorm_1'`); params `scale`/`bias` (created after the state).
 * Variance is `E[x²] - E[x]²` with no clamp; running statistics are updated only with state
 * and not while initialising. On an asynchronous engine (ONNX Runtime), call it at top level
 * with `await nn.BatchNorm.callAsync(params, x, kwargs)` (`initAsync` likewise), inside
 * `nn.statefulAsync` for state; calls inside another module's apply are synchronous.
 */
export const BatchNorm = asyncModule<any, BatchNormKwargs, any>('BatchNorm', batchNormApply, batchNormApplyAsync);

/** What {@link batchNormVjp} returns: JAX's `(dx, dparams)` with `dparams` shaped like the params. */
export interface BatchNormVjp<T = any> {
  readonly input: T;
  /** `{scale, bias}` as the layer has them (`{}` with neither). */
  readonly params: { readonly scale?: T; readonly bias?: T };
}

/**
 * `jax.vjp(lambda x, p: nn.BatchNorm.call(p, x, **kwargs), x, params)` for the cotangent `dy`:
 * a top-level legacy BatchNorm call (path `'/'`) resolved exactly as {@link BatchNorm}'s
 * `call` resolves it, inside whatever `nn.stateful` context the caller is in (same errors),
 * computed by the engine's `vjp` at the current state. Nothing is stored.
 */
export function batchNormVjp<T>(params: Tree, x: T, dy: T, kwargs: BatchNormKwargs<T> & TopLevelOptions = {}): BatchNormVjp<T> {
  return vjpProbe(dy).call(params, x, kwargs);
}

/**
 * {@link batchNormVjp} on any engine (required for asynchronous ones): resolved exactly as
 * `nn.BatchNorm.callAsync` resolves the call (same errors), inside whatever stateful context is
 * active (`nn.statefulAsync` keeps one for the awaited call); the engine's `vjp` awaited.
 * Nothing is stored.
 */
export function batchNormVjpAsync<T>(params: Tree, x: T, dy: T, kwargs: BatchNormKwargs<T> & TopLevelOptions = {}): Promise<BatchNormVjp<T>> {
  return vjpProbe(dy).callAsync(params, x, kwargs);
}

/** A top-level BatchNorm (same class name, so the same paths) that returns the engine's vjp for `dy`. */
function vjpProbe<T>(dy: T) {
  return asyncModule<T, BatchNormKwargs<T>, BatchNormVjp<T>>(
    'BatchNorm',
    (self, x, kw) => {
      const c = prepareCall(self, x, kw);
      return vjpResult(c, runBatchNormVjp(c.engine, c.spec, c.state, x, dy, c.mode, c.options));
    },
    async (self, x, kw) => {
      const c = prepareCall(self, x, kw);
      return vjpResult(c, await runBatchNormVjpAsync(c.engine, c.spec, c.state, x, dy, c.mode, c.options));
    },
  );
}

/** JAX's `(dx, dparams)` from the engine's gradients, for the parameters the layer has. */
function vjpResult<T>(c: PreparedCall<T>, g: Gradients<T>): BatchNormVjp<T> {
  const scale = c.state.scale === undefined ? undefined : g.dScale;
  const bias = c.state.bias === undefined ? undefined : g.dBias;
  return { input: g.dx, params: { ...(scale !== undefined ? { scale } : {}), ...(bias !== undefined ? { bias } : {}) } };
}
