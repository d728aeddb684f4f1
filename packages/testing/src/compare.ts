import type { HostTensor } from '@normbridge/core';

/** Allowed |actual − expected| ≤ atol + rtol·|expected|, element-wise (numpy's allclose rule). */
export interface Tolerance {
  readonly atol: number;
  readonly rtol: number;
}

/** What a comparison takes: a host tensor (its shape is compared too) or plain values. */
export type Values = HostTensor | ArrayLike<number>;

function isHostTensor(v: Values): v is HostTensor {
  return typeof v === 'object' && v !== null && 'shape' in v && 'data' in v;
}

/**
 * Describes the worst element of `actual` against `expected`, or returns undefined when every
 * element is within tolerance. Two NaNs, or two equal infinities, agree: the reference and an
 * engine both produce them for, e.g., an all-masked channel.
 */
export function mismatch(actual: Values, expected: Values, tol: Tolerance, label = 'values'): string | undefined {
  if (isHostTensor(actual) !== isHostTensor(expected)) {
    return `${label}: compares a host tensor with plain values; pass the same kind on both sides`;
  }
  if (isHostTensor(actual) && isHostTensor(expected) && actual.shape.join(',') !== expected.shape.join(',')) {
    return `${label}: shape [${actual.shape.join(', ')}] != expected [${expected.shape.join(', ')}]`;
  }
  const a = isHostTensor(actual) ? actual.data : actual;
  const e = isHostTensor(expected) ? expected.data : expected;
  if (a.length !== e.length) return `${label}: ${a.length} values, expected ${e.length}`;
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < e.length; i++) {
    const x = a[i]!;
    const y = e[i]!;
    if (Object.is(x, y) || (Number.isNaN(x) && Number.isNaN(y))) continue;
    const excess = Number.isFinite(x) && Number.isFinite(y) ? Math.abs(x - y) - (tol.atol + tol.rtol * Math.abs(y)) : Infinity;
    if (excess > 0 && excess >= worstExcess) {
      worst = i;
      worstExcess = excess;
    }
  }
  if (worst < 0) return undefined;
  return `${label}: element ${worst} is ${a[worst]} but expected ${e[worst]} (|diff| ${Math.abs(a[worst]! - e[worst]!)}, atol ${tol.atol}, rtol ${tol.rtol})`;
}

/**
 * Throws, naming the worst element, unless `actual` is within tolerance of `expected`
 * element-wise (and of the same shape, for host tensors). The tolerance is `atol` and `rtol`
 * numbers or a {@link Tolerance} with a label for the message.
 */
export function expectClose(actual: Values, expected: Values, atol: number, rtol?: number): void;
export function expectClose(actual: Values, expected: Values, tol: Tolerance, label?: string): void;
export function expectClose(actual: Values, expected: Values, tol: number | Tolerance, rtolOrLabel?: number | string): void {
  const tolerance = typeof tol === 'number' ? { atol: tol, rtol: typeof rtolOrLabel === 'number' ? rtolOrLabel : 0 } : tol;
  const label = typeof rtolOrLabel === 'string' ? rtolOrLabel : 'values';
  const problem = mismatch(actual, expected, tolerance, label);
  if (problem !== undefined) throw new Error(problem);
}
