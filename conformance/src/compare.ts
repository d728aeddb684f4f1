import { isInt64Tensor, sameShape, type CheckpointValue } from '@normbridge/core';

/** Elementwise closeness: |actual - expected| <= atol + rtol·|expected| (numpy's allclose rule). */
export interface Tolerance {
  readonly atol: number;
  readonly rtol: number;
}

export interface TensorComparison {
  /** What was compared, e.g. `step 3 state running_var`. */
  readonly label: string;
  readonly ok: boolean;
  readonly maxAbsError: number;
  readonly maxRelError: number;
  /** Flat index of the element furthest outside the tolerance (or of the largest error). */
  readonly worstIndex: number;
  readonly actual: number;
  readonly expected: number;
  /** Set when the shapes differ or a value is missing; nothing numeric was compared. */
  readonly problem?: string;
}

function valueAt(t: CheckpointValue, i: number): number {
  return isInt64Tensor(t) ? Number(t.data[i]!) : t.data[i]!;
}

export function compareTensors(label: string, actual: CheckpointValue | undefined, expected: CheckpointValue, tol: Tolerance): TensorComparison {
  const base = { label, maxAbsError: Number.POSITIVE_INFINITY, maxRelError: Number.POSITIVE_INFINITY, worstIndex: -1, actual: Number.NaN, expected: Number.NaN };
  if (actual === undefined) return { ...base, ok: false, problem: 'missing from the result' };
  if (!sameShape(actual.shape, expected.shape)) {
    return { ...base, ok: false, problem: `shape [${actual.shape.join(', ')}] != expected [${expected.shape.join(', ')}]` };
  }
  let maxAbs = 0;
  let maxRel = 0;
  let worst = -1;
  let worstExcess = Number.NEGATIVE_INFINITY;
  let ok = true;
  const n = expected.data.length;
  for (let i = 0; i < n; i++) {
    const a = valueAt(actual, i);
    const e = valueAt(expected, i);
    if (Number.isNaN(a) && Number.isNaN(e)) continue;
    const abs = Math.abs(a - e);
    const rel = e === 0 ? (abs === 0 ? 0 : Number.POSITIVE_INFINITY) : abs / Math.abs(e);
    const excess = Number.isNaN(abs) ? Number.POSITIVE_INFINITY : abs - (tol.atol + tol.rtol * Math.abs(e));
    if (excess > 0 || Number.isNaN(abs)) ok = false;
    if (Number.isNaN(abs) || abs > maxAbs) maxAbs = Number.isNaN(abs) ? Number.POSITIVE_INFINITY : abs;
    if (abs <= tol.atol) {
      // Relative error is meaningless where the absolute error is already inside atol.
    } else if (rel > maxRel) maxRel = rel;
    if (excess > worstExcess) {
      worstExcess = excess;
      worst = i;
    }
  }
  return {
    label, ok, maxAbsError: maxAbs, maxRelError: maxRel, worstIndex: worst,
    actual: worst >= 0 ? valueAt(actual, worst) : Number.NaN,
    expected: worst >= 0 ? valueAt(expected, worst) : Number.NaN,
  };
}
