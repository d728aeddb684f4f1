import * as tf from '@tensorflow/tfjs-core';
import { hostTensor, numel, sameShape, UnsupportedError, type Dtype, type EngineBase, type HostTensor } from '@normbridge/core';

/**
 * Array leaves of variable trees. Flax's arrays are `jax.Array`s; here a leaf is whatever
 * tensor the engine in use works with — a core `HostTensor` on the float64 reference engine,
 * a `tf.Tensor` on the TF.js engines, an ONNX Runtime `Tensor` on the ORT engines (any other
 * engine's tensors: "engine leaves", recognised once the engine has been used, see
 * {@link registerEngine}). These helpers only move and relabel data (reshape, clone, pick a
 * replica); every number a BatchNorm computes comes from an engine.
 */

/**
 * Prototypes of the tensors of engines whose tensors are neither `HostTensor`s nor
 * `tf.Tensor`s (ONNX Runtime's), with an engine that reads their shape.
 */
const engineLeafPrototypes = new Map<object, EngineBase<any>>();

/** The engine that reads an engine leaf's shape, or `undefined` for anything else. */
function engineLeafOwner(v: unknown): EngineBase<any> | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  return engineLeafPrototypes.get(Object.getPrototypeOf(v) as object);
}

/** Whether `v` is a tensor of a registered engine other than the reference and TF.js. */
export function isEngineLeaf(v: unknown): boolean {
  return engineLeafOwner(v) !== undefined;
}

export function isTfTensor(v: unknown): v is tf.Tensor {
  return v instanceof tf.Tensor;
}

export function isHostTensor(v: unknown): v is HostTensor {
  return (
    typeof v === 'object' &&
    v !== null &&
    !isTfTensor(v) &&
    Array.isArray((v as HostTensor).shape) &&
    ((v as HostTensor).data instanceof Float32Array || (v as HostTensor).data instanceof Float64Array)
  );
}

/** Whether a value is an array leaf (as opposed to a nested dict of a variable tree). */
export function isLeaf(v: unknown): boolean {
  return isTfTensor(v) || isHostTensor(v) || isEngineLeaf(v);
}

export function shapeOf(v: unknown): number[] {
  if (isTfTensor(v)) return [...v.shape];
  if (isHostTensor(v)) return [...v.shape];
  const owner = engineLeafOwner(v);
  if (owner) return [...owner.shapeOf(v)];
  throw new TypeError(`not an array: ${Object.prototype.toString.call(v)}`);
}

/** An engine leaf's own `reshape(dims)` (ONNX Runtime's `Tensor.reshape`: a new handle on the same data). */
function reshapeEngineLeaf<T>(v: T, shape: readonly number[], what: string): T {
  const reshape = (v as { reshape?: unknown }).reshape;
  if (typeof reshape !== 'function') {
    throw new UnsupportedError(`${what} of a tensor of engine "${engineLeafOwner(v)!.name}"`, 'its tensors have no reshape(dims) method');
  }
  return reshape.call(v, [...shape]) as T;
}

/** Same data, another shape of the same size (`jnp.reshape`); no copy of the values. */
export function reshapeLeaf<T>(v: T, shape: readonly number[]): T {
  const from = shapeOf(v);
  if (sameShape(from, shape)) return v;
  if (numel(from) !== numel(shape)) throw new RangeError(`cannot reshape [${from}] into [${shape}]`);
  if (isTfTensor(v)) return tf.reshape(v, [...shape]) as T;
  if (isEngineLeaf(v)) return reshapeEngineLeaf(v, shape, 'reshaping');
  const h = v as HostTensor;
  return { shape: [...shape], data: h.data, dtype: h.dtype } as T;
}

/**
 * A handle that stays valid when the original is disposed (TF.js reference-counts the data,
 * so this copies nothing; an ONNX Runtime tensor gets a new handle on the same data, which its
 * `dispose()` leaves alone). Host tensors are immutable by convention and returned as they are.
 */
export function cloneLeaf<T>(v: T): T {
  if (isTfTensor(v)) return tf.clone(v) as T;
  if (isEngineLeaf(v)) return reshapeEngineLeaf(v, shapeOf(v), 'cloning');
  return v;
}

/** Row `index` of a leaf stacked on a leading axis (`x[index]`). */
export function indexLeaf<T>(v: T, index: number): T {
  const shape = shapeOf(v);
  if (shape.length === 0 || index < 0 || index >= shape[0]!) {
    throw new RangeError(`index ${index} out of range for a leading axis of shape [${shape}]`);
  }
  const rest = shape.slice(1);
  if (isEngineLeaf(v)) {
    throw new UnsupportedError(`indexing a tensor of engine "${engineLeafOwner(v)!.name}"`, 'download it to the host first (engine.toHost)');
  }
  if (isTfTensor(v)) {
    return tf.tidy(() => tf.reshape(tf.slice(v, [index, ...rest.map(() => 0)], [1, ...rest]), rest)) as T;
  }
  const h = v as HostTensor;
  const n = numel(rest);
  return { shape: rest, data: h.data.slice(index * n, (index + 1) * n), dtype: h.dtype } as T;
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

const tfEngines = new WeakMap<object, boolean>();

/**
 * Probes an engine once (one upload of a 1-element tensor): whether its tensors are
 * `tf.Tensor`s, and — when they are neither those nor `HostTensor`s — registers their class
 * (prototype; tensors must be class instances, as ONNX Runtime's are), so that its tensors are
 * leaves of variable trees ({@link isLeaf}) with the engine's `shapeOf`. Every entry point (`init`/`apply`, an NNX constructor, a legacy
 * top-level call) registers its engine before reading variables.
 */
export function registerEngine(engine: EngineBase<any>): void {
  engineUsesTf(engine);
}

/** Whether an engine's tensors are `tf.Tensor`s (probed once per engine, see {@link registerEngine}). */
export function engineUsesTf(engine: EngineBase<any>): boolean {
  let known = tfEngines.get(engine);
  if (known === undefined) {
    const probe: unknown = engine.fromHost(hostTensor([1], Float32Array.of(0)));
    known = isTfTensor(probe);
    if (!known && !isHostTensor(probe) && typeof probe === 'object' && probe !== null) {
      const proto = Object.getPrototypeOf(probe) as object | null;
      if (proto !== null && proto !== Object.prototype && !engineLeafPrototypes.has(proto)) engineLeafPrototypes.set(proto, engine);
    }
    engine.dispose(probe);
    tfEngines.set(engine, known);
  }
  return known;
}

/**
 * Puts an initializer's output on an engine: host tensors are uploaded, tf tensors are kept
 * for TF.js engines and downloaded for other engines.
 */
export function toEngine<T>(engine: EngineBase<T>, v: HostTensor | tf.Tensor | T): T {
  if (isHostTensor(v)) return engine.fromHost(v);
  if (isTfTensor(v) && !engineUsesTf(engine)) {
    return engine.fromHost(hostTensor(v.shape, Float32Array.from(v.dataSync()), 'float32'));
  }
  return v as T;
}
