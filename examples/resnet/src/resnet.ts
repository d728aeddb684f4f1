/**
 * torchvision's BasicBlock ResNet forward pass on tfjs ops, channels last (NHWC): the part of a
 * port normbridge does not provide. Which weights and which BatchNorm a layer uses is up to the
 * {@link ResNetLayers} given, so the same code runs the PyTorch port, the Flax-layout port and
 * the folded model.
 */
import * as tf from '@tensorflow/tfjs-core';

/** The parametrised layers, by module path (PyTorch's segments: `['layer1', '0', 'conv1']`). */
export interface ResNetLayers {
  /** Convolution without bias (torchvision's), NHWC in and out, symmetric zero padding. */
  conv(x: tf.Tensor4D, path: readonly string[], stride: number, pad: number): tf.Tensor4D;
  /** The BatchNorm after a convolution, NHWC in and out. */
  bn(x: tf.Tensor4D, path: readonly string[]): tf.Tensor4D;
  /** The classifier: [N, features] → logits. */
  fc(x: tf.Tensor2D): tf.Tensor2D;
  /** Whether a block has a projection shortcut (`downsample.0` conv, `downsample.1` BatchNorm). */
  hasDownsample(block: readonly string[]): boolean;
}

/** Stage outputs, NHWC, as the generator records them: `stem`, `layer1.0` … `layer4.1`. */
export type StageCallback = (stage: string, y: tf.Tensor4D) => void;

const BLOCKS_PER_LAYER = 2;

function convBn(layers: ResNetLayers, x: tf.Tensor4D, conv: readonly string[], bn: readonly string[], stride: number, pad: number) {
  return layers.bn(layers.conv(x, conv, stride, pad), bn);
}

function basicBlock(layers: ResNetLayers, x: tf.Tensor4D, p: readonly string[], stride: number): tf.Tensor4D {
  const out = tf.relu(convBn(layers, x, [...p, 'conv1'], [...p, 'bn1'], stride, 1));
  const main = convBn(layers, out, [...p, 'conv2'], [...p, 'bn2'], 1, 1);
  const shortcut = layers.hasDownsample(p) ? convBn(layers, x, [...p, 'downsample', '0'], [...p, 'downsample', '1'], stride, 0) : x;
  return tf.relu(tf.add(main, shortcut) as tf.Tensor4D);
}

/** Logits of an NHWC batch. */
export function resnetForward(layers: ResNetLayers, x: tf.Tensor4D, onStage?: StageCallback): tf.Tensor2D {
  let y = tf.relu(convBn(layers, x, ['conv1'], ['bn1'], 2, 3));
  // Max-pool 3x3/2 with padding 1; inputs are ReLU outputs (≥ 0), so the padding never wins.
  y = tf.maxPool(y, 3, 2, 1);
  onStage?.('stem', y);
  for (let layer = 1; layer <= 4; layer++) {
    for (let block = 0; block < BLOCKS_PER_LAYER; block++) {
      const p = [`layer${layer}`, String(block)];
      y = basicBlock(layers, y, p, layer > 1 && block === 0 ? 2 : 1);
      onStage?.(p.join('.'), y);
    }
  }
  return layers.fc(tf.mean(y, [1, 2]) as tf.Tensor2D);
}

/** NCHW → NHWC and back. */
export const toNhwc = (x: tf.Tensor4D): tf.Tensor4D => tf.transpose(x, [0, 2, 3, 1]);
export const toNchw = (x: tf.Tensor4D): tf.Tensor4D => tf.transpose(x, [0, 3, 1, 2]);

/** A convolution with an HWIO kernel and optional bias, torch-style symmetric padding. */
export function conv2d(x: tf.Tensor4D, kernel: tf.Tensor4D, stride: number, pad: number, bias?: tf.Tensor1D): tf.Tensor4D {
  const y = tf.conv2d(x, kernel, stride, pad);
  return bias === undefined ? y : (tf.add(y, bias) as tf.Tensor4D);
}
