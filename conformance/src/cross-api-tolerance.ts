/**
 * Error bounds for the cross-API property tests (cross-api.test.ts).
 *
 * Two adapters that resolve to the same canonical spec compute the same real-valued result; on
 * a floating-point engine they may still round differently (different layouts reduce in a
 * different order, two running-update forms round differently). Every tolerance here is a bound
 * on the DIFFERENCE of two such computations, derived from the unit roundoff `u` of the engine
 * (2^-53 on the float64 reference, 2^-24 on tfjs) and the data:
 *
 * - a batch mean of n <= 36 values is within n·u·max|x| of exact (naive summation) on each side;
 *   two of them differ by at most K·u·max|x| with K = 128 (> 2·(36 + 1)).
 * - a two-pass variance mean((x - mu)²) is within K·u·var + dmu² (the centring error only enters
 *   squared, since mean(x - mu) = 0).
 * - a running update a·old + (1-a)·batch adds K·u·(|old| + |batch| + |new|) on top of the carried
 *   differences (a <= 1 never amplifies them).
 * - an output (x - mu)/sqrt(var + eps) moves by at most the interval bound
 *   (|x - mu| + dmu)/sqrt(var + eps - dvar) - |x - mu|/sqrt(var + eps), plus K·u·(1 + |y|) for
 *   rounding the output itself. Near-constant channels with a small eps make this large in
 *   float32 (|x - mu| ≈ 0 but dmu/sqrt(eps) is not): that is real float32 behaviour, not slack.
 *
 * On the reference these come out around 1e-14 relative; on tfjs around 1e-5 for well-conditioned
 * channels. They are computed in float64 here, by the test, and never fed back to an adapter.
 */

export const U_FLOAT64 = 2 ** -53;
export const U_FLOAT32 = 2 ** -24;

/** Rounding-error multiplier for a difference of two computations (see the module comment). */
export const K = 128;

/** Per-channel facts about one input, in float64 (for tolerances only). */
export interface ChannelStats {
  /** Channel of every element of the input, in its memory order. */
  readonly channel: Int32Array;
  /** Values per channel (n). */
  readonly count: number;
  readonly maxAbs: Float64Array;
  readonly mean: Float64Array;
  /** Biased, two-pass. */
  readonly var: Float64Array;
}

/** Per-channel bounds on the difference of two computations of the mean and variance. */
export interface StatBounds {
  readonly mean: Float64Array;
  readonly var: Float64Array;
  /** The running values these bounds are for (the next update's `old`). */
  readonly lastMean: Float64Array;
  readonly lastVar: Float64Array;
}

export function channelIndex(shape: readonly number[], axis: number): Int32Array {
  const size = shape.reduce((a, b) => a * b, 1);
  let stride = 1;
  for (let i = shape.length - 1; i > axis; i--) stride *= shape[i]!;
  const channels = shape[axis]!;
  return Int32Array.from({ length: size }, (_, i) => Math.floor(i / stride) % channels);
}

export function channelStats(data: Float64Array, shape: readonly number[], axis: number): ChannelStats {
  const channels = shape[axis]!;
  const channel = channelIndex(shape, axis);
  const count = data.length / channels;
  const maxAbs = new Float64Array(channels);
  const mean = new Float64Array(channels);
  const variance = new Float64Array(channels);
  data.forEach((v, i) => {
    const c = channel[i]!;
    mean[c]! += v / count;
    maxAbs[c] = Math.max(maxAbs[c]!, Math.abs(v));
  });
  data.forEach((v, i) => {
    const c = channel[i]!;
    variance[c]! += (v - mean[c]!) ** 2 / count;
  });
  return { channel, count, maxAbs, mean, var: variance };
}

/** Batch mean and biased batch variance of two computations. */
export function batchBounds(u: number, s: ChannelStats): { mean: Float64Array; var: Float64Array } {
  const mean = s.maxAbs.map((m) => K * u * m);
  return { mean, var: s.var.map((v, c) => K * u * v + mean[c]! ** 2) };
}

/**
 * Running statistics after one more training step, both computations starting from values at
 * most `prev` apart (fresh state: 0 and 1 exactly, no difference). `estimator` says what feeds
 * the running variance; pass 'unbiased' when either side does (it is the larger bound).
 */
export function runningBounds(
  u: number,
  prev: StatBounds | undefined,
  s: ChannelStats,
  batch: { mean: Float64Array; var: Float64Array },
  estimator: 'biased' | 'unbiased',
  newMean: Float64Array,
  newVar: Float64Array,
): StatBounds {
  const C = s.mean.length;
  const rho = estimator === 'unbiased' ? s.count / (s.count - 1) : 1;
  const oldMean = prev?.lastMean ?? new Float64Array(C);
  const oldVar = prev?.lastVar ?? new Float64Array(C).fill(1);
  const mean = new Float64Array(C);
  const variance = new Float64Array(C);
  for (let c = 0; c < C; c++) {
    const batchVar = rho * (s.var[c]! + batch.var[c]!);
    mean[c] = (prev?.mean[c] ?? 0) + batch.mean[c]! + K * u * (Math.abs(oldMean[c]!) + s.maxAbs[c]! + Math.abs(newMean[c]!));
    variance[c] = (prev?.var[c] ?? 0) + rho * batch.var[c]! + K * u * (oldVar[c]! + batchVar + Math.abs(newVar[c]!));
  }
  return { mean, var: variance, lastMean: newMean, lastVar: newVar };
}

/**
 * Keras' two update forms on IDENTICAL batch statistics: `blend` a·old + (1-a)·batch and
 * `decay-toward` old - (old - batch)·(1-a) are equal in exact arithmetic; each rounds at most 3
 * times and (on tfjs) rounds its weights to float32 once, so per step they differ by at most
 * 8·u·(|old| + |batch| + |new|), and a <= 1 carries earlier differences without growth.
 */
export function updateFormBounds(u: number, prev: StatBounds | undefined, s: ChannelStats, newMean: Float64Array, newVar: Float64Array): StatBounds {
  const C = s.mean.length;
  const oldMean = prev?.lastMean ?? new Float64Array(C);
  const oldVar = prev?.lastVar ?? new Float64Array(C).fill(1);
  const batch = batchBounds(u, s);
  const mean = new Float64Array(C);
  const variance = new Float64Array(C);
  for (let c = 0; c < C; c++) {
    mean[c] = (prev?.mean[c] ?? 0) + 8 * u * (Math.abs(oldMean[c]!) + s.maxAbs[c]! + Math.abs(newMean[c]!));
    variance[c] = (prev?.var[c] ?? 0) + 8 * u * (oldVar[c]! + s.var[c]! + batch.var[c]! + Math.abs(newVar[c]!));
  }
  return { mean, var: variance, lastMean: newMean, lastVar: newVar };
}

/**
 * Largest change of (x - mu)/sqrt(v + eps) when mu moves by at most dMean and v by at most dVar
 * (exact interval bound, not a linearisation). Infinite when v + eps - dVar <= 0.
 */
export function outputMove(x: number, mu: number, v: number, eps: number, dMean: number, dVar: number): number {
  const d = Math.abs(x - mu);
  const low = v + eps - dVar;
  if (!(low > 0)) return Number.POSITIVE_INFINITY;
  return (d + dMean) / Math.sqrt(low) - d / Math.sqrt(v + eps);
}

/** A readable list of what went wrong in one run. */
export class Checker {
  readonly #problems: string[] = [];

  #compare(label: string, actual: ArrayLike<number>, expected: ArrayLike<number>, tol: (i: number) => number): void {
    if (actual.length !== expected.length) {
      this.#problems.push(`${label}: ${actual.length} values, expected ${expected.length}`);
      return;
    }
    let worst = -1;
    let worstExcess = 0;
    let bad = 0;
    for (let i = 0; i < expected.length; i++) {
      const a = actual[i]!;
      const e = expected[i]!;
      if (Number.isNaN(a) && Number.isNaN(e)) continue;
      const t = tol(i);
      const diff = Math.abs(a - e);
      if (!(diff <= t)) {
        bad++;
        const excess = Number.isNaN(diff) ? Number.POSITIVE_INFINITY : diff / t;
        if (worst < 0 || excess > worstExcess) {
          worst = i;
          worstExcess = excess;
        }
      }
    }
    if (bad > 0) {
      const a = actual[worst]!;
      const e = expected[worst]!;
      this.#problems.push(
        `${label}: ${bad}/${expected.length} outside tolerance; worst [${worst}] ${a} vs ${e} ` +
          `(|diff| ${Math.abs(a - e).toExponential(3)} > tol ${tol(worst).toExponential(3)})`,
      );
    }
  }

  /** Elementwise |actual - expected| <= tol[i]. */
  close(label: string, actual: ArrayLike<number>, expected: ArrayLike<number>, tol: ArrayLike<number>): void {
    this.#compare(label, actual, expected, (i) => tol[i]!);
  }

  /** Same as {@link close}, for two sides of a documented relation. */
  relation(label: string, lhs: ArrayLike<number>, rhs: ArrayLike<number>, tol: ArrayLike<number>): void {
    this.#compare(label, lhs, rhs, (i) => tol[i]!);
  }

  /** Bit-for-bit equal (NaN equals NaN). */
  identical(label: string, actual: ArrayLike<number>, expected: ArrayLike<number>): void {
    this.#compare(label, actual, expected, () => 0);
  }

  /**
   * Training outputs of two computations, both normalising `x` with its own batch statistics:
   * each is within outputMove(...) of the exact output, so they differ by at most twice that,
   * plus the rounding of the outputs themselves.
   */
  outputs(
    label: string,
    actual: ArrayLike<number>,
    expected: ArrayLike<number>,
    x: Float64Array,
    s: ChannelStats,
    batch: { mean: Float64Array; var: Float64Array },
    eps: number,
    u: number,
  ): void {
    this.#compare(label, actual, expected, (i) => {
      const c = s.channel[i]!;
      return 2 * outputMove(x[i]!, s.mean[c]!, s.var[c]!, eps, batch.mean[c]!, batch.var[c]!) + K * u * (1 + Math.abs(expected[i]!));
    });
  }

  /**
   * Inference outputs: `expected` normalised with running statistics (rm, rv), `actual` with
   * statistics at most `bounds` away from them.
   */
  evalOutputs(
    label: string,
    actual: ArrayLike<number>,
    expected: ArrayLike<number>,
    x: Float64Array,
    shape: readonly number[],
    axis: number,
    rm: Float64Array,
    rv: Float64Array,
    bounds: StatBounds,
    eps: number,
    u: number,
  ): void {
    const channel = channelIndex(shape, axis);
    this.#compare(label, actual, expected, (i) => {
      const c = channel[i]!;
      return outputMove(x[i]!, rm[c]!, rv[c]!, eps, bounds.mean[c]!, bounds.var[c]!) + K * u * (1 + Math.abs(expected[i]!));
    });
  }

  throwIfAny(): void {
    if (this.#problems.length > 0) throw new Error(this.#problems.join('\n'));
  }
}

/**
 * Tolerance of the one-step relation (T_k - a·T_{k-1}) = (F_k - a·F_{k-1})·n/(n-1): each running
 * value is within its bound of the exact one, and the exact sides are equal.
 */
export function relationTolerance(now: StatBounds, before: StatBounds | undefined, n: number): Float64Array {
  const rho = n / (n - 1);
  return now.var.map((d, c) => (1 + rho) * (d + (before?.var[c] ?? 0)));
}
