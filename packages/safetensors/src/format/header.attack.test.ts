/**
 * The attack corpus: malformed files, each refused with its own error code, through both the
 * in-memory parser and the lazy file reader.
 */
import { existsSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SafetensorsError, type SafetensorsErrorCode } from '../errors.js';
import { parseSafetensors } from '../io/memory.js';
import { openSafetensors } from '../io/file-reader.js';
import { MAX_HEADER_BYTES, MAX_JSON_DEPTH, MAX_RANK } from '../limits.js';
import { rawFile, withTempDir, writeTemp } from '../test-support/raw.js';

interface Case {
  readonly name: string;
  readonly bytes: Uint8Array;
  readonly code: SafetensorsErrorCode;
  /** The tensor the error must name, when it is about one tensor. */
  readonly key?: string;
}

const enc = (s: string) => new TextEncoder().encode(s);
const concat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
};
const f32 = (shape: unknown, offsets: unknown) => ({ dtype: 'F32', shape, data_offsets: offsets });
const file = (header: Record<string, unknown> | string, data: number | Uint8Array = 0) =>
  rawFile(typeof header === 'string' ? header : JSON.stringify(header), data);

const CASES: Case[] = [
  // The 8-byte prefix.
  { name: 'empty file', bytes: new Uint8Array(0), code: 'file-too-small' },
  { name: 'seven bytes', bytes: new Uint8Array(7), code: 'file-too-small' },
  { name: 'header length 2^63', bytes: rawFile('{}', 0, 2n ** 63n), code: 'header-too-large' },
  { name: 'header length 2^64 - 1', bytes: rawFile('{}', 0, 2n ** 64n - 1n), code: 'header-too-large' },
  { name: 'header length just over the cap', bytes: rawFile('{}', 0, BigInt(MAX_HEADER_BYTES + 1)), code: 'header-too-large' },
  { name: 'header longer than the file', bytes: rawFile('{}', 0, 1000n), code: 'header-length-exceeds-file' },
  { name: 'header one byte longer than the file', bytes: rawFile('{}', 0, 3n), code: 'header-length-exceeds-file' },
  // The header's text.
  { name: 'zero-length header', bytes: rawFile(''), code: 'header-not-object' },
  { name: 'invalid UTF-8 byte', bytes: rawFile(concat(enc('{"a'), new Uint8Array([0xff]), enc('":1}'))), code: 'header-invalid-utf8' },
  { name: 'overlong UTF-8 encoding', bytes: rawFile(concat(enc('{"'), new Uint8Array([0xc0, 0xaf]), enc('":1}'))), code: 'header-invalid-utf8' },
  { name: 'UTF-8 encoded surrogate', bytes: rawFile(concat(enc('{"'), new Uint8Array([0xed, 0xa0, 0x80]), enc('":1}'))), code: 'header-invalid-utf8' },
  { name: 'truncated UTF-8 sequence', bytes: rawFile(concat(enc('{"'), new Uint8Array([0xe2, 0x82]), enc('":1}'))), code: 'header-invalid-utf8' },
  { name: 'header is an array', bytes: file('[]'), code: 'header-not-object' },
  { name: 'header is a string', bytes: file('"{}"'), code: 'header-not-object' },
  { name: 'leading whitespace', bytes: file(' {}'), code: 'header-not-object' },
  { name: 'truncated JSON', bytes: file('{"a":'), code: 'header-invalid-json' },
  { name: 'garbage after the object', bytes: file('{} x'), code: 'header-invalid-json' },
  { name: 'second object after the first', bytes: file('{}{}'), code: 'header-invalid-json' },
  { name: 'trailing comma', bytes: file(`{"a":${JSON.stringify(f32([2], [0, 8]))},}`, 8), code: 'header-invalid-json' },
  { name: 'single-quoted key', bytes: file("{'a':1}"), code: 'header-invalid-json' },
  { name: 'NaN literal', bytes: file('{"a":{"dtype":"F32","shape":[NaN],"data_offsets":[0,0]}}'), code: 'header-invalid-json' },
  { name: 'raw control character in a string', bytes: file('{"a\u0001":1}'), code: 'header-invalid-json' },
  { name: 'lone surrogate escape', bytes: file('{"\\ud800":1}'), code: 'header-invalid-json' },
  { name: 'bad escape', bytes: file('{"\\x41":1}'), code: 'header-invalid-json' },
  { name: 'leading zero number', bytes: file('{"a":{"dtype":"F32","shape":[02],"data_offsets":[0,8]}}', 8), code: 'header-invalid-json' },
  {
    name: `nesting deeper than ${MAX_JSON_DEPTH}`,
    bytes: file(`{"a":${'['.repeat(MAX_JSON_DEPTH + 5)}${']'.repeat(MAX_JSON_DEPTH + 5)}}`),
    code: 'header-too-deep',
  },
  // Duplicates that JSON.parse would silently merge.
  {
    name: 'duplicate tensor name',
    bytes: file(`{"a":${JSON.stringify(f32([2], [0, 8]))},"a":${JSON.stringify(f32([2], [8, 16]))}}`, 16),
    code: 'duplicate-key',
  },
  {
    name: 'duplicate name spelled with an escape',
    bytes: file(`{"a":${JSON.stringify(f32([2], [0, 8]))},"\\u0061":${JSON.stringify(f32([2], [8, 16]))}}`, 16),
    code: 'duplicate-key',
  },
  { name: 'duplicate field in an entry', bytes: file('{"a":{"dtype":"F32","dtype":"F64","shape":[2],"data_offsets":[0,8]}}', 8), code: 'duplicate-key' },
  { name: 'duplicate __metadata__', bytes: file('{"__metadata__":{},"__metadata__":{}}'), code: 'duplicate-key' },
  // __metadata__.
  { name: 'metadata value is a number', bytes: file({ __metadata__: { format: 1 } }), code: 'metadata-invalid', key: '__metadata__' },
  { name: 'metadata value is null', bytes: file({ __metadata__: { format: null } }), code: 'metadata-invalid', key: '__metadata__' },
  { name: 'metadata value is an object', bytes: file({ __metadata__: { format: { a: 'b' } } }), code: 'metadata-invalid', key: '__metadata__' },
  { name: 'metadata is an array', bytes: file({ __metadata__: ['pt'] }), code: 'metadata-invalid', key: '__metadata__' },
  { name: 'metadata is null', bytes: file({ __metadata__: null }), code: 'metadata-invalid', key: '__metadata__' },
  // One tensor entry.
  { name: 'entry is a number', bytes: file({ a: 5 }), code: 'tensor-info-invalid', key: 'a' },
  { name: 'entry is an array', bytes: file({ a: ['F32', [2], [0, 8]] }, 8), code: 'tensor-info-invalid', key: 'a' },
  { name: 'missing data_offsets', bytes: file({ a: { dtype: 'F32', shape: [2] } }, 8), code: 'tensor-info-invalid', key: 'a' },
  { name: 'missing dtype', bytes: file({ a: { shape: [2], data_offsets: [0, 8] } }, 8), code: 'tensor-info-invalid', key: 'a' },
  { name: 'unknown field', bytes: file({ a: { ...f32([2], [0, 8]), offset: 0 } }, 8), code: 'tensor-info-invalid', key: 'a' },
  { name: 'dtype is a number', bytes: file({ a: { dtype: 4, shape: [2], data_offsets: [0, 8] } }, 8), code: 'tensor-info-invalid', key: 'a' },
  { name: 'unknown dtype', bytes: file({ a: { dtype: 'F128', shape: [2], data_offsets: [0, 32] } }, 32), code: 'unknown-dtype', key: 'a' },
  { name: 'lower-case dtype', bytes: file({ a: { dtype: 'f32', shape: [2], data_offsets: [0, 8] } }, 8), code: 'unknown-dtype', key: 'a' },
  { name: 'shape is a number', bytes: file({ a: f32(2, [0, 8]) }, 8), code: 'invalid-shape', key: 'a' },
  { name: 'negative dimension', bytes: file({ a: f32([-2], [0, 8]) }, 8), code: 'invalid-shape', key: 'a' },
  { name: 'minus zero dimension', bytes: file('{"a":{"dtype":"F32","shape":[-0],"data_offsets":[0,0]}}'), code: 'invalid-shape', key: 'a' },
  { name: 'fractional dimension', bytes: file({ a: f32([2.5], [0, 10]) }, 10), code: 'invalid-shape', key: 'a' },
  { name: 'integral dimension written as 2.0', bytes: file('{"a":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}}', 8), code: 'invalid-shape', key: 'a' },
  { name: 'dimension in exponent form', bytes: file('{"a":{"dtype":"F32","shape":[2e0],"data_offsets":[0,8]}}', 8), code: 'invalid-shape', key: 'a' },
  { name: 'dimension is a string', bytes: file({ a: f32(['2'], [0, 8]) }, 8), code: 'invalid-shape', key: 'a' },
  { name: `rank ${MAX_RANK + 1}`, bytes: file({ a: f32(new Array(MAX_RANK + 1).fill(1), [0, 4]) }, 4), code: 'invalid-shape', key: 'a' },
  { name: 'dimension product overflows 2^53', bytes: file({ a: f32([2 ** 31, 2 ** 31, 2 ** 31], [0, 8]) }, 8), code: 'size-overflow', key: 'a' },
  { name: 'dimension above 2^64', bytes: file('{"a":{"dtype":"F32","shape":[18446744073709551617],"data_offsets":[0,8]}}', 8), code: 'size-overflow', key: 'a' },
  { name: 'byte count overflows though elements fit', bytes: file({ a: { dtype: 'F64', shape: [2 ** 51], data_offsets: [0, 8] } }, 8), code: 'size-overflow', key: 'a' },
  { name: 'offsets is a number', bytes: file({ a: f32([2], 0) }, 8), code: 'invalid-offsets', key: 'a' },
  { name: 'three offsets', bytes: file({ a: f32([2], [0, 8, 16]) }, 8), code: 'invalid-offsets', key: 'a' },
  { name: 'one offset', bytes: file({ a: f32([2], [8]) }, 8), code: 'invalid-offsets', key: 'a' },
  { name: 'offsets are strings', bytes: file({ a: f32([2], ['0', '8']) }, 8), code: 'invalid-offsets', key: 'a' },
  { name: 'offsets are not integers', bytes: file('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0.0,8]}}', 8), code: 'invalid-offsets', key: 'a' },
  { name: 'negative offset', bytes: file({ a: f32([2], [-8, 0]) }, 8), code: 'invalid-offsets', key: 'a' },
  { name: 'offset beyond 2^53', bytes: file('{"a":{"dtype":"F32","shape":[2],"data_offsets":[18446744073709551615,18446744073709551623]}}', 8), code: 'invalid-offsets', key: 'a' },
  { name: 'begin after end', bytes: file({ a: f32([0], [8, 0]) }, 8), code: 'offsets-reversed', key: 'a' },
  { name: 'span smaller than the shape needs', bytes: file({ a: f32([2], [0, 4]) }, 4), code: 'size-mismatch', key: 'a' },
  { name: 'span larger than the shape needs', bytes: file({ a: f32([2], [0, 12]) }, 12), code: 'size-mismatch', key: 'a' },
  { name: 'scalar with no bytes', bytes: file({ a: f32([], [0, 0]) }), code: 'size-mismatch', key: 'a' },
  // The offsets together.
  { name: 'overlapping tensors', bytes: file({ a: f32([2], [0, 8]), b: f32([2], [4, 12]) }, 12), code: 'offsets-overlap', key: 'b' },
  { name: 'two tensors on the same bytes', bytes: file({ a: f32([2], [0, 8]), b: f32([2], [0, 8]) }, 8), code: 'offsets-overlap' },
  { name: 'gap between tensors', bytes: file({ a: f32([2], [0, 8]), b: f32([2], [12, 20]) }, 20), code: 'offsets-gap', key: 'b' },
  { name: 'first tensor not at offset 0', bytes: file({ a: f32([2], [4, 12]) }, 12), code: 'offsets-gap', key: 'a' },
  { name: 'offsets past the end of the data', bytes: file({ a: f32([2], [0, 8]), b: f32([4], [8, 24]) }, 8), code: 'data-truncated', key: 'b' },
  { name: 'truncated data', bytes: file({ a: f32([16], [0, 64]) }, 63), code: 'data-truncated', key: 'a' },
  { name: 'bytes after the last tensor', bytes: file({ a: f32([2], [0, 8]) }, 9), code: 'data-trailing-bytes' },
  { name: 'no tensors but data', bytes: file({}, 4), code: 'data-trailing-bytes' },
];

describe('attack corpus', () => {
  it('has at least 30 distinct malformed files and covers every header error code', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(30);
    expect(new Set(CASES.map((c) => c.name)).size).toBe(CASES.length);
    const codes = new Set(CASES.map((c) => c.code));
    for (const code of [
      'file-too-small', 'header-too-large', 'header-length-exceeds-file', 'header-invalid-utf8', 'header-invalid-json',
      'header-too-deep', 'header-not-object', 'duplicate-key', 'metadata-invalid', 'tensor-info-invalid', 'unknown-dtype',
      'invalid-shape', 'size-overflow', 'invalid-offsets', 'offsets-reversed', 'size-mismatch', 'offsets-overlap',
      'offsets-gap', 'data-truncated', 'data-trailing-bytes',
    ] as const) {
      expect(codes, code).toContain(code);
    }
  });

  it.each(CASES)('in memory: $name → $code', ({ bytes, code, key }) => {
    let error: unknown;
    try {
      parseSafetensors(bytes, { name: 'attack.safetensors' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(SafetensorsError);
    const e = error as SafetensorsError;
    expect(e.code).toBe(code);
    expect(e.file).toBe('attack.safetensors');
    expect(e.message).toContain('attack.safetensors');
    if (key !== undefined) {
      expect(e.key).toBe(key);
      expect(e.message).toContain(JSON.stringify(key));
    }
  });

  it('from files: every case fails with the same code, and no file handle stays open', async () => {
    const openFds = () => (existsSync('/proc/self/fd') ? readdirSync('/proc/self/fd').length : 0);
    const before = openFds();
    await withTempDir(async (dir) => {
      for (const [i, c] of CASES.entries()) {
        const path = await writeTemp(dir, `case-${i}.safetensors`, c.bytes);
        const error = await openSafetensors(path).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(error, c.name).toBeInstanceOf(SafetensorsError);
        expect((error as SafetensorsError).code, c.name).toBe(c.code);
        expect((error as SafetensorsError).file, c.name).toBe(path);
      }
    });
    // Every refused file was closed again (Linux shows descriptors in /proc).
    expect(openFds()).toBeLessThanOrEqual(before);
  });

  it('reports where in the file things go wrong', () => {
    const bad = rawFile(concat(enc('{"abc'), new Uint8Array([0xff]), enc('":1}')));
    expect(() => parseSafetensors(bad)).toThrow(expect.objectContaining({ code: 'header-invalid-utf8', offset: 8 + 5 }));
    const dup = file(`{"a":${JSON.stringify(f32([2], [0, 8]))},"a":${JSON.stringify(f32([2], [8, 16]))}}`, 16);
    const at = 8 + `{"a":${JSON.stringify(f32([2], [0, 8]))},`.length;
    expect(() => parseSafetensors(dup)).toThrow(expect.objectContaining({ code: 'duplicate-key', offset: at }));
    const gap = file({ a: f32([2], [0, 8]), b: f32([2], [12, 20]) }, 20);
    expect(() => parseSafetensors(gap)).toThrow(expect.objectContaining({ code: 'offsets-gap', offset: 8 }));
  });
});

describe('edge cases that are valid', () => {
  it('accepts an empty header with no data', () => {
    const st = parseSafetensors(file('{}'));
    expect(st.tensors).toEqual([]);
    expect(st.metadata).toBeUndefined();
  });

  it('accepts trailing space padding and whitespace inside the JSON', () => {
    const st = parseSafetensors(file(`{ "a" : ${JSON.stringify(f32([2], [0, 8]))} }\n    `, new Uint8Array(8)));
    expect(st.info('a')).toMatchObject({ dtype: 'F32', shape: [2], begin: 0, end: 8 });
  });

  it('accepts zero-size tensors sharing an offset, and scalars', () => {
    const st = parseSafetensors(
      file(
        {
          e1: f32([0, 5], [0, 0]),
          e2: { dtype: 'F64', shape: [3, 0], data_offsets: [0, 0] },
          s: f32([], [0, 4]),
          z: { dtype: 'U8', shape: [0], data_offsets: [4, 4] },
        },
        4,
      ),
    );
    expect(st.info('s').numel).toBe(1);
    expect(st.info('e1').numel).toBe(0);
    expect(st.float32Sync('e2')).toEqual(new Float32Array(0));
  });

  it('accepts huge dimensions when another dimension is zero', () => {
    const st = parseSafetensors(file('{"a":{"dtype":"F32","shape":[0,9007199254740991],"data_offsets":[0,0]}}'));
    expect(st.info('a').numel).toBe(0);
  });

  it('keeps metadata as a prototype-less map of strings', () => {
    const st = parseSafetensors(file({ __metadata__: { __proto__x: 'a', constructor: 'b' } }));
    expect(st.metadata).toEqual(Object.assign(Object.create(null), { __proto__x: 'a', constructor: 'b' }));
  });
});
