import * as tf from '@tensorflow/tfjs-core';
import {
  checkStateValues,
  getDefaultEngine,
  UnsupportedError,
  type BatchNormSpec,
  type BatchNormState,
  type Engine,
  type Gradients,
  type HostTensor,
  type Mode,
  type StepOptions,
  type SyncEngine,
} from '@normbridge/core';
import { customGradOps, downloadTensor, hostEngineOnTf, keepNew, type DifferentiableOps } from '@normbridge/tfjs';
import { engineUsesTf, isHostTensor, isTfTensor, registerEngine } from './leaf.js';

export { customGradOps, hostEngineOnTf, type DifferentiableOps };

/**
 * Where a Flax BatchNorm's numbers come from: an engine of `@normbridge/core`. This file only
 * routes calls — straight to the engine for host tensors, and, for `tf.Tensor`s, through a
 * `tf.customGrad` op whose backward pass is the engine's own `vjp`, so that `tf.grad` /
 * `tf.valueAndGrads` differentiate a training call exactly as `jax.grad` does a linen apply
 * (gradients flow to `x`, `scale` and `bias`; the running-average update is not differentiated,
 * like Flax's, whose stats are outside the differentiated `params`).
 */

/** What one BatchNorm call produced. */
export interface BatchNormOutput<T> {
  readonly y: T;
  /** The state after the call: new running statistics after a training call that updates them. */
  readonly state: BatchNormState<T>;
}

/** Native ops per tfjs engine, built once. */
const registered = new WeakMap<object, DifferentiableOps>();

/**
 * The engine of a synchronous Flax call (`apply`, `call`, …): the one given, else core's
 * default engine; it must be synchronous. Asynchronous engines (ONNX Runtime) run through the
 * `…Async` variants (`applyAsync`, `callAsync`, `nn.BatchNorm.callAsync`, `vjpAsync`).
 */
export function resolveEngine<T = any>(engine: Engine<T> | undefined): SyncEngine<T> {
  return requireSync(resolveAnyEngine(engine));
}

/** The engine of an `…Async` call, or of a layer built for either kind of call: any engine. */
export function resolveAnyEngine<T = any>(engine: Engine<T> | undefined): Engine<T> {
  const e = (engine ?? getDefaultEngine()) as Engine<T>;
  registerEngine(e);
  return e;
}

/** `engine` itself when it is synchronous; else the error a synchronous call raises. */
export function requireSync<T>(engine: Engine<T>): SyncEngine<T> {
  if (!engine.synchronous) {
    throw new UnsupportedError(
      `a synchronous Flax call on engine "${engine.name}"`,
      'the engine is asynchronous; call the async variant (applyAsync, initWithOutputAsync, callAsync, vjpAsync, …) and await it',
    );
  }
  return engine;
}

const bridges = new WeakMap<object, SyncEngine<tf.Tensor>>();

/**
 * The engine to run an input on: the engine itself, or — for a `tf.Tensor` input on a host
 * engine such as the default float64 reference — that engine behind {@link hostEngineOnTf}, so
 * a TF.js model (Dense, relu, a loss, tf.grad) can keep the reference as its BatchNorm engine.
 * A `tf.Tensor` input on an asynchronous engine (ONNX Runtime) raises `UnsupportedError`: TF.js
 * ops and `tf.grad` are synchronous; pass the engine's own tensors.
 */
export function engineFor<T>(engine: SyncEngine<T>, x: unknown): SyncEngine<any>;
export function engineFor<T>(engine: Engine<T>, x: unknown): Engine<any>;
export function engineFor<T>(engine: Engine<T>, x: unknown): Engine<any> {
  if (!isTfTensor(x) || engineUsesTf(engine)) return engine;
  if (!engine.synchronous) {
    throw new UnsupportedError(
      `a tf.Tensor input on engine "${engine.name}"`,
      "TF.js tensors (and tf.grad) need a synchronous engine; pass the engine's own tensors (engine.fromHost)",
    );
  }
  let bridge = bridges.get(engine);
  if (!bridge) {
    bridge = hostEngineOnTf(engine as unknown as SyncEngine<HostTensor>);
    bridges.set(engine, bridge);
  }
  return bridge;
}

/** A host-tensor state seen by a tf engine: host leaves uploaded, tf leaves kept. */
function stateOnTf<T>(tfEngine: SyncEngine<tf.Tensor>, state: BatchNormState<T>, options: StepOptions<T>) {
  const up = <L>(v: L): L => (isHostTensor(v) ? (tfEngine.fromHost(v) as L) : v);
  // Host leaves enter an engine here: the same value checks as stateFromHost (a NaN running
  // variance is a StateError on every engine, not NaN outputs on some).
  const host = <L>(v: L) => (isHostTensor(v) ? v : undefined);
  checkStateValues({
    scale: host(state.scale),
    bias: host(state.bias),
    runningMean: host(state.runningMean),
    runningVar: host(state.runningVar),
    numBatchesTracked: state.numBatchesTracked,
  });
  const tfState = {
    scale: up(state.scale),
    bias: up(state.bias),
    runningMean: up(state.runningMean),
    runningVar: up(state.runningVar),
    numBatchesTracked: state.numBatchesTracked,
  } as unknown as BatchNormState<tf.Tensor>;
  const tfOptions = { ...options, mask: up(options.mask) } as unknown as StepOptions<tf.Tensor>;
  return { tfState, tfOptions, up };
}

/**
 * Running statistics whose values were checked (or computed by an engine). Engine tensors are
 * immutable, so each is read back once: a NaN or negative variance set by the user is then a
 * `StateError` on every engine, as it is on the float64 reference, not silent NaN outputs.
 */
const checkedStatistics = new WeakSet<object>();

type StatKey = 'runningMean' | 'runningVar';
const STAT_KEYS: readonly StatKey[] = ['runningMean', 'runningVar'];

function uncheckedStatistics<T>(state: BatchNormState<T>): [StatKey, T][] {
  const out: [StatKey, T][] = [];
  for (const k of STAT_KEYS) {
    const t = state[k];
    if (t !== undefined && !isHostTensor(t) && !checkedStatistics.has(t as object)) out.push([k, t]);
  }
  return out;
}

function checkStatistics(pending: readonly [StatKey, unknown][], hosts: readonly HostTensor[], numBatchesTracked: number): void {
  const host: { runningMean?: HostTensor; runningVar?: HostTensor; numBatchesTracked: number } = { numBatchesTracked };
  pending.forEach(([k], i) => (host[k] = hosts[i]!));
  checkStateValues(host);
  for (const [, t] of pending) checkedStatistics.add(t as object);
}

/** Checks statistics not seen before, reading them back from a synchronous engine. */
function verifyStatistics<T>(engine: SyncEngine<T>, state: BatchNormState<T>): void {
  const pending = uncheckedStatistics(state);
  if (pending.length === 0) return;
  checkStatistics(pending, pending.map(([, t]) => (isTfTensor(t) ? downloadTensor(t) : engine.toHost(t))), state.numBatchesTracked);
}

async function verifyStatisticsAsync<T>(engine: Engine<T>, state: BatchNormState<T>): Promise<void> {
  const pending = uncheckedStatistics(state);
  if (pending.length === 0) return;
  const hosts = await Promise.all(pending.map(([, t]) => (isTfTensor(t) ? downloadTensor(t) : engine.toHost(t))));
  checkStatistics(pending, hosts, state.numBatchesTracked);
}

/** Statistics an engine computed need no check. */
function trustComputed<T>(state: BatchNormState<T>): void {
  for (const k of STAT_KEYS) {
    const t = state[k];
    if (t !== undefined && typeof t === 'object' && !isHostTensor(t)) checkedStatistics.add(t as object);
  }
}

/**
 * Runs one BatchNorm call on an engine. Training returns the engine's new state. The engine
 * must be synchronous ({@link requireSync}); {@link runBatchNormAsync} runs on any.
 */
export function runBatchNorm<T>(
  anyEngine: Engine<T>,
  spec: BatchNormSpec,
  state: BatchNormState<T>,
  x: T,
  mode: Mode,
  options: StepOptions<T> = {},
): BatchNormOutput<T> {
  const engine = requireSync(anyEngine);
  verifyStatistics(engine, state);
  if (isTfTensor(x)) {
    const tfEngine = engineFor(engine, x) as SyncEngine<tf.Tensor>;
    const ops = differentiableOps(tfEngine);
    const { tfState, tfOptions } = stateOnTf(tfEngine, state, options);
    if (mode === 'eval') return { y: ops.evaluate(spec, tfState, x, tfOptions) as T, state: tfState as unknown as BatchNormState<T> };
    const out = ops.train(spec, tfState, x, tfOptions);
    // A call inside tf.tidy / tf.grad must not take the new statistics down with its scope.
    keepNew(out.state, tfState);
    trustComputed(out.state);
    return out as unknown as BatchNormOutput<T>;
  }
  if (mode === 'eval') return { y: engine.evaluate(spec, state, x, options), state };
  const out = engine.train(spec, state, x, options);
  engine.dispose(out.batchMean, out.batchVar);
  trustComputed(out.state);
  return { y: out.y, state: out.state };
}

/**
 * {@link runBatchNorm} on any engine: a synchronous engine runs exactly that (TF.js tensors
 * and their `tf.customGrad` path included), an asynchronous one is awaited. Same result.
 */
export async function runBatchNormAsync<T>(
  engine: Engine<T>,
  spec: BatchNormSpec,
  state: BatchNormState<T>,
  x: T,
  mode: Mode,
  options: StepOptions<T> = {},
): Promise<BatchNormOutput<T>> {
  if (engine.synchronous) return runBatchNorm(engine, spec, state, x, mode, options);
  // A tf.Tensor input on an asynchronous engine raises as engineFor says.
  if (isTfTensor(x)) engineFor(engine, x);
  await verifyStatisticsAsync(engine, state);
  if (mode === 'eval') return { y: await engine.evaluate(spec, state, x, options), state };
  const out = await engine.train(spec, state, x, options);
  engine.dispose(out.batchMean, out.batchVar);
  trustComputed(out.state);
  return { y: out.y, state: out.state };
}

/**
 * The engine's `vjp` for one BatchNorm call, routed like {@link runBatchNorm} (a `tf.Tensor`
 * input on a host engine goes through {@link hostEngineOnTf}): gradients of the output with
 * respect to `x`, `scale` and `bias` for the cotangent `dy`, at `state`. Nothing is updated.
 */
export function runBatchNormVjp<T>(
  anyEngine: Engine<T>,
  spec: BatchNormSpec,
  state: BatchNormState<T>,
  x: T,
  dy: T,
  mode: Mode,
  options: StepOptions<T> = {},
): Gradients<T> {
  const engine = requireSync(anyEngine);
  if (isTfTensor(x)) {
    const tfEngine = engineFor(engine, x) as SyncEngine<tf.Tensor>;
    const { tfState, tfOptions, up } = stateOnTf(tfEngine, state, options);
    return tfEngine.vjp(spec, tfState, x, up(dy) as tf.Tensor, mode, tfOptions) as unknown as Gradients<T>;
  }
  return engine.vjp(spec, state, x, dy, mode, options);
}

/** {@link runBatchNormVjp} on any engine (a synchronous one runs exactly that). */
export async function runBatchNormVjpAsync<T>(
  engine: Engine<T>,
  spec: BatchNormSpec,
  state: BatchNormState<T>,
  x: T,
  dy: T,
  mode: Mode,
  options: StepOptions<T> = {},
): Promise<Gradients<T>> {
  if (engine.synchronous) return runBatchNormVjp(engine, spec, state, x, dy, mode, options);
  if (isTfTensor(x)) engineFor(engine, x);
  return engine.vjp(spec, state, x, dy, mode, options);
}

/**
 * Engines of `@normbridge/tfjs` (`createTfjsEngine`) already implement `train`/`evaluate` as
 * `tf.customGrad` ops over `(x, scale, bias)`; they are recognised by their `tfjs-` name and
 * `backend` field and used as they are.
 */
export function isDifferentiableTfjsEngine(engine: SyncEngine<any>): boolean {
  return engine.name.startsWith('tfjs-') && typeof (engine as { backend?: unknown }).backend === 'string';
}

/** The differentiable ops used for tf tensors on an engine (the engine's own, or wrapped). */
export function differentiableOps(engine: SyncEngine<tf.Tensor>): DifferentiableOps {
  const ops = registered.get(engine);
  if (ops) return ops;
  if (isDifferentiableTfjsEngine(engine)) {
    const native: DifferentiableOps = {
      train(spec, state, x, options) {
        const out = engine.train(spec, state, x, options);
        engine.dispose(out.batchMean, out.batchVar);
        return { y: out.y, state: out.state };
      },
      evaluate: (spec, state, x, options) => engine.evaluate(spec, state, x, options),
    };
    registered.set(engine, native);
    return native;
  }
  return customGradOps(engine);
}
