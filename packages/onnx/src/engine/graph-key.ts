/**
 * The session-cache key: every input of graph construction and nothing else. The momentum and
 * the counter are left out on purpose: they reach the graph as the `average_weight` input.
 */
import type { BatchNormSpec, Layout, Mode } from '@normbridge/core';
import type { GraphKind, StepOp } from '../graph/plan.js';

export interface KeyParts {
  readonly op: StepOp;
  readonly mode: Mode;
  readonly spec: BatchNormSpec;
  readonly layout: Layout;
  readonly replicated: boolean;
  readonly kind: GraphKind;
  readonly dtype: string;
  /** ONNX element types of x, state, mask and dy, as fed. */
  readonly elemTypes: Readonly<Record<string, number>>;
  readonly maskShape: readonly number[] | undefined;
}

export function graphKey(p: KeyParts): string {
  const s = p.spec;
  return JSON.stringify([
    p.op,
    p.mode,
    p.kind,
    p.dtype,
    p.layout.inputShape,
    p.layout.featureAxes,
    p.replicated ? p.layout.groups : null,
    p.elemTypes,
    p.maskShape ?? null,
    s.epsilon,
    s.scale,
    s.bias,
    s.runningAverage.kind === 'none',
    s.runningVarianceEstimator,
    s.varianceAlgorithm,
    s.evalStatistics,
    s.runningUpdateForm,
    s.replicaCombination,
  ]);
}
