/**
 * The float32 oracle of the `float32-oracle` fixtures (fixtures/generators/lib/float32-flax.mjs):
 * it must reproduce float32 cancellation, and refuse inputs whose float32 result an
 * implementation could legitimately get otherwise.
 */
import { describe, expect, it } from 'vitest';

interface Float32Flax {
  float32OnePassStatistics(x: Float32Array, n: number, channels: number, clamp: boolean): { mean: Float32Array; variance: Float32Array };
}
const oracleUrl = new URL('../../fixtures/generators/lib/float32-flax.mjs', import.meta.url).href;
const { float32OnePassStatistics } = (await import(oracleUrl)) as Float32Flax;

const column = (...values: number[]) => Float32Array.from(values);

describe('float32 one-pass statistics', () => {
  it('cancel the variance 1e-4 of a mean-1000 pair to exactly 0, as google/flax#1491 describes', () => {
    const d = 41 / 4096;
    const { mean, variance } = float32OnePassStatistics(column(1000 - d, 1000 + d), 2, 1, true);
    expect(mean[0]).toBe(1000);
    expect(variance[0]).toBe(0);
    expect(d * d).toBeGreaterThan(1e-4); // what a float64 computation keeps
  });

  it('keep a variance that float32 resolves (two channels of an [n, 2] input)', () => {
    const { mean, variance } = float32OnePassStatistics(column(-0.5, -8, 1.5, -2), 2, 2, true);
    expect([...mean]).toEqual([0.5, -5]);
    expect([...variance]).toEqual([1, 9]);
  });

  it('refuse a pair whose mean squared rounds: with a fused multiply-add the variance would differ', () => {
    // mean 1024.25 needs 13 significant bits, so mean·mean rounds in float32.
    expect(() => float32OnePassStatistics(column(1024, 1024.5), 2, 1, true)).toThrow(/E\[x²\] − E\[x\]² of channel 0 depends on the float32 evaluation order/);
  });

  it('refuse a batch whose float32 sum depends on the order of the reduction', () => {
    expect(() => float32OnePassStatistics(column(1, 2 ** 24, 1, -(2 ** 24)), 4, 1, true)).toThrow(/Σx of channel 0 depends on the float32 evaluation order/);
  });
});
