import { createReferenceEngine, hostTensor, type Engine } from '@normbridge/core';

export const reference = createReferenceEngine();

import { seededRandom } from '@normbridge/testing';

export { asyncReference, expectClose, X43 } from '@normbridge/testing';

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

/** Deterministic pseudo-random values in [-2, 4) (for trajectories; not a statistic). */
export function sequence(n: number, seed: number): number[] {
  const rand = seededRandom(seed);
  return Array.from({ length: n }, (_, i) => rand() * 4 - 2 + (i % 3));
}
