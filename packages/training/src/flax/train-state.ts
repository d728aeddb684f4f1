import type * as tf from '@tensorflow/tfjs-core';
import type { linen, Tree } from '@normbridge/flax';
import { applyUpdates, type GradientTransformation } from './optim.js';

/** A model's `apply` as a TrainState holds it: `(variables, x, options) => y | [y, updates]`. */
export type ApplyFn = (variables: linen.Variables, x: any, options?: any) => any;

/**
 * `flax.training.train_state.TrainState` with the guide's extra `batch_stats` field: an
 * immutable container of `step`, `applyFn`, `params`, `tx`, `optState` and `batchStats`.
 */
export class TrainState<S = unknown> {
  private constructor(
    readonly step: number,
    readonly applyFn: ApplyFn,
    readonly params: Tree<tf.Tensor>,
    readonly tx: GradientTransformation<S>,
    readonly optState: S,
    /** The `batch_stats` collection (the guide's `TrainState` subclass field). */
    readonly batchStats: Tree<any>,
  ) {}

  /** `TrainState.create(apply_fn=…, params=…, batch_stats=…, tx=…)`: `optState = tx.init(params)`. */
  static create<S>(fields: {
    readonly applyFn: ApplyFn;
    readonly params: Tree<tf.Tensor>;
    readonly tx: GradientTransformation<S>;
    readonly batchStats?: Tree<any> | undefined;
  }): TrainState<S> {
    return new TrainState(0, fields.applyFn, fields.params, fields.tx, fields.tx.init(fields.params), fields.batchStats ?? {});
  }

  /** `state.apply_gradients(grads=…)`: one optimizer step, `step + 1`. */
  applyGradients({ grads }: { readonly grads: Tree<tf.Tensor> }): TrainState<S> {
    const [updates, optState] = this.tx.update(grads, this.optState, this.params);
    return new TrainState(this.step + 1, this.applyFn, applyUpdates(this.params, updates), this.tx, optState, this.batchStats);
  }

  /** `state.replace(batch_stats=…)` (and the other fields). */
  replace(fields: Partial<Pick<TrainState<S>, 'step' | 'params' | 'optState' | 'batchStats'>>): TrainState<S> {
    return new TrainState(
      fields.step ?? this.step,
      this.applyFn,
      fields.params ?? this.params,
      this.tx,
      fields.optState ?? this.optState,
      fields.batchStats ?? this.batchStats,
    );
  }
}
