/**
 * The writer's header: deterministic bytes for a set of tensors. JSON keys are in code-point
 * order (`__metadata__` first), data is laid out by element size (largest first) then name, so
 * that with the header padded to a multiple of 8 every tensor starts at a multiple of its
 * element size and readers can map it without copying.
 */
import { SafetensorsError } from '../errors.js';
import { MAX_HEADER_BYTES, MAX_RANK } from '../limits.js';
import { dtypeInfo, isSafetensorsDtype, type SafetensorsDtype } from './dtypes.js';
import { METADATA_KEY, PREFIX_BYTES } from './header.js';

export interface TensorDescriptor {
  readonly name: string;
  readonly dtype: SafetensorsDtype;
  readonly shape: readonly number[];
}

export interface PlacedTensor extends TensorDescriptor {
  readonly begin: number;
  readonly end: number;
}

export interface FileLayout {
  /** The 8-byte prefix and the padded header. */
  readonly head: Uint8Array;
  /** Tensors in data order with offsets relative to the data region. */
  readonly placed: readonly PlacedTensor[];
  readonly dataLength: number;
  readonly totalLength: number;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export function checkName(name: string, what: string): void {
  if (typeof name !== 'string') throw new SafetensorsError('invalid-argument', `${what}: tensor names must be strings`);
  if (name === METADATA_KEY) throw new SafetensorsError('invalid-argument', `${what}: ${METADATA_KEY} is reserved`, { key: name });
  if (LONE_SURROGATE.test(name)) throw new SafetensorsError('invalid-argument', `${what}: name is not valid Unicode`, { key: name });
}

/** Validates a shape and returns its element count; sizes must stay below 2^53 bytes. */
export function checkShape(shape: readonly number[], dtype: SafetensorsDtype, name: string): number {
  if (!isSafetensorsDtype(dtype)) throw new SafetensorsError('invalid-argument', `unknown dtype ${String(dtype)}`, { key: name });
  if (!Array.isArray(shape) || shape.length > MAX_RANK) {
    throw new SafetensorsError('invalid-argument', `shape must be an array of at most ${MAX_RANK} dimensions`, { key: name });
  }
  let n = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) {
      throw new SafetensorsError('invalid-argument', `shape [${shape.join(', ')}] must hold non-negative integers`, { key: name });
    }
    n *= d;
  }
  if (!Number.isSafeInteger(n * dtypeInfo(dtype).size)) {
    throw new SafetensorsError('size-overflow', `shape [${shape.join(', ')}] is too large`, { key: name });
  }
  return n;
}

/** Compares by Unicode code point, which is also UTF-8 byte order (the Rust writer's order). */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    // Surrogates (0xD800-0xDFFF) encode code points above every BMP character.
    const xs = x >= 0xd800 && x <= 0xdfff;
    const ys = y >= 0xd800 && y <= 0xdfff;
    if (xs !== ys) return xs ? 1 : -1;
    return x - y;
  }
  return a.length - b.length;
}

export function layoutFile(tensors: readonly TensorDescriptor[], metadata: Readonly<Record<string, string>> | undefined): FileLayout {
  const seen = new Set<string>();
  for (const t of tensors) {
    checkName(t.name, 'write');
    if (seen.has(t.name)) throw new SafetensorsError('invalid-argument', 'tensor given twice', { key: t.name });
    seen.add(t.name);
    checkShape(t.shape, t.dtype, t.name);
  }
  const dataOrder = [...tensors].sort(
    (a, b) => dtypeInfo(b.dtype).size - dtypeInfo(a.dtype).size || compareCodePoints(a.name, b.name),
  );
  let offset = 0;
  const placed: PlacedTensor[] = dataOrder.map((t) => {
    const bytes = t.shape.reduce((a, d) => a * d, 1) * dtypeInfo(t.dtype).size;
    const p = { name: t.name, dtype: t.dtype, shape: [...t.shape], begin: offset, end: offset + bytes };
    offset += bytes;
    return p;
  });
  if (!Number.isSafeInteger(offset)) throw new SafetensorsError('size-overflow', `tensors total ${offset} bytes, more than 2^53 - 1`);

  const parts: string[] = [];
  if (metadata !== undefined) {
    const entries = Object.keys(metadata).sort(compareCodePoints).map((k) => {
      const v = metadata[k];
      if (typeof v !== 'string') {
        throw new SafetensorsError('invalid-argument', `metadata value for ${JSON.stringify(k)} must be a string, got ${typeof v}`, {
          key: METADATA_KEY,
        });
      }
      if (LONE_SURROGATE.test(k) || LONE_SURROGATE.test(v)) {
        throw new SafetensorsError('invalid-argument', `metadata entry ${JSON.stringify(k)} is not valid Unicode`, { key: METADATA_KEY });
      }
      return `${JSON.stringify(k)}:${JSON.stringify(v)}`;
    });
    parts.push(`${JSON.stringify(METADATA_KEY)}:{${entries.join(',')}}`);
  }
  for (const t of [...placed].sort((a, b) => compareCodePoints(a.name, b.name))) {
    parts.push(`${JSON.stringify(t.name)}:{"dtype":"${t.dtype}","shape":[${t.shape.join(',')}],"data_offsets":[${t.begin},${t.end}]}`);
  }
  const json = new TextEncoder().encode(`{${parts.join(',')}}`);
  const padded = Math.ceil((PREFIX_BYTES + json.length) / 8) * 8 - PREFIX_BYTES;
  if (padded > MAX_HEADER_BYTES) {
    throw new SafetensorsError('header-too-large', `the header would take ${padded} bytes, more than readers accept (${MAX_HEADER_BYTES})`);
  }
  const head = new Uint8Array(PREFIX_BYTES + padded).fill(0x20);
  new DataView(head.buffer).setBigUint64(0, BigInt(padded), true);
  head.set(json, PREFIX_BYTES);
  return { head, placed, dataLength: offset, totalLength: head.length + offset };
}
