import { readFile, open } from 'node:fs/promises';
import { join } from 'node:path';
import { hostTensor, int64Scalar } from '@normbridge/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SafetensorsError } from '../errors.js';
import { SAFETENSORS_DTYPES, dtypeInfo, nativeArrayType, type SafetensorsDtype } from '../format/dtypes.js';
import { decodeToFloat32 } from '../format/decode.js';
import { pseudoRandomBytes, rawFile, withTempDir, writeTemp } from '../test-support/raw.js';
import { openSafetensors } from './file-reader.js';
import { parseSafetensors } from './memory.js';
import { serializeSafetensors } from './serialize-memory.js';
import { writeSafetensorsFile } from './file-writer.js';
import type { TensorInput } from './tensor-input.js';

/** Raw bytes that are valid for the dtype (BOOL holds only 0 and 1). */
function validBytes(dtype: SafetensorsDtype, n: number, seed: number): Uint8Array {
  const b = pseudoRandomBytes(n * dtypeInfo(dtype).size, seed);
  return dtype === 'BOOL' ? b.map((x) => x & 1) : b;
}

function nativeOf(dtype: SafetensorsDtype, bytes: Uint8Array) {
  const Ctor = nativeArrayType(dtype);
  return new Ctor(bytes.slice().buffer);
}

describe('write → read is exact for every dtype', () => {
  const shapes = [[], [0], [7], [3, 5], [2, 3, 4]];
  const tensors = new Map<string, TensorInput>();
  const expected = new Map<string, Uint8Array>();
  SAFETENSORS_DTYPES.forEach((dtype, i) => {
    shapes.forEach((shape, j) => {
      const n = shape.reduce((a, d) => a * d, 1);
      const bytes = validBytes(dtype, n, 100 * i + j + 1);
      const name = `${dtype}/${j}`;
      expected.set(name, bytes);
      // Half go in as raw bytes, half as the dtype's native typed array.
      tensors.set(name, j % 2 === 0 ? { dtype, shape, bytes } : { dtype, shape, data: nativeOf(dtype, bytes) });
    });
  });

  it('in memory', async () => {
    const st = parseSafetensors(serializeSafetensors(tensors, { metadata: { format: 'pt' } }));
    expect(st.metadata).toEqual(Object.assign(Object.create(null), { format: 'pt' }));
    expect(st.tensors).toHaveLength(expected.size);
    for (const [name, bytes] of expected) {
      expect(st.view(name), name).toEqual(bytes);
      const reused = new Float32Array(st.info(name).numel).fill(-1);
      expect(await st.float32Into(name, reused)).toEqual(st.float32Sync(name));
      expect(st.nativeSync(name), name).toEqual(nativeOf(st.info(name).dtype, bytes));
    }
  });

  it('through a file, lazily, with the same bytes as in memory', async () => {
    await withTempDir(async (dir) => {
      const path = join(dir, 'all.safetensors');
      const result = await writeSafetensorsFile(path, tensors, { metadata: { format: 'pt' } });
      const onDisk = new Uint8Array(await readFile(path));
      expect(onDisk).toEqual(serializeSafetensors(tensors, { metadata: { format: 'pt' } }));
      expect(result).toEqual({ path, bytes: onDisk.length, tensors: expected.size });
      const f = await openSafetensors(path);
      try {
        for (const [name, bytes] of expected) {
          expect(await f.bytes(name), name).toEqual(bytes);
          expect(await f.native(name), name).toEqual(nativeOf(f.info(name).dtype, bytes));
          const floats = decodeToFloat32(bytes, f.info(name).dtype);
          expect(await f.float32(name), name).toEqual(floats);
          // Into a caller's array, whatever it held before.
          const reused = new Float32Array(floats.length).fill(123);
          expect(await f.float32Into(name, reused), name).toBe(reused);
          expect(reused, name).toEqual(floats);
        }
      } finally {
        await f.close();
      }
      await expect(f.bytes('F32/1')).rejects.toMatchObject({ code: 'closed' });
      await expect(f.float32Into('F32/1', new Float32Array(3))).rejects.toMatchObject({ code: 'invalid-argument', key: 'F32/1' });
    });
  });

  it('random tensors round-trip through serialize and parse', () => {
    const dtypeArb = fc.constantFrom(...SAFETENSORS_DTYPES);
    const entry = fc.record({
      dtype: dtypeArb,
      shape: fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 4 }),
      seed: fc.integer({ min: 1, max: 1e6 }),
    });
    fc.assert(
      fc.property(fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }).filter((s) => s !== '__metadata__'), entry, { maxKeys: 6 }), (spec) => {
        const input = new Map<string, TensorInput>();
        for (const [name, e] of Object.entries(spec)) {
          const n = e.shape.reduce((a, d) => a * d, 1);
          input.set(name, { dtype: e.dtype, shape: e.shape, bytes: validBytes(e.dtype, n, e.seed) });
        }
        let st;
        try {
          st = parseSafetensors(serializeSafetensors(input));
        } catch (e) {
          // Names with lone surrogates are refused by the writer, never written.
          expect((e as SafetensorsError).code).toBe('invalid-argument');
          return;
        }
        for (const [name, t] of input) {
          expect(st.info(name).shape).toEqual(t.shape);
          expect(st.view(name)).toEqual((t as { bytes: Uint8Array }).bytes);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('the writer is deterministic and aligned', () => {
  const a = { dtype: 'F16' as const, shape: [3], data: new Uint16Array([1, 2, 3]) };
  const b = { dtype: 'F64' as const, shape: [1], data: new Float64Array([0.5]) };
  const c = { dtype: 'U8' as const, shape: [5], data: new Uint8Array([1, 2, 3, 4, 5]) };
  const d = { dtype: 'I32' as const, shape: [1], data: new Int32Array([-7]) };

  it('gives the same bytes whatever the insertion order', () => {
    const one = serializeSafetensors(new Map<string, TensorInput>([['a', a], ['b', b], ['c', c], ['d', d]]), { metadata: { y: '1', x: '2' } });
    const two = serializeSafetensors(new Map<string, TensorInput>([['d', d], ['c', c], ['b', b], ['a', a]]), { metadata: { x: '2', y: '1' } });
    expect(one).toEqual(two);
  });

  it('writes sorted JSON with __metadata__ first, padded with spaces to 8 bytes', () => {
    const bytes = serializeSafetensors({ zeta: a, alpha: b, 'Beta': c, 'é': d }, { metadata: { k: 'v' } });
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect((8 + n) % 8).toBe(0);
    const text = new TextDecoder().decode(bytes.subarray(8, 8 + n));
    expect(text.trimEnd().length).toBeGreaterThan(n - 8);
    expect(/^ *$/.test(text.slice(text.trimEnd().length))).toBe(true);
    const keys = [...text.trimEnd().matchAll(/"([^"]+)":\{"(?:dtype|k)/g)].map((m) => m[1]);
    expect(keys).toEqual(['__metadata__', 'Beta', 'alpha', 'zeta', 'é']);
  });

  it('places every tensor at a multiple of its element size', () => {
    const st = parseSafetensors(serializeSafetensors({ a, b, c, d }));
    for (const t of st.tensors) expect((st.header.dataStart + t.begin) % dtypeInfo(t.dtype).size).toBe(0);
    expect(st.tensors.map((t) => t.name)).toEqual(['b', 'd', 'a', 'c']);
  });

  it('refuses bad input with typed errors before touching anything', () => {
    const bad: [TensorInput | unknown, string][] = [
      [{ dtype: 'F32', shape: [3], data: new Float32Array(2) }, 'invalid-argument'],
      [{ dtype: 'F32', shape: [-1], data: new Float32Array(0) }, 'invalid-argument'],
      [{ dtype: 'F32', shape: [1.5], data: new Float32Array(1) }, 'invalid-argument'],
      [{ dtype: 'I32', shape: [1], data: new Float32Array(1) }, 'invalid-argument'],
      [{ dtype: 'I64', shape: [1], data: new Int32Array(1) }, 'invalid-argument'],
      [{ dtype: 'BOOL', shape: [2], data: new Uint8Array([0, 2]) }, 'invalid-argument'],
      [{ dtype: 'Q4', shape: [1], data: new Uint8Array(1) }, 'invalid-argument'],
      [{ dtype: 'F32', shape: [2], bytes: new Uint8Array(7) }, 'invalid-argument'],
      [{ dtype: 'F32', shape: [2 ** 30, 2 ** 30], bytes: new Uint8Array(0) }, 'size-overflow'],
      [null, 'invalid-argument'],
    ];
    for (const [input, code] of bad) {
      expect(() => serializeSafetensors({ t: input as TensorInput }), JSON.stringify(input)).toThrow(expect.objectContaining({ code }));
    }
    expect(() => serializeSafetensors({ __metadata__: a })).toThrow(expect.objectContaining({ code: 'invalid-argument' }));
    expect(() => serializeSafetensors({ ['\ud800']: a })).toThrow(expect.objectContaining({ code: 'invalid-argument' }));
    expect(() => serializeSafetensors([['x', a], ['x', b]])).toThrow(expect.objectContaining({ code: 'invalid-argument', key: 'x' }));
    expect(() => serializeSafetensors({ a }, { metadata: { k: 1 as unknown as string } })).toThrow(
      expect.objectContaining({ code: 'invalid-argument' }),
    );
    expect(() => serializeSafetensors({ a: { dtype: 'F32', shape: [1], read: async () => new Uint8Array(4) } })).toThrow(
      expect.objectContaining({ code: 'invalid-argument' }),
    );
  });
});

describe('inputs', () => {
  it('encodes floats into every float dtype, rounding to nearest even', () => {
    const values = [0, -0, 1, -2.5, 1 / 3, 65504, 1e-8, Infinity, -Infinity];
    const st = parseSafetensors(
      serializeSafetensors({
        f64: { dtype: 'F64', shape: [9], data: values },
        f32: { dtype: 'F32', shape: [9], data: new Float64Array(values) },
        f16: { dtype: 'F16', shape: [9], data: new Float32Array(values) },
        bf16: { dtype: 'BF16', shape: [9], data: values },
        e4m3: { dtype: 'F8_E4M3', shape: [9], data: values },
        e5m2: { dtype: 'F8_E5M2', shape: [9], data: values },
      }),
    );
    expect([...(st.nativeSync('f64') as Float64Array)]).toEqual(values);
    expect([...st.float32Sync('f32')]).toEqual(values.map(Math.fround));
    // 1e-8 is below half the smallest F16 subnormal (2^-25), so it rounds to zero.
    expect([...st.float32Sync('f16')]).toEqual([0, -0, 1, -2.5, 0.333251953125, 65504, 0, Infinity, -Infinity]);
    expect([...st.float32Sync('bf16')].slice(0, 4)).toEqual([0, -0, 1, -2.5]);
    expect(st.float32Sync('bf16')[4]).toBe(0.333984375);
    expect([...st.float32Sync('e4m3')].slice(0, 4)).toEqual([0, -0, 1, -2.5]);
    expect(st.float32Sync('e4m3')[5]).toBeNaN(); // 65504 overflows E4M3, which has no infinity
    expect(st.float32Sync('e5m2')[5]).toBe(Infinity); // past 57344 + half an ulp (61440)
    expect(st.float32Sync('e5m2')[4]).toBe(0.3125);
  });

  it('takes HostTensor and Int64Tensor from @normbridge/core', () => {
    const st = parseSafetensors(
      serializeSafetensors({
        h32: hostTensor([2], [1.5, -2]),
        h64: hostTensor([2], new Float64Array([0.1, 0.2])),
        h16: { shape: [2], data: new Float32Array([0.5, 1024]), dtype: 'float16' },
        hb16: { shape: [1], data: new Float32Array([3]), dtype: 'bfloat16' },
        count: int64Scalar(2n ** 40n + 3n),
      }),
    );
    expect(st.info('h32').dtype).toBe('F32');
    expect(st.info('h64').dtype).toBe('F64');
    expect([...(st.nativeSync('h64') as Float64Array)]).toEqual([0.1, 0.2]);
    expect(st.info('h16').dtype).toBe('F16');
    expect([...st.float32Sync('h16')]).toEqual([0.5, 1024]);
    expect(st.info('hb16').dtype).toBe('BF16');
    expect(st.info('count')).toMatchObject({ dtype: 'I64', shape: [] });
    expect(st.nativeSync('count')).toEqual(BigInt64Array.of(2n ** 40n + 3n));
  });

  it('streams lazy inputs into files and checks their length', async () => {
    await withTempDir(async (dir) => {
      const path = join(dir, 'lazy.safetensors');
      await writeSafetensorsFile(path, { x: { dtype: 'U8', shape: [3], read: async () => new Uint8Array([7, 8, 9]) } });
      const f = await openSafetensors(path);
      expect(await f.bytes('x')).toEqual(new Uint8Array([7, 8, 9]));
      await f.close();
      await expect(
        writeSafetensorsFile(path, { x: { dtype: 'U8', shape: [3], read: async () => new Uint8Array(2) } }),
      ).rejects.toMatchObject({ code: 'invalid-argument', key: 'x' });
      // The failed write left the earlier file alone.
      expect(new Uint8Array(await readFile(path))).toEqual(serializeSafetensors({ x: { dtype: 'U8', shape: [3], data: new Uint8Array([7, 8, 9]) } }));
    });
  });
});

describe('reading', () => {
  it('handles tensors at unaligned offsets without typed-array views on them', async () => {
    // F16 [3] (6 bytes) then F32 and F64: their data starts 2 bytes past alignment.
    const f16 = new Uint16Array([0x3c00, 0xc000, 0x7bff]);
    const f32 = new Float32Array([1.25, -3.5]);
    const f64 = new Float64Array([Math.PI]);
    const i64 = new BigInt64Array([-5n]);
    const header = JSON.stringify({
      a: { dtype: 'F16', shape: [3], data_offsets: [0, 6] },
      b: { dtype: 'F32', shape: [2], data_offsets: [6, 14] },
      c: { dtype: 'F64', shape: [1], data_offsets: [14, 22] },
      d: { dtype: 'I64', shape: [1], data_offsets: [22, 30] },
    });
    // An odd header length puts the data region itself at an odd file offset.
    const padded = header + ' '.repeat((header.length % 2) + 1);
    const data = new Uint8Array(30);
    data.set(new Uint8Array(f16.buffer), 0);
    data.set(new Uint8Array(f32.buffer), 6);
    data.set(new Uint8Array(f64.buffer), 14);
    data.set(new Uint8Array(i64.buffer), 22);
    const bytes = rawFile(padded, data);
    // In memory, also from a buffer that itself starts at an odd offset.
    const shifted = new Uint8Array(bytes.length + 1);
    shifted.set(bytes, 1);
    for (const st of [parseSafetensors(bytes), parseSafetensors(shifted.subarray(1))]) {
      expect([...st.float32Sync('a')]).toEqual([1, -2, 65504]);
      expect(st.float32Sync('b')).toEqual(f32);
      expect(st.nativeSync('c')).toEqual(f64);
      expect(st.float32Sync('c')).toEqual(new Float32Array([Math.PI]));
      expect(st.nativeSync('d')).toEqual(i64);
      expect(st.float32Sync('d')).toEqual(new Float32Array([-5]));
    }
    await withTempDir(async (dir) => {
      const f = await openSafetensors(await writeTemp(dir, 'odd.safetensors', bytes));
      expect([...(await f.float32('a'))]).toEqual([1, -2, 65504]);
      expect(await f.float32('b')).toEqual(f32);
      expect(await f.native('c')).toEqual(f64);
      await f.close();
    });
  });

  it('converts every dtype to float32', () => {
    const st = parseSafetensors(
      serializeSafetensors({
        i8: { dtype: 'I8', shape: [2], data: new Int8Array([-128, 127]) },
        u16: { dtype: 'U16', shape: [1], data: new Uint16Array([65535]) },
        i32: { dtype: 'I32', shape: [1], data: new Int32Array([-(2 ** 31)]) },
        u32: { dtype: 'U32', shape: [1], data: new Uint32Array([2 ** 32 - 1]) },
        u64: { dtype: 'U64', shape: [1], data: new BigUint64Array([2n ** 64n - 1n]) },
        bool: { dtype: 'BOOL', shape: [3], data: new Uint8Array([1, 0, 1]) },
      }),
    );
    expect([...st.float32Sync('i8')]).toEqual([-128, 127]);
    expect([...st.float32Sync('u16')]).toEqual([65535]);
    expect([...st.float32Sync('i32')]).toEqual([-(2 ** 31)]);
    expect([...st.float32Sync('u32')]).toEqual([2 ** 32]);
    expect([...st.float32Sync('u64')]).toEqual([2 ** 64]);
    expect([...st.float32Sync('bool')]).toEqual([1, 0, 1]);
    expect(() => st.info('nope')).toThrow(expect.objectContaining({ code: 'tensor-not-found', key: 'nope' }));
  });

  it('inspects a file far larger than memory and loads its small tensors one by one', async () => {
    await withTempDir(async (dir) => {
      // A sparse file whose first tensor claims 64 GiB: opening reads the header only.
      const huge = 2 ** 36;
      const header = JSON.stringify({
        huge: { dtype: 'U8', shape: [huge], data_offsets: [0, huge] },
        small: { dtype: 'F32', shape: [2], data_offsets: [huge, huge + 8] },
      });
      const path = join(dir, 'huge.safetensors');
      const fh = await open(path, 'w');
      const head = rawFile(header);
      await fh.write(head, 0, head.length, 0);
      await fh.write(new Uint8Array(new Float32Array([4, 5]).buffer), 0, 8, head.length + huge);
      await fh.close();
      const f = await openSafetensors(path);
      expect(f.info('huge').byteLength).toBe(huge);
      expect(await f.float32('small')).toEqual(new Float32Array([4, 5]));
      await expect(f.bytes('huge')).rejects.toMatchObject({ code: 'tensor-too-large', key: 'huge' });
      await f.close();
    });
  });

  it('reports a file that shrank after it was opened', async () => {
    await withTempDir(async (dir) => {
      const path = join(dir, 'shrink.safetensors');
      await writeSafetensorsFile(path, { a: { dtype: 'F32', shape: [1000], data: new Float32Array(1000) } });
      const f = await openSafetensors(path);
      const fh = await open(path, 'r+');
      await fh.truncate(100);
      await fh.close();
      await expect(f.bytes('a')).rejects.toMatchObject({ code: 'file-changed', file: path });
      await f.close();
    });
  });

  it('refuses a missing file with a typed error', async () => {
    await expect(openSafetensors('/nonexistent/x.safetensors')).rejects.toMatchObject({ code: 'read-failed', file: '/nonexistent/x.safetensors' });
  });
});
