/**
 * Validation of the safetensors prefix and header, to the rules of the Rust reference
 * implementation: every tensor's byte size follows from its dtype and shape, and the tensors'
 * byte ranges tile the data region exactly, with no gap, overlap or trailing byte.
 */
import { SafetensorsError, type SafetensorsErrorCode } from '../errors.js';
import { MAX_DIMS_PRODUCT, MAX_HEADER_BYTES, MAX_RANK, MAX_TENSORS } from '../limits.js';
import { dtypeInfo, isSafetensorsDtype, type SafetensorsDtype } from './dtypes.js';
import { isJsonObject, JsonDecimal, JsonSyntaxError, parseStrictJson, type JsonValue } from './strict-json.js';

/** Bytes before the header: its length as an unsigned 64-bit little-endian integer. */
export const PREFIX_BYTES = 8;

/** The reserved header key that holds string metadata. */
export const METADATA_KEY = '__metadata__';

const TENSOR_FIELDS = new Set(['dtype', 'shape', 'data_offsets']);

/** One tensor's entry, validated. Offsets are relative to the start of the data region. */
export interface TensorInfo {
  readonly name: string;
  readonly dtype: SafetensorsDtype;
  readonly shape: readonly number[];
  /** Number of elements (1 for a scalar of shape []). */
  readonly numel: number;
  readonly begin: number;
  readonly end: number;
  readonly byteLength: number;
}

export interface SafetensorsHeader {
  /** `__metadata__`, or undefined when the file has none. A prototype-less object. */
  readonly metadata: Readonly<Record<string, string>> | undefined;
  /** Every tensor, in data order (ascending offsets). */
  readonly tensors: readonly TensorInfo[];
  readonly byName: ReadonlyMap<string, TensorInfo>;
  /** Header length N as stored in the prefix (including any padding). */
  readonly headerLength: number;
  /** Where the data region starts in the file: 8 + N. */
  readonly dataStart: number;
  /** Length of the data region in bytes. */
  readonly dataLength: number;
}

/**
 * Reads the header length from the first 8 bytes and checks it against the cap and against
 * the size of the whole file, before anything of that length is allocated.
 */
export function readHeaderLength(prefix: Uint8Array, fileSize: number, file: string): number {
  if (fileSize < PREFIX_BYTES || prefix.length < PREFIX_BYTES) {
    throw new SafetensorsError('file-too-small', `${fileSize} bytes is too short for the 8-byte header length`, { file });
  }
  const view = new DataView(prefix.buffer, prefix.byteOffset, PREFIX_BYTES);
  const n = view.getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) {
    throw new SafetensorsError('header-too-large', `header length ${n} exceeds the limit of ${MAX_HEADER_BYTES} bytes`, {
      file,
      offset: 0,
    });
  }
  const length = Number(n);
  if (PREFIX_BYTES + length > fileSize) {
    throw new SafetensorsError(
      'header-length-exceeds-file',
      `header length ${length} runs past the end of the ${fileSize}-byte file`,
      { file, offset: 0 },
    );
  }
  return length;
}

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Decodes and validates a header. `dataLength` is the size of everything after the header;
 * the tensors must cover it exactly.
 */
export function parseHeader(headerBytes: Uint8Array, dataLength: number, file: string): SafetensorsHeader {
  const headerLength = headerBytes.length;
  const dataStart = PREFIX_BYTES + headerLength;
  let text: string;
  try {
    text = UTF8.decode(headerBytes);
  } catch (cause) {
    throw new SafetensorsError('header-invalid-utf8', 'header is not valid UTF-8', {
      file,
      offset: PREFIX_BYTES + firstInvalidUtf8(headerBytes),
      cause,
    });
  }
  // The reference implementation requires the JSON to start at the first byte.
  if (!text.startsWith('{')) {
    throw new SafetensorsError('header-not-object', 'header does not start with "{"', { file, offset: PREFIX_BYTES });
  }
  let metadata: Record<string, string> | undefined;
  const tensors: TensorInfo[] = [];
  // Entries are validated as they are parsed and only the compact TensorInfo is kept.
  const onEntry = (key: string, value: JsonValue) => {
    if (key === METADATA_KEY) {
      metadata = parseMetadata(value, file);
      return;
    }
    if (tensors.length >= MAX_TENSORS) {
      throw new SafetensorsError('too-many-tensors', `header lists more than the limit of ${MAX_TENSORS} tensors`, { file, key });
    }
    tensors.push(parseTensorInfo(key, value, file));
  };
  let root: JsonValue;
  try {
    root = parseStrictJson(text, undefined, onEntry);
  } catch (e) {
    if (!(e instanceof JsonSyntaxError)) throw e;
    const offset = PREFIX_BYTES + byteOffsetOf(text, e.position);
    if (e.kind === 'duplicate-key') {
      throw new SafetensorsError('duplicate-key', `header lists ${JSON.stringify(e.key)} twice`, { file, offset, cause: e });
    }
    const code: SafetensorsErrorCode = e.kind === 'too-deep' ? 'header-too-deep' : 'header-invalid-json';
    throw new SafetensorsError(code, `header is not valid JSON: ${e.message}`, { file, offset, cause: e });
  }
  if (!isJsonObject(root)) {
    throw new SafetensorsError('header-not-object', 'header JSON is not an object', { file, offset: PREFIX_BYTES });
  }

  // Stable sort: zero-length tensors may share an offset with their neighbour.
  tensors.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let expected = 0;
  for (const t of tensors) {
    if (t.begin < expected) {
      throw new SafetensorsError('offsets-overlap', `bytes [${t.begin}, ${t.end}) overlap the previous tensor, which ends at ${expected}`, {
        file,
        key: t.name,
        offset: t.begin,
      });
    }
    if (t.begin > expected) {
      throw new SafetensorsError('offsets-gap', `bytes [${expected}, ${t.begin}) before this tensor belong to no tensor`, {
        file,
        key: t.name,
        offset: expected,
      });
    }
    expected = t.end;
  }
  if (expected > dataLength) {
    const last = tensors[tensors.length - 1]!;
    throw new SafetensorsError('data-truncated', `tensors need ${expected} data bytes but the file holds ${dataLength}`, {
      file,
      key: last.name,
      offset: dataLength,
    });
  }
  if (expected < dataLength) {
    throw new SafetensorsError('data-trailing-bytes', `${dataLength - expected} bytes after the last tensor belong to no tensor`, {
      file,
      offset: expected,
    });
  }
  return {
    metadata,
    tensors,
    byName: new Map(tensors.map((t) => [t.name, t])),
    headerLength,
    dataStart,
    dataLength,
  };
}

function parseMetadata(value: JsonValue, file: string): Record<string, string> {
  if (!isJsonObject(value)) {
    throw new SafetensorsError('metadata-invalid', `${METADATA_KEY} must be an object of strings, got ${jsonKind(value)}`, {
      file,
      key: METADATA_KEY,
    });
  }
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [k, v] of value) {
    if (typeof v !== 'string') {
      throw new SafetensorsError('metadata-invalid', `${METADATA_KEY} value for ${JSON.stringify(k)} must be a string, got ${jsonKind(v)}`, {
        file,
        key: METADATA_KEY,
      });
    }
    out[k] = v;
  }
  return out;
}

function parseTensorInfo(name: string, value: JsonValue, file: string): TensorInfo {
  const fail: (code: SafetensorsErrorCode, message: string) => never = (code, message) => {
    throw new SafetensorsError(code, message, { file, key: name });
  };
  if (!isJsonObject(value)) return fail('tensor-info-invalid', `entry must be an object, got ${jsonKind(value)}`);
  if (value.size !== TENSOR_FIELDS.size || !value.has('dtype') || !value.has('shape') || !value.has('data_offsets')) {
    for (const field of value.keys()) {
      if (!TENSOR_FIELDS.has(field)) fail('tensor-info-invalid', `unknown field ${JSON.stringify(field)}`);
    }
  }
  const dtypeValue = value.get('dtype');
  const shapeValue = value.get('shape');
  const offsetsValue = value.get('data_offsets');
  if (dtypeValue === undefined || shapeValue === undefined || offsetsValue === undefined) {
    const missing = [...TENSOR_FIELDS].filter((f) => !value.has(f));
    return fail('tensor-info-invalid', `missing field(s) ${missing.join(', ')}`);
  }
  if (typeof dtypeValue !== 'string') return fail('tensor-info-invalid', `dtype must be a string, got ${jsonKind(dtypeValue)}`);
  if (!isSafetensorsDtype(dtypeValue)) return fail('unknown-dtype', `unknown dtype ${JSON.stringify(dtypeValue)}`);
  const dtype = dtypeValue;

  if (!Array.isArray(shapeValue)) return fail('invalid-shape', `shape must be an array, got ${jsonKind(shapeValue)}`);
  if (shapeValue.length > MAX_RANK) return fail('invalid-shape', `rank ${shapeValue.length} exceeds the limit of ${MAX_RANK}`);
  // Indexed loops, no iterators: this runs once per tensor, up to MAX_TENSORS times.
  const shape: number[] = new Array<number>(shapeValue.length);
  for (let i = 0; i < shapeValue.length; i++) {
    const d = shapeValue[i];
    if (typeof d === 'bigint') {
      if (d < 0n) fail('invalid-shape', `dimension ${i} is negative (${d})`);
      fail('size-overflow', `dimension ${i} (${d}) exceeds 2^53 - 1`);
    }
    if (typeof d !== 'number' || Object.is(d, -0)) return fail('invalid-shape', `dimension ${i} must be a non-negative integer, got ${jsonText(d)}`);
    if (d < 0) fail('invalid-shape', `dimension ${i} is negative (${d})`);
    shape[i] = d;
  }
  // Every partial product is checked, in order: the Rust reference refuses a shape whose
  // product overflows on the way even when a later 0 would bring it back to 0.
  let numel = 1;
  for (let i = 0; i < shape.length; i++) {
    numel *= shape[i]!;
    if (numel > MAX_DIMS_PRODUCT) {
      fail('size-overflow', `shape [${shape.join(', ')}]: the product of dimensions 0..${i} exceeds ${MAX_DIMS_PRODUCT} (2^53 - 1)`);
    }
  }
  // numel is exact (≤ 2^53 - 1) and the size ≤ 8, so a product above 2^53 - 1 cannot round below it.
  const byteLength = numel * dtypeInfo(dtype).size;
  if (byteLength > Number.MAX_SAFE_INTEGER) {
    fail('size-overflow', `shape [${shape.join(', ')}] of ${dtype} needs ${BigInt(numel) * BigInt(dtypeInfo(dtype).size)} bytes, more than 2^53 - 1`);
  }

  if (!Array.isArray(offsetsValue) || offsetsValue.length !== 2) {
    return fail('invalid-offsets', `data_offsets must be an array of two integers, got ${jsonText(offsetsValue)}`);
  }
  const b = offsetsValue[0];
  const e = offsetsValue[1];
  for (let k = 0; k < 2; k++) {
    const o = k === 0 ? b : e;
    if (typeof o === 'bigint') fail('invalid-offsets', `data offset ${o} is out of range (above 2^53 - 1 or below 0)`);
    if (typeof o !== 'number' || o < 0 || Object.is(o, -0)) {
      fail('invalid-offsets', `data offsets must be non-negative integers, got ${jsonText(o)}`);
    }
  }
  const begin = b as number;
  const end = e as number;
  if (begin > end) return fail('offsets-reversed', `data_offsets [${begin}, ${end}] begin after they end`);
  if (end - begin !== Number(byteLength)) {
    fail('size-mismatch', `data_offsets [${begin}, ${end}] span ${end - begin} bytes but ${dtype}[${shape.join(', ')}] needs ${byteLength}`);
  }
  return { name, dtype, shape, numel, begin, end, byteLength };
}

function jsonKind(v: JsonValue | undefined): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (v instanceof Map) return 'an object';
  if (v instanceof JsonDecimal) return `the number ${v.text}`;
  if (typeof v === 'bigint') return `the number ${v}`;
  return `a ${typeof v}`;
}

function jsonText(v: JsonValue | undefined): string {
  if (v instanceof JsonDecimal) return v.text;
  if (typeof v === 'bigint') return String(v);
  if (v instanceof Map) return 'an object';
  if (Array.isArray(v)) return `[${v.map(jsonText).join(', ')}]`;
  if (Object.is(v, -0)) return '-0';
  return v === undefined ? 'nothing' : JSON.stringify(v);
}

/** UTF-8 byte offset of a UTF-16 index in `text`. Only used on error paths. */
function byteOffsetOf(text: string, index: number): number {
  return new TextEncoder().encode(text.slice(0, index)).length;
}

/**
 * Offset of the first byte that is not part of a well-formed UTF-8 sequence (Unicode table
 * 3-7: no overlongs, no surrogates, nothing above U+10FFFF). Only used on error paths.
 */
function firstInvalidUtf8(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i]!;
    if (b < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) need = 1;
    else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      if (b === 0xe0) lo = 0xa0;
      if (b === 0xed) hi = 0x9f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      if (b === 0xf0) lo = 0x90;
      if (b === 0xf4) hi = 0x8f;
    } else return i;
    const second = bytes[i + 1];
    if (second === undefined || second < lo || second > hi) return i;
    for (let k = 2; k <= need; k++) {
      const c = bytes[i + k];
      if (c === undefined || (c & 0xc0) !== 0x80) return i;
    }
    i += need + 1;
  }
  return i;
}
