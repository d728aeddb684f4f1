import { checkStateValues, getDefaultEngine, isHostTensor, requireSync as requireSyncEngine, UnsupportedError } from '@normbridge/core';
import type { BatchNormSpec, BatchNormState, Engine, Gradients, HostTensor, Mode, StepOptions, SyncEngine, TrainOutput } from '@normbridge/core';
import { registerEngine } from './leaf.js';

/**
 * Where a Flax BatchNorm's numbers come from: an engine of `@normbridge/core`. This file only
 * routes calls to it. Inputs must be the engine's own tensors; with `tf.Tensor`s, use an engine
 * on tf tensors — `@normbridge/tfjs`'s engines, or the float64 reference seen through tf
 * (`hostEngineOnTf`) — whose `train`/`evaluate` are differentiable, so that `tf.grad` /
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

/** `engine` itself when it is synchronous; else the error a synchronous Flax call raises. */
export function requireSync<T>(engine: Engine<T>): SyncEngine<T> {
  return requireSyncEngine(engine, 'a synchronous Flax call', 'the async variant (applyAsync, initWithOutputAsync, callAsync, vjpAsync, …)');
}

/**
 * Checks that an input is a tensor of the engine (or a host tensor the engine takes as it is):
 * an `UnsupportedError` naming the engine otherwise — e.g. a `tf.Tensor` on the float64
 * reference, which needs the reference seen through tf (`hostEngineOnTf` of `@normbridge/tfjs`).
 */
export function checkInput<T>(engine: Engine<T>, x: unknown): void {
  if (engine.owns(x)) return;
  throw new UnsupportedError(
    `an input that is not a tensor of engine "${engine.name}"`,
    "pass the engine's own tensors (engine.fromHost); for tf.Tensor inputs use an engine on tf tensors " +
      "(createTfjsEngine, or hostEngineOnTf(engine) of @normbridge/tfjs on a synchronous host engine)",
  );
}

/** The synchronous engine of a call on `x`: {@link requireSync}, then {@link checkInput}. */
export function syncEngineFor<T>(engine: Engine<T>, x: unknown): SyncEngine<T> {
  const sync = requireSync(engine);
  checkInput(sync, x);
  return sync;
}

/** Host leaves of a state (initial values, user-set variables) uploaded to an engine whose tensors they are not. */
export function stateOnEngine<T>(engine: Engine<T>, state: BatchNormState<T>, options: StepOptions<T>) {
  const foreign = <L>(v: L) => (isHostTensor(v) && !engine.owns(v) ? (v as HostTensor) : undefined);
  const keys = ['scale', 'bias', 'runningMean', 'runningVar'] as const;
  if (!keys.some((k) => foreign(state[k])) && !foreign(options.mask)) return { state, options };
  // Host leaves enter an engine here: the same value checks as stateFromHost (a NaN running
  // variance is a StateError on every engine, not NaN outputs on some).
  checkStateValues({
    scale: foreign(state.scale),
    bias: foreign(state.bias),
    runningMean: foreign(state.runningMean),
    runningVar: foreign(state.runningVar),
    numBatchesTracked: state.numBatchesTracked,
  });
  const up = <L>(v: L): L => (foreign(v) ? (engine.fromHost(v as HostTensor) as unknown as L) : v);
  return {
    state: { scale: up(state.scale), bias: up(state.bias), runningMean: up(state.runningMean), runningVar: up(state.runningVar), numBatchesTracked: state.numBatchesTracked },
    options: { ...options, mask: up(options.mask) },
  };
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
export function verifyStatistics<T>(engine: SyncEngine<T>, state: BatchNormState<T>): void {
  const pending = uncheckedStatistics(state);
  if (pending.length === 0) return;
  checkStatistics(pending, pending.map(([, t]) => engine.toHost(t)), state.numBatchesTracked);
}

/** {@link verifyStatistics} on any engine. */
export async function verifyStatisticsAsync<T>(engine: Engine<T>, state: BatchNormState<T>): Promise<void> {
  const pending = uncheckedStatistics(state);
  if (pending.length === 0) return;
  const hosts = await Promise.all(pending.map(([, t]) => engine.toHost(t)));
  checkStatistics(pending, hosts, state.numBatchesTracked);
}

/** Statistics an engine computed need no check. */
export function trustComputed<T>(state: BatchNormState<T>): void {
  for (const k of STAT_KEYS) {
    const t = state[k];
    if (t !== undefined && typeof t === 'object' && !isHostTensor(t)) checkedStatistics.add(t as object);
  }
}

/**
 * What a training call returns: the output, and the new state kept past the engine's memory
 * scopes (tf.tidy, tf.grad); the batch statistics, which no Flax call returns, are freed.
 */
function trained<T>(engine: Engine<T>, out: TrainOutput<T>, before: BatchNormState<T>): BatchNormOutput<T> {
  engine.dispose(out.batchMean, out.batchVar);
  for (const k of STAT_KEYS) {
    const t = out.state[k];
    if (t !== undefined && t !== before[k]) engine.retain(t);
  }
  trustComputed(out.state);
  return { y: out.y, state: out.state };
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
  const engine = syncEngineFor(anyEngine, x);
  verifyStatistics(engine, state);
  const on = stateOnEngine(engine, state, options);
  if (mode === 'eval') return { y: engine.evaluate(spec, on.state, x, on.options), state: on.state };
  return trained(engine, engine.train(spec, on.state, x, on.options), on.state);
}

/**
 * {@link runBatchNorm} on any engine: a synchronous engine runs exactly that, an asynchronous
 * one is awaited. Same result.
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
  checkInput(engine, x);
  await verifyStatisticsAsync(engine, state);
  const on = stateOnEngine(engine, state, options);
  if (mode === 'eval') return { y: await engine.evaluate(spec, on.state, x, on.options), state: on.state };
  return trained(engine, await engine.train(spec, on.state, x, on.options), on.state);
}

/**
 * The engine's `vjp` for one BatchNorm call, routed like {@link runBatchNorm}: gradients of
 * the output with respect to `x`, `scale` and `bias` for the cotangent `dy`, at `state`.
 * Nothing is updated.
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
  const engine = syncEngineFor(anyEngine, x);
  // Gradients at fixed statistics divide by √(var + ε): a NaN or negative loaded variance is
  // the same StateError here as in runBatchNorm, not NaN gradients.
  verifyStatistics(engine, state);
  const on = stateOnEngine(engine, state, options);
  return engine.vjp(spec, on.state, x, isHostTensor(dy) && !engine.owns(dy) ? engine.fromHost(dy) : dy, mode, on.options);
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
  checkInput(engine, x);
  await verifyStatisticsAsync(engine, state);
  const on = stateOnEngine(engine, state, options);
  return engine.vjp(spec, on.state, x, dy, mode, on.options);
}
