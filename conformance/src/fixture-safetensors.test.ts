import { describe, expect, it } from 'vitest';
import { SafetensorsError, serializeSafetensors } from '@normbridge/safetensors';
import { decodeSafetensors } from './fixture-safetensors.js';
import { FixtureError } from './fixture-schema.js';
import { rawFile } from '@normbridge/testing';

const withHeader = (header: unknown, data: Uint8Array = new Uint8Array(0)): Uint8Array => rawFile(JSON.stringify(header), data);

function errorOf(bytes: Uint8Array): FixtureError {
  try {
    decodeSafetensors(bytes, 't.safetensors');
  } catch (e) {
    expect(e).toBeInstanceOf(FixtureError);
    return e as FixtureError;
  }
  throw new Error('expected a rejection');
}

const fieldOf = (bytes: Uint8Array): string => errorOf(bytes).field;

describe('fixture safetensors reader', () => {
  it('round-trips F32, F64, I64 scalars and BOOL masks', () => {
    const bytes = serializeSafetensors(
      {
        x: { dtype: 'F32', shape: [2, 2], data: [1, -2.5, 3, 0.1] },
        d: { dtype: 'F64', shape: [3], data: [0.1, 1e-300, -7] },
        n: { dtype: 'I64', shape: [], data: BigInt64Array.of(7n) },
        m: { dtype: 'BOOL', shape: [2], data: Uint8Array.of(1, 0) },
      },
      { metadata: { format: 'normbridge-fixture/1' } },
    );
    expect(Number(new DataView(bytes.buffer).getBigUint64(0, true)) % 8).toBe(0); // data starts 8-aligned
    const f = decodeSafetensors(bytes);
    expect(f.metadata).toEqual({ format: 'normbridge-fixture/1' });
    const x = f.tensors.get('x')!;
    expect(x.dtype).toBe('float32');
    expect(x.shape).toEqual([2, 2]);
    expect(Array.from(x.data as Float32Array)).toEqual([1, -2.5, 3, Math.fround(0.1)]);
    expect(Array.from(f.tensors.get('d')!.data as Float64Array)).toEqual([0.1, 1e-300, -7]);
    const n = f.tensors.get('n')!;
    expect(n.dtype).toBe('int64');
    expect(n.shape).toEqual([]);
    expect(n.data[0]).toBe(7n);
    expect(f.storedDtypes.get('m')).toBe('BOOL');
    expect(Array.from(f.tensors.get('m')!.data as Float32Array)).toEqual([1, 0]);
  });

  it('widens F16 and BF16', () => {
    const data = new Uint8Array([0x00, 0x3c, 0x00, 0xc0, 0x80, 0x3f, 0x40, 0x40]); // f16 1, -2; bf16 1, 3
    const f = decodeSafetensors(
      withHeader(
        { h: { dtype: 'F16', shape: [2], data_offsets: [0, 4] }, b: { dtype: 'BF16', shape: [2], data_offsets: [4, 8] } },
        data,
      ),
    );
    expect(Array.from(f.tensors.get('h')!.data as Float32Array)).toEqual([1, -2]);
    expect(f.tensors.get('h')!.dtype).toBe('float16');
    expect(Array.from(f.tensors.get('b')!.data as Float32Array)).toEqual([1, 3]);
  });

  it('rejects a truncated file and an oversized header length', () => {
    expect(fieldOf(new Uint8Array(4))).toBe('(header length)');
    const bytes = withHeader({});
    new DataView(bytes.buffer).setBigUint64(0, 1000n, true);
    expect(fieldOf(bytes)).toBe('(header length)');
  });

  it('rejects an unsupported dtype, naming the tensor', () => {
    expect(fieldOf(withHeader({ q: { dtype: 'I8', shape: [1], data_offsets: [0, 1] } }, new Uint8Array(1)))).toBe('q.dtype');
  });

  it('rejects offsets that do not match the shape', () => {
    expect(fieldOf(withHeader({ q: { dtype: 'F32', shape: [2], data_offsets: [0, 4] } }, new Uint8Array(4)))).toBe('q.data_offsets');
  });

  it('rejects gaps, overlaps and trailing bytes', () => {
    const gap = withHeader(
      { a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] }, b: { dtype: 'F32', shape: [1], data_offsets: [8, 12] } },
      new Uint8Array(12),
    );
    expect(fieldOf(gap)).toBe('b.data_offsets');
    const overlap = withHeader(
      { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } },
      new Uint8Array(8),
    );
    expect(fieldOf(overlap)).toBe('b.data_offsets');
    expect(fieldOf(withHeader({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, new Uint8Array(8)))).toBe('(data)');
  });

  it('rejects unknown header keys and non-string metadata, naming the entry and the key', () => {
    const extra = errorOf(withHeader({ a: { dtype: 'F32', shape: [0], data_offsets: [0, 0], extra: 1 } }));
    expect(extra.field).toBe('a');
    expect(extra.message).toMatch(/unknown field "extra"/);
    const metadata = errorOf(withHeader({ __metadata__: { k: 1 } }));
    expect(metadata.field).toBe('__metadata__');
    expect(metadata.message).toMatch(/"k" must be a string/);
  });

  it('keeps the reader\'s typed error as the cause', () => {
    const e = errorOf(withHeader({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 4] } }, new Uint8Array(4)));
    expect(e.cause).toBeInstanceOf(SafetensorsError);
    expect((e.cause as SafetensorsError).code).toBe('size-mismatch');
    expect(e.message).toMatch(/t\.safetensors/);
  });

  it('refuses a duplicate tensor name and a header that is not JSON', () => {
    const dup = new TextEncoder().encode('{"a":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"a":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}}');
    expect(fieldOf(rawFile(dup))).toBe('(header)');
    expect(fieldOf(rawFile(new TextEncoder().encode('{"a":')))).toBe('(header)');
  });

  it('rejects a BOOL byte other than 0 or 1', () => {
    expect(fieldOf(withHeader({ m: { dtype: 'BOOL', shape: [1], data_offsets: [0, 1] } }, new Uint8Array([2])))).toBe('m');
  });
});
