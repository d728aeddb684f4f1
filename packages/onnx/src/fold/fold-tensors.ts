/**
 * Folding inference-mode BatchNorm into the preceding Conv or Gemm's weights:
 *
 *     s  = scale / sqrt(running_var + eps)          (per output channel)
 *     W' = W · s (along the output channel),  b' = (b - running_mean) · s + B
 *
 * computed in float64 and rounded once to the weight's dtype.
 */
import {
  ShapeError,
  SpecError,
  StateError,
  type BatchNormSpec,
  type HostState,
  type HostTensor,
} from '@normbridge/core';

export interface ConvParams {
  /** [O, I / groups, k1, …] (OIHW for 2-D convolutions). */
  readonly weight: HostTensor;
  /**
   * [O].
   * @default undefined (no bias: zero)
   */
  readonly bias?: HostTensor | undefined;
}

export interface GemmParams {
  /** Gemm's B: [K, N], or [N, K] when `transB`. */
  readonly weight: HostTensor;
  /**
   * Gemm's C: [N], [1, N], [1] or a scalar.
   * @default undefined (no C: zero)
   */
  readonly bias?: HostTensor | undefined;
  /** @default false */
  readonly transB?: boolean | undefined;
  /** Gemm's beta, which multiplies C; absorbed into the folded bias. @default 1 */
  readonly beta?: number | undefined;
}

/** Per-channel factor s and shift t: BN(z) = z·s + t for the channel. */
function affine(spec: BatchNormSpec, state: HostState, channels: number): { s: Float64Array; t: Float64Array } {
  if (spec.evalStatistics !== 'running') {
    throw new SpecError('evalStatistics', spec.evalStatistics, 'only BatchNorm that normalises with running statistics can be folded');
  }
  const need = (key: 'scale' | 'bias' | 'runningMean' | 'runningVar', present: boolean): HostTensor | undefined => {
    if (!present) return undefined;
    const v = state[key];
    if (!v) throw new StateError(key, 'is missing (folding needs it)');
    if (v.data.length !== channels || v.shape.length !== 1) {
      throw new StateError(key, `has shape [${v.shape.join(', ')}] but the layer has ${channels} output channels`);
    }
    return v;
  };
  const gamma = need('scale', spec.scale);
  const beta = need('bias', spec.bias);
  const mean = need('runningMean', true)!;
  const variance = need('runningVar', true)!;
  const s = new Float64Array(channels);
  const t = new Float64Array(channels);
  for (let c = 0; c < channels; c++) {
    s[c] = (1 / Math.sqrt(variance.data[c]! + spec.epsilon)) * (gamma ? gamma.data[c]! : 1);
    t[c] = (beta ? beta.data[c]! : 0) - mean.data[c]! * s[c]!;
  }
  return { s, t };
}

function like(t: HostTensor, shape: readonly number[], values: Float64Array): HostTensor {
  return { shape: [...shape], data: t.dtype === 'float64' ? values : Float32Array.from(values), dtype: t.dtype };
}

export function foldBatchNormIntoConv(conv: ConvParams, spec: BatchNormSpec, state: HostState): Required<ConvParams> {
  const w = conv.weight;
  if (w.shape.length < 3) throw new ShapeError('conv weight', 'rank >= 3: [O, I / groups, k1, ...]', w.shape);
  const O = w.shape[0]!;
  if (conv.bias && (conv.bias.shape.length !== 1 || conv.bias.data.length !== O)) throw new ShapeError('conv bias', `[${O}]`, conv.bias.shape);
  const { s, t } = affine(spec, state, O);
  const per = w.data.length / O;
  const weight = new Float64Array(w.data.length);
  for (let i = 0; i < w.data.length; i++) weight[i] = w.data[i]! * s[Math.floor(i / per)]!;
  const bias = new Float64Array(O);
  for (let o = 0; o < O; o++) bias[o] = (conv.bias ? conv.bias.data[o]! : 0) * s[o]! + t[o]!;
  return { weight: like(w, w.shape, weight), bias: like(conv.bias ?? w, [O], bias) };
}

/** The result is meant for a Gemm with the same `transB` and alpha, and beta = 1. */
export function foldBatchNormIntoGemm(gemm: GemmParams, spec: BatchNormSpec, state: HostState): { weight: HostTensor; bias: HostTensor } {
  const w = gemm.weight;
  if (w.shape.length !== 2) throw new ShapeError('Gemm weight (B)', 'rank 2', w.shape);
  const transB = gemm.transB ?? false;
  const [rows, cols] = w.shape as [number, number];
  const N = transB ? rows : cols;
  const c = gemm.bias;
  const cn = c ? c.data.length : 0;
  if (c && !(cn === 1 || (cn === N && c.shape[c.shape.length - 1] === N && c.shape.length <= 2))) {
    throw new ShapeError('Gemm bias (C)', `[${N}], [1, ${N}], [1] or a scalar`, c.shape);
  }
  const { s, t } = affine(spec, state, N);
  const weight = new Float64Array(w.data.length);
  for (let r = 0; r < rows; r++) {
    for (let k = 0; k < cols; k++) weight[r * cols + k] = w.data[r * cols + k]! * s[transB ? r : k]!;
  }
  const beta = gemm.beta ?? 1;
  const bias = new Float64Array(N);
  for (let n = 0; n < N; n++) bias[n] = (c ? beta * c.data[cn === 1 ? 0 : n]! : 0) * s[n]! + t[n]!;
  return { weight: like(w, w.shape, weight), bias: like(c ?? w, [N], bias) };
}
