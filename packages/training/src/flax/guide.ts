import * as tf from '@tensorflow/tfjs-core';
import { linen, type Tree } from '@normbridge/flax';
import { valueAndGrad } from './grad.js';
import { Dense, relu } from './layers/linen.js';
import { softmaxCrossEntropyWithIntegerLabels } from './losses.js';
import type { TrainState } from './train-state.js';

const { BatchNorm, Module } = linen;
type Scope = linen.Scope;
type Variables = linen.Variables;

/**
 * The Flax batch-norm guide ("Batch normalization", flax.linen), in TypeScript: the MLP, and
 * `train_step` / `eval_step` shaped line for line like the guide's. `docs/flax-guide.md` shows
 * the two side by side; `guide.test.ts` runs them.
 */

/** Fields of the guide's MLP. */
export interface MLPFields {
  /** Width of the last Dense (the guide: 1). @default 1 */
  readonly outFeatures?: number | undefined;
  /** The BatchNorm's momentum (the guide keeps linen's default). @default 0.99 */
  readonly momentum?: number | undefined;
}

/** The guide's MLP: Dense(4) → BatchNorm(use_running_average=not train) → relu → Dense(1). See docs/flax-guide.md. */
export class MLP extends Module<tf.Tensor, { train: boolean }, tf.Tensor> {
  readonly outFeatures: number;
  readonly momentum: number;

  constructor(fields: MLPFields = {}) {
    super();
    this.outFeatures = fields.outFeatures ?? 1;
    this.momentum = fields.momentum ?? 0.99;
  }

  call(scope: Scope, x: tf.Tensor, { train }: { train: boolean } = { train: false }): tf.Tensor {
    x = scope.child(new Dense({ features: 4 }))(x);
    x = scope.child(new BatchNorm<tf.Tensor>({ useRunningAverage: !train, momentum: this.momentum }))(x);
    x = relu(x);
    x = scope.child(new Dense({ features: this.outFeatures }))(x);
    return x;
  }
}

/** A batch as the guide indexes it: `batch['image']`, `batch['label']`. */
export interface Batch {
  readonly image: tf.Tensor;
  readonly label: tf.Tensor;
}

export interface Metrics {
  readonly loss: tf.Scalar;
  readonly accuracy: tf.Scalar;
  /** The step's logits (the guide computes them for the accuracy; kept for inspection and fixtures). */
  readonly logits: tf.Tensor;
}

/** The loss and accuracy of a step (the guide: softmax cross-entropy over integer labels, argmax accuracy). */
export interface StepOptions {
  /** Per-example loss, averaged by the step. @default softmaxCrossEntropyWithIntegerLabels */
  readonly loss?: ((logits: tf.Tensor, labels: tf.Tensor) => tf.Tensor) | undefined;
  /** Per-example correctness (0/1). @default argmax(logits, -1) == label */
  readonly correct?: ((logits: tf.Tensor, labels: tf.Tensor) => tf.Tensor) | undefined;
}

const argmaxCorrect = (logits: tf.Tensor, labels: tf.Tensor) => tf.equal(tf.argMax(logits, -1), tf.cast(labels, 'int32'));

function metricsOf(loss: tf.Scalar, logits: tf.Tensor, labels: tf.Tensor, options: StepOptions): Metrics {
  const correct = options.correct ?? argmaxCorrect;
  return { loss, accuracy: tf.tidy(() => tf.mean(tf.cast(correct(logits, labels), 'float32'))) as tf.Scalar, logits };
}

/**
 * The guide's `train_step`: the loss function applies the model with `mutable=['batch_stats']`
 * and returns `(loss, (logits, updates))`; `value_and_grad(has_aux=True)` differentiates it with
 * respect to `params`; the state takes the gradient step, then `batch_stats` from the updates.
 */
export function trainStep<S>(state: TrainState<S>, batch: Batch, options: StepOptions = {}): [TrainState<S>, Metrics] {
  const lossOf = options.loss ?? softmaxCrossEntropyWithIntegerLabels;
  const lossFn = (params: Tree<tf.Tensor>): [tf.Scalar, [tf.Tensor, Variables]] => {
    const [logits, updates] = state.applyFn({ params, batch_stats: state.batchStats }, batch.image, {
      train: true,
      mutable: ['batch_stats'],
    }) as [tf.Tensor, Variables];
    const loss = tf.mean(lossOf(logits, batch.label)) as tf.Scalar;
    return [loss, [logits, updates]];
  };
  const gradFn = valueAndGrad(lossFn, { hasAux: true });
  const [[loss, [logits, updates]], grads] = gradFn(state.params);
  state = state.applyGradients({ grads });
  state = state.replace({ batchStats: updates['batch_stats'] });
  const metrics = metricsOf(loss, logits, batch.label, options);
  return [state, metrics];
}

/** The guide's `eval_step`: apply with `train=False` (running averages, nothing mutable). */
export function evalStep<S>(state: TrainState<S>, batch: Batch, options: StepOptions = {}): [TrainState<S>, Metrics] {
  const lossOf = options.loss ?? softmaxCrossEntropyWithIntegerLabels;
  const logits = state.applyFn({ params: state.params, batch_stats: state.batchStats }, batch.image, { train: false }) as tf.Tensor;
  const loss = tf.tidy(() => tf.mean(lossOf(logits, batch.label))) as tf.Scalar;
  const metrics = metricsOf(loss, logits, batch.label, options);
  return [state, metrics];
}
