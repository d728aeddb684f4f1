/** Deterministic test data and the tolerances against the float64 reference (comparison and RNG from @normbridge/testing). */
import { hostTensor, type Dtype, type HostTensor } from '@normbridge/core';
import { seededRandom } from '@normbridge/testing';

/** Normal-ish values with a per-call offset and spread (so that statistics are not trivial). */
export function randomTensor(shape: readonly number[], seed: number, dtype: Dtype = 'float32', offset = 0.5, spread = 2): HostTensor {
  const next = seededRandom(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  const data = Array.from({ length: n }, () => offset + spread * (next() + next() + next() - 1.5));
  return hostTensor(shape, data, dtype);
}

export function randomMask(shape: readonly number[], seed: number, keep = 0.7): HostTensor {
  const next = seededRandom(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  return hostTensor(shape, Array.from({ length: n }, () => (next() < keep ? 1 : 0)), 'float32');
}

export const TOL = {
  float32: { atol: 2e-5, rtol: 2e-5 },
  float64: { atol: 1e-11, rtol: 1e-11 },
} as const;
