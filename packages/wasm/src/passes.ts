/**
 * The kernel path of one call, as passes over the input seen as `[outer, channels, inner]`
 * (core's `memoryBlocks`): statistics, normalise, gradients, each data-sized pass split over
 * the device's threads, and the running statistics per channel on the host.
 */
import {
  statisticsShape,
  updateRunningStatistic,
  updatesRunningStatistics,
  varianceForRunningAverage,
  type BatchNormSpec,
  type BatchNormState,
  type Gradients,
  type Layout,
  type MemoryBlocks,
} from '@normbridge/core';
import type { Device, Keep } from './device.js';
import { ALGORITHM_CODE } from './kernels.js';
import type { WasmTensor } from './tensor.js';

type T = WasmTensor;
const F64 = 8;
const F32 = 4;

export interface Moments {
  readonly mean: T;
  readonly variance: T;
  /** The same statistics in float64, for the running averages. */
  readonly mean64: Float64Array;
  readonly var64: Float64Array;
}

/** Batch mean and biased variance: per-thread float64 sums shifted by each channel's first value, folded per channel. */
export function moments(d: Device, spec: BatchNormSpec, layout: Layout, x: T, b: MemoryBlocks, keep: Keep): Moments {
  const C = b.channels;
  const units = d.units(b);
  const chunks = d.chunks(b);
  const algorithm = ALGORITHM_CODE[spec.varianceAlgorithm];
  const n = b.outer * b.inner;
  const mean = keep(d.allocate(statisticsShape(layout)));
  const variance = keep(d.allocate(statisticsShape(layout)));
  // shift, mean64, var64, then one sum + square-sum pair per chunk, folded in chunk order.
  return d.withScratch(F64 * C * (3 + 2 * chunks), (shift) => {
    const mean64 = shift + F64 * C;
    const var64 = mean64 + F64 * C;
    const sums = var64 + F64 * C;
    new Float64Array(d.memory.buffer, sums, 2 * C * chunks).fill(0);
    d.kernels.bn_shift(x.offset, C, b.inner, algorithm, n === 0 ? 1 : 0, shift);
    const pair = 2 * C * F64;
    d.run({ kernel: 'bn_sums', units, chunks, args: [x.offset, 0, 0, C, b.inner, algorithm, shift, sums, sums + C * F64], u0: 1, u1: 2, perChunk: [[7, pair], [8, pair]] });
    d.kernels.bn_finalize_moments(C, n, algorithm, chunks, shift, sums, mean.offset, variance.offset, mean64, var64);
    return {
      mean,
      variance,
      mean64: new Float64Array(d.memory.buffer, mean64, C).slice(),
      var64: new Float64Array(d.memory.buffer, var64, C).slice(),
    };
  });
}

/** y = (x - mean) · k + b, k = scale / sqrt(var + eps), into `y`. */
export function normalize(d: Device, spec: BatchNormSpec, state: BatchNormState<T>, x: T, b: MemoryBlocks, mean: T, variance: T, y: T): void {
  const C = b.channels;
  d.withScratch(F32 * 3 * C, (m) => {
    const k = m + F32 * C;
    const bias = k + F32 * C;
    d.kernels.bn_normalize_factors(C, spec.epsilon, mean.offset, variance.offset, spec.scale ? state.scale!.offset : 0, spec.bias ? state.bias!.offset : 0, m, k, bias);
    d.run({ kernel: 'bn_normalize_units', units: d.units(b), chunks: d.chunks(b), args: [x.offset, y.offset, 0, 0, C, b.inner, m, k, bias], u0: 2, u1: 3 });
  });
}

/** The new running statistics of a train step, in float64 from the batch's float64 statistics. */
export function nextRunning(d: Device, spec: BatchNormSpec, state: BatchNormState<T>, layout: Layout, s: Moments, keep: Keep): BatchNormState<T> {
  if (!updatesRunningStatistics(spec, 'train')) return state;
  const tracked = state.numBatchesTracked + 1;
  const oldMean = state.runningMean!;
  const oldVar = state.runningVar!;
  const runningMean = keep(d.allocate(oldMean.shape, oldMean.dtype));
  const runningVar = keep(d.allocate(oldVar.shape, oldVar.dtype));
  const [rm, rv, om, ov] = [runningMean.view(), runningVar.view(), oldMean.view(), oldVar.view()];
  for (let c = 0; c < layout.channels; c++) {
    rm[c] = updateRunningStatistic(spec, om[c]!, s.mean64[c]!, tracked);
    rv[c] = updateRunningStatistic(spec, ov[c]!, varianceForRunningAverage(spec, s.var64[c]!, layout.perChannel), tracked);
  }
  return { ...state, runningMean, runningVar, numBatchesTracked: tracked };
}

/**
 * dx, dScale, dBias for a cotangent `dy`: float64 sums of dy and dy·(x - mean) per thread,
 * folded into per-channel factors, then dx in one pass. With `batch` the gradient flows through
 * the batch statistics (computed here); otherwise through the running ones only.
 */
export function gradients(d: Device, spec: BatchNormSpec, state: BatchNormState<T>, layout: Layout, x: T, dy: T, b: MemoryBlocks, batch: boolean, keep: Keep): Gradients<T> {
  const C = b.channels;
  const units = d.units(b);
  const chunks = d.chunks(b);
  const s = batch ? moments(d, spec, layout, x, b, (t) => t) : undefined;
  try {
    const mean = s ? s.mean : state.runningMean!;
    const variance = s ? s.variance : state.runningVar!;
    const dScale = d.allocate(layout.featureShape);
    const dBias = d.allocate(layout.featureShape);
    const dx = keep(d.allocate(x.shape, x.dtype));
    try {
      // k, c0, c1, then one dy-sum + (dy·(x - mean))-sum pair per chunk, folded in chunk order.
      d.withScratch(F32 * 3 * C + F64 * 2 * C * chunks + F64, (k) => {
        const c0 = k + F32 * C;
        const c1 = c0 + F32 * C;
        const sums = Math.ceil((c1 + F32 * C) / F64) * F64;
        new Float64Array(d.memory.buffer, sums, 2 * C * chunks).fill(0);
        const pair = 2 * C * F64;
        d.run({ kernel: 'bn_grad_sums', units, chunks, args: [x.offset, dy.offset, 0, 0, C, b.inner, mean.offset, sums, sums + C * F64], u0: 2, u1: 3, perChunk: [[7, pair], [8, pair]] });
        const scale = spec.scale ? state.scale!.offset : 0;
        d.kernels.bn_grad_factors(C, b.outer * b.inner, spec.epsilon, batch ? 1 : 0, variance.offset, scale, chunks, sums, dScale.offset, dBias.offset, k, c0, c1);
        d.run({ kernel: 'bn_grad_dx', units, chunks, args: [x.offset, dy.offset, dx.offset, 0, 0, C, b.inner, mean.offset, k, c0, c1], u0: 3, u1: 4 });
      });
    } catch (e) {
      dScale.dispose();
      dBias.dispose();
      throw e;
    }
    if (!spec.scale) dScale.dispose();
    if (!spec.bias) dBias.dispose();
    return { dx, dScale: spec.scale ? dScale : undefined, dBias: spec.bias ? dBias : undefined };
  } finally {
    s?.mean.dispose();
    s?.variance.dispose();
  }
}
