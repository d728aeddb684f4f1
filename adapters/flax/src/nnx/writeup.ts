import { defineSpec, fromDecayMomentum, type BatchNormSpec, type BatchNormState, type Engine } from '@normbridge/core';
import { resolveAnyEngine, resolveEngine, runBatchNorm, runBatchNormAsync } from '../backend.js';
import { hostFull, reshapeLeaf, shapeOf, toEngine } from '../leaf.js';
import { Module } from './module.js';
import { BatchStat, Param } from './variables.js';

/**
 * The BatchNorm of the write-up "Implementing BatchNorm with Flax NNX" (a ResNet-50 port), as a
 * normbridge spec instead of hand-written maths. That module:
 *
 * - takes NHWC input and reduces over `(0, 1, 2)` — feature axis 3;
 * - keeps `gamma`/`beta` (`nnx.Param`) and `moving_mean`/`moving_var` (`nnx.BatchStat`) of
 *   shape `(1, 1, 1, C)`, initialised to 1, 0, 0, 1;
 * - normalises with the batch mean and `jnp.var` (biased, two-pass), `eps` 1e-5;
 * - updates `moving = momentum * moving + (1 - momentum) * batch` with `momentum` 0.9 — the
 *   weight of the OLD value, as in Flax's own BatchNorm (`fromDecayMomentum(0.9)`);
 * - switches on its `use_running_average` attribute, so `.eval()` / `.train()` work.
 *
 * It is therefore `nnx.BatchNorm(C, momentum=0.9, use_fast_variance=False)` with parameters
 * kept in a broadcast shape. Only the operation order of the output differs
 * (`gamma * ((x - m) / sqrt(v + eps)) + beta` against Flax's `(x - m) * (rsqrt(v + eps) * scale)
 * + bias`), which can move the last float32 bit.
 */
export function writeupSpec(eps = 1e-5, momentum = 0.9): BatchNormSpec {
  return defineSpec({
    featureAxes: [3],
    epsilon: eps,
    runningAverage: fromDecayMomentum(momentum),
    runningVarianceEstimator: 'biased',
    varianceAlgorithm: 'two-pass',
    scale: true,
    bias: true,
    evalStatistics: 'running',
    runningUpdateForm: 'blend',
  });
}

/** The write-up's module (`BatchNorm(n_features, eps=1e-5, momentum=0.9)` there), NHWC only. */
export class WriteupBatchNorm<T = any> extends Module {
  gamma: Param<T>;
  beta: Param<T>;
  moving_mean: BatchStat<T>;
  moving_var: BatchStat<T>;
  eps: number;
  momentum: number;
  /** The attribute `.eval()` / `.train()` set. @default false */
  useRunningAverage: boolean;
  readonly #engine: Engine<T>;

  /**
   * @param nFeatures C
   * @param options.eps @default 1e-5
   * @param options.momentum @default 0.9 (weight of the old value)
   * @param options.engine @default core's default engine
   */
  constructor(nFeatures: number, options: { eps?: number; momentum?: number; engine?: Engine<T> } = {}) {
    super();
    const engine = resolveAnyEngine<T>(options.engine);
    this.#engine = engine;
    const shape = [1, 1, 1, nFeatures];
    this.gamma = new Param(toEngine(engine, hostFull(shape, 1, 'float32')));
    this.beta = new Param(toEngine(engine, hostFull(shape, 0, 'float32')));
    this.moving_mean = new BatchStat(toEngine(engine, hostFull(shape, 0, 'float32')));
    this.moving_var = new BatchStat(toEngine(engine, hostFull(shape, 1, 'float32')));
    this.eps = options.eps ?? 1e-5;
    this.momentum = options.momentum ?? 0.9;
    this.useRunningAverage = false;
  }

  /** `bn(x_bhwc)`. */
  call(x: T): T {
    const engine = resolveEngine<T>(this.#engine);
    const out = runBatchNorm(engine, this.#spec(), this.#state(), x, this.useRunningAverage ? 'eval' : 'train');
    this.#update(engine, out.state);
    return out.y;
  }

  /** {@link call} on any engine (required for asynchronous ones). */
  async callAsync(x: T): Promise<T> {
    const engine = resolveAnyEngine<T>(this.#engine);
    const out = await runBatchNormAsync(engine, this.#spec(), this.#state(), x, this.useRunningAverage ? 'eval' : 'train');
    this.#update(engine, out.state);
    return out.y;
  }

  #spec(): BatchNormSpec {
    return writeupSpec(this.eps, this.momentum);
  }

  #state(): BatchNormState<T> {
    const c = shapeOf(this.gamma.value)[3]!;
    const flat = (v: T) => reshapeLeaf(v, [c]);
    const state: BatchNormState<T> = {
      scale: flat(this.gamma.value),
      bias: flat(this.beta.value),
      runningMean: flat(this.moving_mean.value),
      runningVar: flat(this.moving_var.value),
      numBatchesTracked: 0,
    };
    return state;
  }

  /** The write-up assigns the new moving statistics after a training call only. */
  #update(engine: { dispose(...t: (T | undefined)[]): void }, state: BatchNormState<T>): void {
    if (this.useRunningAverage) return;
    const c = shapeOf(this.gamma.value)[3]!;
    const mean = reshapeLeaf(state.runningMean!, [1, 1, 1, c]);
    const variance = reshapeLeaf(state.runningVar!, [1, 1, 1, c]);
    // The engine's [c] results are ours alone once reshaped (a new handle on the same data).
    if (mean !== state.runningMean) engine.dispose(state.runningMean);
    if (variance !== state.runningVar) engine.dispose(state.runningVar);
    this.moving_mean.value = mean;
    this.moving_var.value = variance;
  }
}
