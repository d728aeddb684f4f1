/**
 * The running-statistics update as primitive per-channel ops. The average weight `a` is a graph
 * input, not an attribute: one cached session serves every step of a cumulative average (whose
 * weight changes each step) and every momentum, and float64 graphs get it without a float32
 * rounding.
 */
import { runningVarianceCorrection, type BatchNormSpec } from '@normbridge/core';
import type { GraphBuilder } from '../proto/builder.js';

/** `a·old + (1 - a)·batch` ('blend') or `old - (old - batch)·(1 - a)` ('decay-toward'). */
export function runningUpdate(b: GraphBuilder, spec: BatchNormSpec, old: string, batch: string, a: string): string {
  const oneMinusA = b.op('Sub', [b.scalar(1), a]);
  if (spec.runningUpdateForm === 'decay-toward') {
    return b.op('Sub', [old, b.op('Mul', [b.op('Sub', [old, batch]), oneMinusA])]);
  }
  return b.op('Add', [b.op('Mul', [a, old]), b.op('Mul', [oneMinusA, batch])]);
}

/** The variance fed to the running update: biased, or `var·n / (n - offset)` as the reference writes it. */
export function runningVarianceInput(b: GraphBuilder, spec: BatchNormSpec, variance: string, n: string): string {
  const offset = runningVarianceCorrection(spec);
  if (offset === 0) return variance;
  return b.op('Div', [b.op('Mul', [variance, n]), b.op('Sub', [n, b.scalar(offset)])]);
}
