import type { ChannelBlocks } from '../kernel_names.js';

export interface GradOutputs {
  readonly dx: Float32Array;
  readonly dScale: Float32Array;
  readonly dBias: Float32Array;
}

/**
 * The vector-Jacobian product of y = (x − mean)·inv·scale + bias, inv = 1/√(var + ε), in two
 * passes over x and dy (core's `referenceVjp`, uniform weights w = 1/n):
 *
 *     pass 1: dBias = Σ dy,  dScale = inv · Σ dy·(x − mean)
 *     pass 2: dx = k·(dy − w·dBias) − k·inv·w·dScale·(x − mean)   (batch statistics)
 *             dx = k·dy                                          (fixed statistics)
 *
 * with k = inv·scale, all in float64 and rounded once. dy is centred before it is scaled, so
 * with one value per channel (dy − dBias = 0, x − mean = 0) dx is exactly 0.
 */
export function normalizeGradChannels(
  x: Float32Array,
  dy: Float32Array,
  blocks: ChannelBlocks,
  mean: Float32Array,
  variance: Float32Array,
  scale: Float32Array | undefined,
  epsilon: number,
  batchStatistics: boolean,
  out: GradOutputs,
): void {
  const { outer, channels, inner } = blocks;
  const sumDy = new Float64Array(channels);
  const sumDyX = new Float64Array(channels);
  const m = Float64Array.from(mean);
  if (inner === 1) {
    for (let o = 0, p = 0; o < outer; o++) {
      for (let c = 0; c < channels; c++, p++) {
        const g = dy[p]!;
        sumDy[c]! += g;
        sumDyX[c]! += g * (x[p]! - m[c]!);
      }
    }
  } else {
    for (let o = 0; o < outer; o++) {
      for (let c = 0; c < channels; c++) {
        const mc = m[c]!;
        let s1 = 0;
        let s2 = 0;
        const start = (o * channels + c) * inner;
        for (let i = start, end = start + inner; i < end; i++) {
          const g = dy[i]!;
          s1 += g;
          s2 += g * (x[i]! - mc);
        }
        sumDy[c]! += s1;
        sumDyX[c]! += s2;
      }
    }
  }

  const w = 1 / (outer * inner);
  const k = new Float64Array(channels);
  const c0 = new Float64Array(channels);
  const c1 = new Float64Array(channels);
  for (let c = 0; c < channels; c++) {
    const inv = 1 / Math.sqrt(variance[c]! + epsilon);
    const dScale = sumDyX[c]! * inv;
    k[c] = inv * (scale ? scale[c]! : 1);
    out.dBias[c] = sumDy[c]!;
    out.dScale[c] = dScale;
    if (batchStatistics) {
      c0[c] = w * sumDy[c]!;
      c1[c] = k[c]! * inv * w * dScale;
    }
  }

  const { dx } = out;
  if (inner === 1) {
    for (let o = 0, p = 0; o < outer; o++) {
      for (let c = 0; c < channels; c++, p++) dx[p] = k[c]! * (dy[p]! - c0[c]!) - c1[c]! * (x[p]! - m[c]!);
    }
    return;
  }
  for (let o = 0; o < outer; o++) {
    for (let c = 0; c < channels; c++) {
      const kc = k[c]!;
      const c0c = c0[c]!;
      const c1c = c1[c]!;
      const mc = m[c]!;
      const start = (o * channels + c) * inner;
      for (let i = start, end = start + inner; i < end; i++) dx[i] = kc * (dy[i]! - c0c) - c1c * (x[i]! - mc);
    }
  }
}
