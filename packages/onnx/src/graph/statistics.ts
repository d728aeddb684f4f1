/**
 * Batch statistics from primitive ops, on the canonical [R, P, C, Q] view. Every per-channel
 * result is [R, 1, C, 1]: one row per replica, identical within a replica group.
 */
import type { BatchNormSpec } from '@normbridge/core';
import { TensorProto_DataType } from 'onnx-buf';
import type { GraphBuilder } from '../proto/builder.js';
import type { Canonical } from './canonical.js';

export interface BatchStatistics {
  readonly mean: string;
  /** Biased: what the output is normalised with. */
  readonly variance: string;
  /** Elements per channel in each replica's group (the n of n / (n - 1)). */
  readonly groupCount: string;
  /** Builds the weight of one (unmasked) element of replica r in its channel's statistics (sums to 1 over the group). */
  readonly replicaWeight: () => string;
  /** x - mean, when the two-pass variance computed it anyway. */
  readonly centered: string | undefined;
}

/** The mask as 0/1 weights in the compute dtype, broadcast to the input and made canonical. */
export function maskWeights(b: GraphBuilder, c: Canonical, mask: string, maskElemType: number, toCanonical: (v: string) => string): string {
  const bool = maskElemType === TensorProto_DataType.BOOL ? mask : b.op('Cast', [mask], { to: TensorProto_DataType.BOOL });
  const w = b.op('Cast', [bool], { to: b.elemType });
  return toCanonical(b.op('Expand', [w, b.ints(c.fullShape)]));
}

function groupSizes(R: number, groups: readonly (readonly number[])[]): number[] {
  const out = new Array<number>(R).fill(1);
  groups.forEach((g) => g.forEach((r) => (out[r] = g.length)));
  return out;
}

/**
 * Sums (or, with `normalise`, averages) a [R, 1, C, 1] value over each replica's group, as a
 * matrix product with G[r][s] = 1 when r and s share a group. The identity for R = 1.
 */
export function groupCombiner(b: GraphBuilder, c: Canonical, groups: readonly (readonly number[])[]) {
  const { R, C } = c;
  return (t: string, normalise: boolean): string => {
    if (R === 1) return t;
    const g = new Array<number>(R * R).fill(0);
    for (const grp of groups) for (const r of grp) for (const s of grp) g[r * R + s] = normalise ? 1 / grp.length : 1;
    const flat = b.op('Reshape', [t, b.ints([R, C])]);
    return b.op('Reshape', [b.op('MatMul', [b.constant(g, [R, R]), flat]), b.ints([R, 1, C, 1])]);
  };
}

export function primitiveStatistics(
  b: GraphBuilder,
  spec: BatchNormSpec,
  c: Canonical,
  x4: string,
  w4: string | undefined,
  groups: readonly (readonly number[])[],
): BatchStatistics {
  const { R, P, C, Q } = c;
  const axes = b.ints([1, 3]);
  const sum = (t: string) => b.op('ReduceSum', [t, axes], { keepdims: 1 });
  const sumSquares = (t: string) => (w4 ? sum(b.op('Mul', [b.op('Mul', [t, t]), w4])) : b.op('ReduceSumSquare', [t], { axes: [1, 3], keepdims: 1 }));
  const groupOf = groupSizes(R, groups);
  const combine = groupCombiner(b, c, groups);

  // Counts: constants unless a mask makes them data-dependent.
  const count = w4 ? sum(w4) : b.scalar(P * Q);
  const groupCount = w4 ? combine(count, false) : R === 1 ? count : b.constant(groupOf.map((n) => n * P * Q), [R, 1, 1, 1]);
  const unweighted = spec.replicaCombination === 'unweighted-mean' && R > 1;
  const replicaWeight = () =>
    unweighted
      ? b.op('Reciprocal', [b.op('Mul', [b.constant(groupOf, [R, 1, 1, 1]), count])])
      : b.op('Reciprocal', [groupCount]);
  // Count-weighted: group sum / group count. Unweighted: the mean of per-replica moments.
  const moment = (perReplica: string) =>
    unweighted ? combine(b.op('Div', [perReplica, count]), true) : b.op('Div', [combine(perReplica, false), groupCount]);

  const mean = moment(sum(w4 ? b.op('Mul', [x4, w4]) : x4));
  let variance: string;
  let centered: string | undefined;
  if (spec.varianceAlgorithm === 'two-pass') {
    centered = b.op('Sub', [x4, mean]);
    variance = moment(sumSquares(centered));
  } else {
    variance = b.op('Sub', [moment(sumSquares(x4)), b.op('Mul', [mean, mean])]);
    if (spec.varianceAlgorithm === 'one-pass-clamped') variance = b.op('Max', [variance, b.scalar(0)]);
  }
  return { mean, variance, groupCount, replicaWeight, centered };
}
