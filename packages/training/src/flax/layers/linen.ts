import type * as tf from '@tensorflow/tfjs-core';
import type { Dtype } from '@normbridge/core';
import { initializers, linen } from '@normbridge/flax';
import { denseForward } from './dense-forward.js';
import { asTf, lecunNormal } from './initializers.js';

export { denseForward, relu } from './dense-forward.js';

/**
 * `flax.linen.Dense` on TF.js: model code around the BatchNorm, a linen Module built on
 * `@normbridge/flax`'s Module system (its naming, `scope.param`, collections), so that a small
 * Flax model's variable tree — names, shapes, collections — can be built and trained.
 */

/** `flax.linen.Dense` fields. */
export interface DenseFields {
  /** Number of output features. */
  readonly features: number;
  /** Add a bias. @default true */
  readonly useBias?: boolean | undefined;
  /** Kernel initializer, shape `(in, features)`. @default initializers.lecunNormal() */
  readonly kernelInit?: initializers.Initializer | undefined;
  /** Bias initializer. @default initializers.zeros */
  readonly biasInit?: initializers.Initializer | undefined;
  /** Dtype handed to the initializers. @default 'float32' */
  readonly paramDtype?: Dtype | undefined;
  /** Name in the parent module. @default `Dense_k` */
  readonly name?: string | undefined;
}

/** `y = x @ kernel + bias` over the last axis; params `kernel (in, features)` and `bias (features,)`. */
export class Dense extends linen.Module<tf.Tensor, linen.NoArgs, tf.Tensor> {
  static readonly flaxName = 'Dense';
  readonly features: number;
  readonly useBias: boolean;
  readonly kernelInit: initializers.Initializer;
  readonly biasInit: initializers.Initializer;
  readonly paramDtype: Dtype;

  constructor(fields: DenseFields) {
    super({ name: fields.name });
    this.features = fields.features;
    this.useBias = fields.useBias ?? true;
    this.kernelInit = fields.kernelInit ?? lecunNormal();
    this.biasInit = fields.biasInit ?? initializers.zeros;
    this.paramDtype = fields.paramDtype ?? 'float32';
  }

  call(scope: linen.Scope, x: tf.Tensor): tf.Tensor {
    const inFeatures = x.shape[x.rank - 1]!;
    const kernel = scope.param<tf.Tensor>('kernel', this.kernelInit, [inFeatures, this.features], this.paramDtype, asTf);
    const bias = this.useBias ? scope.param<tf.Tensor>('bias', this.biasInit, [this.features], this.paramDtype, asTf) : undefined;
    return denseForward(x, kernel, bias);
  }
}
