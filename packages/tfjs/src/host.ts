import * as tf from '@tensorflow/tfjs-core';
import { checkHostTensor, checkStateValues, mapStateTensors, type BatchNormState, type HostState, type HostTensor } from '@normbridge/core';

/**
 * Uploads a host tensor as float32 (tfjs has no float16/float64; those are computed in
 * float32). The values are copied, so later writes to the host array cannot reach the tensor.
 */
export function uploadTensor(t: HostTensor): tf.Tensor {
  checkHostTensor('tensor', t);
  return tf.tensor(Float32Array.from(t.data), [...t.shape], 'float32');
}

/** Downloads a tensor; the array is a copy (the CPU backend would otherwise hand out its own storage). */
export function downloadTensor(t: tf.Tensor): HostTensor {
  return asHost(t, t.dataSync());
}

/**
 * Downloads a tensor without blocking: the only correct readback on WebGPU, where
 * `dataSync()` goes through a canvas (missing in Node, zeros on SwiftShader in Chromium).
 */
export async function downloadTensorAsync(t: tf.Tensor): Promise<HostTensor> {
  return asHost(t, await t.data());
}

function asHost(t: tf.Tensor, values: tf.TypedArray | string[] | Uint8Array[]): HostTensor {
  const data = values instanceof Float32Array ? values.slice() : Float32Array.from(values as ArrayLike<number>);
  return { shape: [...t.shape], data, dtype: 'float32' };
}

/** Checks the values once (NaN or negative variance is a StateError naming the key), then uploads. */
export function uploadState(state: HostState): BatchNormState<tf.Tensor> {
  checkStateValues(state);
  return mapStateTensors(state, uploadTensor);
}
