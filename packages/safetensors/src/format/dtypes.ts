/**
 * The safetensors dtypes this package reads and writes, with their element sizes. Names are
 * the on-disk strings. `F8_E4M3` is the "fn" variant (no infinities, one NaN per sign), as in
 * PyTorch's `float8_e4m3fn`; `F8_E5M2` follows IEEE rules like F16.
 */
export const SAFETENSORS_DTYPES = [
  'F64',
  'F32',
  'F16',
  'BF16',
  'F8_E4M3',
  'F8_E5M2',
  'I64',
  'I32',
  'I16',
  'I8',
  'U64',
  'U32',
  'U16',
  'U8',
  'BOOL',
] as const;

export type SafetensorsDtype = (typeof SAFETENSORS_DTYPES)[number];

export type DtypeKind = 'float' | 'signed' | 'unsigned' | 'bool';

export interface DtypeInfo {
  /** Bytes per element. */
  readonly size: 1 | 2 | 4 | 8;
  readonly kind: DtypeKind;
}

const INFO: Readonly<Record<SafetensorsDtype, DtypeInfo>> = {
  F64: { size: 8, kind: 'float' },
  F32: { size: 4, kind: 'float' },
  F16: { size: 2, kind: 'float' },
  BF16: { size: 2, kind: 'float' },
  F8_E4M3: { size: 1, kind: 'float' },
  F8_E5M2: { size: 1, kind: 'float' },
  I64: { size: 8, kind: 'signed' },
  I32: { size: 4, kind: 'signed' },
  I16: { size: 2, kind: 'signed' },
  I8: { size: 1, kind: 'signed' },
  U64: { size: 8, kind: 'unsigned' },
  U32: { size: 4, kind: 'unsigned' },
  U16: { size: 2, kind: 'unsigned' },
  U8: { size: 1, kind: 'unsigned' },
  BOOL: { size: 1, kind: 'bool' },
};

const KNOWN: ReadonlySet<string> = new Set(SAFETENSORS_DTYPES);

export function isSafetensorsDtype(name: unknown): name is SafetensorsDtype {
  return typeof name === 'string' && KNOWN.has(name);
}

export function dtypeInfo(dtype: SafetensorsDtype): DtypeInfo {
  return INFO[dtype];
}

/** The typed array that holds a dtype's elements natively (raw bits for F16, BF16 and F8). */
export type NativeArray =
  | Float64Array
  | Float32Array
  | BigInt64Array
  | BigUint64Array
  | Int32Array
  | Uint32Array
  | Int16Array
  | Uint16Array
  | Int8Array
  | Uint8Array;

type NativeCtor = {
  new (buffer: ArrayBufferLike, byteOffset?: number, length?: number): NativeArray;
  new (length: number): NativeArray;
};

const NATIVE: Readonly<Record<SafetensorsDtype, NativeCtor>> = {
  F64: Float64Array,
  F32: Float32Array,
  F16: Uint16Array,
  BF16: Uint16Array,
  F8_E4M3: Uint8Array,
  F8_E5M2: Uint8Array,
  I64: BigInt64Array,
  I32: Int32Array,
  I16: Int16Array,
  I8: Int8Array,
  U64: BigUint64Array,
  U32: Uint32Array,
  U16: Uint16Array,
  U8: Uint8Array,
  BOOL: Uint8Array,
};

export function nativeArrayType(dtype: SafetensorsDtype): NativeCtor {
  return NATIVE[dtype];
}

/** Whether this host stores multi-byte numbers little-endian, as safetensors does. */
export const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
