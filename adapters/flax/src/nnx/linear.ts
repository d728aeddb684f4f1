import * as tf from '@tensorflow/tfjs-core';
import type { Dtype } from '@normbridge/core';
import { lecunNormal, zeros, type Initializer } from '../initializers.js';
import { asTf, denseForward } from '../linen/dense.js';
import { Module } from './module.js';
import type { Rngs } from './rngs.js';
import { Param } from './variables.js';

/**
 * Model code around the BatchNorm, on TF.js: `nnx.Linear`, `nnx.Sequential`, `nnx.relu`.
 */

/** `nnx.Linear(in_features, out_features, *, use_bias, kernel_init, bias_init, param_dtype, rngs)`. */
export interface LinearOptions {
  /** @default true */
  readonly useBias?: boolean | undefined;
  /** @default initializers.lecunNormal() */
  readonly kernelInit?: Initializer | undefined;
  /** @default initializers.zeros */
  readonly biasInit?: Initializer | undefined;
  /** @default 'float32' */
  readonly paramDtype?: Dtype | undefined;
  /** Key streams (one `params` key for the kernel, one for the bias). Required. */
  readonly rngs: Rngs;
}

/** `nnx.Linear`: `kernel` Param `(in, out)`, `bias` Param `(out,)`. */
export class Linear extends Module {
  inFeatures: number;
  outFeatures: number;
  kernel: Param<tf.Tensor>;
  bias: Param<tf.Tensor> | null;

  constructor(inFeatures: number, outFeatures: number, options: LinearOptions) {
    super();
    this.inFeatures = inFeatures;
    this.outFeatures = outFeatures;
    const dtype = options.paramDtype ?? 'float32';
    this.kernel = new Param(asTf((options.kernelInit ?? lecunNormal())(options.rngs.params(), [inFeatures, outFeatures], dtype)));
    this.bias = options.useBias ?? true ? new Param(asTf((options.biasInit ?? zeros)(options.rngs.params(), [outFeatures], dtype))) : null;
  }

  call(x: tf.Tensor): tf.Tensor {
    return denseForward(x, this.kernel.value, this.bias?.value);
  }
}

/** A layer of a {@link Sequential}: a module with `call(x)` or a function. */
export type Layer = { call(x: any): any } | ((x: any) => any);

/** `nnx.Sequential(*layers)`: layers live under `layers` (state paths `layers/0/…`, `layers/1/…`). */
export class Sequential extends Module {
  layers: Layer[];

  constructor(...layers: Layer[]) {
    super();
    this.layers = layers;
  }

  call(x: any): any {
    let y = x;
    for (const layer of this.layers) y = typeof layer === 'function' ? layer(y) : layer.call(y);
    return y;
  }
}

/** `nnx.relu`. */
export function relu<T extends tf.Tensor>(x: T): T {
  return tf.relu(x);
}
