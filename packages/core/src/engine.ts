import type { BatchNormSpec, Dtype } from './spec.js';
import type { BatchNormState, Gradients, HostState, Mode, StepOptions, TrainOutput } from './state.js';
import type { HostTensor } from './tensor.js';
import { UnsupportedDtypeError, UnsupportedError } from './errors.js';

/** What an engine can do, so callers (and the conformance matrix) never guess. */
export interface EngineCapabilities {
  /** Gradients (vjp) of the output with respect to input, scale and bias. */
  readonly gradients: boolean;
  /** Dtypes computed natively; others are computed in the nearest supported dtype. */
  readonly dtypes: readonly Dtype[];
  /** Masks over the reduction (spec.masked). */
  readonly masks: boolean;
  /** A leading replica axis with cross-replica statistics. */
  readonly crossReplica: boolean;
  /**
   * Where intermediate results are rounded: `input` rounds every operation to the input's
   * dtype, as the frameworks do, so float32 cancellation (a one-pass variance on a large-mean
   * channel) happens as it does in them; `float64` computes in float64 whatever the input and
   * rounds only the results (the reference), so it never reproduces such rounding.
   */
  readonly arithmetic: 'input' | 'float64';
}

/**
 * An answer to "can this engine run this spec on this input?"; `reason` says why not, for
 * the conformance matrix's "not applicable" cells.
 */
export type Support = { readonly ok: true } | { readonly ok: false; readonly reason: string };

/** Members shared by both kinds of engine. `T` is the engine's own tensor type. */
export interface EngineBase<T> {
  /** Stable identifier, e.g. `tfjs-cpu`, `tfjs-wasm`, `ort-node`. */
  readonly name: string;
  readonly capabilities: EngineCapabilities;
  /** Whether a spec, mode and input shape can be run (capabilities plus engine limits). */
  supports(spec: BatchNormSpec, mode: Mode, inputShape: readonly number[], options?: { gradients?: boolean }): Support;
  /** Uploads a host tensor. */
  fromHost(t: HostTensor): T;
  /** Shape of an engine tensor, without downloading it. */
  shapeOf(t: T): readonly number[];
  /**
   * Whether a value is a tensor of this engine (so that callers holding values of unknown
   * origin, such as the leaves of a variable tree, never guess an engine's tensor type).
   */
  owns(v: unknown): v is T;
  /**
   * The same values in another shape of the same size, as a new handle that the caller
   * disposes independently of `t` (engines share the data where they can). A size mismatch
   * is a `ShapeError`.
   */
  reshape(t: T, shape: readonly number[]): T;
  /**
   * Row `index` of a tensor stacked on a leading axis (`t[index]`, e.g. one replica's running
   * statistics from a `[R, C]` stack), as a new tensor. An index outside the axis is a `ShapeError`.
   */
  row(t: T, index: number): T;
  /**
   * Uploads a whole state, checking its values once (NaN or negative variance is a
   * `StateError` naming the key) so that per-step calls need only shape checks.
   */
  stateFromHost(state: HostState): BatchNormState<T>;
  /** Frees engine memory held by tensors (a no-op where memory is garbage-collected). */
  dispose(...tensors: (T | undefined)[]): void;
  /**
   * Marks a tensor that a layer stores so that a memory scope of the engine's framework does
   * not free it when the scope ends (TF.js: `tf.keep` inside `tf.tidy` / `tf.grad`); returns
   * it. A no-op where memory is not scoped.
   */
  retain(t: T): T;
}

/**
 * An engine whose calls return at once (TF.js). Results are new tensors and a new state:
 * nothing passed in is mutated or disposed; adapters add mutation where their framework has it.
 */
export interface SyncEngine<T> extends EngineBase<T> {
  readonly synchronous: true;
  toHost(t: T): HostTensor;
  train(spec: BatchNormSpec, state: BatchNormState<T>, x: T, options?: StepOptions<T>): TrainOutput<T>;
  evaluate(spec: BatchNormSpec, state: BatchNormState<T>, x: T, options?: StepOptions<T>): T;
  vjp(spec: BatchNormSpec, state: BatchNormState<T>, x: T, dy: T, mode: Mode, options?: StepOptions<T>): Gradients<T>;
}

/** An engine whose calls complete later (ONNX Runtime). Same contract as {@link SyncEngine}. */
export interface AsyncEngine<T> extends EngineBase<T> {
  readonly synchronous: false;
  toHost(t: T): Promise<HostTensor>;
  train(spec: BatchNormSpec, state: BatchNormState<T>, x: T, options?: StepOptions<T>): Promise<TrainOutput<T>>;
  evaluate(spec: BatchNormSpec, state: BatchNormState<T>, x: T, options?: StepOptions<T>): Promise<T>;
  vjp(spec: BatchNormSpec, state: BatchNormState<T>, x: T, dy: T, mode: Mode, options?: StepOptions<T>): Promise<Gradients<T>>;
}

export type Engine<T = unknown> = SyncEngine<T> | AsyncEngine<T>;

/**
 * A synchronous engine behind the asynchronous interface: the same numbers, delivered as
 * promises. For code (and tests) that must handle any engine the way ONNX Runtime needs.
 */
export function asAsyncEngine<T>(engine: SyncEngine<T>, name = `${engine.name}-async`): AsyncEngine<T> {
  return {
    name,
    synchronous: false,
    capabilities: engine.capabilities,
    supports: (...a) => engine.supports(...a),
    fromHost: (t) => engine.fromHost(t),
    shapeOf: (t) => engine.shapeOf(t),
    owns: (v): v is T => engine.owns(v),
    reshape: (t, shape) => engine.reshape(t, shape),
    row: (t, index) => engine.row(t, index),
    stateFromHost: (s) => engine.stateFromHost(s),
    dispose: (...t) => engine.dispose(...t),
    retain: (t) => engine.retain(t),
    toHost: async (t) => engine.toHost(t),
    train: async (...a) => engine.train(...a),
    evaluate: async (...a) => engine.evaluate(...a),
    vjp: async (...a) => engine.vjp(...a),
  };
}

/**
 * Refuses a float64 computation on an engine without float64 ({@link UnsupportedDtypeError}
 * naming both), instead of letting it round to float32 silently. float16/bfloat16 pass: an
 * engine without them computes in float32, which only adds precision.
 * @param what names the caller in the message, e.g. `BatchNorm2d(dtype=float64)`
 */
export function requireEngineDtype(engine: Pick<EngineBase<unknown>, 'name' | 'capabilities'>, dtype: Dtype, what?: string): void {
  if (dtype === 'float64' && !engine.capabilities.dtypes.includes('float64')) {
    throw new UnsupportedDtypeError(engine.name, dtype, engine.capabilities.dtypes, what);
  }
}

/** Reads a tensor back from either kind of engine (a synchronous one's result, as a promise). */
export async function toHostAsync<T>(engine: Engine<T>, t: T): Promise<HostTensor> {
  return engine.toHost(t);
}

/**
 * `engine` itself when it is synchronous; otherwise the one error every synchronous entry
 * point raises on an asynchronous engine (ONNX Runtime, tfjs on WebGPU): an
 * `UnsupportedError` naming the call and its awaitable twin.
 * @param what the call, e.g. `forward()` or `BatchNorm2d.forward()`
 * @param alternative the call to await instead, e.g. `forwardAsync()`
 * @default alternative "its Async variant"
 */
export function requireSync<T>(engine: Engine<T>, what: string, alternative = 'its Async variant'): SyncEngine<T> {
  if (!engine.synchronous) {
    throw new UnsupportedError(`${what} on engine "${engine.name}"`, `this engine is asynchronous; await ${alternative} instead`);
  }
  return engine;
}
