import * as tf from '@tensorflow/tfjs-core';
import { treeLeaves, treeUnflatten, type Tree } from '@normbridge/flax';

/**
 * Model code around the BatchNorm: optax-style optimizers on trees of tf tensors (the guide uses
 * `optax.adam(1e-3)`). `update` returns updates to ADD to the params, as optax does.
 */
export interface GradientTransformation<S = unknown> {
  init(params: Tree<tf.Tensor>): S;
  update(grads: Tree<tf.Tensor>, state: S, params?: Tree<tf.Tensor>): [Tree<tf.Tensor>, S];
}

function zip(a: Tree<tf.Tensor>, b: Tree<tf.Tensor>, f: (x: tf.Tensor, y: tf.Tensor) => tf.Tensor): Tree<tf.Tensor> {
  const la = treeLeaves(a);
  const lb = treeLeaves(b);
  if (la.length !== lb.length || la.some(([p], i) => p.join('/') !== lb[i]![0].join('/'))) {
    throw new RangeError('trees differ in structure');
  }
  return treeUnflatten(a, la.map(([, x], i) => tf.tidy(() => f(x, lb[i]![1]))));
}

function map(a: Tree<tf.Tensor>, f: (x: tf.Tensor) => tf.Tensor): Tree<tf.Tensor> {
  return treeUnflatten(a, treeLeaves(a).map(([, x]) => tf.tidy(() => f(x))));
}

/** `optax.apply_updates(params, updates)`. */
export function applyUpdates(params: Tree<tf.Tensor>, updates: Tree<tf.Tensor>): Tree<tf.Tensor> {
  return zip(params, updates, (p, u) => tf.add(p, u));
}

/** `optax.sgd`'s state with momentum: `(TraceState(trace), EmptyState())`. */
export interface SgdState {
  readonly trace: Tree<tf.Tensor>;
}

/**
 * `optax.sgd(learning_rate, momentum=None, nesterov=False)`. With a momentum, optax keeps a
 * trace: `trace = g + momentum * trace`, update `-lr * trace` (Nesterov:
 * `-lr * (g + momentum * trace)`). Without one, no state (`null`).
 */
export function sgd(learningRate: number): GradientTransformation<null>;
export function sgd(learningRate: number, momentum: number, nesterov?: boolean): GradientTransformation<SgdState>;
export function sgd(learningRate: number, momentum?: number, nesterov = false): GradientTransformation<SgdState | null> {
  if (momentum === undefined) {
    return {
      init: () => null,
      update: (grads) => [map(grads, (g) => tf.mul(g, -learningRate)), null],
    };
  }
  return {
    init: (params) => ({ trace: map(params, tf.zerosLike) }),
    update(grads, state) {
      const trace = zip(grads, (state as SgdState).trace, (g, t) => tf.add(g, tf.mul(t, momentum)));
      const direction = nesterov ? zip(grads, trace, (g, t) => tf.add(g, tf.mul(t, momentum))) : trace;
      return [map(direction, (d) => tf.mul(d, -learningRate)), { trace }];
    },
  };
}

export interface AdamState {
  readonly count: number;
  readonly mu: Tree<tf.Tensor>;
  readonly nu: Tree<tf.Tensor>;
}

/**
 * `optax.adam(learning_rate, b1=0.9, b2=0.999, eps=1e-8)`: bias-corrected first and second
 * moments, update `-lr * m̂ / (sqrt(v̂) + eps)`.
 */
export function adam(learningRate: number, b1 = 0.9, b2 = 0.999, eps = 1e-8): GradientTransformation<AdamState> {
  return {
    init: (params) => ({ count: 0, mu: map(params, tf.zerosLike), nu: map(params, tf.zerosLike) }),
    update(grads, state) {
      const count = state.count + 1;
      const mu = zip(state.mu, grads, (m, g) => tf.add(tf.mul(m, b1), tf.mul(g, 1 - b1)));
      const nu = zip(state.nu, grads, (v, g) => tf.add(tf.mul(v, b2), tf.mul(tf.square(g), 1 - b2)));
      const c1 = 1 - b1 ** count;
      const c2 = 1 - b2 ** count;
      const updates = zip(mu, nu, (m, v) => tf.mul(tf.div(tf.div(m, c1), tf.add(tf.sqrt(tf.div(v, c2)), eps)), -learningRate));
      return [updates, { count, mu, nu }];
    },
  };
}
