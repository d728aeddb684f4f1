import type * as tf from '@tensorflow/tfjs-core';
import { initializers, nn } from '@normbridge/flax';
import { denseForward } from './dense-forward.js';
import { asTf, lecunNormal } from './initializers.js';

export { relu } from './dense-forward.js';

/** Legacy `flax.nn.Dense(x, features, bias=True, kernel_init=lecun_normal(), bias_init=zeros)`. */
export interface DenseKwargs {
  readonly features: number;
  /** @default true */
  readonly bias?: boolean | undefined;
  /** @default initializers.lecunNormal() */
  readonly kernelInit?: initializers.Initializer | undefined;
  /** @default initializers.zeros */
  readonly biasInit?: initializers.Initializer | undefined;
}

/** Legacy `flax.nn.Dense` on TF.js: model code around the BatchNorm, a `flax.nn` module of `@normbridge/flax`. */
export const Dense = nn.module<tf.Tensor, DenseKwargs, tf.Tensor>('Dense', (self, x, kw) => {
  const kernel = self.param<tf.Tensor>('kernel', [x.shape[x.rank - 1]!, kw.features], kw.kernelInit ?? lecunNormal(), asTf);
  const bias = kw.bias ?? true ? self.param<tf.Tensor>('bias', [kw.features], kw.biasInit ?? initializers.zeros, asTf) : undefined;
  return denseForward(x, kernel, bias);
});
