/**
 * The narrow float formats (float16, bfloat16, float8): bit-exact decoding through lookup
 * tables and round-to-nearest-even encoding. The one place half floats are decoded: host
 * tensors hold them widened to float32, and the safetensors reader, the ONNX initializer reader
 * and the conformance fixtures all widen through here. The tables are built on first use
 * (256 kB for float16).
 */

/** A binary float format with `expBits` exponent and `mantBits` fraction bits. */
export interface MiniFloatFormat {
  readonly expBits: number;
  readonly mantBits: number;
  readonly bias: number;
  /** IEEE-style infinities (all-ones exponent, zero fraction). False for F8_E4M3 ("fn"). */
  readonly hasInfinity: boolean;
  /** Largest finite magnitude's bit pattern (sign bit clear). */
  readonly maxFiniteBits: number;
  /** The quiet NaN written for NaN inputs (sign bit clear). */
  readonly nanBits: number;
}

export const F16_FORMAT: MiniFloatFormat = { expBits: 5, mantBits: 10, bias: 15, hasInfinity: true, maxFiniteBits: 0x7bff, nanBits: 0x7e00 };
export const BF16_FORMAT: MiniFloatFormat = { expBits: 8, mantBits: 7, bias: 127, hasInfinity: true, maxFiniteBits: 0x7f7f, nanBits: 0x7fc0 };
/** float8_e4m3fn: no infinities; S.1111.111 is NaN, so the largest finite value is 448. */
export const F8_E4M3_FORMAT: MiniFloatFormat = { expBits: 4, mantBits: 3, bias: 7, hasInfinity: false, maxFiniteBits: 0x7e, nanBits: 0x7f };
export const F8_E5M2_FORMAT: MiniFloatFormat = { expBits: 5, mantBits: 2, bias: 15, hasInfinity: true, maxFiniteBits: 0x7b, nanBits: 0x7e };

/** The value of one bit pattern, exactly (every narrow value is a float32 value). */
export function decodeMiniFloat(bits: number, f: MiniFloatFormat): number {
  const signShift = f.expBits + f.mantBits;
  const sign = (bits >> signShift) & 1 ? -1 : 1;
  const expField = (bits >> f.mantBits) & ((1 << f.expBits) - 1);
  const mant = bits & ((1 << f.mantBits) - 1);
  const expMax = (1 << f.expBits) - 1;
  if (f.hasInfinity && expField === expMax) return mant === 0 ? sign * Infinity : NaN;
  if (!f.hasInfinity && expField === expMax && mant === (1 << f.mantBits) - 1) return NaN;
  if (expField === 0) return sign * mant * 2 ** (1 - f.bias - f.mantBits);
  return sign * (1 + mant / 2 ** f.mantBits) * 2 ** (expField - f.bias);
}

/**
 * Nearest bit pattern to `x`, ties to even; magnitudes past the largest finite value become
 * infinity (or NaN for formats without one, as PyTorch and ml_dtypes do for float8_e4m3fn).
 * Exact for any float64 input: the value is rounded once, never via float32.
 */
export function encodeMiniFloat(x: number, f: MiniFloatFormat): number {
  const signBit = 1 << (f.expBits + f.mantBits);
  if (Number.isNaN(x)) return f.nanBits;
  const sign = x < 0 || Object.is(x, -0) ? signBit : 0;
  const a = Math.abs(x);
  const overflow = sign | (f.hasInfinity ? ((1 << f.expBits) - 1) << f.mantBits : f.nanBits);
  if (a === Infinity) return overflow;
  if (a === 0) return sign;
  const emin = 1 - f.bias;
  let e = Math.floor(Math.log2(a));
  // log2 can be off by one next to powers of two; settle e so that 2^e <= a < 2^(e+1).
  if (2 ** e > a) e--;
  else if (2 ** (e + 1) <= a) e++;
  if (e < emin) e = emin; // subnormal: the quantum stays 2^(emin - mantBits)
  // Scaling by a power of two is exact, so this rounds the true value once.
  let m = roundHalfEven(a / 2 ** (e - f.mantBits));
  const implicit = 2 ** f.mantBits;
  if (m >= 2 * implicit) {
    m /= 2;
    e++;
  }
  const bits = m < implicit ? m : ((e + f.bias) * implicit) + (m - implicit);
  if (bits > f.maxFiniteBits) return overflow;
  return sign | bits;
}

function roundHalfEven(q: number): number {
  const f = Math.floor(q);
  const d = q - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

let f16Table: Float32Array | undefined;
let e4m3Table: Float32Array | undefined;
let e5m2Table: Float32Array | undefined;

function table(size: number, f: MiniFloatFormat): Float32Array {
  const t = new Float32Array(size);
  for (let i = 0; i < size; i++) t[i] = decodeMiniFloat(i, f);
  return t;
}

export function f16Lut(): Float32Array {
  return (f16Table ??= table(65536, F16_FORMAT));
}
export function f8E4M3Lut(): Float32Array {
  return (e4m3Table ??= table(256, F8_E4M3_FORMAT));
}
export function f8E5M2Lut(): Float32Array {
  return (e5m2Table ??= table(256, F8_E5M2_FORMAT));
}

/**
 * float16 or bfloat16 bit patterns widened to float32, exactly (every such value is a float32).
 * `out` may view the same buffer as `bits` when `bits` sits at its end (element i is read before
 * float32 slot i is written, and slot i ends before element i + 1 starts), which lets a reader
 * widen in place.
 */
export function widenHalfFloats(
  bits: ArrayLike<number>,
  format: 'float16' | 'bfloat16',
  out: Float32Array = new Float32Array(bits.length),
): Float32Array {
  const n = bits.length;
  if (out.length !== n) throw new RangeError(`widenHalfFloats: ${n} values need an output of that length, got ${out.length}`);
  if (format === 'float16') {
    const lut = f16Lut();
    for (let i = 0; i < n; i++) out[i] = lut[bits[i]! & 0xffff]!;
  } else {
    // bfloat16 is the upper half of a float32: shifting the bits up is the exact conversion.
    const u32 = new Uint32Array(out.buffer, out.byteOffset, n);
    for (let i = 0; i < n; i++) u32[i] = (bits[i]! & 0xffff) << 16;
  }
  return out;
}

/**
 * float32 bits → float16 bits, round to nearest even. The bit-twiddling twin of
 * `encodeMiniFloat(x, F16_FORMAT)` for float32 inputs (tests check they agree), used on bulk
 * writes where the generic path is too slow.
 */
export function f32BitsToF16Bits(u: number): number {
  const sign = (u >>> 16) & 0x8000;
  const exp = (u >>> 23) & 0xff;
  const mant = u & 0x7fffff;
  if (exp === 0xff) return mant === 0 ? sign | 0x7c00 : F16_FORMAT.nanBits;
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    // Below 2^-25 everything rounds to zero (2^-25 itself ties to the even zero).
    if (e < -10) return sign;
    const sig = mant | 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rem = sig & ((1 << shift) - 1);
    let m = sig >>> shift;
    if (rem > half || (rem === half && (m & 1) === 1)) m++;
    return sign | m;
  }
  let bits = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  // A carry out of the fraction correctly bumps the exponent, up to infinity.
  if (rem > 0x1000 || (rem === 0x1000 && (bits & 1) === 1)) bits++;
  return sign | bits;
}

/** float32 bits → bfloat16 bits, round to nearest even; NaN stays a quiet NaN. */
export function f32BitsToBf16Bits(u: number): number {
  if ((u & 0x7f800000) === 0x7f800000 && (u & 0x7fffff) !== 0) return BF16_FORMAT.nanBits;
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}
