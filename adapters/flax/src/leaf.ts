import * as tf from '@tensorflow/tfjs-core';
import {
  checkReshape,
  checkRow,
  hostRow,
  hostTensor,
  isHostTensor,
  numel,
  reshapeHost,
  sameShape,
  type Dtype,
  type EngineBase,
  type HostTensor,
} from '@normbridge/core';

/**
 * Array leaves of variable trees. Flax's arrays are `jax.Array`s; here a leaf is whatever
 * tensor the engine in use works with — a core `HostTensor` on the float64 reference engine,
 * a `tf.Tensor` on the TF.js engines, an ONNX Runtime `Tensor` on the ORT engines (any other
 * engine's tensors: "engine leaves", recognised once the engine has been used, see
 * {@link registerEngine}). These helpers only move and relabel data (reshape, clone, pick a
 * replica); every number a BatchNorm computes comes from an engine.
 */

/**
 * Engines whose tensors may be leaves (registered by every entry point, see
 * {@link registerEngine}); each says itself which values are its tensors (`engine.owns`).
 */
const engines = new Set<EngineBase<any>>();

/**
 * The registered engine a leaf that is neither a host tensor nor a tf.Tensor belongs to, or
 * `undefined`. (tf.Tensors are handled by TF.js itself on its active backend, not through
 * whichever tfjs engine happened to register first.)
 */
function ownerOf(v: unknown): EngineBase<any> | undefined {
  if (typeof v !== 'object' || v === null || isHostTensor(v) || isTfTensor(v)) return undefined;
  for (const engine of engines) if (engine.owns(v)) return engine;
  return undefined;
}

/** Whether `v` is a tensor of a registered engine other than a host tensor or a tf.Tensor. */
export function isEngineLeaf(v: unknown): boolean {
  return ownerOf(v) !== undefined;
}

export function isTfTensor(v: unknown): v is tf.Tensor {
  return v instanceof tf.Tensor;
}

export { isHostTensor };

/** Whether a value is an array leaf (as opposed to a nested dict of a variable tree). */
export function isLeaf(v: unknown): boolean {
  return isTfTensor(v) || isHostTensor(v) || isEngineLeaf(v);
}

export function shapeOf(v: unknown): number[] {
  if (isHostTensor(v)) return [...v.shape];
  const owner = ownerOf(v);
  if (owner) return [...owner.shapeOf(v)];
  if (isTfTensor(v)) return [...v.shape];
  throw new TypeError(`not an array: ${Object.prototype.toString.call(v)}`);
}

/** Same data, another shape of the same size (`jnp.reshape`); no copy of the values. */
export function reshapeLeaf<T>(v: T, shape: readonly number[]): T {
  if (sameShape(shapeOf(v), shape)) return v;
  if (isHostTensor(v)) return reshapeHost(v, shape) as T;
  const owner = ownerOf(v);
  if (owner) return owner.reshape(v, shape) as T;
  checkReshape(shapeOf(v), shape);
  return tf.reshape(v as tf.Tensor, [...shape]) as T;
}

/**
 * A handle that stays valid when the original is disposed (the engine's `reshape` to the same
 * shape: a new handle on shared data, as `tf.clone` is). Host tensors are immutable by
 * convention and returned as they are.
 */
export function cloneLeaf<T>(v: T): T {
  if (isHostTensor(v)) return v;
  const owner = ownerOf(v);
  if (owner) return owner.reshape(v, owner.shapeOf(v)) as T;
  if (isTfTensor(v)) return tf.clone(v) as T;
  return v;
}

/** Row `index` of a leaf stacked on a leading axis (`x[index]`). */
export function indexLeaf<T>(v: T, index: number): T {
  if (isHostTensor(v)) return hostRow(v, index) as T;
  const owner = ownerOf(v);
  if (owner) return owner.row(v, index) as T;
  const rest = checkRow(shapeOf(v), index);
  return tf.tidy(() => tf.reshape(tf.slice(v as tf.Tensor, [index, ...rest.map(() => 0)], [1, ...rest]), rest)) as T;
}

/** Row-major values of a leaf as plain numbers (downloads a tf.Tensor synchronously). */
export function leafValues(v: unknown): number[] {
  if (isTfTensor(v)) return Array.from(v.dataSync());
  if (isHostTensor(v)) return Array.from(v.data);
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
export function registerEngine(engine: EngineBase<any>): void {
  engines.add(engine);
}

/**
 * Puts an initializer's output on an engine: host tensors are uploaded, tf tensors are kept
 * for TF.js engines and downloaded for other engines.
 */
export function toEngine<T>(engine: EngineBase<T>, v: HostTensor | tf.Tensor | T): T {
  if (isHostTensor(v)) return engine.fromHost(v);
  if (isTfTensor(v) && !engine.owns(v)) {
    return engine.fromHost(hostTensor(v.shape, Float32Array.from(v.dataSync()), 'float32'));
  }
  return v as T;
}
