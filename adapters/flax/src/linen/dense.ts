import * as tf from '@tensorflow/tfjs-core';
import type { Dtype, HostTensor } from '@normbridge/core';
import { lecunNormal, zeros, type Initializer } from '../initializers.js';
import { isTfTensor } from '../leaf.js';
import { Module, type NoArgs, type Scope } from './module.js';

/**
 * Model code around the BatchNorm (not BatchNorm maths): `flax.linen.Dense` and `relu` on
 * TF.js tensors, so that a small Flax model's variable tree — names, shapes, collections —
 * can be built and trained. Needs a TF.js backend (and, for training, TF.js gradients).
 */

/** A host or tf initializer output as a float32 tf tensor. */
export function asTf(v: HostTensor | tf.Tensor): tf.Tensor {
  return isTfTensor(v) ? v : tf.tensor(Float32Array.from(v.data), [...v.shape], 'float32');
}

/** `flax.linen.Dense` fields. */
export interface DenseFields {
  /** Number of output features. */
  readonly features: number;
  /** Add a bias. @default true */
  readonly useBias?: boolean | undefined;
  /** Kernel initializer, shape `(in, features)`. @default initializers.lecunNormal() */
  readonly kernelInit?: Initializer | undefined;
  /** Bias initializer. @default initializers.zeros */
  readonly biasInit?: Initializer | undefined;
  /** Dtype handed to the initializers. @default 'float32' */
  readonly paramDtype?: Dtype | undefined;
  /** Name in the parent module. @default `Dense_k` */
  readonly name?: string | undefined;
}

/** `y = x @ kernel + bias` over the last axis; params `kernel (in, features)` and `bias (features,)`. */
export class Dense extends Module<tf.Tensor, NoArgs, tf.Tensor> {
  static readonly flaxName = 'Dense';
  readonly features: number;
  readonly useBias: boolean;
  readonly kernelInit: Initializer;
  readonly biasInit: Initializer;
  readonly paramDtype: Dtype;

  constructor(fields: DenseFields) {
    super({ name: fields.name });
    this.features = fields.features;
    this.useBias = fields.useBias ?? true;
    this.kernelInit = fields.kernelInit ?? lecunNormal();
    this.biasInit = fields.biasInit ?? zeros;
    this.paramDtype = fields.paramDtype ?? 'float32';
  }

  call(scope: Scope, x: tf.Tensor): tf.Tensor {
    const inFeatures = x.shape[x.rank - 1]!;
    const kernel = scope.param<tf.Tensor>('kernel', this.kernelInit, [inFeatures, this.features], this.paramDtype, asTf);
    const bias = this.useBias ? scope.param<tf.Tensor>('bias', this.biasInit, [this.features], this.paramDtype, asTf) : undefined;
    return denseForward(x, kernel, bias);
  }
}

/** `x @ kernel (+ bias)` contracting the last axis of `x` (any rank). */
export function denseForward(x: tf.Tensor, kernel: tf.Tensor, bias: tf.Tensor | undefined): tf.Tensor {
  return tf.tidy(() => {
    const lead = x.shape.slice(0, -1);
    const flat = tf.reshape(x, [-1, x.shape[x.rank - 1]!]) as tf.Tensor2D;
    let y: tf.Tensor = tf.matMul(flat, kernel as tf.Tensor2D);
    if (bias) y = tf.add(y, bias);
    return tf.reshape(y, [...lead, kernel.shape[1]!]);
  });
}

/** `flax.linen.relu`. */
export function relu<T extends tf.Tensor>(x: T): T {
  return tf.relu(x);
}
