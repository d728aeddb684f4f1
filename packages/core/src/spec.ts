import { z } from 'zod';
import { SpecError, valueAt } from './errors.js';

/**
 * How running statistics are averaged. The canonical form names what the weight multiplies:
 * `new = oldValueWeight * old + (1 - oldValueWeight) * batch`. Framework "momentum" values are
 * converted by the helpers in `conventions.ts`, never by hand.
 */
export const RunningAverageSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('exponential'),
    /** Weight of the old running value; 1 - PyTorch/MLX momentum, = Flax/Keras/ONNX momentum. */
    oldValueWeight: z.number().min(0).max(1),
  }),
  /** Plain average of every batch statistic so far (PyTorch `momentum=None`), driven by the counter. */
  z.object({ kind: z.literal('cumulative') }),
  /** Running statistics are never written (PyTorch `track_running_stats` turned off later, Keras frozen). */
  z.object({ kind: z.literal('none') }),
]);
export type RunningAverage = z.infer<typeof RunningAverageSchema>;

export const DTYPES = ['float16', 'bfloat16', 'float32', 'float64'] as const;
export type Dtype = (typeof DTYPES)[number];

/**
 * The canonical BatchNorm spec. Every framework adapter resolves its own arguments into one of
 * these; engines and the reference implement exactly this and nothing framework-specific.
 */
export const BatchNormSpecSchema = z.object({
  /**
   * Feature (channel) axes, resolved against the input's rank; negatives count from the end.
   * Statistics are reduced over every other axis.
   * @default [-1]
   */
  featureAxes: z.array(z.number().int()).min(1).default([-1]),
  /**
   * Added to the variance before the square root: `rsqrt(var + epsilon)`.
   * @default 1e-5
   */
  epsilon: z.number().finite().nonnegative().default(1e-5),
  /** @default { kind: 'exponential', oldValueWeight: 0.9 } */
  runningAverage: RunningAverageSchema.default({ kind: 'exponential', oldValueWeight: 0.9 }),
  /**
   * Which variance estimate feeds the running variance. The output is always normalised with
   * the biased one. `unbiased`: var·n/(n − 1) (PyTorch, MLX ≥ 0.32.1); `biased` (Flax, Keras 3,
   * TF.js, ONNX, MLX ≤ 0.32.0); `almost-unbiased`: var·n/(n − (1 + epsilon)) (multi-backend
   * Keras 2.1.4–2.3.1, keras-team/keras#9028). See {@link runningVarianceCorrection}.
   * @default 'biased'
   */
  runningVarianceEstimator: z.enum(['biased', 'unbiased', 'almost-unbiased']).default('biased'),
  /**
   * How the batch variance is computed: `two-pass` mean((x - mean)^2); `one-pass-clamped`
   * max(0, E[x^2] - E[x]^2) (Flax `use_fast_variance`); `one-pass-unclamped` (legacy flax.nn,
   * Keras torch/numpy backends). They agree in exact arithmetic, not in float32.
   * @default 'two-pass'
   */
  varianceAlgorithm: z.enum(['two-pass', 'one-pass-clamped', 'one-pass-unclamped']).default('two-pass'),
  /** Learned scale (gamma) present. @default true */
  scale: z.boolean().default(true),
  /** Learned shift (beta) present. @default true */
  bias: z.boolean().default(true),
  /**
   * What inference normalises with: the running statistics, or the batch's own (PyTorch/MLX
   * with `track_running_stats=False`).
   * @default 'running'
   */
  evalStatistics: z.enum(['running', 'batch']).default('running'),
  /**
   * One value per channel (n = 1) when batch statistics are computed: `error` whenever batch
   * statistics are computed (PyTorch), `error-in-training` only in training mode (MLX ≥ 0.32.1),
   * `allowed` (var = 0, output = bias; Flax, Keras, TF.js, ONNX, MLX ≤ 0.32.0).
   * @default 'allowed'
   */
  singleValuePerChannel: z.enum(['error', 'error-in-training', 'allowed']).default('allowed'),
  /**
   * Whether a call may pass a mask over the reduction (Flax `mask`): statistics are then taken
   * only over positions where the mask is true.
   * @default false
   */
  masked: z.boolean().default(false),
  /**
   * Dtype of the statistics for reduced-precision inputs: `float32` reduces float16/bfloat16
   * inputs in float32 (Flax `force_float32_reductions`, Keras, ONNX); `input` keeps the input dtype.
   * @default 'float32'
   */
  statisticsDtype: z.enum(['float32', 'input']).default('float32'),
  /**
   * The algebraic form of the running update, which fixes the last float32 bit:
   * `blend` computes `a * old + (1 - a) * batch` (PyTorch, Flax, MLX, ONNX);
   * `decay-toward` computes `old - (old - batch) * (1 - a)` (TF.js, tf.keras).
   * @default 'blend'
   */
  runningUpdateForm: z.enum(['blend', 'decay-toward']).default('blend'),
  /**
   * How statistics of several replicas are combined when an input carries a leading replica
   * axis: `count-weighted` merges by element count (PyTorch SyncBatchNorm), `unweighted-mean`
   * averages per-replica moments (Flax `lax.pmean`). Equal when every replica has equal counts.
   * @default 'count-weighted'
   */
  replicaCombination: z.enum(['count-weighted', 'unweighted-mean']).default('count-weighted'),
});

/** A fully defaulted, validated spec. */
export type BatchNormSpec = z.infer<typeof BatchNormSpecSchema>;
/** What callers may write: every field optional. */
export type BatchNormSpecInput = z.input<typeof BatchNormSpecSchema>;

/**
 * The running variance is fed `var · n / (n − offset)`: this returns the offset (0 for the
 * biased estimator, 1 for Bessel's correction, 1 + epsilon for Keras 2.1.4–2.3.1). The one place
 * engines and the reference learn what an estimator means.
 */
export function runningVarianceCorrection(spec: Pick<BatchNormSpec, 'runningVarianceEstimator' | 'epsilon'>): number {
  switch (spec.runningVarianceEstimator) {
    case 'biased':
      return 0;
    case 'unbiased':
      return 1;
    case 'almost-unbiased':
      return 1 + spec.epsilon;
  }
}

/**
 * Validates and defaults a spec. Throws {@link SpecError} naming the first bad field and its value.
 */
export function defineSpec(input: BatchNormSpecInput = {}): BatchNormSpec {
  const parsed = BatchNormSpecSchema.safeParse(input);
  if (parsed.success) return Object.freeze(parsed.data) as BatchNormSpec;
  const issue = parsed.error.issues[0]!;
  const field = issue.path.map(String).join('.') || '(spec)';
  throw new SpecError(field, valueAt(input, issue.path), issue.message);
}
