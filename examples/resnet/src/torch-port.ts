/**
 * The PyTorch port: conv and fc weights read from the state_dict as PyTorch lays them out,
 * every BatchNorm a `@normbridge/torch` `BatchNorm2d` built by `batchNormsFromCheckpoint`
 * (eps and momentum from the checkpoint's metadata). BatchNorm2d takes NCHW, the rest of the
 * model runs NHWC, so each call transposes around it.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Engine, HostTensor } from '@normbridge/core';
import { batchNormsFromCheckpoint } from '@normbridge/port';
import { readCheckpoint } from '@normbridge/safetensors';
import type { _BatchNorm } from '@normbridge/torch';
import { toNchw, toNhwc, type ResNetLayers } from './resnet.js';

export interface TorchPort {
  readonly layers: ResNetLayers;
  /** BatchNorm2d layers by module path (`layer1.0.bn1`). */
  readonly batchNorms: Map<string, _BatchNorm<tf.Tensor>>;
  /** PyTorch's `model.train()` / `model.eval()`. */
  train(on: boolean): void;
}

export async function torchPort(checkpoint: string, engine: Engine<tf.Tensor>): Promise<TorchPort> {
  const state = await readCheckpoint(checkpoint);
  const { layers: batchNorms } = await batchNormsFromCheckpoint(checkpoint, { as: 'torch', engine });
  const weight = (key: string): HostTensor => {
    const t = state[key];
    if (t === undefined || t.dtype === 'int64') throw new Error(`${checkpoint}: no float tensor "${key}"`);
    return t;
  };
  const kernels = new Map<string, tf.Tensor4D>();
  const kernel = (path: string) => {
    let k = kernels.get(path);
    // OIHW → HWIO, once per layer.
    if (k === undefined) {
      const w = weight(`${path}.weight`);
      kernels.set(path, (k = tf.transpose(tf.tensor4d(Float32Array.from(w.data), w.shape as [number, number, number, number]), [2, 3, 1, 0]) as tf.Tensor4D));
    }
    return k;
  };
  const fcWeight = tf.tensor2d(weight('fc.weight').data as Float32Array, weight('fc.weight').shape as [number, number]);
  const fcBias = tf.tensor1d(weight('fc.bias').data as Float32Array);
  const layers: ResNetLayers = {
    conv: (x, path, stride, pad) => tf.conv2d(x, kernel(path.join('.')), stride, pad),
    bn(x, path) {
      const bn = batchNorms.get(path.join('.'));
      if (bn === undefined) throw new Error(`${checkpoint}: no BatchNorm "${path.join('.')}"`);
      return toNhwc(bn.forward(toNchw(x)) as tf.Tensor4D);
    },
    fc: (x) => tf.add(tf.matMul(x, fcWeight, false, true), fcBias),
    hasDownsample: (block) => `${block.join('.')}.downsample.0.weight` in state,
  };
  return {
    layers,
    batchNorms,
    train(on) {
      for (const bn of batchNorms.values()) bn.train(on);
    },
  };
}
