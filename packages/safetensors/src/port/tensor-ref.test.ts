import { transpose } from '@normbridge/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { convFromCanonical, convToCanonical } from './layouts.js';
import { inversePerm, permuteBytes, permuteRef, type TensorRef } from './tensor-ref.js';

const shapeAndPerm = fc
  .array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 5 })
  .chain((shape) => fc.tuple(fc.constant(shape), fc.shuffledSubarray([...shape.keys()], { minLength: shape.length, maxLength: shape.length })));

describe('permuteBytes', () => {
  it('agrees with core\'s transpose for every element size', () => {
    fc.assert(
      fc.property(shapeAndPerm, fc.constantFrom(1, 2, 4, 8), ([shape, perm], size) => {
        const n = shape.reduce((a, b) => a * b, 1);
        const values = Float64Array.from({ length: n }, (_, i) => i);
        const expected = transpose({ shape, data: values, dtype: 'float64' }, perm);
        // Element i holds the bytes of the number i in the chosen width.
        const bytes = new Uint8Array(n * size);
        const view = new DataView(bytes.buffer);
        values.forEach((v, i) => (size === 8 ? view.setFloat64(i * 8, v, true) : size === 4 ? view.setUint32(i * 4, v, true) : size === 2 ? view.setUint16(i * 2, v, true) : view.setUint8(i, v % 256)));
        const out = new DataView(permuteBytes(bytes, shape, perm, size).buffer);
        for (let i = 0; i < n; i++) {
          const got = size === 8 ? out.getFloat64(i * 8, true) : size === 4 ? out.getUint32(i * 4, true) : size === 2 ? out.getUint16(i * 2, true) : out.getUint8(i);
          expect(got).toBe(size === 1 ? expected.data[i]! % 256 : expected.data[i]);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('moves NaN payloads of 8-byte elements untouched', () => {
    const bytes = new Uint8Array(16);
    const v = new DataView(bytes.buffer);
    v.setUint32(0, 0x00000001, true);
    v.setUint32(4, 0x7ff00000, true); // a signalling NaN
    v.setUint32(8, 0xdeadbeef, true);
    v.setUint32(12, 0x7ff80000, true);
    expect(permuteBytes(bytes, [2], [0], 8)).toEqual(bytes);
    const swapped = permuteBytes(bytes, [2, 1], [1, 0], 8);
    expect(swapped).toEqual(bytes);
  });

  it('works on unaligned input', () => {
    const big = new Uint8Array(13);
    const src = big.subarray(1);
    new Uint8Array([1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0]).forEach((b, i) => (src[i] = b));
    const out = permuteBytes(src, [2, 3], [1, 0], 2);
    expect([...new Uint16Array(out.buffer)]).toEqual([1, 4, 2, 5, 3, 6]);
  });
});

describe('permuteRef', () => {
  const base: TensorRef = {
    dtype: 'F32',
    shape: [2, 3, 4, 5],
    sourceKey: 'w',
    load: async () => new Uint8Array(Float32Array.from({ length: 120 }, (_, i) => i).buffer),
  };

  it('composes permutations and returns the very same tensor when they cancel', async () => {
    const hwio = permuteRef(base, convFromCanonical('*IO', 4));
    expect(hwio.shape).toEqual([4, 5, 3, 2]);
    const back = permuteRef(hwio, convToCanonical('*IO', 4));
    expect(back).toBe(base);
    const ohwi = permuteRef(permuteRef(hwio, convToCanonical('*IO', 4)), convFromCanonical('O*I', 4));
    expect(ohwi.shape).toEqual([2, 4, 5, 3]);
    const direct = new Float32Array((await ohwi.load()).buffer);
    const twoStep = transpose(transpose({ shape: [2, 3, 4, 5], data: new Float32Array((await base.load()).buffer), dtype: 'float32' }, [2, 3, 1, 0]), [3, 0, 1, 2]);
    expect(direct).toEqual(twoStep.data);
  });

  it('has inverse layouts', () => {
    for (const layout of ['OI*', '*IO', 'O*I'] as const) {
      for (const rank of [3, 4, 5]) {
        const to = convToCanonical(layout, rank);
        expect(convFromCanonical(layout, rank)).toEqual(inversePerm(to));
        expect(to.map((p, i) => inversePerm(to)[p] === i).every(Boolean)).toBe(true);
      }
    }
  });

  it('refuses a non-permutation', () => {
    expect(() => permuteRef(base, [0, 0, 1, 2])).toThrow(expect.objectContaining({ code: 'invalid-config' }));
  });
});
