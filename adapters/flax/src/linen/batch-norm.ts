import { numel, sameShape, StateError, UnsupportedError } from '@normbridge/core';
import type { BatchNormSpec, BatchNormState, Dtype, Engine, Gradients, Mode, StepOptions } from '@normbridge/core';
import { flaxLinen } from '@normbridge/frameworks';
import { modernArgs, resolveAttributes, type BatchNormAttributeValues, type BatchNormAttributes } from '../attributes.js';
import { canonicalizeAxes } from '../axes.js';
import { runBatchNorm, runBatchNormAsync, runBatchNormVjp, runBatchNormVjpAsync, type BatchNormOutput } from '../backend.js';
import { checkInexact } from '../dtypes.js';
import { IncompatibleShapesError, ModifyScopeVariableError, ValueError } from '../errors.js';
import { hostFull, reshapeLeaf, shapeOf, toEngine } from '../leaf.js';
import { replicaOptions } from '../replicas.js';
import { Module, type ApplyOptions, type Scope, type Variables } from './module.js';

/** The fields of `flax.linen.BatchNorm`, camelCased, with Flax's defaults. */
export interface BatchNormFields extends BatchNormAttributes {
  /**
   * Normalise with the stored `batch_stats` (`true`) or with the batch's statistics, updating
   * the stored ones (`false`). Give it here or at call time, exactly once (linen's
   * `merge_param`): neither or both raise linen's `ValueError`.
   * @default null (must then be given at call time)
   */
  readonly useRunningAverage?: boolean | null | undefined;
  /**
   * Reduce float16/bfloat16 inputs in float32 and keep `batch_stats` in float32 (spec
   * `statisticsDtype: 'float32'`); `false` keeps the input dtype and stores stats in `paramDtype`.
   * @default true
   */
  readonly forceFloat32Reductions?: boolean | undefined;
  /** Name in the parent module. @default `BatchNorm_k` */
  readonly name?: string | undefined;
}

/** Call-time arguments of `BatchNorm.__call__(x, use_running_average=None, *, mask=None)`. */
export interface BatchNormCallArgs<T = any> {
  /** See {@link BatchNormFields.useRunningAverage}. @default null */
  readonly useRunningAverage?: boolean | null | undefined;
  /**
   * Positions that count towards the batch statistics (true/non-zero); broadcastable to `x`.
   * Used only when computing batch statistics.
   * @default null
   */
  readonly mask?: T | null | undefined;
}

/** linen's `merge_param`: exactly one of the two must be given. */
export function mergeParam<V>(name: string, fromModule: V | null | undefined, fromCall: V | null | undefined): V {
  const a = fromModule !== undefined && fromModule !== null;
  const b = fromCall !== undefined && fromCall !== null;
  if (a && b) throw new ValueError(`Parameter "${name}" was passed to the constructor and at call time. Should be passed just once.`);
  if (!a && !b) throw new ValueError(`Parameter "${name}" must be passed to the constructor or at call time.`);
  return (a ? fromModule : fromCall) as V;
}

/** The variables' collections and names, from the linen profile. */
const STATS = flaxLinen.collections!.stats;
const [MEAN, VAR] = flaxLinen.stats.map((v) => v.name) as [string, string];
const [SCALE, BIAS] = flaxLinen.params.map((v) => v.name) as [string, string];

/**
 * The canonical spec of a linen BatchNorm call. `featureAxes` are the non-negative feature
 * axes in ascending order (the layout Flax's `_normalize` reshapes statistics and parameters
 * into); `updating` is false while initialising (no running-average write).
 */
export function linenSpec(
  f: BatchNormFields,
  call: { readonly featureAxes: readonly number[]; readonly updating: boolean; readonly masked: boolean },
): BatchNormSpec {
  return flaxLinen.specFromArgs({ ...modernArgs(f), force_float32_reductions: f.forceFloat32Reductions }, call);
}

/** The shared attributes, filled in by the constructor ({@link resolveAttributes}). */
export interface BatchNorm<T = any> extends Readonly<BatchNormAttributeValues> {}

/**
 * `flax.linen.BatchNorm`. Variables: `batch_stats/mean` (zeros) and `batch_stats/var` (ones),
 * then `params/scale` (ones) and `params/bias` (zeros), all of the feature shape. Training
 * (`useRunningAverage: false`) normalises with the batch's biased statistics and — except
 * while initialising — writes `ra = momentum * ra + (1 - momentum) * batch`, which needs
 * `mutable: ['batch_stats']`. Numbers come from the engine given to `init`/`apply`.
 */
export class BatchNorm<T = any> extends Module<T, BatchNormCallArgs<T>, T> {
  readonly useRunningAverage: boolean | null;
  readonly forceFloat32Reductions: boolean;

  constructor(fields: BatchNormFields = {}) {
    super({ name: fields.name });
    this.useRunningAverage = fields.useRunningAverage ?? null;
    Object.assign(this, resolveAttributes(fields, flaxLinen.defaults));
    this.forceFloat32Reductions = fields.forceFloat32Reductions ?? true;
  }

  static readonly flaxName = 'BatchNorm';

  call(scope: Scope, x: T, kwargs: BatchNormCallArgs<T> = {}): T {
    const c = prepareCall(this, scope, x, kwargs);
    return commitCall(c, runBatchNorm(c.engine, c.spec, c.state, x, c.mode, c.options));
  }

  /**
   * {@link call} on any engine, run by `applyAsync`/`initWithOutputAsync`/`Scope.childAsync`:
   * the same resolution and checks ({@link prepareCall}), the engine awaited, the same write
   * of `batch_stats`.
   */
  override async callAsync(scope: Scope, x: T, kwargs: BatchNormCallArgs<T> = {}): Promise<T> {
    const c = prepareCall(this, scope, x, kwargs);
    return commitCall(c, await runBatchNormAsync(c.engine, c.spec, c.state, x, c.mode, c.options));
  }

  /**
   * `jax.vjp` of `apply` with respect to `x` and `params`, for the cotangent `dy`:
   * `jax.vjp(lambda x, p: bn.apply({**variables, 'params': p}, x, **options), x,
   * variables['params'])`, with `[0]` of the result when `mutable` is given, as a training apply
   * needs. `options` are those of {@link Module.apply} (call arguments, `mutable`, `engine`); the
   * call is resolved exactly as `apply` resolves it (same errors, e.g. `ModifyScopeVariableError`
   * without `mutable`), computed by the engine's `vjp` at `variables`, and nothing is updated.
   * For a BatchNorm applied as the top-level module.
   */
  vjp(variables: Variables, x: T, dy: T, options?: BatchNormCallArgs<T> & ApplyOptions): BatchNormVjp<T> {
    const probe = new VjpProbe<T>(this, dy);
    probe.apply(variables, x, options);
    return probe.result!;
  }

  /**
   * {@link vjp} on any engine (required for asynchronous ones): resolved through
   * {@link Module.applyAsync} exactly as `vjp` resolves through `apply` (same errors, same
   * order), computed by the engine's `vjp`, awaited. Nothing is updated.
   */
  async vjpAsync(variables: Variables, x: T, dy: T, options?: BatchNormCallArgs<T> & ApplyOptions): Promise<BatchNormVjp<T>> {
    const probe = new VjpProbe<T>(this, dy);
    await probe.applyAsync(variables, x, options);
    return probe.result!;
  }
}

/** What {@link BatchNorm.vjp} returns: JAX's `(dx, dparams)` with `dparams` shaped like `params`. */
export interface BatchNormVjp<T = any> {
  readonly input: T;
  /** `{scale, bias}` as the layer has them (`{}` with neither). */
  readonly params: { readonly scale?: T; readonly bias?: T };
}

/**
 * Everything one call resolves to before computing: Flax's `merge_param`, the feature axes and
 * layouts, the `batch_stats` variables (created when missing and mutable), the mutability check
 * of a training call, the parameters, and the spec. Shared by `call`, `callAsync`, `vjp` and
 * `vjpAsync`.
 */
function prepareCall<T>(bn: BatchNorm<T>, scope: Scope, x: T, kwargs: BatchNormCallArgs<T>) {
  const useRunningAverage = mergeParam('use_running_average', bn.useRunningAverage, kwargs.useRunningAverage);
  if (bn.dtype !== null) checkInexact(bn.dtype);
  const engine = scope.engine;
  const initializing = scope.isInitializing();
  const xShape = shapeOf(x);

  // Replicas (inside pmap) are stacked on axis 0; Flax's axes are those of one replica.
  const replicas = replicaOptions(bn.axisName ?? undefined, bn.axisIndexGroups ?? undefined, !useRunningAverage && !initializing, xShape[0] ?? 1);
  const sampleShape = replicas ? xShape.slice(1) : xShape;
  const featureAxes = canonicalizeAxes(sampleShape.length, bn.axis);
  const featureShape = featureAxes.map((a) => sampleShape[a]!);
  const ascending = [...featureAxes].sort((a, b) => a - b);
  const layoutShape = ascending.map((a) => sampleShape[a]!);

  const statsDtype: Dtype = bn.forceFloat32Reductions ? 'float32' : bn.paramDtype;
  const mean = scope.variable(STATS, MEAN, () => toEngine(engine, hostFull(featureShape, 0, statsDtype)));
  const variance = scope.variable(STATS, VAR, () => toEngine(engine, hostFull(featureShape, 1, statsDtype)));

  // A stored statistic of another size cannot be reshaped into the features: name it.
  for (const [leaf, v] of [[MEAN, mean.value], [VAR, variance.value]] as const) {
    const have = shapeOf(v);
    if (numel(have) !== numel(featureShape)) {
      throw new StateError(`${STATS}${scope.pathText === '/' ? '/' : `${scope.pathText}/`}${leaf}`, `has shape [${have.join(', ')}] but the input's features have shape [${featureShape.join(', ')}]`);
    }
  }
  const updating = !useRunningAverage && !initializing;
  if (updating) {
    // Fail before computing, as Flax fails at the assignment: the result is the same error.
    if (!scope.isMutableCollection(STATS)) throw new ModifyScopeVariableError(STATS, MEAN, scope.pathText);
    checkUpdateLayout(featureShape, layoutShape);
  }

  const onEngine = (v: Parameters<typeof toEngine>[1]) => toEngine(engine, v) as T;
  const scale = bn.useScale ? scope.param<T>(SCALE, bn.scaleInit, featureShape, bn.paramDtype, onEngine) : undefined;
  const bias = bn.useBias ? scope.param<T>(BIAS, bn.biasInit, featureShape, bn.paramDtype, onEngine) : undefined;

  const masked = !useRunningAverage && kwargs.mask !== undefined && kwargs.mask !== null;
  const spec = linenSpec(bn, { featureAxes: ascending, updating, masked });
  // Flax reshapes (never transposes) its feature-shaped arrays into the broadcast layout.
  const state: BatchNormState<T> = {
    scale: scale === undefined ? undefined : reshapeLeaf(scale, layoutShape),
    bias: bias === undefined ? undefined : reshapeLeaf(bias, layoutShape),
    runningMean: reshapeLeaf(mean.value, layoutShape),
    runningVar: reshapeLeaf(variance.value, layoutShape),
    numBatchesTracked: 0,
  };
  const mode: Mode = useRunningAverage ? 'eval' : 'train';
  const options: StepOptions<T> = { mask: masked ? (kwargs.mask as T) : undefined, replicas };
  return { engine: engine as Engine<T>, spec, state, mode, options, updating, xShape, featureShape, mean, variance };
}

type PreparedCall<T> = ReturnType<typeof prepareCall<T>>;

/** After the engine: a training call (not while initialising) writes `batch_stats`; returns `y`. */
function commitCall<T>(c: PreparedCall<T>, out: BatchNormOutput<T>): T {
  if (c.updating) {
    const stored = c.options.replicas ? [c.xShape[0]!, ...c.featureShape] : c.featureShape;
    c.mean.value = reshapeLeaf(out.state.runningMean!, stored);
    c.variance.value = reshapeLeaf(out.state.runningVar!, stored);
  }
  return out.y;
}

/** JAX's `(dx, dparams)` from the engine's gradients: parameter gradients in the stored shape. */
function vjpResult<T>(c: PreparedCall<T>, g: Gradients<T>): BatchNormVjp<T> {
  // Parameters were reshaped into the broadcast layout; their gradients go back to the stored shape.
  const back = (d: T | undefined) => (d === undefined ? undefined : reshapeLeaf(d, c.featureShape));
  const scale = c.state.scale === undefined ? undefined : back(g.dScale);
  const bias = c.state.bias === undefined ? undefined : back(g.dBias);
  return { input: g.dx, params: { ...(scale !== undefined ? { scale } : {}), ...(bias !== undefined ? { bias } : {}) } };
}

/**
 * Stands in for a BatchNorm inside `apply` (same class name, so the same scope names and
 * error paths) and records the engine's vjp instead of running the call.
 */
class VjpProbe<T> extends Module<T, BatchNormCallArgs<T>, T> {
  static readonly flaxName = 'BatchNorm';
  result: BatchNormVjp<T> | undefined;

  constructor(
    readonly bn: BatchNorm<T>,
    readonly dy: T,
  ) {
    super({ name: bn.name });
  }

  call(scope: Scope, x: T, kwargs: BatchNormCallArgs<T> = {}): T {
    const c = prepareCall(this.bn, scope, x, kwargs);
    this.result = vjpResult(c, runBatchNormVjp(c.engine, c.spec, c.state, x, this.dy, c.mode, c.options));
    return this.result.input;
  }

  override async callAsync(scope: Scope, x: T, kwargs: BatchNormCallArgs<T> = {}): Promise<T> {
    const c = prepareCall(this.bn, scope, x, kwargs);
    this.result = vjpResult(c, await runBatchNormVjpAsync(c.engine, c.spec, c.state, x, this.dy, c.mode, c.options));
    return this.result.input;
  }
}

/**
 * With feature axes that `_canonicalize_axes` does not return ascending (an axis >= 8), the
 * stored statistics have shape `[x.shape[a] for a in feature_axes]` while the batch statistic
 * comes out in ascending axis order; Flax's update `momentum * ra + (1 - momentum) * mean` then
 * fails to broadcast unless the two shapes agree.
 */
function checkUpdateLayout(stored: readonly number[], batch: readonly number[]): void {
  if (sameShape(stored, batch)) return;
  const broadcastable = stored.every((d, i) => d === batch[i] || d === 1 || batch[i] === 1);
  if (!broadcastable) throw new IncompatibleShapesError('add', [stored, batch]);
  throw new UnsupportedError(
    `running-average update of shape (${stored.join(', ')}) with a batch statistic of shape (${batch.join(', ')})`,
    'Flax would broadcast the running average to a new shape here; normbridge does not reproduce that',
  );
}
