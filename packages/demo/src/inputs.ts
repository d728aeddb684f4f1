import { hostTensor, type HostTensor } from '@normbridge/core';

/** The layers the page offers, each with the input layout its framework uses. */
export const LAYERS = {
  'torch.nn.BatchNorm2d': { layout: 'NCHW', framework: 'torch' },
  'keras.layers.BatchNormalization': { layout: 'NHWC', framework: 'keras' },
} as const;
export type LayerName = keyof typeof LAYERS;

/** Backends a page can pick. */
export const PAGE_ENGINES = ['tfjs-cpu', 'tfjs-webgl', 'tfjs-webgpu', 'ort-web-wasm', 'ort-web-webgpu'] as const;

/** Batch and spatial size of the demo input. */
export const BATCH = 2;
export const SIDE = 4;

/**
 * The input a step runs on: deterministic (a fixed linear congruential sequence), so the page
 * and its test compute the same thing; channel c has mean about c and spread about 1 + c/4.
 */
export function demoInput(layer: LayerName, channels: number, step: number): HostTensor {
  const shape = LAYERS[layer].layout === 'NCHW' ? [BATCH, channels, SIDE, SIDE] : [BATCH, SIDE, SIDE, channels];
  const n = shape.reduce((a, b) => a * b, 1);
  let seed = 12345 + step;
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    const c = LAYERS[layer].layout === 'NCHW' ? Math.floor(i / (SIDE * SIDE)) % channels : i % channels;
    data[i] = c + (1 + c / 4) * (seed / 2147483648 - 0.5) * 3;
  }
  return hostTensor(shape, data);
}
