import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BF16_FORMAT,
  decodeMiniFloat,
  encodeMiniFloat,
  f16Lut,
  f32BitsToBf16Bits,
  f32BitsToF16Bits,
  F16_FORMAT,
  f8E4M3Lut,
  f8E5M2Lut,
  F8_E4M3_FORMAT,
  F8_E5M2_FORMAT,
  type MiniFloatFormat,
} from './small-floats.js';

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
const bitsOf = (x: number) => ((f32[0] = x), u32[0]!);
const fromBits = (u: number) => ((u32[0] = u >>> 0), f32[0]!);

describe('F16', () => {
  it('decodes reference values', () => {
    const lut = f16Lut();
    expect(lut[0x3c00]).toBe(1);
    expect(lut[0xc000]).toBe(-2);
    expect(lut[0x7bff]).toBe(65504);
    expect(lut[0x0400]).toBe(2 ** -14);
    expect(lut[0x0001]).toBe(2 ** -24);
    expect(lut[0x03ff]).toBe(1023 * 2 ** -24);
    expect(lut[0x3555]).toBe(0.333251953125);
    expect(lut[0x7c00]).toBe(Infinity);
    expect(lut[0xfc00]).toBe(-Infinity);
    expect(Object.is(lut[0x8000], -0)).toBe(true);
    expect(lut[0x7e00]).toBeNaN();
    expect(lut[0xfc01]).toBeNaN();
  });

  it('encodes every finite and infinite F16 value back to its own bits (both encoders)', () => {
    const lut = f16Lut();
    for (let b = 0; b < 65536; b++) {
      const v = lut[b]!;
      if (Number.isNaN(v)) {
        expect(f32BitsToF16Bits(bitsOf(v))).toBe(F16_FORMAT.nanBits);
        continue;
      }
      if (encodeMiniFloat(v, F16_FORMAT) !== b || f32BitsToF16Bits(bitsOf(v)) !== b) {
        throw new Error(`F16 0x${b.toString(16)} = ${v} does not round-trip`);
      }
    }
  });

  it('rounds to nearest, ties to even, overflowing to infinity', () => {
    // Halfway between 1 and 1 + 2^-10: ties to the even mantissa (1).
    expect(encodeMiniFloat(1 + 2 ** -11, F16_FORMAT)).toBe(0x3c00);
    expect(encodeMiniFloat(1 + 3 * 2 ** -11, F16_FORMAT)).toBe(0x3c02);
    expect(encodeMiniFloat(1 + 2 ** -11 + 2 ** -30, F16_FORMAT)).toBe(0x3c01);
    expect(encodeMiniFloat(65519.99, F16_FORMAT)).toBe(0x7bff);
    expect(encodeMiniFloat(65520, F16_FORMAT)).toBe(0x7c00);
    expect(encodeMiniFloat(2 ** -25, F16_FORMAT)).toBe(0);
    expect(encodeMiniFloat(2 ** -25 + 2 ** -40, F16_FORMAT)).toBe(1);
    expect(encodeMiniFloat(-1e-30, F16_FORMAT)).toBe(0x8000);
    expect(encodeMiniFloat(NaN, F16_FORMAT)).toBe(0x7e00);
  });

  it('the float32 fast path agrees with the exact encoder on every float32 pattern tried', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), (u) => {
        const x = fromBits(u);
        const fast = f32BitsToF16Bits(u);
        const exact = encodeMiniFloat(x, F16_FORMAT);
        expect(fast).toBe(exact);
      }),
      { numRuns: 20000 },
    );
  });

  it('the encoder returns the nearest F16 value', () => {
    const lut = f16Lut();
    fc.assert(
      fc.property(fc.double({ min: -70000, max: 70000, noNaN: true }), (x) => {
        const b = encodeMiniFloat(x, F16_FORMAT);
        const v = lut[b]!;
        if (!Number.isFinite(v)) {
          expect(Math.abs(x)).toBeGreaterThanOrEqual(65520);
          return;
        }
        // No neighbour is strictly closer.
        for (const n of [b - 1, b + 1]) {
          const w = lut[n & 0xffff];
          if (w !== undefined && Number.isFinite(w) && (n & 0x7c00) !== 0x7c00) expect(Math.abs(w - x)).toBeGreaterThanOrEqual(Math.abs(v - x));
        }
      }),
      { numRuns: 5000 },
    );
  });
});

describe('BF16', () => {
  it('is the top half of float32: decoding matches the float32 bit pattern', () => {
    for (let b = 0; b < 65536; b += 7) {
      const v = decodeMiniFloat(b, BF16_FORMAT);
      const ref = fromBits(b << 16);
      if (Number.isNaN(ref)) expect(v).toBeNaN();
      else expect(v).toBe(ref);
    }
  });

  it('the fast path agrees with the exact encoder', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), (u) => {
        expect(f32BitsToBf16Bits(u)).toBe(encodeMiniFloat(fromBits(u), BF16_FORMAT));
      }),
      { numRuns: 20000 },
    );
  });
});

describe('F8', () => {
  it('E5M2 is the top byte of F16', () => {
    const e5m2 = f8E5M2Lut();
    const f16 = f16Lut();
    for (let b = 0; b < 256; b++) {
      const a = e5m2[b]!;
      const r = f16[b << 8]!;
      if (Number.isNaN(r)) expect(a).toBeNaN();
      else expect(a).toBe(r);
    }
  });

  it('E4M3 (fn) has the published extremes and no infinity', () => {
    const lut = f8E4M3Lut();
    expect(lut[0x7e]).toBe(448);
    expect(lut[0xfe]).toBe(-448);
    expect(lut[0x08]).toBe(2 ** -6);
    expect(lut[0x01]).toBe(2 ** -9);
    expect(lut[0x38]).toBe(1);
    expect(lut[0x7f]).toBeNaN();
    expect(lut[0xff]).toBeNaN();
    expect([...lut].filter((v) => !Number.isFinite(v) && !Number.isNaN(v))).toEqual([]);
    expect([...lut].filter((v) => Number.isNaN(v))).toHaveLength(2);
  });

  it.each([
    ['E4M3', F8_E4M3_FORMAT, f8E4M3Lut],
    ['E5M2', F8_E5M2_FORMAT, f8E5M2Lut],
  ] as [string, MiniFloatFormat, () => Float32Array][])('%s: every value round-trips; overflow saturates as the format says', (name, fmt, lut) => {
    const t = lut();
    for (let b = 0; b < 256; b++) {
      if (Number.isNaN(t[b]!)) continue;
      expect(encodeMiniFloat(t[b]!, fmt)).toBe(b);
    }
    if (name === 'E4M3') {
      expect(encodeMiniFloat(464, fmt)).toBe(0x7e); // tie: rounds to the even 448
      expect(encodeMiniFloat(465, fmt)).toBe(0x7f); // past the largest value: NaN (no infinity)
      expect(encodeMiniFloat(-Infinity, fmt)).toBe(0xff);
    } else {
      expect(encodeMiniFloat(61440, fmt)).toBe(0x7c); // tie at max + half ulp: infinity (even)
      expect(encodeMiniFloat(-1e9, fmt)).toBe(0xfc);
    }
  });
});
