/** Deterministic test data and comparisons against the float64 reference. */
import { hostTensor, type Dtype, type HostTensor } from '@normbridge/core';
import { expect } from 'vitest';

/** A small seeded generator (mulberry32), so that failures reproduce. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Normal-ish values with a per-call offset and spread (so that statistics are not trivial). */
export function randomTensor(shape: readonly number[], seed: number, dtype: Dtype = 'float32', offset = 0.5, spread = 2): HostTensor {
  const next = rng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  const data = Array.from({ length: n }, () => offset + spread * (next() + next() + next() - 1.5));
  return hostTensor(shape, data, dtype);
}

export function randomMask(shape: readonly number[], seed: number, keep = 0.7): HostTensor {
  const next = rng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  return hostTensor(shape, Array.from({ length: n }, () => (next() < keep ? 1 : 0)), 'float32');
}

/** |a - b| <= atol + rtol·|b| elementwise, with the first offending index in the message. */
export function expectClose(actual: HostTensor, expected: HostTensor, tol: { atol: number; rtol: number }, what = 'tensor'): void {
  expect(actual.shape, `${what} shape`).toEqual(expected.shape);
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < expected.data.length; i++) {
    const a = actual.data[i]!;
    const b = expected.data[i]!;
    if (Number.isNaN(a) && Number.isNaN(b)) continue;
    const excess = Math.abs(a - b) - (tol.atol + tol.rtol * Math.abs(b));
    if (!(excess <= 0) && (worst < 0 || excess > worstExcess)) {
      worst = i;
      worstExcess = excess;
    }
  }
  if (worst >= 0) {
    expect.fail(`${what}[${worst}]: ${actual.data[worst]} vs reference ${expected.data[worst]} (beyond tolerance by ${worstExcess})`);
  }
}

export const TOL = {
  float32: { atol: 2e-5, rtol: 2e-5 },
  float64: { atol: 1e-11, rtol: 1e-11 },
} as const;
