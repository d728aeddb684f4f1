import type { HostTensor } from '@normbridge/core';

/** Allowed |actual − expected| ≤ atol + rtol·|expected|, element-wise. */
export interface Tolerance {
  readonly atol: number;
  readonly rtol: number;
}

/**
 * Describes the worst element of `actual` against `expected`, or returns undefined when every
 * element is within tolerance. Two NaNs (or two equal infinities) agree: the reference and
 * the engine both produce them for, e.g., an all-masked channel.
 */
export function mismatch(actual: HostTensor, expected: HostTensor, tol: Tolerance, label: string): string | undefined {
  if (actual.shape.join(',') !== expected.shape.join(',')) {
    return `${label}: shape [${actual.shape.join(', ')}] != expected [${expected.shape.join(', ')}]`;
  }
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < expected.data.length; i++) {
    const a = actual.data[i]!;
    const e = expected.data[i]!;
    if (Object.is(a, e) || (Number.isNaN(a) && Number.isNaN(e))) continue;
    const excess = Number.isFinite(a) && Number.isFinite(e) ? Math.abs(a - e) - (tol.atol + tol.rtol * Math.abs(e)) : Infinity;
    if (excess > 0 && excess >= worstExcess) {
      worst = i;
      worstExcess = excess;
    }
  }
  if (worst < 0) return undefined;
  return `${label}: element ${worst} is ${actual.data[worst]} but expected ${expected.data[worst]} (atol ${tol.atol}, rtol ${tol.rtol})`;
}

export function expectClose(actual: HostTensor, expected: HostTensor, tol: Tolerance, label: string): void {
  const problem = mismatch(actual, expected, tol, label);
  if (problem) throw new Error(problem);
}
