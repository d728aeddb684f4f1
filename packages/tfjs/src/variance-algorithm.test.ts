import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { defineSpec, hostTensor, initialState, referenceTrain, type BatchNormSpec } from '@normbridge/core';
import { TEST_BACKENDS, useEngine } from './test-support/engines.js';
import { normals } from '@normbridge/testing';

/**
 * google/flax#1491: on a large-mean, small-variance channel, E[x²] − E[x]² cancels
 * catastrophically in float32 while the two-pass mean((x − mean)²) does not. Channel 0 has
 * mean 1e4 and standard deviation 1e-2 (variance 1e-4); E[x²] ≈ 1e8, where one float32 ulp
 * is 8, so the one-pass variance is a multiple of several ulps of 1e8, nowhere near 1e-4.
 */
const ROWS = 256;
const data = new Float32Array(ROWS * 2);
const z = normals(ROWS * 2, 11);
for (let r = 0; r < ROWS; r++) {
  data[2 * r] = 1e4 + 1e-2 * z[2 * r]!;
  data[2 * r + 1] = z[2 * r + 1]!; // an ordinary channel beside it
}

/**
 * The same values as `[rows, 2]` (features trailing) and as `[16, 2, 16]` with the features on
 * axis 1 (NCHW-like, which cpu runs through its own rows-view statistics); `channel0` gives
 * the position of channel 0's r-th value in each.
 */
const LAYOUTS = [
  { name: 'features trailing', x: hostTensor([ROWS, 2], data), featureAxes: [-1], channel0: (r: number) => 2 * r },
  {
    name: 'features on axis 1',
    x: hostTensor([16, 2, 16], Float32Array.from({ length: ROWS * 2 }, (_, i) => data[2 * nchwRow(i) + (Math.floor(i / 16) % 2)]!)),
    featureAxes: [1],
    channel0: (r: number) => Math.floor(r / 16) * 32 + (r % 16),
  },
];

/** Row of the `[rows, 2]` layout that position i of the `[16, 2, 16]` layout comes from. */
function nchwRow(i: number): number {
  return Math.floor(i / 32) * 16 + (i % 16);
}

const CASES = TEST_BACKENDS.flatMap((backend) => LAYOUTS.map((layout) => [backend, layout.name, layout] as const));

describe.each(CASES)('variance algorithms in float32 on tfjs-%s, %s', (backend, _name, layout) => {
  const engine = useEngine(backend);
  const X = layout.x;
  const specFor = (varianceAlgorithm: BatchNormSpec['varianceAlgorithm']) =>
    defineSpec({ varianceAlgorithm, epsilon: 1e-5, featureAxes: layout.featureAxes });

  function run(spec: BatchNormSpec) {
    const ref = referenceTrain(spec, initialState(spec, [2]), X);
    const state = engine().stateFromHost(initialState(spec, [2]));
    const out = engine().train(spec, state, engine().fromHost(X));
    const variance = engine().toHost(out.batchVar).data[0]!;
    const y = engine().toHost(out.y).data;
    let yError = 0;
    for (let r = 0; r < ROWS; r++) {
      const i = layout.channel0(r);
      const d = Math.abs(y[i]! - ref.y.data[i]!);
      yError = Math.max(yError, Number.isNaN(d) ? Infinity : d);
    }
    tf.dispose([out.y, out.batchMean, out.batchVar, out.state.runningMean!, out.state.runningVar!]);
    return { variance, refVariance: ref.batchVar.data[0]!, yError };
  }

  it('two-pass stays with the float64 reference', () => {
    const { variance, refVariance, yError } = run(specFor('two-pass'));
    // The float32 mean of values near 1e4 is good to about half an ulp (4.9e-4): that adds
    // (4.9e-4)² ≈ 2.4e-7 to a variance near 1e-4 (0.3 %) and shifts y by 4.9e-4·rsqrt(var + eps)
    // ≈ 0.05. The same holds for any float32 framework; the one-pass error is 100× larger.
    expect(Math.abs(variance - refVariance) / refVariance).toBeLessThan(0.01);
    expect(yError).toBeLessThan(0.1);
  });

  it.each(['one-pass-clamped', 'one-pass-unclamped'] as const)('%s differs visibly', (algorithm) => {
    const two = run(specFor('two-pass'));
    const one = run(specFor(algorithm));
    // Off by at least the whole variance (clamped to 0, or a multiple of 8), so y is garbage.
    // (Measured against the two-pass reference: even float64 loses 0.4 % to one-pass here.)
    const relative = Math.abs(one.variance - two.refVariance) / two.refVariance;
    expect(Number.isNaN(relative) || relative > 0.9).toBe(true);
    expect(one.yError).toBeGreaterThan(10 * two.yError);
    expect(one.yError).toBeGreaterThan(0.5);
    if (algorithm === 'one-pass-clamped') expect(one.variance).toBeGreaterThanOrEqual(0);
  });

  it('all three agree on an ordinary channel', () => {
    const values = (['two-pass', 'one-pass-clamped', 'one-pass-unclamped'] as const).map((a) => {
      const spec = specFor(a);
      const out = engine().train(spec, engine().stateFromHost(initialState(spec, [2])), engine().fromHost(X));
      const v = engine().toHost(out.batchVar).data[1]!;
      tf.dispose([out.y, out.batchMean, out.batchVar, out.state.runningMean!, out.state.runningVar!]);
      return v;
    });
    const ref = referenceTrain(specFor('two-pass'), initialState(specFor('two-pass'), [2]), X).batchVar.data[1]!;
    for (const v of values) expect(Math.abs(v - ref)).toBeLessThan(1e-5);
  });
});
