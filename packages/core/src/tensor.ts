import type { Dtype } from './spec.js';
import { ShapeError } from './errors.js';
import { MAX_DIMS_PRODUCT, MAX_RANK } from './limits.js';

/** A dense row-major tensor in host memory: the common currency of engines, fixtures and files. */
export interface HostTensor {
  readonly shape: readonly number[];
  readonly data: Float32Array | Float64Array;
  /** Logical dtype; float16/bfloat16 values are held widened in a Float32Array. @default 'float32' */
  readonly dtype: Dtype;
}

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/**
 * Why a host tensor cannot be used, or undefined when it can: the shape must be a list of
 * non-negative integers (rank and product within the limits), the data a Float32Array or
 * Float64Array holding exactly one value per element. A tensor of shape [3] with 2 values
 * would otherwise read past its end as NaN, or a [4, 3] input with 6 values would silently
 * update statistics from garbage.
 */
export function hostTensorProblem(t: unknown): string | undefined {
  if (typeof t !== 'object' || t === null) return `is ${t === null ? 'null' : typeof t}, not a tensor`;
  const { shape, data } = t as { shape?: unknown; data?: unknown };
  if (!Array.isArray(shape)) return 'has no shape array';
  if (shape.length > MAX_RANK) return `has rank ${shape.length}, above the limit of ${MAX_RANK}`;
  let n = 1;
  for (const [i, d] of shape.entries()) {
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) return `has dimension ${i} = ${String(d)}, not a non-negative integer`;
    n *= d;
    if (n > MAX_DIMS_PRODUCT) return `has shape [${shape.join(', ')}], whose size exceeds 2^53 - 1`;
  }
  if (!(data instanceof Float32Array) && !(data instanceof Float64Array)) return 'has data that is not a Float32Array or Float64Array';
  if (data.length !== n) return `has shape [${shape.join(', ')}] (${n} values) but holds ${data.length} values`;
  return undefined;
}

/** Checks a host tensor where it enters an engine; a {@link ShapeError} naming `what` otherwise. */
export function checkHostTensor(what: string, t: HostTensor): void {
  const problem = hostTensorProblem(t);
  if (problem !== undefined) {
    const shape = Array.isArray((t as { shape?: unknown } | null)?.shape) ? (t.shape as number[]) : [];
    throw new ShapeError(what, `a well-formed tensor (it ${problem})`, shape);
  }
}

export function hostTensor(
  shape: readonly number[],
  data: ArrayLike<number>,
  dtype: Dtype = data instanceof Float64Array ? 'float64' : 'float32',
): HostTensor {
  if (data.length !== numel(shape)) {
    throw new ShapeError('tensor data', `${numel(shape)} values for shape [${shape.join(', ')}]`, [data.length]);
  }
  const typed =
    dtype === 'float64'
      ? data instanceof Float64Array ? data : Float64Array.from(data)
      : data instanceof Float32Array ? data : Float32Array.from(data);
  return { shape: [...shape], data: typed, dtype };
}

export function filled(shape: readonly number[], value: number, dtype: Dtype = 'float32'): HostTensor {
  const n = numel(shape);
  const data = dtype === 'float64' ? new Float64Array(n) : new Float32Array(n);
  data.fill(value);
  return { shape: [...shape], data, dtype };
}

export function stridesOf(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i]!;
  }
  return strides;
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Row-major transpose of a host tensor (for NCHW ↔ NHWC layout changes in adapters and tools). */
export function transpose(t: HostTensor, perm: readonly number[]): HostTensor {
  const rank = t.shape.length;
  if (perm.length !== rank || [...perm].sort((a, b) => a - b).some((p, i) => p !== i)) {
    throw new ShapeError('transpose permutation', `a permutation of 0..${rank - 1}`, perm);
  }
  const n = t.data.length;
  const out = t.data instanceof Float64Array ? new Float64Array(n) : new Float32Array(n);
  forEachTransposed(t.shape, perm, (o, src) => (out[o] = t.data[src]!));
  return { shape: perm.map((p) => t.shape[p]!), data: out, dtype: t.dtype };
}

/**
 * The element order of a row-major transpose: `copy(o, from)` for each output index `o` in
 * turn, with the index of the input element it takes. `perm` must be a permutation of the
 * axes (callers check it). Shared by {@link transpose} and the checkpoint port's byte-level
 * transpose.
 */
export function forEachTransposed(shape: readonly number[], perm: readonly number[], copy: (o: number, from: number) => void): void {
  const rank = shape.length;
  const outShape = perm.map((p) => shape[p]!);
  const inStrides = stridesOf(shape);
  const step = perm.map((p) => inStrides[p]!);
  const n = numel(shape);
  const idx = new Array<number>(rank).fill(0);
  let from = 0;
  for (let o = 0; o < n; o++) {
    copy(o, from);
    for (let ax = rank - 1; ax >= 0; ax--) {
      idx[ax]!++;
      from += step[ax]!;
      if (idx[ax]! < outShape[ax]!) break;
      from -= step[ax]! * outShape[ax]!;
      idx[ax] = 0;
    }
  }
}

/** An int64 tensor (PyTorch's `num_batches_tracked` is an int64 scalar of shape []). */
export interface Int64Tensor {
  readonly shape: readonly number[];
  readonly data: BigInt64Array;
  readonly dtype: 'int64';
}

/** A value in a framework checkpoint or state dict: float tensors plus int64 counters. */
export type CheckpointValue = HostTensor | Int64Tensor;

export function int64Scalar(value: number | bigint): Int64Tensor {
  return { shape: [], data: BigInt64Array.of(BigInt(value)), dtype: 'int64' };
}

export function isInt64Tensor(v: CheckpointValue): v is Int64Tensor {
  return v.dtype === 'int64';
}

/** Whether a value is a {@link HostTensor} (a shape array and Float32Array/Float64Array data). */
export function isHostTensor(v: unknown): v is HostTensor {
  if (typeof v !== 'object' || v === null) return false;
  const { shape, data } = v as { shape?: unknown; data?: unknown };
  return Array.isArray(shape) && (data instanceof Float32Array || data instanceof Float64Array);
}

/**
 * Checks an engine `reshape` from `from` to `to` (non-negative integer dimensions, same size);
 * a {@link ShapeError} naming both otherwise. Every engine's reshape starts here.
 */
export function checkReshape(from: readonly number[], to: readonly number[]): void {
  const valid = to.every((d) => Number.isSafeInteger(d) && d >= 0);
  if (!valid || numel(from) !== numel(to)) {
    throw new ShapeError(`reshape into [${to.join(', ')}]`, `${valid ? '' : 'non-negative integer dimensions and '}${numel(to)} values`, from);
  }
}

/**
 * Checks an engine `row(t, index)` on a tensor of `shape` and returns the row's shape
 * (`shape` without its leading axis); a {@link ShapeError} when there is no such row.
 */
export function checkRow(shape: readonly number[], index: number): number[] {
  if (shape.length === 0 || !Number.isInteger(index) || index < 0 || index >= shape[0]!) {
    const axis = shape.length === 0 ? 'no leading axis (a scalar)' : `a leading axis of ${shape[0]}`;
    throw new ShapeError(`row ${index}`, `an index into a leading axis (the tensor has ${axis})`, shape);
  }
  return shape.slice(1);
}

/** {@link checkReshape}d host reshape: the same data under a new shape (no copy). */
export function reshapeHost(t: HostTensor, shape: readonly number[]): HostTensor {
  checkReshape(t.shape, shape);
  return { shape: [...shape], data: t.data, dtype: t.dtype };
}

/** Row `index` of a host tensor stacked on a leading axis, as a copy. */
export function hostRow(t: HostTensor, index: number): HostTensor {
  const rest = checkRow(t.shape, index);
  const n = numel(rest);
  return { shape: rest, data: t.data.slice(index * n, (index + 1) * n), dtype: t.dtype };
}
