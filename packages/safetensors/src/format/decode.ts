/**
 * Tensor bytes → typed arrays. Safetensors data is little-endian and may start at any byte
 * offset (nothing aligns tensors in files written by other tools), so a typed-array view is
 * only made on an aligned offset of a little-endian host; otherwise the bytes are copied first.
 */
import { SafetensorsError } from '../errors.js';
import { dtypeInfo, HOST_IS_LITTLE_ENDIAN, nativeArrayType, type NativeArray, type SafetensorsDtype } from './dtypes.js';
import { f8E4M3Lut, f8E5M2Lut, widenHalfFloats } from '@normbridge/core';

/**
 * The elements in their own type: Float64Array for F64, BigInt64Array for I64, raw bits
 * (Uint16Array, Uint8Array) for F16, BF16 and F8. The result never aliases `bytes`.
 */
export function decodeNative(bytes: Uint8Array, dtype: SafetensorsDtype): NativeArray {
  const size = dtypeInfo(dtype).size;
  const Ctor = nativeArrayType(dtype);
  checkLength(bytes, size, dtype);
  const n = bytes.length / size;
  const out = new Ctor(n);
  new Uint8Array(out.buffer, out.byteOffset, bytes.length).set(bytes);
  if (!HOST_IS_LITTLE_ENDIAN && size > 1) swapBytes(new Uint8Array(out.buffer), size);
  return out;
}

/**
 * The elements as float32. F16, BF16 and F8 are decoded exactly; F64 and 32/64-bit integers
 * are rounded to the nearest float32 (64-bit integers via float64); BOOL gives 0 or 1.
 * Writes into `out` when given (it must hold exactly the element count), else allocates.
 */
export function decodeToFloat32(bytes: Uint8Array, dtype: SafetensorsDtype, out?: Float32Array): Float32Array {
  const size = dtypeInfo(dtype).size;
  checkLength(bytes, size, dtype);
  const n = bytes.length / size;
  if (out !== undefined && out.length !== n) {
    throw new SafetensorsError('invalid-argument', `output holds ${out.length} floats but the tensor has ${n} ${dtype} elements`);
  }
  const dst = out ?? new Float32Array(n);
  switch (dtype) {
    case 'F32':
      // A byte copy into the destination is both the alignment fix and the conversion.
      new Uint8Array(dst.buffer, dst.byteOffset, bytes.length).set(bytes);
      if (!HOST_IS_LITTLE_ENDIAN) swapBytes(new Uint8Array(dst.buffer, dst.byteOffset, bytes.length), 4);
      return dst;
    case 'F16':
    case 'BF16':
      return widenHalfFloats(aligned(bytes, dtype) as Uint16Array, dtype === 'F16' ? 'float16' : 'bfloat16', dst);
    case 'F8_E4M3':
    case 'F8_E5M2': {
      const lut = dtype === 'F8_E4M3' ? f8E4M3Lut() : f8E5M2Lut();
      for (let i = 0; i < n; i++) dst[i] = lut[bytes[i]!]!;
      return dst;
    }
    case 'BOOL':
      for (let i = 0; i < n; i++) dst[i] = bytes[i] === 0 ? 0 : 1;
      return dst;
    case 'I64':
    case 'U64': {
      const src = aligned(bytes, dtype) as BigInt64Array | BigUint64Array;
      for (let i = 0; i < n; i++) dst[i] = Number(src[i]!);
      return dst;
    }
    default: {
      // F64 and the remaining integer types: a typed-array set rounds each element to float32.
      dst.set(aligned(bytes, dtype) as Exclude<NativeArray, BigInt64Array | BigUint64Array>);
      return dst;
    }
  }
}

/** A native view of `bytes` when the offset allows it, else a native copy. */
function aligned(bytes: Uint8Array, dtype: SafetensorsDtype): NativeArray {
  const size = dtypeInfo(dtype).size;
  if (HOST_IS_LITTLE_ENDIAN && bytes.byteOffset % size === 0) {
    const Ctor = nativeArrayType(dtype);
    return new Ctor(bytes.buffer, bytes.byteOffset, bytes.length / size);
  }
  return decodeNative(bytes, dtype);
}

function checkLength(bytes: Uint8Array, size: number, dtype: SafetensorsDtype): void {
  if (bytes.length % size !== 0) {
    throw new SafetensorsError('invalid-argument', `${bytes.length} bytes is not a whole number of ${dtype} elements`);
  }
}

/** In-place byte reversal of every element: only ever runs on big-endian hosts. */
export function swapBytes(bytes: Uint8Array, size: number): void {
  for (let i = 0; i + size <= bytes.length; i += size) {
    for (let a = i, b = i + size - 1; a < b; a++, b--) {
      const t = bytes[a]!;
      bytes[a] = bytes[b]!;
      bytes[b] = t;
    }
  }
}

/**
 * Widens F16, BF16 or F8 elements to float32 inside one buffer: the raw elements must sit at
 * the end of `out`'s bytes (`out.byteLength - n * size` onwards). Element i is read before
 * float32 slot i is written, and slot i ends at or before the unread element i + 1 starts, so a
 * single forward pass is safe. Saves the second allocation (and its page faults) of a separate
 * input buffer when reading from files. Little-endian hosts only.
 */
export function widenInPlace(out: Float32Array, dtype: 'F16' | 'BF16' | 'F8_E4M3' | 'F8_E5M2'): void {
  const n = out.length;
  const size = dtypeInfo(dtype).size;
  const tail = out.byteOffset + out.byteLength - n * size;
  if (size === 2) {
    widenHalfFloats(new Uint16Array(out.buffer, tail, n), dtype === 'F16' ? 'float16' : 'bfloat16', out);
    return;
  }
  const src = new Uint8Array(out.buffer, tail, n);
  const lut = dtype === 'F8_E4M3' ? f8E4M3Lut() : f8E5M2Lut();
  for (let i = 0; i < n; i++) out[i] = lut[src[i]!]!;
}
