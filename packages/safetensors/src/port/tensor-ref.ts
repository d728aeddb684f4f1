/**
 * Tensors on their way through a conversion: dtype and shape up front, bytes on demand. Layout
 * changes are recorded as permutations and composed, so a kernel that goes OIHW → HWIO → OIHW
 * is never moved at all and any chain costs at most one pass over its bytes.
 */
import { forEachTransposed } from '@normbridge/core';
import { dtypeInfo, type SafetensorsDtype } from '../format/dtypes.js';
import { ConversionError } from '../errors.js';

export interface TensorRef {
  readonly dtype: SafetensorsDtype;
  readonly shape: readonly number[];
  /** The key this tensor was read from, for reports. */
  readonly sourceKey: string;
  load(): Promise<Uint8Array>;
}

interface PermutedRef extends TensorRef {
  readonly base: TensorRef;
  readonly perm: readonly number[];
}

function isPermuted(r: TensorRef): r is PermutedRef {
  return 'perm' in r && 'base' in r;
}

/**
 * The tensor with its axes reordered: result axis i is input axis `perm[i]` (NumPy's
 * `transpose(perm)`). Exact for every dtype: elements are moved as raw bytes.
 */
export function permuteRef(ref: TensorRef, perm: readonly number[]): TensorRef {
  const rank = ref.shape.length;
  if (perm.length !== rank || [...perm].sort((a, b) => a - b).some((p, i) => p !== i)) {
    throw new ConversionError('invalid-config', `[${perm.join(', ')}] is not a permutation of rank ${rank}`, ref.sourceKey);
  }
  const base = isPermuted(ref) ? ref.base : ref;
  const composed = isPermuted(ref) ? perm.map((p) => ref.perm[p]!) : [...perm];
  if (composed.every((p, i) => p === i)) return base;
  const shape = composed.map((p) => base.shape[p]!);
  const out: PermutedRef = {
    dtype: base.dtype,
    shape,
    sourceKey: base.sourceKey,
    base,
    perm: composed,
    load: async () => permuteBytes(await base.load(), base.shape, composed, dtypeInfo(base.dtype).size),
  };
  return out;
}

/** The inverse permutation: `permute(permute(x, p), inverse(p)) = x`. */
export function inversePerm(perm: readonly number[]): number[] {
  const inv = new Array<number>(perm.length);
  perm.forEach((p, i) => (inv[p] = i));
  return inv;
}

/** Row-major transpose of raw elements of `elemSize` bytes. */
export function permuteBytes(bytes: Uint8Array, shape: readonly number[], perm: readonly number[], elemSize: number): Uint8Array {
  // Move whole elements through the widest unsigned view the element size allows; 8-byte
  // elements travel as two 32-bit lanes (a float view could canonicalise NaN payloads).
  const lanes = elemSize === 8 ? 2 : 1;
  const src = elemSize === 1 ? bytes : bytes.byteOffset % Math.min(elemSize, 4) === 0 ? bytes : bytes.slice();
  const view = (b: Uint8Array) =>
    elemSize === 1 ? b : elemSize === 2 ? new Uint16Array(b.buffer, b.byteOffset, b.length / 2) : new Uint32Array(b.buffer, b.byteOffset, b.length / 4);
  const out = new Uint8Array(bytes.length);
  const s = view(src);
  const d = view(out);
  if (lanes === 1) forEachTransposed(shape, perm, (o, from) => (d[o] = s[from]!));
  else {
    forEachTransposed(shape, perm, (o, from) => {
      d[2 * o] = s[2 * from]!;
      d[2 * o + 1] = s[2 * from + 1]!;
    });
  }
  return out;
}
