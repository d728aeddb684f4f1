/**
 * Every graph works on one canonical 4-D view of the input, [R, P, C, Q]: replicas, the
 * reduction positions before the features, the flattened features, and those after. Contiguous
 * feature axes in ascending order (NCHW's 1, NHWC's -1, [2, 3] of a rank-4 input) need only a
 * Reshape; any other order is first transposed to [replica?, reductions..., features...].
 */
import type { Layout } from '@normbridge/core';
import type { GraphBuilder } from '../proto/builder.js';

export interface Canonical {
  readonly fullShape: readonly number[];
  /** Applied to the full input before the reshape; undefined when none is needed. */
  readonly perm: readonly number[] | undefined;
  readonly R: number;
  readonly P: number;
  readonly C: number;
  readonly Q: number;
  /** The input is already [N, C, ...] with C on axis 1, as BatchNormalization wants it. */
  readonly nchw: boolean;
}

const prod = (xs: readonly number[]) => xs.reduce((a, b) => a * b, 1);

/**
 * `replicated` keeps axis 0 as R; otherwise a replica axis (if any) is folded into the
 * reductions, which is what normalising with running statistics needs.
 */
export function canonicalize(layout: Layout, replicated: boolean): Canonical {
  const fullShape = layout.inputShape;
  const offset = fullShape.length - layout.sampleShape.length; // 1 with a replica axis
  const feat = layout.featureAxes.map((a) => a + offset);
  const keepR = replicated && offset === 1;
  const first = keepR ? 1 : 0;
  const R = keepR ? fullShape[0]! : 1;
  const C = layout.channels;
  const contiguous = feat.every((a, i) => a === feat[0]! + i);
  if (contiguous) {
    const P = prod(fullShape.slice(first, feat[0]!));
    const Q = prod(fullShape.slice(feat[feat.length - 1]! + 1));
    const nchw = !keepR && fullShape.length >= 2 && feat.length === 1 && feat[0] === 1;
    return { fullShape, perm: undefined, R, P, C, Q, nchw };
  }
  const rest: number[] = [];
  for (let i = first; i < fullShape.length; i++) if (!feat.includes(i)) rest.push(i);
  const perm = [...(keepR ? [0] : []), ...rest, ...feat];
  return { fullShape, perm, R, P: prod(rest.map((a) => fullShape[a]!)), C, Q: 1, nchw: false };
}

/** x (full shape) → [R, P, C, Q]. */
export function toCanonical4(b: GraphBuilder, c: Canonical, x: string): string {
  const t = c.perm ? b.op('Transpose', [x], { perm: c.perm }) : x;
  return b.op('Reshape', [t, b.ints([c.R, c.P, c.C, c.Q])]);
}

/** x (full shape) → [N, C, Q] (or [N, C]) for a BatchNormalization node, N = R·P. */
export function toCanonical3(b: GraphBuilder, c: Canonical, x: string): string {
  if (c.nchw) return x;
  const t = c.perm ? b.op('Transpose', [x], { perm: c.perm }) : x;
  return b.op('Reshape', [t, b.ints(c.Q === 1 ? [c.R * c.P, c.C] : [c.R * c.P, c.C, c.Q])]);
}

/** Inverse of either view (`view` says which): back to the input's own shape and axis order. */
export function fromCanonical(b: GraphBuilder, c: Canonical, y: string, view: 3 | 4): string {
  if (view === 3 && c.nchw) return y;
  if (!c.perm) return b.op('Reshape', [y, b.ints(c.fullShape)]);
  const permuted = c.perm.map((a) => c.fullShape[a]!);
  const t = b.op('Reshape', [y, b.ints(permuted)]);
  const inverse = new Array<number>(c.perm.length);
  c.perm.forEach((a, i) => (inverse[a] = i));
  return b.op('Transpose', [t], { perm: inverse });
}
