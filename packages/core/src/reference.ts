/**
 * The float64 reference: the oracle for engines, adapters and the conformance suite.
 *
 * Per channel c, over the positions that count (mask true), with per-element weights w that
 * sum to 1 over a replica group (1/n, or 1/(R·n_r) for an unweighted mean of replicas):
 *
 *     mean = Σ w·x
 *     var  = Σ w·(x - mean)²              (two-pass)
 *          = Σ w·x² - mean²  [max 0]       (one-pass, clamped or not)
 *     y    = (x - mean) · rsqrt(var + eps) · scale + bias
 *     running ← a·running + (1 - a)·batch   ('blend')  or  running - (running - batch)·(1 - a)
 *
 * with `batch` the biased variance, or var·N/(N - offset) per the estimator (N the group's
 * count; see `runningVarianceCorrection`). Plain loops on typed arrays, no tfjs: it must stay obviously correct.
 */
import {
  checkMaskShape,
  checkStateShapes,
  checkStateValues,
  checkValuesPerChannel,
  channelIndex,
  resolveLayout,
  statisticsShape,
  updatesRunningStatistics,
  usesBatchStatistics,
  type Layout,
} from './layout.js';
import { runningAverageWeights } from './conventions.js';
import { runningVarianceCorrection, type BatchNormSpec } from './spec.js';
import type { Gradients, HostState, Mode, StepOptions, TrainOutput } from './state.js';
import { stridesOf, type HostTensor } from './tensor.js';
import { ShapeError } from './errors.js';

type F64 = Float64Array;

/** Statistics for one call: per replica, per channel. */
interface Statistics {
  readonly mean: F64; // [replicas * channels]
  readonly variance: F64; // biased, what the output is normalised with
  readonly runningVarianceInput: F64; // biased or unbiased, per the spec
  /** Weight of each input element in its channel's statistics (0 where masked out). */
  readonly weight: F64 | undefined;
}

/** The mask broadcast to the input's full shape, as 0/1. */
function broadcastMask(spec: BatchNormSpec, inputShape: readonly number[], mask: HostTensor | undefined): Uint8Array | undefined {
  if (!mask) return undefined;
  checkMaskShape(spec, inputShape, mask.shape);
  const rank = inputShape.length;
  const offset = rank - mask.shape.length;
  const outStrides = stridesOf(inputShape);
  const maskStrides = stridesOf(mask.shape);
  const size = outStrides[0]! * inputShape[0]!;
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) {
    let m = 0;
    for (let ax = offset; ax < rank; ax++) {
      const d = mask.shape[ax - offset]!;
      if (d === 1) continue;
      m += (Math.floor(i / outStrides[ax]!) % inputShape[ax]!) * maskStrides[ax - offset]!;
    }
    out[i] = mask.data[m]! !== 0 ? 1 : 0;
  }
  return out;
}

function computeStatistics(
  spec: BatchNormSpec,
  layout: Layout,
  chan: Int32Array,
  x: HostTensor['data'],
  mask: Uint8Array | undefined,
): Statistics {
  const { replicas: R, channels: C } = layout;
  const sample = chan.length;
  // Per replica and channel: count and sum over unmasked positions.
  const count = new Float64Array(R * C);
  const sum = new Float64Array(R * C);
  for (let r = 0; r < R; r++) {
    for (let i = 0; i < sample; i++) {
      const k = r * sample + i;
      if (mask && !mask[k]) continue;
      const rc = r * C + chan[i]!;
      count[rc]!++;
      sum[rc]! += x[k]!;
    }
  }
  // Per-element weights and the group mean.
  const mean = new Float64Array(R * C);
  const groupCount = new Float64Array(R * C);
  const replicaWeight = new Float64Array(R * C); // weight of each element of replica r, channel c
  for (const group of layout.groups) {
    for (let c = 0; c < C; c++) {
      let n = 0;
      let s = 0;
      let meanOfMeans = 0;
      for (const r of group) {
        n += count[r * C + c]!;
        s += sum[r * C + c]!;
        meanOfMeans += sum[r * C + c]! / count[r * C + c]!;
      }
      const mu = spec.replicaCombination === 'unweighted-mean' ? meanOfMeans / group.length : s / n;
      for (const r of group) {
        mean[r * C + c] = mu;
        groupCount[r * C + c] = n;
        replicaWeight[r * C + c] =
          spec.replicaCombination === 'unweighted-mean' ? 1 / (group.length * count[r * C + c]!) : 1 / n;
      }
    }
  }
  // Second moments, accumulated per replica then summed over the group.
  const acc = new Float64Array(R * C);
  const onePass = spec.varianceAlgorithm !== 'two-pass';
  for (let r = 0; r < R; r++) {
    for (let i = 0; i < sample; i++) {
      const k = r * sample + i;
      if (mask && !mask[k]) continue;
      const rc = r * C + chan[i]!;
      const v = x[k]!;
      const d = onePass ? v : v - mean[rc]!;
      acc[rc]! += replicaWeight[rc]! * d * d;
    }
  }
  const variance = new Float64Array(R * C);
  const runningVarianceInput = new Float64Array(R * C);
  for (const group of layout.groups) {
    for (let c = 0; c < C; c++) {
      let m2 = 0;
      for (const r of group) m2 += acc[r * C + c]!;
      const mu = mean[group[0]! * C + c]!;
      let v = onePass ? m2 - mu * mu : m2;
      if (spec.varianceAlgorithm === 'one-pass-clamped') v = Math.max(0, v);
      const unbiased = varianceForRunningAverage(spec, v, groupCount[group[0]! * C + c]!);
      for (const r of group) {
        variance[r * C + c] = v;
        runningVarianceInput[r * C + c] = unbiased;
      }
    }
  }
  let weight: F64 | undefined;
  if (mask || R > 1 || spec.replicaCombination === 'unweighted-mean') {
    weight = new Float64Array(R * sample);
    for (let r = 0; r < R; r++) {
      for (let i = 0; i < sample; i++) {
        const k = r * sample + i;
        weight[k] = mask && !mask[k] ? 0 : replicaWeight[r * C + chan[i]!]!;
      }
    }
  }
  return { mean, variance, runningVarianceInput, weight };
}

/**
 * The variance a running average takes from a batch: the biased variance `v` of `n` values,
 * or `v·n/(n - offset)` per the spec's estimator. One channel, float64; engines that update
 * running statistics on the host use this too.
 */
export function varianceForRunningAverage(spec: BatchNormSpec, v: number, n: number): number {
  const offset = runningVarianceCorrection(spec);
  return offset === 0 ? v : (v * n) / (n - offset);
}

/**
 * One running statistic's step toward a batch value, the `tracked`-th update, in the spec's
 * form ('blend' or 'decay-toward'). One channel, float64.
 */
export function updateRunningStatistic(spec: BatchNormSpec, old: number, batch: number, tracked: number): number {
  const a = runningAverageWeights(spec.runningAverage, tracked).oldWeight;
  return spec.runningUpdateForm === 'decay-toward' ? old - (old - batch) * (1 - a) : a * old + (1 - a) * batch;
}

interface Prepared {
  readonly layout: Layout;
  readonly chan: Int32Array;
  readonly mean: F64; // [replicas * channels]
  readonly variance: F64;
  readonly stats: Statistics | undefined;
}

function prepare(spec: BatchNormSpec, state: HostState, x: HostTensor, mode: Mode, opts: StepOptions<HostTensor>): Prepared {
  const layout = resolveLayout(spec, x.shape, opts.replicas);
  checkValuesPerChannel(spec, layout, mode);
  checkStateShapes(spec, layout, mode, state);
  checkStateValues(state);
  const chan = channelIndex(layout);
  const mask = broadcastMask(spec, x.shape, opts.mask);
  const R = layout.replicas;
  const C = layout.channels;
  if (usesBatchStatistics(spec, mode)) {
    const stats = computeStatistics(spec, layout, chan, x.data, mask);
    return { layout, chan, mean: stats.mean, variance: stats.variance, stats };
  }
  const mean = new Float64Array(R * C);
  const variance = new Float64Array(R * C);
  for (let r = 0; r < R; r++) {
    for (let c = 0; c < C; c++) {
      mean[r * C + c] = state.runningMean!.data[c]!;
      variance[r * C + c] = state.runningVar!.data[c]!;
    }
  }
  return { layout, chan, mean, variance, stats: undefined };
}

function normalize(spec: BatchNormSpec, state: HostState, x: HostTensor, p: Prepared): HostTensor {
  const { layout, chan, mean, variance } = p;
  const C = layout.channels;
  const sample = chan.length;
  const out = new Float64Array(x.data.length);
  for (let r = 0; r < layout.replicas; r++) {
    for (let i = 0; i < sample; i++) {
      const k = r * sample + i;
      const c = chan[i]!;
      const rc = r * C + c;
      let y = (x.data[k]! - mean[rc]!) * (1 / Math.sqrt(variance[rc]! + spec.epsilon));
      if (spec.scale) y *= state.scale!.data[c]!;
      if (spec.bias) y += state.bias!.data[c]!;
      out[k] = y;
    }
  }
  return { shape: [...x.shape], data: out, dtype: 'float64' };
}

function statsTensor(p: Prepared, values: F64): HostTensor {
  return { shape: statisticsShape(p.layout), data: Float64Array.from(values), dtype: 'float64' };
}

const EMPTY: StepOptions<HostTensor> = {};

/** One training step: normalise with batch statistics and return the new state. */
export function referenceTrain(
  spec: BatchNormSpec,
  state: HostState,
  x: HostTensor,
  opts: StepOptions<HostTensor> = EMPTY,
): TrainOutput<HostTensor> {
  const p = prepare(spec, state, x, 'train', opts);
  const y = normalize(spec, state, x, p);
  let next: HostState = state;
  if (updatesRunningStatistics(spec, 'train')) {
    const tracked = state.numBatchesTracked + 1;
    const { layout } = p;
    const C = layout.channels;
    const R = layout.replicas;
    const rm = new Float64Array(R * C);
    const rv = new Float64Array(R * C);
    for (let r = 0; r < R; r++) {
      for (let c = 0; c < C; c++) {
        rm[r * C + c] = updateRunningStatistic(spec, state.runningMean!.data[c]!, p.mean[r * C + c]!, tracked);
        rv[r * C + c] = updateRunningStatistic(spec, state.runningVar!.data[c]!, p.stats!.runningVarianceInput[r * C + c]!, tracked);
      }
    }
    next = { ...state, runningMean: statsTensor(p, rm), runningVar: statsTensor(p, rv), numBatchesTracked: tracked };
  }
  return { y, batchMean: statsTensor(p, p.mean), batchVar: statsTensor(p, p.variance), state: next };
}

/** Inference: normalise with the running statistics (or the batch's, per `evalStatistics`). */
export function referenceEval(
  spec: BatchNormSpec,
  state: HostState,
  x: HostTensor,
  opts: StepOptions<HostTensor> = EMPTY,
): HostTensor {
  return normalize(spec, state, x, prepare(spec, state, x, 'eval', opts));
}

/**
 * Vector-Jacobian product of the output for a cotangent `dy`. Where batch statistics are used,
 * the gradient flows through them too:
 *
 *     g  = dy · scale,  x̂ = (x - mean) · inv
 *     dx = inv · g - w · inv · (Σ g + x̂ · Σ g·x̂)     (sums over the channel's group)
 *
 * (w = 0 for masked-out positions). The clamp of one-pass variance is treated as inactive.
 */
export function referenceVjp(
  spec: BatchNormSpec,
  state: HostState,
  x: HostTensor,
  dy: HostTensor,
  mode: Mode,
  opts: StepOptions<HostTensor> = EMPTY,
): Gradients<HostTensor> {
  if (dy.data.length !== x.data.length) throw new ShapeError('cotangent', `shape [${x.shape.join(', ')}]`, dy.shape);
  const p = prepare(spec, state, x, mode, opts);
  const { layout, chan, mean, variance } = p;
  const C = layout.channels;
  const R = layout.replicas;
  const sample = chan.length;
  const gammaOf = (c: number) => (spec.scale ? state.scale!.data[c]! : 1);
  const inv = variance.map((v) => 1 / Math.sqrt(v + spec.epsilon));
  const sumG = new Float64Array(R * C);
  const sumGX = new Float64Array(R * C);
  const dScale = new Float64Array(C);
  const dBias = new Float64Array(C);
  for (let r = 0; r < R; r++) {
    for (let i = 0; i < sample; i++) {
      const k = r * sample + i;
      const c = chan[i]!;
      const rc = r * C + c;
      const xhat = (x.data[k]! - mean[rc]!) * inv[rc]!;
      const g = dy.data[k]! * gammaOf(c);
      sumG[rc]! += g;
      sumGX[rc]! += g * xhat;
      dScale[c]! += dy.data[k]! * xhat;
      dBias[c]! += dy.data[k]!;
    }
  }
  const batch = p.stats !== undefined;
  // Group sums: statistics are shared by every replica of a group.
  if (batch) {
    for (const group of layout.groups) {
      for (let c = 0; c < C; c++) {
        let sg = 0;
        let sgx = 0;
        for (const r of group) {
          sg += sumG[r * C + c]!;
          sgx += sumGX[r * C + c]!;
        }
        for (const r of group) {
          sumG[r * C + c] = sg;
          sumGX[r * C + c] = sgx;
        }
      }
    }
  }
  const dx = new Float64Array(x.data.length);
  const n = layout.perChannel;
  for (let r = 0; r < R; r++) {
    for (let i = 0; i < sample; i++) {
      const k = r * sample + i;
      const c = chan[i]!;
      const rc = r * C + c;
      const g = dy.data[k]! * gammaOf(c);
      if (!batch) {
        dx[k] = g * inv[rc]!;
        continue;
      }
      const w = p.stats!.weight ? p.stats!.weight[k]! : 1 / n;
      const xhat = (x.data[k]! - mean[rc]!) * inv[rc]!;
      dx[k] = inv[rc]! * (g - w * (sumG[rc]! + xhat * sumGX[rc]!));
    }
  }
  const featureTensor = (data: F64): HostTensor => ({ shape: [...layout.featureShape], data, dtype: 'float64' });
  return {
    dx: { shape: [...x.shape], data: dx, dtype: 'float64' },
    dScale: spec.scale ? featureTensor(dScale) : undefined,
    dBias: spec.bias ? featureTensor(dBias) : undefined,
  };
}

/** Fresh state for a spec and feature shape: scale 1, bias 0, mean 0, var 1, counter 0. */
export function initialState(spec: BatchNormSpec, featureShape: readonly number[], dtype: HostTensor['dtype'] = 'float32'): HostState {
  const make = (v: number): HostTensor => {
    const n = featureShape.reduce((a, b) => a * b, 1);
    const data = dtype === 'float64' ? new Float64Array(n) : new Float32Array(n);
    data.fill(v);
    return { shape: [...featureShape], data, dtype };
  };
  return {
    scale: spec.scale ? make(1) : undefined,
    bias: spec.bias ? make(0) : undefined,
    runningMean: make(0),
    runningVar: make(1),
    numBatchesTracked: 0,
  };
}
