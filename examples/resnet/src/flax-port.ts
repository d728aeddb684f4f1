/**
 * The same checkpoint converted to Flax's layout (`normbridge convert --from torch --to flax`,
 * here in memory): HWIO conv kernels, [in, out] dense kernel, and every BatchNorm a
 * `@normbridge/flax` `linen.BatchNorm` applied with its `params`/`batch_stats` variables.
 */
import * as tf from '@tensorflow/tfjs-core';
import { readFile } from 'node:fs/promises';
import type { Engine } from '@normbridge/core';
import { batchNormsFromCheckpoint } from '@normbridge/port';
import { convertSafetensorsBuffer, parseSafetensors, type ConversionReport } from '@normbridge/safetensors';
import type { ResNetLayers } from './resnet.js';

export interface FlaxPort {
  readonly layers: ResNetLayers;
  readonly report: ConversionReport;
}

export async function flaxPort(torchCheckpoint: string, engine: Engine<tf.Tensor>): Promise<FlaxPort> {
  const { bytes, report } = await convertSafetensorsBuffer(new Uint8Array(await readFile(torchCheckpoint)), { from: 'torch', to: 'flax' });
  const converted = parseSafetensors(bytes, { name: `${torchCheckpoint} as flax` });
  const { layers: batchNorms } = await batchNormsFromCheckpoint(converted, { as: 'flax-linen', engine });
  const param = (path: readonly string[], leaf: string) => {
    const key = ['params', ...path, leaf].join('/');
    return tf.tensor(converted.float32Sync(key), [...converted.info(key).shape], 'float32');
  };
  const kernels = new Map<string, tf.Tensor4D>();
  const kernel = (path: readonly string[]) => {
    const id = path.join('/');
    let k = kernels.get(id);
    if (k === undefined) kernels.set(id, (k = param(path, 'kernel') as tf.Tensor4D));
    return k;
  };
  const fcKernel = param(['fc'], 'kernel') as tf.Tensor2D;
  const fcBias = param(['fc'], 'bias');
  const layers: ResNetLayers = {
    conv: (x, path, stride, pad) => tf.conv2d(x, kernel(path), stride, pad),
    bn(x, path) {
      const bn = batchNorms.get(path.join('/'));
      if (bn === undefined) throw new Error(`no linen BatchNorm "${path.join('/')}"`);
      return bn.module.apply(bn.variables, x, { useRunningAverage: true, engine }) as tf.Tensor4D;
    },
    fc: (x) => tf.add(tf.matMul(x, fcKernel), fcBias),
    hasDownsample: (block) => converted.has(['params', ...block, 'downsample', '0', 'kernel'].join('/')),
  };
  return { layers, report };
}
