/**
 * The model folded for inference: every BatchNorm folded into the convolution before it with
 * `@normbridge/onnx`'s `foldBatchNormIntoConv` (what its ONNX graph rewrite does to each
 * Conv → BatchNormalization pair), so the folded model has convolutions with bias and no
 * BatchNorm at all.
 */
import * as tf from '@tensorflow/tfjs-core';
import { defineSpec, type HostState, type HostTensor } from '@normbridge/core';
import { foldBatchNormIntoConv } from '@normbridge/onnx';
import type { LayerConfig } from '@normbridge/port';
import { readCheckpoint } from '@normbridge/safetensors';
import type { ResNetLayers } from './resnet.js';

/** The BatchNorm that follows each convolution, in torchvision's naming. */
export function batchNormAfter(conv: readonly string[]): string[] {
  const last = conv[conv.length - 1]!;
  if (last === '0' && conv[conv.length - 2] === 'downsample') return [...conv.slice(0, -1), '1'];
  return [...conv.slice(0, -1), last.replace(/^conv/, 'bn')];
}

export async function foldedModel(checkpoint: string, configs: ReadonlyMap<string, LayerConfig>): Promise<ResNetLayers> {
  const state = (await readCheckpoint(checkpoint)) as Record<string, HostTensor>;
  const folded = new Map<string, { kernel: tf.Tensor4D; bias: tf.Tensor1D }>();
  const fold = (conv: readonly string[]) => {
    const id = conv.join('.');
    const hit = folded.get(id);
    if (hit) return hit;
    const bn = batchNormAfter(conv).join('.');
    const config = configs.get(bn);
    if (config === undefined) throw new Error(`no BatchNorm config for ${bn}`);
    const bnState: HostState = {
      scale: state[`${bn}.weight`],
      bias: state[`${bn}.bias`],
      runningMean: state[`${bn}.running_mean`],
      runningVar: state[`${bn}.running_var`],
      numBatchesTracked: 0,
    };
    const r = foldBatchNormIntoConv({ weight: state[`${id}.weight`]! }, defineSpec({ featureAxes: [1], epsilon: config.epsilon }), bnState);
    const w = tf.tensor4d(Float32Array.from(r.weight.data), r.weight.shape as [number, number, number, number]);
    const entry = { kernel: tf.transpose(w, [2, 3, 1, 0]) as tf.Tensor4D, bias: tf.tensor1d(Float32Array.from(r.bias.data)) };
    folded.set(id, entry);
    return entry;
  };
  const fcWeight = tf.tensor2d(state['fc.weight']!.data as Float32Array, state['fc.weight']!.shape as [number, number]);
  const fcBias = tf.tensor1d(state['fc.bias']!.data as Float32Array);
  return {
    conv(x, path, stride, pad) {
      const { kernel, bias } = fold(path);
      return tf.add(tf.conv2d(x, kernel, stride, pad), bias);
    },
    bn: (x) => x,
    fc: (x) => tf.add(tf.matMul(x, fcWeight, false, true), fcBias),
    hasDownsample: (block) => `${block.join('.')}.downsample.0.weight` in state,
  };
}
