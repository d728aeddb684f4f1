import type { KernelConfig } from '@tensorflow/tfjs-core';
import { momentsWithLoops } from '../impl/moments.js';
import { BATCH_NORM_MOMENTS, type MomentsAttrs } from '../kernel_names.js';
import { wasmKernel } from './kernel.js';

export const momentsConfig: KernelConfig = wasmKernel(BATCH_NORM_MOMENTS, momentsWithLoops, (simd, heap, { x }, attrs) => {
  const a = attrs as unknown as MomentsAttrs;
  const mean = heap.output([a.channels]);
  const variance = heap.output([a.channels]);
  simd.moments(heap.at(x), a, a.algorithm, heap.at(mean), heap.at(variance));
  return [mean, variance];
});
