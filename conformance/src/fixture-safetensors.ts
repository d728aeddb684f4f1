/**
 * A minimal, strict safetensors reader and writer for fixtures (the `@normbridge/safetensors`
 * package may replace it later). Layout: an 8-byte little-endian header length, a JSON header
 * `{name: {dtype, shape, data_offsets: [begin, end]}, __metadata__?: {string: string}}`, then the
 * data buffer. Strict means: every byte of the buffer belongs to exactly one tensor, offsets
 * match shape × dtype size, no unknown header keys, no duplicate names.
 *
 * Float tensors come back as core `HostTensor`s (float16/bfloat16 widened into a Float32Array),
 * int64 as `Int64Tensor`, and BOOL (Flax masks) as a float32 0/1 `HostTensor`, the mask form
 * core's reference takes.
 */
import type { HostTensor, Int64Tensor } from '@normbridge/core';
import { FixtureError } from './fixture-schema.js';

export type FixtureTensor = HostTensor | Int64Tensor;

/** safetensors dtype codes this reader accepts, with their item size in bytes. */
const ITEM_SIZE = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, BOOL: 1 } as const;
type SafetensorsDtype = keyof typeof ITEM_SIZE;

/** The header is JSON and small; anything bigger than this is not a fixture. */
const MAX_HEADER_BYTES = 16 * 1024 * 1024;

export interface SafetensorsFile {
  readonly tensors: Map<string, FixtureTensor>;
  /** safetensors dtype code of each tensor as stored (BOOL masks are converted on read). */
  readonly storedDtypes: Map<string, string>;
  readonly metadata: Record<string, string>;
}

function fail(field: string, reason: string, file: string | undefined): never {
  throw new FixtureError(field, reason, file);
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** Parses safetensors bytes. `file` only labels errors. */
export function decodeSafetensors(bytes: Uint8Array, file?: string): SafetensorsFile {
  if (bytes.byteLength < 8) fail('(header length)', `needs 8 bytes, the file has ${bytes.byteLength}`, file);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen64 = view.getBigUint64(0, true);
  if (headerLen64 > BigInt(Math.min(MAX_HEADER_BYTES, bytes.byteLength - 8))) {
    fail('(header length)', `${headerLen64} does not fit in a ${bytes.byteLength}-byte file`, file);
  }
  const headerLen = Number(headerLen64);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLen)));
  } catch (e) {
    fail('(header)', `is not UTF-8 JSON: ${(e as Error).message}`, file);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) fail('(header)', 'is not a JSON object', file);
  const dataStart = 8 + headerLen;
  const dataLen = bytes.byteLength - dataStart;
  const metadata: Record<string, string> = {};
  const entries: { name: string; dtype: SafetensorsDtype; shape: number[]; begin: number; end: number }[] = [];
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) fail('__metadata__', 'must be an object of strings', file);
      for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
        if (typeof v !== 'string') fail(`__metadata__.${k}`, 'must be a string', file);
        metadata[k] = v;
      }
      continue;
    }
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) fail(name, 'header entry must be an object', file);
    const entry = raw as Record<string, unknown>;
    for (const k of Object.keys(entry)) {
      if (k !== 'dtype' && k !== 'shape' && k !== 'data_offsets') fail(`${name}.${k}`, 'is not a safetensors header key', file);
    }
    const dtype = entry['dtype'];
    if (typeof dtype !== 'string' || !(dtype in ITEM_SIZE)) {
      fail(`${name}.dtype`, `${JSON.stringify(dtype)} is not supported (F64, F32, F16, BF16, I64, BOOL)`, file);
    }
    const shape = entry['shape'];
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      fail(`${name}.shape`, 'must be an array of non-negative integers', file);
    }
    const offsets = entry['data_offsets'];
    if (
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) ||
      offsets[0] > offsets[1]
    ) {
      fail(`${name}.data_offsets`, 'must be [begin, end] with 0 <= begin <= end', file);
    }
    const numel = (shape as number[]).reduce((a, b) => a * b, 1);
    const want = numel * ITEM_SIZE[dtype as SafetensorsDtype];
    if (offsets[1] - offsets[0] !== want) {
      fail(`${name}.data_offsets`, `span ${offsets[1] - offsets[0]} bytes, but shape [${shape.join(', ')}] of ${dtype} needs ${want}`, file);
    }
    entries.push({ name, dtype: dtype as SafetensorsDtype, shape: shape as number[], begin: offsets[0], end: offsets[1] });
  }
  // Every byte of the data buffer belongs to exactly one tensor, in offset order.
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  for (const e of sorted) {
    if (e.begin !== cursor) fail(`${e.name}.data_offsets`, `begins at ${e.begin}; expected ${cursor} (gap or overlap)`, file);
    cursor = e.end;
  }
  if (cursor !== dataLen) fail('(data)', `tensors cover ${cursor} bytes but the data buffer has ${dataLen}`, file);

  const tensors = new Map<string, FixtureTensor>();
  const storedDtypes = new Map<string, string>();
  for (const e of entries) {
    const base = dataStart + e.begin;
    const n = e.shape.reduce((a, b) => a * b, 1);
    storedDtypes.set(e.name, e.dtype);
    switch (e.dtype) {
      case 'F64': {
        const data = new Float64Array(n);
        for (let i = 0; i < n; i++) data[i] = view.getFloat64(base + 8 * i, true);
        tensors.set(e.name, { shape: e.shape, data, dtype: 'float64' });
        break;
      }
      case 'F32': {
        const data = new Float32Array(n);
        for (let i = 0; i < n; i++) data[i] = view.getFloat32(base + 4 * i, true);
        tensors.set(e.name, { shape: e.shape, data, dtype: 'float32' });
        break;
      }
      case 'F16': {
        const data = new Float32Array(n);
        for (let i = 0; i < n; i++) data[i] = halfToFloat(view.getUint16(base + 2 * i, true));
        tensors.set(e.name, { shape: e.shape, data, dtype: 'float16' });
        break;
      }
      case 'BF16': {
        const data = new Float32Array(n);
        const word = new DataView(new ArrayBuffer(4));
        for (let i = 0; i < n; i++) {
          word.setUint32(0, view.getUint16(base + 2 * i, true) << 16);
          data[i] = word.getFloat32(0);
        }
        tensors.set(e.name, { shape: e.shape, data, dtype: 'bfloat16' });
        break;
      }
      case 'I64': {
        const data = new BigInt64Array(n);
        for (let i = 0; i < n; i++) data[i] = view.getBigInt64(base + 8 * i, true);
        tensors.set(e.name, { shape: e.shape, data, dtype: 'int64' });
        break;
      }
      case 'BOOL': {
        const data = new Float32Array(n);
        for (let i = 0; i < n; i++) {
          const b = bytes[base + i]!;
          if (b > 1) fail(e.name, `BOOL byte ${i} is ${b}, not 0 or 1`, file);
          data[i] = b;
        }
        tensors.set(e.name, { shape: e.shape, data, dtype: 'float32' });
        break;
      }
    }
  }
  return { tensors, storedDtypes, metadata };
}

export interface TensorToWrite {
  readonly dtype: 'F64' | 'F32' | 'F16' | 'I64' | 'BOOL';
  readonly shape: readonly number[];
  readonly values: ArrayLike<number> | ArrayLike<bigint>;
}

/** The float16 bits of `v`, which must be exact in float16 (finite, normal or subnormal). */
function exactHalf(v: number): number {
  const sign = v < 0 || Object.is(v, -0) ? 0x8000 : 0;
  const a = Math.abs(v);
  if (a === 0) return sign;
  const exp = Math.max(Math.floor(Math.log2(a)), -14);
  const frac = a / 2 ** exp;
  const bits = exp === -14 && frac < 1 ? Math.round(frac * 1024) : ((exp + 15) << 10) | Math.round((frac - 1) * 1024);
  if (exp > 15 || halfToFloat(sign | bits) !== v) throw new RangeError(`${v} is not exact in float16`);
  return sign | bits;
}

/**
 * Writes safetensors bytes (names sorted, header padded with spaces to 8 bytes). Used by tests;
 * the generators have their own equivalent writers (`fixtures/generators/lib`, `fixture_io.py`).
 */
export function encodeSafetensors(tensors: Record<string, TensorToWrite>, metadata?: Record<string, string>): Uint8Array {
  const names = Object.keys(tensors).sort();
  const header: Record<string, unknown> = {};
  if (metadata) header['__metadata__'] = metadata;
  let offset = 0;
  for (const name of names) {
    const t = tensors[name]!;
    const size = t.shape.reduce((a, b) => a * b, 1) * ITEM_SIZE[t.dtype];
    header[name] = { dtype: t.dtype, shape: [...t.shape], data_offsets: [offset, offset + size] };
    offset += size;
  }
  let json = JSON.stringify(header);
  while ((8 + new TextEncoder().encode(json).length) % 8 !== 0) json += ' ';
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let p = 8 + headerBytes.length;
  for (const name of names) {
    const t = tensors[name]!;
    const n = t.shape.reduce((a, b) => a * b, 1);
    for (let i = 0; i < n; i++) {
      const v = t.values[i]!;
      switch (t.dtype) {
        case 'F64': view.setFloat64(p, Number(v), true); p += 8; break;
        case 'F32': view.setFloat32(p, Number(v), true); p += 4; break;
        case 'F16': view.setUint16(p, exactHalf(Number(v)), true); p += 2; break;
        case 'I64': view.setBigInt64(p, BigInt(v), true); p += 8; break;
        case 'BOOL': out[p] = Number(v) ? 1 : 0; p += 1; break;
      }
    }
  }
  return out;
}
