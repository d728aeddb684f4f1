/**
 * Registers `tf.Tensor` as a tensor kind in core (on import), so adapters can take users'
 * tf tensors as leaves without importing TF.js themselves. Plain tf ops on whatever backend the
 * tensor lives on: registering does not touch TF.js's active backend.
 */
import * as tf from '@tensorflow/tfjs-core';
import { registerTensorKind, type TensorKind } from '@normbridge/core';
import { downloadTensor } from './host.js';
import { isTfTensor, reshapeTensor, tensorRow } from './tensor-ops.js';

export const tfTensorKind: TensorKind<tf.Tensor> = {
  name: 'tf',
  owns: isTfTensor,
  shapeOf: (t) => t.shape,
  reshape: reshapeTensor,
  clone: (t) => tf.clone(t),
  row: tensorRow,
  toHostSync: downloadTensor,
};

registerTensorKind(tfTensorKind);
