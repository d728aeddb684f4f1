/**
 * The backward pass as a graph. ONNX Runtime's inference packages have no autodiff, so this is
 * the analytic vector-Jacobian product that core's `referenceVjp` documents:
 *
 *     g  = dy · scale,  x̂ = (x - mean) · inv
 *     dx = inv · g - w · inv · (Σ g + x̂ · Σ g·x̂)     (batch statistics; sums over the group)
 *     dx = inv · g                                    (running statistics)
 *     dscale = Σ dy · x̂,  dB = Σ dy                   (over every position and replica)
 */
import { usesBatchStatistics, type BatchNormSpec, type Layout, type Mode, type StateTensorKey } from '@normbridge/core';
import { GraphBuilder, type BuiltModel } from '../proto/builder.js';
import { canonicalize, fromCanonical, toCanonical4 } from './canonical.js';
import { NAMES, readState, type FedValue, type StateSources } from './io.js';
import { groupCombiner, maskWeights, primitiveStatistics } from './statistics.js';

export interface VjpGraph {
  readonly spec: BatchNormSpec;
  readonly layout: Layout;
  readonly replicated: boolean;
  readonly mode: Mode;
  readonly dtype: 'float32' | 'float64';
  readonly x: FedValue;
  readonly dy: FedValue;
  readonly state: StateSources;
  readonly mask?: (FedValue & { readonly shape: readonly number[] }) | undefined;
}

export function buildVjpGraph(g: VjpGraph): BuiltModel {
  const { spec, layout } = g;
  const b = new GraphBuilder(g.dtype);
  const cast = (v: string, elemType: number) => (elemType === b.elemType ? v : b.op('Cast', [v], { to: b.elemType }));
  const x = cast(b.input(NAMES.x, g.x.elemType, layout.inputShape), g.x.elemType);
  const dy = cast(b.input(NAMES.dy, g.dy.elemType, layout.inputShape), g.dy.elemType);
  const state = (key: StateTensorKey) => {
    const src = g.state[key];
    return src ? readState(b, key, src, layout.featureShape) : undefined;
  };
  const batch = usesBatchStatistics(spec, g.mode);
  const c = canonicalize(layout, batch && g.replicated);
  const perChannel4 = (v: string) => b.op('Reshape', [v, b.ints([1, 1, c.C, 1])]);
  const x4 = toCanonical4(b, c, x);
  const dy4 = toCanonical4(b, c, dy);
  const scale = state('scale');
  const g4 = scale ? b.op('Mul', [dy4, perChannel4(scale)]) : dy4;

  let dx4: string;
  let xhat: string;
  if (batch) {
    const w4 = g.mask ? maskWeights(b, c, b.input(NAMES.mask, g.mask.elemType, g.mask.shape), g.mask.elemType, (v) => toCanonical4(b, c, v)) : undefined;
    const s = primitiveStatistics(b, spec, c, x4, w4, layout.groups);
    const inv = invStd(b, s.variance, spec.epsilon);
    xhat = b.op('Mul', [s.centered ?? b.op('Sub', [x4, s.mean]), inv]);
    const combine = groupCombiner(b, c, layout.groups);
    const sum = (t: string) => combine(b.op('ReduceSum', [t, b.ints([1, 3])], { keepdims: 1 }), false);
    const sumG = sum(g4);
    const sumGX = sum(b.op('Mul', [g4, xhat]));
    const w = w4 ? b.op('Mul', [w4, s.replicaWeight()]) : s.replicaWeight();
    const correction = b.op('Mul', [w, b.op('Add', [sumG, b.op('Mul', [xhat, sumGX])])]);
    dx4 = b.op('Mul', [inv, b.op('Sub', [g4, correction])]);
  } else {
    const inv = invStd(b, perChannel4(state('runningVar')!), spec.epsilon);
    xhat = b.op('Mul', [b.op('Sub', [x4, perChannel4(state('runningMean')!)]), inv]);
    dx4 = b.op('Mul', [g4, inv]);
  }
  b.output(NAMES.dx, fromCanonical(b, c, dx4, 4));
  const total = (t: string) => b.op('Reshape', [b.op('ReduceSum', [t, b.ints([0, 1, 3])], { keepdims: 0 }), b.ints(layout.featureShape)]);
  if (spec.scale) b.output(NAMES.dScale, total(b.op('Mul', [dy4, xhat])));
  if (spec.bias) b.output(NAMES.dBias, total(dy4));
  return b.build();
}

function invStd(b: GraphBuilder, variance: string, epsilon: number): string {
  return b.op('Reciprocal', [b.op('Sqrt', [b.op('Add', [variance, b.scalar(epsilon)])])]);
}
