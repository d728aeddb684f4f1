/**
 * tfjs interop. `@tensorflow/tfjs-core` is an optional peer: it is imported on first use, so
 * the rest of the package works without it.
 */
import type * as tfc from '@tensorflow/tfjs-core';
import { SafetensorsError } from '../errors.js';
import { decodeNative, decodeToFloat32 } from '../format/decode.js';
import type { SafetensorsDtype } from '../format/dtypes.js';
import type { TensorInfo } from '../format/header.js';
import type { TensorReader } from './reader.js';

type Tfjs = typeof tfc;
let loading: Promise<Tfjs> | undefined;

async function loadTfjs(): Promise<Tfjs> {
  loading ??= import('@tensorflow/tfjs-core').catch((cause: unknown) => {
    loading = undefined;
    throw new SafetensorsError('dependency-missing', 'tfjs tensors need the optional peer dependency @tensorflow/tfjs-core', { cause });
  });
  return loading;
}

/** int32 is the widest integer tfjs has; wider values are refused rather than wrapped. */
const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

/** The tfjs dtype a safetensors dtype becomes: floats → float32, integers → int32, BOOL → bool. */
export function tfjsDtypeOf(dtype: SafetensorsDtype): 'float32' | 'int32' | 'bool' {
  if (dtype === 'BOOL') return 'bool';
  if (dtype.startsWith('F') || dtype === 'BF16') return 'float32';
  return 'int32';
}

/** Converts decoded bytes to a tfjs tensor (F64 narrows to float32; 64-bit ints must fit int32). */
export async function bytesToTfjs(info: TensorInfo, bytes: Uint8Array, file = '<memory>'): Promise<tfc.Tensor> {
  const tf = await loadTfjs();
  const kind = tfjsDtypeOf(info.dtype);
  if (kind === 'float32') return tf.tensor(decodeToFloat32(bytes, info.dtype), [...info.shape], 'float32');
  if (kind === 'bool') return tf.tensor(decodeNative(bytes, 'BOOL') as Uint8Array, [...info.shape], 'bool');
  const native = decodeNative(bytes, info.dtype);
  const out = new Int32Array(native.length);
  for (let i = 0; i < native.length; i++) {
    const v = Number(native[i]!);
    if (v < INT32_MIN || v > INT32_MAX) {
      throw new SafetensorsError('dtype-unsupported', `element ${i} (${String(native[i])}) does not fit tfjs int32`, {
        file,
        key: info.name,
      });
    }
    out[i] = v;
  }
  return tf.tensor(out, [...info.shape], 'int32');
}

/** Reads one tensor into a tfjs tensor. */
export async function readTfjsTensor(reader: TensorReader, name: string): Promise<tfc.Tensor> {
  const info = reader.info(name);
  return bytesToTfjs(info, await reader.bytes(name), reader.fileOf(name));
}

/**
 * Reads tensors (all by default) into tfjs tensors, one at a time. On error the tensors
 * already made are disposed.
 */
export async function readTfjsTensors(reader: TensorReader, names?: readonly string[]): Promise<Map<string, tfc.Tensor>> {
  const out = new Map<string, tfc.Tensor>();
  try {
    for (const name of names ?? reader.tensors.map((t) => t.name)) out.set(name, await readTfjsTensor(reader, name));
  } catch (e) {
    for (const t of out.values()) t.dispose();
    throw e;
  }
  return out;
}
