/**
 * Values → little-endian tensor bytes for a target dtype. Float inputs are rounded to the
 * nearest representable value (ties to even); integer dtypes take their own typed array so that
 * nothing is silently truncated.
 */
import { SafetensorsError } from '../errors.js';
import { dtypeInfo, HOST_IS_LITTLE_ENDIAN, nativeArrayType, type NativeArray, type SafetensorsDtype } from './dtypes.js';
import { swapBytes } from './decode.js';
import {
  BF16_FORMAT,
  encodeMiniFloat,
  f32BitsToBf16Bits,
  f32BitsToF16Bits,
  F16_FORMAT,
  F8_E4M3_FORMAT,
  F8_E5M2_FORMAT,
} from '@normbridge/core';

/** Anything the writer accepts as the elements of one tensor. */
export type TensorValues = NativeArray | readonly number[];

/**
 * Encodes `values` as `dtype`. Accepted pairs:
 * - the dtype's native array ({@link nativeArrayType}): copied bit for bit (raw bits for F16,
 *   BF16 and F8 in a Uint16Array / Uint8Array);
 * - Float32Array, Float64Array or number[] for any float dtype: rounded to nearest even.
 */
export function encodeValues(values: TensorValues, dtype: SafetensorsDtype, what: string): Uint8Array {
  const info = dtypeInfo(dtype);
  const Native = nativeArrayType(dtype);
  if (values instanceof Native) {
    const src = values as NativeArray;
    if (dtype === 'BOOL') checkBool(src as Uint8Array, what);
    const out = new Uint8Array(src.byteLength);
    out.set(new Uint8Array(src.buffer, src.byteOffset, src.byteLength));
    if (!HOST_IS_LITTLE_ENDIAN && info.size > 1) swapBytes(out, info.size);
    return out;
  }
  if (info.kind === 'float' && isFloatInput(values)) return encodeFloats(values, dtype);
  throw new SafetensorsError(
    'invalid-argument',
    `${what}: cannot store ${describe(values)} as ${dtype}; pass a ${Native.name}${info.kind === 'float' ? ', Float32Array, Float64Array or number[]' : ''}`,
  );
}

function isFloatInput(v: TensorValues): v is Float32Array | Float64Array | readonly number[] {
  return v instanceof Float32Array || v instanceof Float64Array || Array.isArray(v);
}

/** PyTorch and NumPy treat any byte other than 0 and 1 in a bool tensor as undefined behaviour. */
function checkBool(bytes: Uint8Array, what: string): void {
  const i = bytes.findIndex((b) => b > 1);
  if (i >= 0) throw new SafetensorsError('invalid-argument', `${what}: BOOL element ${i} is ${bytes[i]}, not 0 or 1`);
}

function encodeFloats(values: Float32Array | Float64Array | readonly number[], dtype: SafetensorsDtype): Uint8Array {
  const n = values.length;
  switch (dtype) {
    case 'F64':
      return encodeValues(Float64Array.from(values), 'F64', '');
    case 'F32':
      return encodeValues(Float32Array.from(values), 'F32', '');
    case 'F16':
    case 'BF16': {
      const out = new Uint16Array(n);
      if (values instanceof Float32Array) {
        // Fast path: round from the float32 bit pattern.
        const bits = new Uint32Array(values.buffer, values.byteOffset, n);
        const enc = dtype === 'F16' ? f32BitsToF16Bits : f32BitsToBf16Bits;
        for (let i = 0; i < n; i++) out[i] = enc(bits[i]!);
      } else {
        // float64 values are rounded once, directly, never via float32.
        const fmt = dtype === 'F16' ? F16_FORMAT : BF16_FORMAT;
        for (let i = 0; i < n; i++) out[i] = encodeMiniFloat(values[i]!, fmt);
      }
      return encodeValues(out, dtype, '');
    }
    case 'F8_E4M3':
    case 'F8_E5M2': {
      const fmt = dtype === 'F8_E4M3' ? F8_E4M3_FORMAT : F8_E5M2_FORMAT;
      const out = new Uint8Array(n);
      for (let i = 0; i < n; i++) out[i] = encodeMiniFloat(values[i]!, fmt);
      return out;
    }
    default:
      throw new SafetensorsError('invalid-argument', `${dtype} is not a float dtype`);
  }
}

function describe(v: unknown): string {
  if (Array.isArray(v)) return 'a number[]';
  if (ArrayBuffer.isView(v)) return `a ${v.constructor.name}`;
  return typeof v;
}
