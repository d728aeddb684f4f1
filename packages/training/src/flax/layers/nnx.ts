import type * as tf from '@tensorflow/tfjs-core';
import type { Dtype } from '@normbridge/core';
import { initializers, nnx } from '@normbridge/flax';
import { denseForward } from './dense-forward.js';
import { asTf, lecunNormal } from './initializers.js';

export { relu } from './dense-forward.js';

/** `nnx.Linear(in_features, out_features, *, use_bias, kernel_init, bias_init, param_dtype, rngs)`. */
export interface LinearOptions {
  /** @default true */
  readonly useBias?: boolean | undefined;
  /** @default initializers.lecunNormal() */
  readonly kernelInit?: initializers.Initializer | undefined;
  /** @default initializers.zeros */
  readonly biasInit?: initializers.Initializer | undefined;
  /** @default 'float32' */
  readonly paramDtype?: Dtype | undefined;
  /** Key streams (one `params` key for the kernel, one for the bias). Required. */
  readonly rngs: nnx.Rngs;
}

/**
 * `nnx.Linear` on TF.js (model code around the BatchNorm, an `nnx.Module` of
 * `@normbridge/flax`): `kernel` Param `(in, out)`, `bias` Param `(out,)`.
 */
export class Linear extends nnx.Module {
  inFeatures: number;
  outFeatures: number;
  kernel: nnx.Param<tf.Tensor>;
  bias: nnx.Param<tf.Tensor> | null;

  constructor(inFeatures: number, outFeatures: number, options: LinearOptions) {
    super();
    this.inFeatures = inFeatures;
    this.outFeatures = outFeatures;
    const dtype = options.paramDtype ?? 'float32';
    this.kernel = new nnx.Param(asTf((options.kernelInit ?? lecunNormal())(options.rngs.params(), [inFeatures, outFeatures], dtype)));
    this.bias = options.useBias ?? true ? new nnx.Param(asTf((options.biasInit ?? initializers.zeros)(options.rngs.params(), [outFeatures], dtype))) : null;
  }

  call(x: tf.Tensor): tf.Tensor {
    return denseForward(x, this.kernel.value, this.bias?.value);
  }
}
