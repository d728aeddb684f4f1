import * as tf from '@tensorflow/tfjs-core';
import { treeLeaves, treeUnflatten, type Tree } from '@normbridge/flax';

/**
 * `jax.value_and_grad(fn, has_aux=…)` over a tree of tf tensors (Flax `params`), built on
 * `tf.valueAndGrads`. Gradients flow through BatchNorm calls via the engine's differentiable
 * op. Auxiliary outputs (logits, the `batch_stats` updates) are kept alive past TF.js's
 * gradient scope. Needs TF.js gradients registered (`@normbridge/tfjs`'s `createTfjsEngine` does
 * it; so does importing `@tensorflow/tfjs`).
 */
export function valueAndGrad<P extends Tree<tf.Tensor>, A>(
  fn: (params: P) => [tf.Scalar, A],
  options: { readonly hasAux: true },
): (params: P) => [[tf.Scalar, A], P];
export function valueAndGrad<P extends Tree<tf.Tensor>>(fn: (params: P) => tf.Scalar, options?: { readonly hasAux?: false }): (params: P) => [tf.Scalar, P];
export function valueAndGrad<P extends Tree<tf.Tensor>, A>(
  fn: (params: P) => tf.Scalar | [tf.Scalar, A],
  options: { readonly hasAux?: boolean } = {},
): (params: P) => [tf.Scalar, P] | [[tf.Scalar, A], P] {
  return (params: P) => {
    const paths = treeLeaves(params);
    let aux: A | undefined;
    const f = (...xs: tf.Tensor[]) => {
      const out = fn(treeUnflatten(params, xs) as P);
      if (!options.hasAux) return out as tf.Scalar;
      const [loss, a] = out as [tf.Scalar, A];
      keepAll(a);
      aux = a;
      return loss;
    };
    const { value, grads } = tf.valueAndGrads(f)(paths.map(([, t]) => t));
    const g = treeUnflatten(params, grads) as P;
    return options.hasAux ? [[value as tf.Scalar, aux as A], g] : [value as tf.Scalar, g];
  };
}

/** tf.keep every tensor in a nested structure of arrays and objects. */
export function keepAll(v: unknown): void {
  if (v instanceof tf.Tensor) tf.keep(v);
  else if (Array.isArray(v)) v.forEach(keepAll);
  else if (typeof v === 'object' && v !== null) Object.values(v).forEach(keepAll);
}
