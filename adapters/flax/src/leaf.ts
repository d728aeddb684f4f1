import type * as tf from '@tensorflow/tfjs-core';
import {
  hostRow,
  isHostTensor,
  numel,
  reshapeHost,
  sameShape,
  tensorKindOf,
  UnregisteredTensorKindError,
  UnsupportedError,
  type Dtype,
  type Engine,
  type EngineBase,
  type HostTensor,
  type TensorKind,
} from '@normbridge/core';

/**
 * Array leaves of variable trees. Flax's arrays are `jax.Array`s; here a leaf is whatever
 * tensor the engine in use works with — a core `HostTensor` on the float64 reference engine,
 * a `tf.Tensor` on the TF.js engines, an ONNX Runtime `Tensor` on the ORT engines (any other
 * engine's tensors: "engine leaves", recognised once the engine has been used, see
 * {@link registerEngine}). These helpers only move and relabel data (reshape, clone, pick a
 * replica); every number a BatchNorm computes comes from an engine.
 *
 * tf.Tensors are handled through core's tensor kinds (`@normbridge/tfjs` registers the `'tf'`
 * kind on import), so this adapter needs no TF.js at runtime.
 */

/**
 * Engines whose tensors may be leaves (registered by every entry point, see
 * {@link registerEngine}); each says itself which values are its tensors (`engine.owns`).
 */
const engines = new Set<Engine<any>>();

/**
 * The registered tensor kind (a tf.Tensor: `@normbridge/tfjs`) a leaf belongs to, or
 * `undefined`. A value that looks like a tf.Tensor while no kind owns it is refused with the
 * fix, rather than misread as a dict.
 */
function kindOf(v: unknown): TensorKind | undefined {
  if (typeof v !== 'object' || v === null || isHostTensor(v)) return undefined;
  const kind = tensorKindOf(v);
  if (kind) return kind;
  if (looksLikeTfTensor(v)) throw new UnregisteredTensorKindError('tf.Tensor', '@normbridge/tfjs', 'Flax variable leaf');
  return undefined;
}

/** The duck type of a tf.Tensor (its own fields, not `instanceof`: TF.js is not loaded here). */
function looksLikeTfTensor(v: object): boolean {
  const t = v as Partial<Record<'dataId' | 'shape' | 'dtype' | 'rankType' | 'dataSync', unknown>>;
  return t.dataId !== undefined && Array.isArray(t.shape) && typeof t.dtype === 'string' && 'rankType' in t && typeof t.dataSync === 'function';
}

/**
 * The registered engine a leaf that is neither a host tensor nor of a tensor kind belongs to,
 * or `undefined`. (tf.Tensors are handled by TF.js itself on the tensor's backend, through the
 * `'tf'` kind, not through whichever tfjs engine happened to register first.)
 */
function ownerOf(v: unknown): Engine<any> | undefined {
  if (typeof v !== 'object' || v === null || isHostTensor(v) || kindOf(v)) return undefined;
  for (const engine of engines) if (engine.owns(v)) return engine;
  return undefined;
}

/** Whether `v` is a tensor of a registered engine other than a host tensor or a tf.Tensor. */
export function isEngineLeaf(v: unknown): boolean {
  return ownerOf(v) !== undefined;
}

export { isHostTensor };

/** Whether a value is an array leaf (as opposed to a nested dict of a variable tree). */
export function isLeaf(v: unknown): boolean {
  return isHostTensor(v) || kindOf(v) !== undefined || isEngineLeaf(v);
}

/** What each holder of a leaf does with it: a host tensor itself, its tensor kind, the engine that owns it. */
interface ByHolder<R> {
  host(v: HostTensor): R;
  kind(kind: TensorKind): R;
  engine(engine: Engine<any>): R;
  /** A value no holder takes; without it, a `TypeError` ("not an array"). */
  other?(): R;
}

/** One leaf operation routed to the leaf's holder, in the order host tensor, tensor kind, engine. */
function byHolder<R>(v: unknown, ops: ByHolder<R>): R {
  if (isHostTensor(v)) return ops.host(v);
  const kind = kindOf(v);
  if (kind) return ops.kind(kind);
  const owner = ownerOf(v);
  if (owner) return ops.engine(owner);
  if (ops.other) return ops.other();
  throw new TypeError(`not an array: ${Object.prototype.toString.call(v)}`);
}

export function shapeOf(v: unknown): number[] {
  return [...byHolder<readonly number[]>(v, { host: (h) => h.shape, kind: (k) => k.shapeOf(v), engine: (e) => e.shapeOf(v) })];
}

/** Same data, another shape of the same size (`jnp.reshape`); no copy of the values. */
export function reshapeLeaf<T>(v: T, shape: readonly number[]): T {
  if (sameShape(shapeOf(v), shape)) return v;
  return byHolder(v, { host: (h) => reshapeHost(h, shape) as T, kind: (k) => k.reshape(v, shape) as T, engine: (e) => e.reshape(v, shape) as T });
}

/**
 * A handle that stays valid when the original is disposed (the engine's `reshape` to the same
 * shape: a new handle on shared data, as `tf.clone` is). Host tensors are immutable by
 * convention and returned as they are.
 */
export function cloneLeaf<T>(v: T): T {
  return byHolder(v, { host: () => v, kind: (k) => k.clone(v) as T, engine: (e) => e.reshape(v, e.shapeOf(v)) as T, other: () => v });
}

/** Row `index` of a leaf stacked on a leading axis (`x[index]`). */
export function indexLeaf<T>(v: T, index: number): T {
  return byHolder(v, { host: (h) => hostRow(h, index) as T, kind: (k) => k.row(v, index) as T, engine: (e) => e.row(v, index) as T });
}

/**
 * Row-major values of a leaf as plain numbers (downloads a tf.Tensor or a synchronous engine's
 * tensor synchronously; an asynchronous engine's leaf is an `UnsupportedError`: await its `toHost`).
 */
export function leafValues(v: unknown): number[] {
  if (isHostTensor(v)) return Array.from(v.data);
  const host = kindOf(v)?.toHostSync?.(v);
  if (host) return Array.from(host.data);
  const owner = ownerOf(v);
  if (owner?.synchronous) return Array.from(owner.toHost(v).data);
  if (owner) throw new UnsupportedError(`leafValues() of a tensor of engine "${owner.name}"`, 'this engine is asynchronous; await engine.toHost(leaf) instead');
  throw new TypeError(`not an array: ${Object.prototype.toString.call(v)}`);
}

/** A host tensor filled with one value (an initializer's output). */
export function hostFull(shape: readonly number[], value: number, dtype: Dtype): HostTensor {
  const n = numel(shape);
  const data = dtype === 'float64' ? new Float64Array(n) : new Float32Array(n);
  data.fill(value);
  return { shape: [...shape], data, dtype };
}

/**
 * Lets an engine's tensors be leaves of variable trees ({@link isLeaf}), read with its
 * `shapeOf`, `reshape` and `row`. Every entry point (`init`/`apply`, an NNX constructor, a
 * legacy top-level call) registers its engine before reading variables.
 */
export function registerEngine(engine: Engine<any>): void {
  engines.add(engine);
}

/**
 * Puts an initializer's output on an engine: host tensors are uploaded, tf tensors are kept
 * for TF.js engines and downloaded for other engines.
 */
export function toEngine<T>(engine: EngineBase<T>, v: HostTensor | tf.Tensor | T): T {
  if (isHostTensor(v)) return engine.fromHost(v);
  const kind = kindOf(v);
  if (kind && !engine.owns(v)) {
    if (!kind.toHostSync) throw new TypeError(`a ${kind.name} tensor cannot be read back synchronously for engine "${engine.name}"`);
    return engine.fromHost(kind.toHostSync(v));
  }
  return v as T;
}
