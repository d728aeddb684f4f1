import { expect } from 'vitest';
import { createReferenceEngine, hostTensor, type Engine } from '@normbridge/core';

export const reference = createReferenceEngine();

export { asyncReference } from '@normbridge/testing';

/** A float64 host tensor (the reference engine's tensor type). */
export const t64 = (shape: readonly number[], data: ArrayLike<number>) => hostTensor(shape, Float64Array.from(data), 'float64');

/** Uploads host values to an engine as float32. */
export function upload<T>(engine: Engine<T>, shape: readonly number[], data: ArrayLike<number>): T {
  return engine.fromHost(hostTensor(shape, Float32Array.from(data), 'float32'));
}

/** Downloads an engine tensor's values (sync engines). */
export function values<T>(engine: Engine<T>, t: T): number[] {
  if (!engine.synchronous) throw new Error('values() needs a synchronous engine');
  return Array.from(engine.toHost(t).data);
}

/** Element-wise |a - e| <= atol + rtol·|e|, with the first offending index in the message. */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, atol = 1e-6, rtol = 0): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    if (!(Math.abs(a - e) <= atol + rtol * Math.abs(e))) {
      expect.fail(`index ${i}: got ${a}, expected ${e} (atol ${atol}, rtol ${rtol})`);
    }
  }
}

/** semantics.md 10.2/10.3 input: N=4, C=3. */
export const X43 = [1, 2, 3, 4, 6, 8, 0, -1, 5, 2, 2, 2];

/** A deterministic pseudo-random sequence (for trajectories; not a statistic). */
export function sequence(n: number, seed: number): number[] {
  let s = seed >>> 0;
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out.push((s / 2 ** 32) * 4 - 2 + (i % 3));
  }
  return out;
}
