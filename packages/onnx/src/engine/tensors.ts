/** Moving tensors between the host and ONNX Runtime, and reading their dtypes. */
import { checkHostTensor, checkRow, numel, StateError, UnsupportedError, type HostTensor, type StateTensorKey } from '@normbridge/core';
import { TensorProto_DataType } from 'onnx-buf';
import type { Tensor } from 'onnxruntime-node';
import type { LoadedBackend } from '../backends.js';

export type FloatType = 'float32' | 'float64';

export function isFloatType(t: string): t is FloatType {
  return t === 'float32' || t === 'float64';
}

/** ONNX element type of an ORT tensor type this package feeds. */
export function elemTypeOfTensor(t: Tensor): number {
  switch (t.type) {
    case 'float32':
      return TensorProto_DataType.FLOAT;
    case 'float64':
      return TensorProto_DataType.DOUBLE;
    case 'bool':
      return TensorProto_DataType.BOOL;
    default:
      throw new UnsupportedError(`tensor type "${t.type}"`, 'only float32, float64 (and bool masks) are fed to ONNX Runtime');
  }
}

/** The compute dtype of a call: the input's. */
export function computeDtype(x: Tensor): FloatType {
  if (!isFloatType(x.type)) throw new UnsupportedError(`input of type "${x.type}"`, 'the ORT engine computes in float32 or float64');
  return x.type;
}

export function checkStateType(key: StateTensorKey, t: Tensor): number {
  if (!isFloatType(t.type)) throw new StateError(key, `has type "${t.type}"; float32 or float64 is required`);
  return elemTypeOfTensor(t);
}

/**
 * Uploads a host tensor: float64 stays float64 where the backend has float64 kernels, every
 * other dtype (float16 and bfloat16 are held widened) becomes float32. The data is copied, so
 * later host writes do not leak in.
 */
export function tensorFromHost(backend: LoadedBackend, t: HostTensor): Tensor {
  checkHostTensor('tensor', t);
  const wide = t.dtype === 'float64' && backend.float64;
  const data = wide ? Float64Array.from(t.data) : Float32Array.from(t.data);
  return new backend.Tensor(wide ? 'float64' : 'float32', data, [...t.shape]);
}

export async function tensorToHost(t: Tensor): Promise<HostTensor> {
  const data = await t.getData();
  if (t.type === 'float64') return { shape: [...t.dims], data: Float64Array.from(data as Float64Array), dtype: 'float64' };
  return { shape: [...t.dims], data: Float32Array.from(data as ArrayLike<number>, Number), dtype: 'float32' };
}

/** Tensors made by another copy of onnxruntime-common (the other backend) are re-wrapped. */
export function adopt(backend: LoadedBackend, t: Tensor): Tensor {
  const own: abstract new (...args: never[]) => unknown = backend.Tensor;
  return t instanceof own ? t : new backend.Tensor(t.type, t.data, t.dims);
}

/** Whether a value is a tensor of this backend's ONNX Runtime (its `Tensor` class). */
export function isOrtTensor(backend: LoadedBackend, v: unknown): v is Tensor {
  const own: abstract new (...args: never[]) => unknown = backend.Tensor;
  return v instanceof own;
}

/**
 * Row `index` of a tensor stacked on a leading axis, as a new CPU tensor holding a copy of
 * the row. Tensors kept on a GPU (`location` other than cpu) cannot be sliced without a
 * download: an `UnsupportedError`.
 */
export function tensorRow(backend: LoadedBackend, t: Tensor, index: number): Tensor {
  const rest = checkRow(t.dims, index);
  if (t.location !== 'cpu' && t.location !== 'cpu-pinned') {
    throw new UnsupportedError(`row() of an ONNX Runtime tensor on "${t.location}"`, 'only CPU tensors can be sliced; download it with toHost first');
  }
  const n = numel(rest);
  const data = t.data as Float32Array | Float64Array;
  return new backend.Tensor(t.type as FloatType, data.slice(index * n, (index + 1) * n), rest);
}
